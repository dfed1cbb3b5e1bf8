/**
 * Issuing tickets for a paid (or free) order: one signed ticket per seat of every line, each
 * with its tier and `price_paid`, numbered in the lines' order then seat. Idempotent by the
 * unique (order_id, seat_index) index: running it again, or twice at once, issues nothing
 * more, so a duplicate callback or a settlement retry can always call it safely.
 */
import { asc, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { orders, tickets } from "../db/schema";
import { seatPrices } from "../lib/order-pricing";
import { loadTicketKey, signTicket, ticketHash } from "../lib/ticket-signing";
import { type OrderLine, orderLines } from "./order-lines";

type OrderRow = typeof orders.$inferSelect;

const TICKETS_PER_INSERT = 5;

export async function ticketRowsFor(
  ticketSigningKey: string,
  order: OrderRow,
  lines: readonly Pick<OrderLine, "tierId" | "quantity" | "unitPrice" | "discount" | "discountedSeats">[],
  attendeeName: string,
  now: number,
) {
  const key = await loadTicketKey(ticketSigningKey);
  const seats = lines.flatMap((line) =>
    seatPrices(line).map((pricePaid) => ({ tierId: line.tierId, pricePaid })),
  );
  return Promise.all(
    seats.map(async ({ tierId, pricePaid }, seatIndex) => {
      const id = crypto.randomUUID();
      const qrCodeHash = await signTicket(key, { ticketId: id, eventId: order.eventId, tierId }, now);
      return {
        id,
        orderId: order.id,
        eventId: order.eventId,
        tierId,
        pricePaid,
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

type TicketRow = Awaited<ReturnType<typeof ticketRowsFor>>[number];

/**
 * INSERT statements for ticket rows (to run in a batch), skipping seats already issued.
 *
 * `onlyIfCompleted`: each row names its order through a subquery that finds the order only
 * while it is COMPLETED. Put after the statement that completes the order in the same batch
 * (a D1 batch is one transaction), tickets then exist if and only if the order completed:
 * when another settlement already moved the order elsewhere (under review, refund), the
 * NOT NULL order_id fails the whole batch instead of issuing tickets for it.
 */
export function ticketInsertStatements(
  db: Database,
  rows: TicketRow[],
  { onlyIfCompleted = false }: { onlyIfCompleted?: boolean } = {},
) {
  const statements = [];
  // D1 allows 100 bound parameters per statement: a ticket row has 15, so 5 rows each.
  for (let i = 0; i < rows.length; i += TICKETS_PER_INSERT) {
    const chunk = rows.slice(i, i + TICKETS_PER_INSERT).map((row) =>
      onlyIfCompleted
        ? {
            ...row,
            orderId: sql`(SELECT ${sql.identifier("id")} FROM ${orders} WHERE ${sql.identifier("id")} = ${row.orderId} AND ${sql.identifier("status")} = 'COMPLETED')`,
          }
        : row,
    );
    statements.push(db.insert(tickets).values(chunk).onConflictDoNothing());
  }
  return statements;
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
    const lines = await orderLines(db, order);
    const rows = await ticketRowsFor(ticketSigningKey, order, lines, attendeeName, now);
    const [first, ...rest] = ticketInsertStatements(db, rows);
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
