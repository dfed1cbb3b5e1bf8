/**
 * The `order_tickets` job, run by the queue consumer: it renders each ticket's PNG into R2
 * (skipping those already there), records ONE tickets email for the order in the mail
 * module (dedupe key `order:<id>:tickets`, the PNGs attached) and sends it, then records
 * the outcome on the order (`delivery_status` SENT / FAILED, `delivery_attempts`,
 * `delivered_at`). The request side, `queueTicketEmail`, is in src/services/ticket-delivery.ts.
 *
 * At least once, exactly one email: a redelivered job finds the order SENT (or the mail row
 * by its dedupe key, already sent) and the PNGs in R2; the mail module's lease and status
 * check, and Brevo's idempotency key, stop two concurrent deliveries from both sending.
 */
import { and, eq, ne, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { events, mailLog, orders, tickets, tiers } from "../db/schema";
import { unlinkable } from "../lib/html";
import type { Logger } from "../lib/logger";
import { type DeliveryOutcome, deliverMail, queueMail } from "../mail/mailer";
import { ticketsMail } from "../mail/templates";
import { formatNairobiDateTime, ticketReference } from "../render/ticket-svg";
import { recordOrderDelivery } from "../services/ticket-delivery";
import { ensureTicketPng, loadTicketArt, ticketPngKey } from "../services/ticket-png";
import type { DeliveryJob, OrderTicketsJob } from "./jobs";

export interface OrderDeliveryDeps {
  db: Database;
  config: Config;
  media: R2Bucket;
  log?: Logger;
  fetch?: typeof fetch;
}

export type OrderDeliveryOutcome = DeliveryOutcome | "skipped";

/** Thrown when another delivery of the same email holds its lease: look again later. */
class DeliveryInProgressError extends Error {
  constructor(mailId: string) {
    super(`mail ${mailId} is being delivered by another attempt`);
    this.name = "DeliveryInProgressError";
  }
}

/** The queue must not be used by the consumer's own queueMail: it delivers right away. */
const NO_QUEUE = { send: async () => undefined } as unknown as Queue<DeliveryJob>;

function ticketsDedupeKey(orderId: string, resend?: string): string {
  return resend ? `order:${orderId}:tickets:resend:${resend}` : `order:${orderId}:tickets`;
}

/** Run one `order_tickets` job and log its outcome. Throws for anything worth retrying. */
export async function runOrderTicketsJob(
  deps: OrderDeliveryDeps & { log: Logger },
  job: OrderTicketsJob,
): Promise<void> {
  const outcome = await deliverOrderTickets(deps, job);
  deps.log.info("ticket delivery", { order_id: job.orderId, resend: job.resend ?? null, outcome });
}

/**
 * Throws for anything worth retrying (R2, D1, Brevo 5xx or timeout, a concurrent delivery);
 * returns once the outcome is final.
 */
async function deliverOrderTickets(
  deps: OrderDeliveryDeps,
  job: Omit<OrderTicketsJob, "type">,
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
    // A ticket transferred away is no longer the buyer's to receive: its holder gets it by
    // the transfer's own email (delivery/ticket-transfer.ts), resends included.
    const issued = await loadTicketArt(
      db,
      and(eq(tickets.orderId, order.id), ne(tickets.status, "CANCELLED"), eq(tickets.transferCount, 0)),
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
        storedKey: ticketPngKey(ticket.id, ticket.tokenVersion),
        size: png.byteLength,
      });
    }
    const content = ticketsMail({
      buyerName: order.buyerName,
      eventTitle: order.eventTitle,
      when: formatNairobiDateTime(order.startAt),
      location: order.locationName,
      // Every tier of the order (§11.6: one email per order), in seat order.
      tierName: [...new Set(issued.map((t) => t.tierName))].join(", ") || order.tierName,
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
        // The To name is shown by the mail client too: plain text there as well.
        to: { email: order.buyerEmail, name: unlinkable(order.buyerName) },
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
