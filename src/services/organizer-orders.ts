/**
 * The organizer's orders (contract §11.7): an event's orders, newest first, searchable by
 * reference, M-Pesa receipt, email or phone, and one order with its lines and tickets. The
 * organizer's own record: contact data unmasked, as in the CSV export. Another organizer's
 * event or order is "not found".
 * An order's refund figures come from its refunds (§13.1); the detail lists them, newest first.
 */
import { and, asc, desc, eq, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, type OrderStatus, orders, tickets, tiers } from "../db/schema";
import { DomainError } from "../lib/errors";
import { normalizeKenyanPhone } from "../lib/phone";
import { loadOwnEvent } from "./organizer-events";
import { type OrganizerOrder, orderSelect, withLines } from "./organizer-order-rows";
import { type RefundView, refundViewsOfOrder } from "./refunds/manage";

export type { OrganizerOrder };

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
