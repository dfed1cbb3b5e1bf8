/**
 * The ticket wallet (contract §5): `GET /api/tickets/`, `GET /api/tickets/{id}/`, the
 * rendered ticket `GET /api/tickets/{id}/png/`, `POST /api/tickets/{id}/resend/` and the
 * transfer `POST /api/tickets/{id}/transfer/` (contract v3 §14).
 */
import { z } from "@hono/zod-openapi";
import { maskEmail } from "../../lib/masking";
import { toNairobiIso } from "../../lib/time";
import { ticketReference } from "../../render/ticket-svg";
import { visibleTicketPng } from "../../services/ticket-png";
import { requestTicketResend } from "../../services/ticket-resend";
import { transferTicket } from "../../services/ticket-transfer";
import { getVisibleTicket, listOwnTickets } from "../../services/wallet";
import { buildPage, PaginationQuery, pageSchema, parsePageRequest } from "../pagination";
import { readRequestBody } from "../request-body";
import { type Api, defineRoute } from "../route";
import {
  TicketSchema,
  TicketTransferredSchema,
  TransferRequestSchema,
  toTicketResponse,
} from "../views/ticket";

const TAGS = ["Tickets"];

export function registerTicketRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/tickets/",
      tags: TAGS,
      summary: "The signed-in user's tickets, newest first",
      auth: "required",
      query: PaginationQuery,
      responses: { 200: { description: "A page of tickets", schema: pageSchema(TicketSchema) } },
    },
    async (c, { query }) => {
      const user = await c.var.auth.requireUser();
      const page = parsePageRequest(query);
      const { total, rows } = await listOwnTickets(c.var.db, c.var.config, user, page);
      const base = c.var.config.publicBaseUrl;
      return c.json(
        buildPage(
          c,
          page,
          total,
          rows.map((row) => toTicketResponse(base, row)),
        ),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/tickets/{id}/",
      tags: TAGS,
      summary: "One ticket: its owner, the event's organizer, or that organizer's gate staff",
      auth: "required",
      params: z.object({ id: z.string().uuid() }),
      responses: {
        200: { description: "Ticket", schema: TicketSchema },
        404: { description: "Not yours or unknown" },
      },
    },
    async (c, { params }) => {
      const user = await c.var.auth.requireUser();
      const row = await getVisibleTicket(c.var.db, c.var.config, user, params.id);
      return c.json(toTicketResponse(c.var.config.publicBaseUrl, row), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/tickets/{id}/png/",
      tags: TAGS,
      summary: "The rendered ticket as a PNG (QR code and event details)",
      description:
        "For whoever may see the ticket (owner, the event's organizer, their gate staff); 404 for " +
        "anyone else. Rendered and stored on first request if delivery has not done it yet.",
      auth: "required",
      params: z.object({ id: z.string().uuid() }),
      responses: {
        200: {
          description: "The ticket image",
          schema: z.string().openapi({ type: "string", format: "binary" }),
          contentType: "image/png",
        },
        404: { description: "Not yours or unknown" },
      },
    },
    async (c, { params }) => {
      const user = await c.var.auth.requireUser();
      const { png, ticket } = await visibleTicketPng(c.var.services, user, params.id);
      return new Response(png, {
        status: 200,
        headers: {
          "Content-Type": "image/png",
          "Content-Length": String(png.byteLength),
          "Content-Disposition": `inline; filename="ticket-${ticketReference(ticket.id)}.png"`,
          // Personal: never in a shared cache. The image of a ticket does not change.
          "Cache-Control": "private, max-age=3600",
          "X-Content-Type-Options": "nosniff",
          // Shown in <img> on the web app, which may be another site (preview).
          "Cross-Origin-Resource-Policy": "cross-origin",
        },
      });
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/tickets/{id}/resend/",
      tags: TAGS,
      summary: "Email the ticket again (its order's tickets email), at most 3 times an hour per ticket",
      auth: "required",
      params: z.object({ id: z.string().uuid() }),
      responses: {
        202: {
          description: "Queued",
          schema: z.object({ status: z.literal("queued"), detail: z.string() }),
        },
        403: { description: "Visible to you, but not your ticket" },
        404: { description: "Not yours or unknown" },
        409: { description: "The ticket was cancelled" },
        429: { description: "Three resends in this hour already (Retry-After)" },
      },
    },
    async (c, { params }) => {
      const user = await c.var.auth.requireUser();
      await requestTicketResend(c.var.services, user, params.id);
      return c.json(
        { status: "queued" as const, detail: "The ticket email will be sent again shortly." },
        202,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/tickets/{id}/transfer/",
      tags: TAGS,
      summary: "Transfer the ticket to someone else by email: a new QR code for them, the old one revoked",
      description:
        "The owner only (anyone else, the organizer included: 404). Checked in this order, the first failure " +
        "answers: owner (404); the event allows transfers (403 `transfer_disabled`); the ticket is ACTIVE (409 " +
        "`not_transferable`); no refund in progress on its order (409 `refund_in_progress`); before the event's " +
        "start minus TRANSFER_CUTOFF_HOURS (409 `transfer_window_closed`); fewer than MAX_TRANSFERS_PER_TICKET " +
        "transfers so far (409 `transfer_limit`); then the body: `email` valid, not your own, not a gate-staff " +
        "account's; `name` 1–100 characters; `phone` a Kenyan mobile number when given (400); and the recipient's " +
        "ticket-mail limit (429). The recipient gets the new ticket by email (and in their wallet once they prove " +
        "the address); the sender gets a confirmation. Of two parallel transfers of one ticket exactly one wins.",
      auth: "required",
      errorDialect: "legacy",
      params: z.object({ id: z.string().uuid() }),
      documentedBody: TransferRequestSchema,
      responses: {
        200: { description: "Transferred", schema: TicketTransferredSchema },
        400: { description: "Invalid email (or your own, or a gate-staff address), name or phone" },
        403: { description: "The event does not allow transfers (`transfer_disabled`)" },
        404: { description: "Not your ticket, or unknown" },
        409: {
          description:
            "`not_transferable` (checked in, used, cancelled), `refund_in_progress`, `transfer_window_closed`, " +
            "`transfer_limit`",
        },
        413: { description: "Body too large" },
        415: { description: "Not JSON or a form" },
        429: { description: "Too many tickets sent to this address this hour (Retry-After)" },
      },
    },
    async (c, { params }) => {
      const user = await c.var.auth.requireUser();
      const outcome = await transferTicket(c.var.services, user, params.id, () => readRequestBody(c.req.raw));
      return c.json(
        {
          status: "Ticket Transferred" as const,
          ticket_id: outcome.ticketId,
          recipient_email: maskEmail(outcome.recipientEmail),
          transferred_at: toNairobiIso(outcome.transferredAt),
          transfers_left: outcome.transfersLeft,
        },
        200,
      );
    },
  );
}
