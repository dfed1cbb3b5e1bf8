/**
 * The resend use case (`POST /api/tickets/{id}/resend/`): the owner asks for the order's
 * tickets email again (for a transferred ticket, the transfer's email to its holder),
 * rate-limited per ticket.
 */
import { and, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, orders, tickets, type User } from "../db/schema";
import type { DeliveryJob } from "../delivery/jobs";
import { DomainError } from "../lib/errors";
import { consumeLimit } from "./rate-limit";
import { canViewTicket, ownsTicket } from "./ticket-access";
import { latestTransferOf } from "./ticket-transfer";

/** At most this many resends per ticket per hour (contract §5). */
const RESEND_LIMIT = { max: 3, windowMs: 60 * 60 * 1000 };

/**
 * A new copy is queued (its own dedupe key, so it too is sent once); an order whose delivery
 * had FAILED goes back to PENDING meanwhile.
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
      placedAsGuest: orders.placedAsGuest,
      transferCount: tickets.transferCount,
      status: tickets.status,
      organizerId: events.organizerId,
    })
    .from(tickets)
    .innerJoin(orders, eq(orders.id, tickets.orderId))
    .innerJoin(events, eq(events.id, tickets.eventId))
    .where(eq(tickets.id, ticketId))
    .limit(1);
  if (!ticket || !canViewTicket(viewer, ticket)) throw DomainError.notFound();
  if (!ownsTicket(viewer, ticket))
    throw DomainError.forbidden("Only the ticket's owner can have it sent again.");
  if (ticket.status === "CANCELLED") throw new DomainError("ticket_cancelled", "This ticket was cancelled.");

  const limit = await consumeLimit(deps.db, { key: `ticket_resend:${ticketId}`, ...RESEND_LIMIT }, now);
  if (!limit.allowed) throw DomainError.throttled(limit.retryAfter);

  // A transferred ticket is its holder's alone: the transfer's email again, to the holder
  // (contract v3 §14.3), never the order's tickets email to the buyer.
  if (ticket.transferCount > 0) {
    const transfer = await latestTransferOf(deps.db, ticketId);
    if (transfer) {
      await deps.queue.send({
        type: "ticket_transfer",
        transferId: transfer.id,
        resend: crypto.randomUUID(),
      });
      return { orderId: ticket.orderId };
    }
  }
  await deps.db
    .update(orders)
    .set({ deliveryStatus: "PENDING" })
    .where(and(eq(orders.id, ticket.orderId), eq(orders.deliveryStatus, "FAILED")));
  await deps.queue.send({ type: "order_tickets", orderId: ticket.orderId, resend: crypto.randomUUID() });
  return { orderId: ticket.orderId };
}
