/**
 * An order's ticket delivery, the state side (`orders.delivery_status`, `delivered_at`):
 *
 * - `queueTicketEmail` runs in the request that completed the order (M-Pesa callback, STK
 *   query, free booking): it only puts one `order_tickets` job on the delivery queue; the
 *   queue consumer (src/delivery/order-tickets.ts) renders the PNGs and sends the email.
 * - `recordOrderDelivery` / `markDeliveryFailed` record the consumer's final outcome on the
 *   order: SENT, or FAILED so it shows and can be re-sent.
 * - `requeueUndeliveredOrders` is the cron's sweep for orders whose enqueue failed.
 */
import { and, eq, isNull, lt, ne, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { orders } from "../db/schema";
import type { DeliveryJob } from "../delivery/jobs";
import type { DeliveryOutcome, MailDeps } from "../mail/mailer";

/** Enqueue the delivery of a completed order's tickets. Never fails the calling request. */
export async function queueTicketEmail(
  mail: MailDeps,
  _db: Database,
  orderId: string,
  /** Another job the same change owes (its webhook event): one send for both. */
  also?: DeliveryJob,
): Promise<void> {
  try {
    const tickets: DeliveryJob = { type: "order_tickets", orderId };
    if (also) await mail.queue.sendBatch([{ body: tickets }, { body: also }]);
    else await mail.queue.send(tickets);
  } catch (error) {
    // The order stays PENDING with no attempt; `requeueUndeliveredOrders` sends it again.
    mail.log?.warn("ticket delivery enqueue failed; the sweep will retry", {
      order_id: orderId,
      error: String(error),
    });
  }
}

/** Record a final mail outcome on its order: SENT wins over everything, FAILED over PENDING. */
export async function recordOrderDelivery(
  db: Database,
  orderId: string,
  outcome: DeliveryOutcome,
  now = Date.now(),
): Promise<void> {
  if (outcome === "sent" || outcome === "already_sent") {
    await db
      .update(orders)
      .set({ deliveryStatus: "SENT", deliveredAt: now })
      .where(
        and(eq(orders.id, orderId), or(isNull(orders.deliveryStatus), ne(orders.deliveryStatus, "SENT"))),
      );
  } else if (outcome === "failed_permanently") {
    await markDeliveryFailed(db, orderId);
  }
}

/** The order's tickets could not be delivered (Brevo refused, or the last retry failed). */
export async function markDeliveryFailed(db: Database, orderId: string): Promise<void> {
  await db
    .update(orders)
    .set({ deliveryStatus: "FAILED" })
    .where(and(eq(orders.id, orderId), or(isNull(orders.deliveryStatus), ne(orders.deliveryStatus, "SENT"))));
}

/** Completed orders whose delivery job never ran (its enqueue failed) and is overdue. */
const UNDELIVERED_AFTER_MS = 10 * 60 * 1000;

/**
 * For the scheduled sweep: re-enqueue completed orders still PENDING with no delivery
 * attempt well after they were paid (the request's enqueue failed). Returns how many.
 */
export async function requeueUndeliveredOrders(
  db: Database,
  queue: Queue<DeliveryJob>,
  now = Date.now(),
): Promise<number> {
  const stuck = await db
    .select({ id: orders.id })
    .from(orders)
    .where(
      and(
        eq(orders.status, "COMPLETED"),
        eq(orders.deliveryStatus, "PENDING"),
        eq(orders.deliveryAttempts, 0),
        lt(orders.paidAt, now - UNDELIVERED_AFTER_MS),
      ),
    )
    .limit(100);
  if (stuck.length === 0) return 0;
  await queue.sendBatch(stuck.map((row) => ({ body: { type: "order_tickets", orderId: row.id } })));
  return stuck.length;
}
