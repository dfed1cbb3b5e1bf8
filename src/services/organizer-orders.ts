/**
 * The organizer's orders (contract §11.7): an event's orders, newest first, searchable by
 * reference, M-Pesa receipt, email or phone, and one order with its lines and tickets. The
 * organizer's own record: contact data unmasked, as in the CSV export. Another organizer's
 * event or order is "not found".
 * An order's refund figures come from its refunds (§13.1); the detail lists them, newest first.
 */
import { and, asc, desc, eq, inArray, ne, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import {
  events,
  type Order,
  type OrderStatus,
  orderItems,
  orders,
  refunds,
  tickets,
  tiers,
} from "../db/schema";
import { DomainError } from "../lib/errors";
import { normalizeKenyanPhone } from "../lib/phone";
import type { OrderLine } from "./order-lines";
import { loadOwnEvent } from "./organizer-events";
import { type RefundView, refundViewsOfOrder } from "./refunds/manage";

export interface OrganizerOrder {
  order: Order;
  eventTitle: string;
  lines: Array<Omit<OrderLine, "maxPerBuyer">>;
  ticketIds: string[];
  /** §13.1: Σ COMPLETED refunds, and Σ refunds still holding their reservation (not ABANDONED). */
  refunded: number;
  reserved: number;
}

export interface OrderTicket {
  id: string;
  tierName: string;
  status: string;
  attendeeName: string;
}

export interface OrganizerOrderDetail extends OrganizerOrder {
  tickets: OrderTicket[];
  /** §11.7: every refund of the order, newest first. */
  refunds: RefundView[];
}

export interface OrderFilter {
  status?: OrderStatus | undefined;
  q?: string | undefined;
}

/** `q` as any of the things an organizer searches by (§11.7). */
function searchCondition(q: string): SQL | undefined {
  const text = q.trim();
  if (!text) return undefined;
  const phone = normalizeKenyanPhone(text);
  return or(
    eq(orders.reference, text.toUpperCase()),
    eq(orders.mpesaReceiptNumber, text.toUpperCase()),
    sql`lower(${orders.buyerEmail}) = ${text.toLowerCase()}`,
    ...(phone ? [eq(orders.phoneNumber, phone), eq(orders.paidPhone, phone)] : []),
  );
}

/** Lines and live ticket ids of `list`, in one round trip. */
async function withLines(
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

const orderSelect = (db: Database) =>
  db
    .select({ order: orders, eventTitle: events.title, tierName: tiers.name })
    .from(orders)
    .innerJoin(events, eq(events.id, orders.eventId))
    .leftJoin(tiers, eq(tiers.id, orders.tierId));

export async function listEventOrders(
  db: Database,
  organizerId: string,
  eventId: string,
  filter: OrderFilter,
  page: { limit: number; offset: number },
): Promise<{ total: number; rows: OrganizerOrder[] }> {
  await loadOwnEvent(db, organizerId, eventId);
  const where = and(
    eq(orders.eventId, eventId),
    filter.status ? eq(orders.status, filter.status) : undefined,
    filter.q ? searchCondition(filter.q) : undefined,
  );
  const [rows, counted] = await db.batch([
    orderSelect(db)
      .where(where)
      .orderBy(desc(orders.createdAt), desc(orders.id))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: sql<number>`COUNT(*)` }).from(orders).where(where),
  ]);
  return { total: Number(counted[0]?.n ?? 0), rows: await withLines(db, rows) };
}

export async function organizerOrderDetail(
  db: Database,
  organizerId: string,
  orderId: string,
): Promise<OrganizerOrderDetail> {
  const [row] = await orderSelect(db)
    .where(and(eq(orders.id, orderId), eq(events.organizerId, organizerId)))
    .limit(1);
  if (!row) throw DomainError.notFound();
  const [detail] = await withLines(db, [row]);
  if (!detail) throw DomainError.notFound();
  const [issued, orderRefunds] = await Promise.all([
    db
      .select({
        id: tickets.id,
        tierName: tiers.name,
        status: tickets.status,
        attendeeName: tickets.attendeeName,
      })
      .from(tickets)
      .innerJoin(tiers, eq(tiers.id, tickets.tierId))
      .where(eq(tickets.orderId, detail.order.id))
      .orderBy(asc(tickets.seatIndex)),
    refundViewsOfOrder(db, detail.order.id),
  ]);
  return { ...detail, tickets: issued, refunds: orderRefunds };
}
