/**
 * The organizer's refunds (contract v3 §13.2). ORGANIZER owning the event (another
 * organizer → 404, scanners 403); every error carries `error`, `detail` and `code`.
 * Recording reserves the amount and cancels tickets at once; money leaves from the queue.
 */
import { z } from "@hono/zod-openapi";
import { REFUND_STATUSES } from "../../db/schema";
import { getRefund, listEventRefunds, resolveRefund, retryRefund } from "../../services/refunds/manage";
import { requestOrganizerRefund } from "../../services/refunds/record";
import { LegacyErrorSchema } from "../errors";
import { emptyToUndefined, PriceInput } from "../fields";
import { buildPage, PaginationQuery, pageSchema, parsePageRequest } from "../pagination";
import { type Api, defineRoute } from "../route";
import { RefundSchema, toRefund } from "../views/refund";

const TAGS = ["Refunds"];
const ORGANIZER = ["ORGANIZER"] as const;

const RefundBody = z
  .object({
    amount: z.preprocess(
      emptyToUndefined,
      PriceInput.pipe(z.number().min(1, "Ensure this value is greater than or equal to 1.")).optional(),
    ),
    reason: z.preprocess(emptyToUndefined, z.string().trim().max(200).optional()),
    ticket_ids: z
      .array(z.string().uuid("Every ticket must be an ACTIVE ticket of this order."))
      .max(100)
      .optional(),
  })
  .openapi("RefundRequest");

const ResolveBody = z
  .object({
    resolution: z.enum(["MANUAL", "ABANDONED"]),
    mpesa_receipt: z.preprocess(emptyToUndefined, z.string().trim().max(40).optional()),
    note: z.preprocess(emptyToUndefined, z.string().trim().max(500).optional()),
  })
  .openapi("ResolveRefundRequest");

const errors = {
  403: { description: "Not an organizer", schema: LegacyErrorSchema },
  404: { description: "Not yours or unknown", schema: LegacyErrorSchema },
};

export function registerRefundRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/organizer/orders/{order_id}/refund/",
      tags: TAGS,
      summary: "Refund an order in full, in part, or by ticket (money goes back to the number that paid)",
      description:
        "Optional `Idempotency-Key` header (§4 semantics): the same key and body answer the first refund and record nothing more; the same key with another body or order is a 422; while the first request runs, a 409.",
      roles: ORGANIZER,
      errorDialect: "legacy",
      allowForm: false,
      params: z.object({ order_id: z.string().uuid() }),
      body: RefundBody,
      responses: {
        202: {
          description: "Recorded: amount reserved, tickets cancelled; PENDING until sent",
          schema: RefundSchema,
        },
        400: {
          description: "Invalid amount or tickets, `amount_too_high`, `not_refundable`",
          schema: LegacyErrorSchema,
        },
        ...errors,
        409: { description: "Idempotency-Key still being processed", schema: LegacyErrorSchema },
        422: { description: "Idempotency-Key reused with another body or order", schema: LegacyErrorSchema },
        503: { description: "`refunds_unavailable`: M-Pesa B2C not configured", schema: LegacyErrorSchema },
      },
    },
    async (c, { params, body }) => {
      const organizer = await c.var.auth.requireUser();
      const refund = await requestOrganizerRefund(c.var.services, organizer, params.order_id, {
        amount: body.amount,
        reason: body.reason,
        ticketIds: body.ticket_ids,
        idempotencyKey: c.req.header("idempotency-key"),
      });
      return c.json(toRefund(refund), 202);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/events/{id}/refunds/",
      tags: TAGS,
      summary: "An event's refunds, newest first",
      roles: ORGANIZER,
      errorDialect: "legacy",
      params: z.object({ id: z.string().uuid() }),
      query: PaginationQuery.extend({ status: z.enum(REFUND_STATUSES).optional() }),
      responses: { 200: { description: "A page of refunds", schema: pageSchema(RefundSchema) }, ...errors },
    },
    async (c, { params, query }) => {
      const organizer = await c.var.auth.requireUser();
      const page = parsePageRequest(query);
      const { total, rows } = await listEventRefunds(c.var.db, organizer.id, params.id, query.status, page);
      return c.json(buildPage(c, page, total, rows.map(toRefund)), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/refunds/{refund_id}/",
      tags: TAGS,
      summary: "One refund",
      roles: ORGANIZER,
      errorDialect: "legacy",
      params: z.object({ refund_id: z.string().uuid() }),
      responses: { 200: { description: "The refund", schema: RefundSchema }, ...errors },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      return c.json(toRefund(await getRefund(c.var.db, organizer.id, params.refund_id)), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/organizer/refunds/{refund_id}/retry/",
      tags: TAGS,
      summary: "Send a FAILED refund again (a new attempt); after a timeout only once an hour has passed",
      roles: ORGANIZER,
      errorDialect: "legacy",
      params: z.object({ refund_id: z.string().uuid() }),
      responses: {
        202: { description: "PENDING again", schema: RefundSchema },
        ...errors,
        409: { description: "`invalid_state` or `retry_too_soon`", schema: LegacyErrorSchema },
      },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      return c.json(toRefund(await retryRefund(c.var.services, organizer.id, params.refund_id)), 202);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/organizer/refunds/{refund_id}/resolve/",
      tags: TAGS,
      summary: "Settle a FAILED refund by hand: MANUAL (paid outside TicketSafi) or ABANDONED (amount freed)",
      roles: ORGANIZER,
      errorDialect: "legacy",
      params: z.object({ refund_id: z.string().uuid() }),
      body: ResolveBody,
      responses: {
        200: { description: "Resolved", schema: RefundSchema },
        400: { description: "Invalid resolution", schema: LegacyErrorSchema },
        ...errors,
        409: { description: "`invalid_state`: only FAILED refunds", schema: LegacyErrorSchema },
      },
    },
    async (c, { params, body }) => {
      const organizer = await c.var.auth.requireUser();
      const view = await resolveRefund(c.var.services, organizer.id, params.refund_id, {
        resolution: body.resolution,
        mpesaReceipt: body.mpesa_receipt,
        note: body.note,
      });
      return c.json(toRefund(view), 200);
    },
  );
}
