/**
 * Ticket delivery for an order, in two halves:
 *
 * - `queueTicketEmail` runs in the request that completed the order (M-Pesa callback, STK
 *   query, free booking): it only puts one `order_tickets` job on the delivery queue.
 * - `deliverOrderTickets` runs in the queue consumer: it renders each ticket's PNG into R2
 *   (skipping those already there), records ONE tickets email for the order in the mail
 *   module (dedupe key `order:<id>:tickets`, the PNGs attached) and sends it, then records
 *   the outcome on the order (`delivery_status` SENT / FAILED, `delivery_attempts`,
 *   `delivered_at`).
 *
 * At least once, exactly one email: a redelivered job finds the order SENT (or the mail row
 * by its dedupe key, already sent) and the PNGs in R2; the mail module's lease and status
 * check, and Brevo's idempotency key, stop two concurrent deliveries from both sending.
 */
import { and, eq, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { events, mailLog, orders, tickets, tiers, type User } from "../db/schema";
import { DomainError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { type DeliveryOutcome, deliverMail, type MailDeps, queueMail } from "../mail/mailer";
import { ticketsMail } from "../mail/templates";
import { formatNairobiDateTime, ticketReference } from "../render/ticket-svg";
import { consumeLimit } from "../services/rate-limit";
import { ensureTicketPng, loadTicketArt, ticketPngKey } from "../services/ticket-png";
import { canViewTicket } from "../services/wallet";
import type { DeliveryJob } from "./jobs";

/** Enqueue the delivery of a completed order's tickets. Never fails the calling request. */
export async function queueTicketEmail(mail: MailDeps, _db: Database, orderId: string): Promise<void> {
  try {
    await mail.queue.send({ type: "order_tickets", orderId });
  } catch (error) {
    // The order stays PENDING with no attempt; `requeueUndeliveredOrders` sends it again.
    mail.log?.warn("ticket delivery enqueue failed; the sweep will retry", {
      order_id: orderId,
      error: String(error),
    });
  }
}

export interface OrderDeliveryDeps {
  db: Database;
  config: Config;
  media: R2Bucket;
  log?: Logger;
  fetch?: typeof fetch;
}

export type OrderDeliveryOutcome = DeliveryOutcome | "skipped";

/** Thrown when another delivery of the same email holds its lease: look again later. */
export class DeliveryInProgressError extends Error {
  constructor(mailId: string) {
    super(`mail ${mailId} is being delivered by another attempt`);
    this.name = "DeliveryInProgressError";
  }
}

/** The queue must not be used by the consumer's own queueMail: it delivers right away. */
const NO_QUEUE = { send: async () => undefined } as unknown as Queue<DeliveryJob>;

export function ticketsDedupeKey(orderId: string, resend?: string): string {
  return resend ? `order:${orderId}:tickets:resend:${resend}` : `order:${orderId}:tickets`;
}

/**
 * Run one `order_tickets` job. Throws for anything worth retrying (R2, D1, Brevo 5xx or
 * timeout, a concurrent delivery); returns once the outcome is final.
 */
export async function deliverOrderTickets(
  deps: OrderDeliveryDeps,
  job: { orderId: string; resend?: string | undefined },
): Promise<OrderDeliveryOutcome> {
  const { db, log } = deps;
  const [order] = await db
    .select({
      id: orders.id,
      status: orders.status,
      reference: orders.reference,
      buyerName: orders.buyerName,
      buyerEmail: orders.buyerEmail,
      deliveryStatus: orders.deliveryStatus,
      eventTitle: events.title,
      startAt: events.startAt,
      locationName: events.locationName,
      tierName: tiers.name,
    })
    .from(orders)
    .innerJoin(events, eq(events.id, orders.eventId))
    .innerJoin(tiers, eq(tiers.id, orders.tierId))
    .where(eq(orders.id, job.orderId))
    .limit(1);
  if (order?.status !== "COMPLETED") {
    log?.warn("ticket delivery skipped: no completed order", {
      order_id: job.orderId,
      status: order?.status,
    });
    return "skipped";
  }
  // The cheap exit for a redelivered message whose work is done.
  if (!job.resend && order.deliveryStatus === "SENT") return "already_sent";

  await db
    .update(orders)
    .set({ deliveryAttempts: sql`${orders.deliveryAttempts} + 1` })
    .where(eq(orders.id, order.id));

  const dedupeKey = ticketsDedupeKey(order.id, job.resend);
  let mailId = (
    await db.query.mailLog.findFirst({ where: eq(mailLog.dedupeKey, dedupeKey), columns: { id: true } })
  )?.id;

  if (!mailId) {
    const issued = await loadTicketArt(
      db,
      and(eq(tickets.orderId, order.id), ne(tickets.status, "CANCELLED")),
    );
    if (issued.length === 0) {
      log?.warn("ticket delivery skipped: no live tickets", { order_id: order.id });
      return "skipped";
    }
    // One at a time: a render holds a few MB of wasm memory, and the batch shares 128 MB.
    const attachments = [];
    let rendered = 0;
    for (const ticket of issued) {
      const { png, rendered: fresh } = await ensureTicketPng(deps, ticket);
      if (fresh) rendered++;
      // The email names the ticket's own PNG in R2 (stored once, never changed) instead of
      // a second copy of it.
      attachments.push({
        name: `ticket-${ticketReference(ticket.id)}.png`,
        contentType: "image/png",
        storedKey: ticketPngKey(ticket.id),
        size: png.byteLength,
      });
    }
    const content = ticketsMail({
      buyerName: order.buyerName,
      eventTitle: order.eventTitle,
      when: formatNairobiDateTime(order.startAt),
      location: order.locationName,
      tierName: order.tierName,
      orderReference: order.reference,
      tickets: issued.map((t) => ({
        reference: ticketReference(t.id),
        walletUrl: `${deps.config.frontendUrl}/tickets/${t.id}`,
      })),
      resend: Boolean(job.resend),
    });
    const recorded = await queueMail(
      { db, config: deps.config, media: deps.media, queue: NO_QUEUE, ...(log ? { log } : {}) },
      {
        kind: "tickets",
        to: { email: order.buyerEmail, name: order.buyerName },
        ...content,
        attachments,
        dedupeKey,
        orderId: order.id,
        tags: ["tickets"],
      },
    );
    mailId = recorded.id;
    log?.info("ticket pngs ready", { order_id: order.id, tickets: issued.length, rendered, mail_id: mailId });
  }

  const outcome = await deliverMail(deps, mailId);
  if (outcome === "in_progress") throw new DeliveryInProgressError(mailId);
  if (outcome === "missing") throw new Error(`mail ${mailId} vanished`);
  await recordOrderDelivery(db, order.id, outcome);
  return outcome;
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

/**
 * After a `mail` job (the scheduled sweep re-queues mail whose message was lost), carry a
 * tickets email's outcome over to its order.
 */
export async function recordMailOutcome(
  db: Database,
  mailId: string,
  outcome: DeliveryOutcome,
): Promise<void> {
  if (outcome !== "sent" && outcome !== "failed_permanently") return;
  const row = await db.query.mailLog.findFirst({
    where: eq(mailLog.id, mailId),
    columns: { orderId: true, kind: true },
  });
  if (row?.orderId && row.kind === "tickets") await recordOrderDelivery(db, row.orderId, outcome);
}

/** At most this many resends per ticket per hour (contract §5). */
export const RESEND_LIMIT = { max: 3, windowMs: 60 * 60 * 1000 };

/**
 * The resend path (`POST /api/tickets/{id}/resend/`): the owner asks for the order's tickets
 * email again, rate-limited per ticket. A new copy is queued (its own dedupe key, so it too
 * is sent once); an order whose delivery had FAILED goes back to PENDING meanwhile.
 * Not visible → 404; visible but not the owner (organizer, scanner) → 403; cancelled → 409.
 */
export async function requestTicketResend(
  deps: { db: Database; queue: Queue<DeliveryJob> },
  viewer: User,
  ticketId: string,
  now = Date.now(),
): Promise<{ orderId: string }> {
  const [ticket] = await deps.db
    .select({
      orderId: tickets.orderId,
      ownerId: tickets.ownerId,
      status: tickets.status,
      organizerId: events.organizerId,
    })
    .from(tickets)
    .innerJoin(events, eq(events.id, tickets.eventId))
    .where(eq(tickets.id, ticketId))
    .limit(1);
  if (!ticket || !canViewTicket(viewer, ticket)) throw DomainError.notFound();
  if (ticket.ownerId !== viewer.id)
    throw DomainError.forbidden("Only the ticket's owner can have it sent again.");
  if (ticket.status === "CANCELLED") throw new DomainError("ticket_cancelled", "This ticket was cancelled.");

  const limit = await consumeLimit(deps.db, { key: `ticket_resend:${ticketId}`, ...RESEND_LIMIT }, now);
  if (!limit.allowed) throw DomainError.throttled(limit.retryAfter);

  await deps.db
    .update(orders)
    .set({ deliveryStatus: "PENDING" })
    .where(and(eq(orders.id, ticket.orderId), eq(orders.deliveryStatus, "FAILED")));
  await deps.queue.send({ type: "order_tickets", orderId: ticket.orderId, resend: crypto.randomUUID() });
  return { orderId: ticket.orderId };
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
