/**
 * Local-development tooling (contract §10): the mail outbox. Not registered in the OpenAPI
 * document, and every route answers 404 when ENVIRONMENT=production or when Brevo is
 * configured (then mail really leaves and there is no outbox).
 */
import { z } from "@hono/zod-openapi";
import { DomainError } from "../../lib/errors";
import { listOutbox, outboxAttachment } from "../../mail/outbox";
import { buildPage, PaginationQuery, pageSchema, parsePageRequest } from "../pagination";
import { type Api, type AppContext, defineRoute } from "../route";
import { OutboxMailSchema, toOutboxMail } from "../views/outbox-mail";

function assertOutboxAvailable(c: AppContext): void {
  if (c.var.config.isProduction || !c.var.config.mail.useOutbox) throw DomainError.notFound();
}

const OutboxQuery = PaginationQuery.extend({
  to: z.string().max(254).optional(),
  kind: z.string().max(64).optional(),
});

export function registerDevRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/__dev/outbox/",
      tags: ["Development"],
      summary: "Mail kept instead of sent (local development)",
      query: OutboxQuery,
      hidden: true,
      responses: {
        200: { description: "Page of emails, newest first", schema: pageSchema(OutboxMailSchema) },
      },
    },
    async (c, { query }) => {
      assertOutboxAvailable(c);
      const page = parsePageRequest(query);
      const { total, mails } = await listOutbox(c.var.db, query, page);
      const base = c.var.config.publicBaseUrl;
      return c.json(
        buildPage(
          c,
          page,
          total,
          mails.map((mail) => toOutboxMail(base, mail)),
        ),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/__dev/outbox/{id}/attachments/{index}/",
      tags: ["Development"],
      summary: "One attachment of an outbox email",
      params: z.object({ id: z.string().uuid(), index: z.coerce.number().int().min(0).max(100) }),
      hidden: true,
      responses: {
        200: {
          description: "The attachment bytes",
          schema: z.string().openapi({ type: "string", format: "binary" }),
          contentType: "application/octet-stream",
        },
      },
    },
    async (c, { params }) => {
      assertOutboxAvailable(c);
      const found = await outboxAttachment(c.var.services, params.id, params.index);
      if (!found) throw DomainError.notFound();
      const { attachment, object } = found;
      return new Response(object.body, {
        headers: {
          "Content-Type": attachment.content_type,
          "Content-Disposition": `inline; filename="${attachment.name.replace(/"/g, "")}"`,
          "X-Content-Type-Options": "nosniff",
        },
      });
    },
  );
}
