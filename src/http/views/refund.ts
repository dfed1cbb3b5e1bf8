/** The Refund object on the wire (contract v3 §13.1). */
import { z } from "@hono/zod-openapi";
import type { RefundView } from "../../services/refunds/manage";
import { refundSnapshot } from "../../services/refunds/snapshot";

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

/** The mapping lives with the services: `order.refunded` webhook events carry it (§16.2). */
export const toRefund: (view: RefundView) => RefundBody = refundSnapshot;
