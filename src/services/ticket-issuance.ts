/**
 * Issuing tickets for a paid (or free) order: one signed ticket per seat. Idempotent by the
 * unique (order_id, seat_index) index: running it again, or twice at once, issues nothing
 * more, so a duplicate callback or a settlement retry can always call it safely.
 */
import { asc, eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { type orders, tickets } from "../db/schema";
import { loadTicketKey, signTicket, ticketHash } from "../tickets/signing";

type OrderRow = typeof orders.$inferSelect;

const TICKETS_PER_INSERT = 5;

export async function ticketRowsFor(
  ticketSigningKey: string,
  order: OrderRow,
  attendeeName: string,
  now: number,
) {
  const key = await loadTicketKey(ticketSigningKey);
  return Promise.all(
    Array.from({ length: order.quantity }, async (_, seatIndex) => {
      const id = crypto.randomUUID();
      const qrCodeHash = await signTicket(
        key,
        { ticketId: id, eventId: order.eventId, tierId: order.tierId },
        now,
      );
      return {
        id,
        orderId: order.id,
        eventId: order.eventId,
        tierId: order.tierId,
        ownerId: order.userId,
        seatIndex,
        attendeeName,
        attendeeEmail: order.buyerEmail,
        qrCodeHash,
        ticketHash: await ticketHash(qrCodeHash),
        signingKeyId: key.kid,
        status: "ACTIVE" as const,
        createdAt: now,
        updatedAt: now,
      };
    }),
  );
}

/** Insert the order's tickets unless they exist; returns the order's ticket ids in seat order. */
export async function ensureTicketsIssued(
  db: Database,
  ticketSigningKey: string,
  order: OrderRow,
  attendeeName: string,
  now = Date.now(),
): Promise<string[]> {
  const existing = await ticketIdsFor(db, order.id);
  if (existing.length < order.quantity) {
    const rows = await ticketRowsFor(ticketSigningKey, order, attendeeName, now);
    // D1 allows 100 bound parameters per statement: a ticket row has 14, so 5 rows each.
    const statements = [];
    for (let i = 0; i < rows.length; i += TICKETS_PER_INSERT) {
      statements.push(
        db
          .insert(tickets)
          .values(rows.slice(i, i + TICKETS_PER_INSERT))
          .onConflictDoNothing(),
      );
    }
    const [first, ...rest] = statements;
    if (first) await db.batch([first, ...rest]);
    return ticketIdsFor(db, order.id);
  }
  return existing;
}

export async function ticketIdsFor(db: Database, orderId: string): Promise<string[]> {
  const rows = await db
    .select({ id: tickets.id })
    .from(tickets)
    .where(eq(tickets.orderId, orderId))
    .orderBy(asc(tickets.seatIndex));
  return rows.map((r) => r.id);
}
