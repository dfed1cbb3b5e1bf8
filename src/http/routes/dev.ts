/**
 * Local-development tooling (contract §10): the mail outbox. Not registered in the OpenAPI
 * document, and every route answers 404 when ENVIRONMENT=production or when Brevo is
 * configured (then mail really leaves and there is no outbox).
 */
import { z } from "@hono/zod-openapi";
import { and, desc, eq, sql } from "drizzle-orm";
import { mailLog } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { toNairobiIso } from "../../lib/time";
import type { StoredAttachment } from "../../mail/mailer";
import { PaginationQuery, pageOf } from "../pagination";
import { type Api, type AppContext, defineRoute } from "../route";

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
      responses: { 200: { description: "Page of emails, newest first" } },
    },
    async (c, { query }) => {
      assertOutboxAvailable(c);
      const where = and(
        eq(mailLog.transport, "outbox"),
        query.to ? sql`lower(${mailLog.toEmail}) = ${query.to.toLowerCase()}` : undefined,
        query.kind ? eq(mailLog.kind, query.kind) : undefined,
      );
      const base = c.var.config.publicBaseUrl;
      return c.json(
        await pageOf(c, query, {
          count: async () =>
            (await c.var.db.select({ n: sql<number>`count(*)` }).from(mailLog).where(where))[0]?.n ?? 0,
          rows: (limit, offset) =>
            c.var.db
              .select()
              .from(mailLog)
              .where(where)
              .orderBy(desc(mailLog.createdAt), desc(mailLog.id))
              .limit(limit)
              .offset(offset),
          map: (row) => ({
            id: row.id,
            kind: row.kind,
            to: row.toName ? `${row.toName} <${row.toEmail}>` : row.toEmail,
            to_email: row.toEmail,
            subject: row.subject,
            text: row.textBody,
            html: row.htmlBody,
            status: row.status,
            created_at: toNairobiIso(row.createdAt),
            attachments: (JSON.parse(row.attachments) as StoredAttachment[]).map((a, index) => ({
              name: a.name,
              content_type: a.content_type,
              size: a.size,
              url: `${base}/__dev/outbox/${row.id}/attachments/${index}/`,
            })),
          }),
        }),
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
      responses: { 200: { description: "The attachment bytes" } },
    },
    async (c, { params }) => {
      assertOutboxAvailable(c);
      const row = await c.var.db.query.mailLog.findFirst({
        where: and(eq(mailLog.id, params.id), eq(mailLog.transport, "outbox")),
      });
      const attachment = row ? (JSON.parse(row.attachments) as StoredAttachment[])[params.index] : undefined;
      const object = attachment ? await c.var.services.media.get(attachment.key) : null;
      if (!attachment || !object) throw DomainError.notFound();
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
