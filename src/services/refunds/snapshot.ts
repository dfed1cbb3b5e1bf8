/** The Refund object of contract v3 §13.1 as plain data (the refund routes and webhook events). */
import type { Refund } from "../../db/schema";
import { maskPhoneNumber } from "../../lib/masking";
import { toNairobiIso } from "../../lib/time";

/** A refund as the organizer sees it: the row, its order's reference and the tickets it cancelled. */
export interface RefundView {
  refund: Refund;
  orderReference: string;
  ticketIds: string[];
}

export function refundSnapshot(view: RefundView) {
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
