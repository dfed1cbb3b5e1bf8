/**
 * The rows behind the organizer's view of an order (contract §11.7): the order with its
 * event's title, its lines, live ticket ids and refund sums, in one round trip. Shared by the
 * organizer order routes and the webhook snapshots (§16.2), below both.
 */
import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, type Order, orderItems, orders, refunds, tickets, tiers } from "../db/schema";
import type { OrderLine } from "./order-lines";

export interface OrganizerOrder {
  order: Order;
  eventTitle: string;
  lines: Array<Omit<OrderLine, "maxPerBuyer">>;
  ticketIds: string[];
  /** §13.1: Σ COMPLETED refunds, and Σ refunds still holding their reservation (not ABANDONED). */
  refunded: number;
  reserved: number;
}

/** Lines and live ticket ids of `list`, in one round trip. */
export async function withLines(
  db: Database,
  list: Array<{ order: Order; eventTitle: string; tierName: string | null }>,
): Promise<OrganizerOrder[]> {
  if (list.length === 0) return [];
  const ids = list.map((row) => row.order.id);
  const [lines, issued, refundSums] = await db.batch([
    db
      .select({
        orderId: orderItems.orderId,
        tierId: orderItems.tierId,
        tierName: tiers.name,
        quantity: orderItems.quantity,
        unitPrice: orderItems.unitPrice,
        discount: orderItems.discount,
        discountedSeats: orderItems.discountedSeats,
      })
      .from(orderItems)
      .innerJoin(tiers, eq(tiers.id, orderItems.tierId))
      .where(inArray(orderItems.orderId, ids))
      .orderBy(asc(orderItems.position)),
    db
      .select({ orderId: tickets.orderId, id: tickets.id })
      .from(tickets)
      .where(and(inArray(tickets.orderId, ids), ne(tickets.status, "CANCELLED")))
      .orderBy(asc(tickets.seatIndex)),
    db
      .select({
        orderId: refunds.orderId,
        refunded: sql<number>`COALESCE(SUM(CASE WHEN ${refunds.status} = 'COMPLETED' THEN ${refunds.amount} ELSE 0 END), 0)`,
        reserved: sql<number>`COALESCE(SUM(CASE WHEN ${refunds.resolution} IS NULL OR ${refunds.resolution} <> 'ABANDONED' THEN ${refunds.amount} ELSE 0 END), 0)`,
      })
      .from(refunds)
      .where(inArray(refunds.orderId, ids))
      .groupBy(refunds.orderId),
  ]);
  return list.map(({ order, eventTitle, tierName }) => {
    const own = lines.filter((line) => line.orderId === order.id).map(({ orderId: _id, ...line }) => line);
    return {
      order,
      eventTitle,
      // An order from before lines existed is its own single line.
      lines:
        own.length > 0
          ? own
          : [
              {
                tierId: order.tierId,
                tierName: tierName ?? "",
                quantity: order.quantity,
                unitPrice: order.unitPrice,
                discount: 0,
                discountedSeats: 0,
              },
            ],
      ticketIds: issued.filter((t) => t.orderId === order.id).map((t) => t.id),
      refunded: Number(refundSums.find((r) => r.orderId === order.id)?.refunded ?? 0),
      reserved: Number(refundSums.find((r) => r.orderId === order.id)?.reserved ?? 0),
    };
  });
}

export const orderSelect = (db: Database) =>
  db
    .select({ order: orders, eventTitle: events.title, tierName: tiers.name })
    .from(orders)
    .innerJoin(events, eq(events.id, orders.eventId))
    .leftJoin(tiers, eq(tiers.id, orders.tierId));

/** One order as the organizer sees it (whoever the organizer is), or undefined. */
export async function organizerOrderById(db: Database, orderId: string): Promise<OrganizerOrder | undefined> {
  const [row] = await orderSelect(db).where(eq(orders.id, orderId)).limit(1);
  if (!row) return undefined;
  const [view] = await withLines(db, [row]);
  return view;
}
