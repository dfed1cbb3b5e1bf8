/** The Refund object on the wire (contract v3 §13.1). */
import { z } from "@hono/zod-openapi";
import { maskPhoneNumber } from "../../lib/masking";
import { toNairobiIso } from "../../lib/time";
import type { RefundView } from "../../services/refunds/manage";

export const RefundSchema = z
  .object({
    id: z.string(),
    order_id: z.string(),
    order_reference: z.string(),
    event_id: z.string(),
    amount: z.number(),
    reason: z.string(),
    trigger: z.enum(["ORGANIZER", "EVENT_CANCELLED", "PAID_UNFULFILLED"]),
    full: z.boolean(),
    ticket_ids: z.array(z.string()),
    status: z.enum(["PENDING", "SENT", "COMPLETED", "FAILED"]),
    phone: z.string().openapi({ description: "The number that paid, masked (`2547****678`)" }),
    mpesa_receipt: z.string().nullable(),
    attempts: z.number().int(),
    failure_code: z.string().nullable(),
    failure_reason: z.string().nullable(),
    retryable: z.boolean(),
    resolution: z.enum(["MANUAL", "ABANDONED"]).nullable(),
    review_reason: z.enum(["amount_mismatch", "duplicate_payout", "stale"]).nullable(),
    created_by: z.string().nullable(),
    created_at: z.string(),
    sent_at: z.string().nullable(),
    completed_at: z.string().nullable(),
  })
  .openapi("Refund");
export type RefundBody = z.infer<typeof RefundSchema>;

export function toRefund(view: RefundView): RefundBody {
  const r = view.refund;
  return {
    id: r.id,
    order_id: r.orderId,
    order_reference: view.orderReference,
    event_id: r.eventId,
    amount: r.amount,
    reason: r.reason,
    trigger: r.trigger,
    full: r.full,
    ticket_ids: view.ticketIds,
    status: r.status,
    phone: maskPhoneNumber(r.phone),
    mpesa_receipt: r.mpesaReceipt,
    attempts: r.attempts,
    failure_code: r.failureCode,
    failure_reason: r.failureReason,
    retryable: r.retryable,
    resolution: r.resolution,
    review_reason: r.reviewReason,
    created_by: r.createdBy,
    created_at: toNairobiIso(r.createdAt),
    sent_at: toNairobiIso(r.sentAt),
    completed_at: toNairobiIso(r.completedAt),
  };
}
