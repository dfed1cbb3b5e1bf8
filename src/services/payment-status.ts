/**
 * Payment status (contract §4, `verify/`): what the web client polls after the STK push.
 * Anyone holding the reference may ask, so the answer carries no personal data.
 */
import { asc, eq, or, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { orders, tickets } from "../db/schema";
import { DomainError } from "../lib/errors";
import { isUuid } from "../lib/uuid";

export interface PaymentStatus {
  state: "PENDING" | "COMPLETED" | "FAILED";
  /** The order's `transaction_ref`. */
  reference: string;
  /** Why it failed (`cancelled_by_user`, `refund_pending`, `under_review`, …); null otherwise. */
  reason: string | null;
  /** The order's tickets not CANCELLED, in seat order; empty until they are issued. */
  ticketIds: string[];
  /** Σ of its COMPLETED refunds (contract v3 §11.8). */
  amountRefunded: number;
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
  const all =
    order.status === "COMPLETED"
      ? await db
          .select({ id: tickets.id, status: tickets.status })
          .from(tickets)
          .where(eq(tickets.orderId, order.id))
          .orderBy(asc(tickets.seatIndex))
      : [];
  const ticketIds = all.filter((t) => t.status !== "CANCELLED").map((t) => t.id);
  const [refunded] = await db.all<{ completed: number; open: number }>(
    sql`SELECT COALESCE(SUM(CASE WHEN status = 'COMPLETED' THEN amount END), 0) AS completed,
          COUNT(CASE WHEN status <> 'COMPLETED' AND (resolution IS NULL OR resolution <> 'ABANDONED') THEN 1 END) AS open
        FROM refunds WHERE order_id = ${order.id}`,
  );
  const amountRefunded = Number(refunded?.completed ?? 0);
  const paid = Math.floor(order.paidAmount ?? 0);
  // §11.8: all the money back is "refunded"; every ticket cancelled (money on its way) "refund_pending".
  const fullyRefunded = paid > 0 && amountRefunded >= paid;
  const allCancelled = all.length > 0 && ticketIds.length === 0;
  if (fullyRefunded || allCancelled) {
    return {
      state: "FAILED",
      reference: order.reference,
      reason: fullyRefunded ? "refunded" : "refund_pending",
      ticketIds,
      amountRefunded,
    };
  }
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
  return { state, reference: order.reference, reason, ticketIds, amountRefunded };
}
