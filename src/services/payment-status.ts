/**
 * Payment status (contract §4, `verify/`): what the web client polls after the STK push.
 * Anyone holding the reference may ask, so the answer carries no personal data.
 */
import { eq, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { orders } from "../db/schema";
import { DomainError } from "../lib/errors";
import { isUuid } from "../lib/uuid";
import { ticketIdsFor } from "./ticket-issuance";

export interface PaymentStatus {
  state: "PENDING" | "COMPLETED" | "FAILED";
  /** The order's `transaction_ref`. */
  reference: string;
  /** Why it failed (`cancelled_by_user`, `refund_pending`, `under_review`, …); null otherwise. */
  reason: string | null;
  /** The order's tickets in seat order; empty until they are issued. */
  ticketIds: string[];
}

/** The order named by its `transaction_ref`, `order_id` or `checkout_request_id`. */
export async function paymentStatus(db: Database, reference: string): Promise<PaymentStatus> {
  const order = await db.query.orders.findFirst({
    where: or(
      eq(orders.reference, reference),
      eq(orders.checkoutRequestId, reference),
      ...(isUuid(reference) ? [eq(orders.id, reference.toLowerCase())] : []),
    ),
  });
  if (!order) throw new DomainError("payment_not_found", "Payment not found");
  const ticketIds = order.status === "COMPLETED" ? await ticketIdsFor(db, order.id) : [];
  // COMPLETED only once tickets exist; a paid order that cannot (or may not) have them failed.
  const state =
    order.status === "PENDING"
      ? "PENDING"
      : order.status === "COMPLETED" && ticketIds.length > 0
        ? "COMPLETED"
        : order.status === "COMPLETED"
          ? "PENDING"
          : "FAILED";
  const reason =
    order.status === "PAID_UNFULFILLED"
      ? "refund_pending"
      : order.status === "UNDER_REVIEW"
        ? "under_review"
        : order.status === "FAILED"
          ? (order.failureReason ?? "payment_failed")
          : null;
  return { state, reference: order.reference, reason, ticketIds };
}
