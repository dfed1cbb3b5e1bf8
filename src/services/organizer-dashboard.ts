/**
 * What an organizer sees at a glance: their events list (with sales and revenue) and the
 * dashboard figures of contract §6 (with the refund and discount figures contract v3 §0 adds).
 * Everything is aggregate SQL sent as one D1 batch: no per-event loops, and correct for an
 * organizer with no events at all.
 */
import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, orders, refunds, stores, tickets, users } from "../db/schema";
import { toNairobiIso } from "../lib/time";
import type { EventListItemSource } from "./event-catalogue";
import { eventRowidSql, listItemColumns, toListSource, windowTotalSql } from "./event-catalogue";

// Correlated subqueries are written out with explicit table names: drizzle leaves column
// references unqualified in single-table selects, which would bind to the inner table.
//
// Money and seats follow contract v3 §0 (§6): over an event's COMPLETED orders, gross = Σ what
// was paid, refunded = Σ their COMPLETED refunds, revenue = gross − refunded (what the
// organizer keeps), discounts = Σ order discounts; sold = their seats less the tickets a
// refund or the event's cancellation CANCELLED (counted from the orders, not from the tier
// copy: a seat that stays off sale after a refund, e.g. on a cancelled event, is still not sold).
const grossSql = sql<number>`(SELECT COALESCE(SUM(CASE WHEN o.is_free = 1 THEN 0 ELSE COALESCE(o.paid_amount, o.amount) END), 0) FROM orders o WHERE o.event_id = events.id AND o.status = 'COMPLETED')`;
const refundedSql = sql<number>`(SELECT COALESCE(SUM(r.amount), 0) FROM refunds r JOIN orders o ON o.id = r.order_id WHERE r.event_id = events.id AND r.status = 'COMPLETED' AND o.status = 'COMPLETED')`;
const discountsSql = sql<number>`(SELECT COALESCE(SUM(o.discount), 0) FROM orders o WHERE o.event_id = events.id AND o.status = 'COMPLETED')`;
const ticketsSoldSql = sql<number>`((SELECT COALESCE(SUM(o.quantity), 0) FROM orders o WHERE o.event_id = events.id AND o.status = 'COMPLETED') - (SELECT COUNT(*) FROM tickets tk JOIN orders o ON o.id = tk.order_id WHERE tk.event_id = events.id AND tk.status = 'CANCELLED' AND o.status = 'COMPLETED'))`;
const capacitySql = sql<number>`(SELECT COALESCE(SUM(t.quantity_allocated), 0) FROM tiers t WHERE t.event_id = events.id)`;

/** An event's money figures (§6 as amended by v3 §0). */
const eventMoneyColumns = {
  gross: grossSql,
  refunded: refundedSql,
  discounts: discountsSql,
  sold: ticketsSoldSql,
};

export interface OrganizerEventSummary {
  source: EventListItemSource;
  isPublished: boolean;
  ticketsSold: number;
  /** Net of completed refunds. */
  revenue: number;
  refunded: number;
  discounts: number;
}

/** The organizer's own events, drafts and past included, latest start first. */
export async function listOrganizerEvents(
  db: Database,
  organizerId: string,
  page: { limit: number; offset: number },
): Promise<{ total: number; items: OrganizerEventSummary[] }> {
  // The page first (rowids and the total), then the list item and money columns of its rows
  // only: with the window count in the same query, every one of the organizer's events paid
  // for the money subqueries (see event-catalogue's header).
  const order = [desc(events.startAt), desc(events.id)];
  const pageRows = db
    .select({ rowid: eventRowidSql.as("page_rowid"), total: windowTotalSql.as("page_total") })
    .from(events)
    .innerJoin(users, eq(users.id, events.organizerId))
    .where(eq(events.organizerId, organizerId))
    .orderBy(...order)
    .limit(page.limit)
    .offset(page.offset)
    .as("page");
  const rows = await db
    .select({
      ...listItemColumns,
      total: pageRows.total,
      isPublished: events.isPublished,
      ...eventMoneyColumns,
    })
    .from(pageRows)
    .innerJoin(events, sql`${events}.rowid = ${pageRows.rowid}`)
    .innerJoin(users, eq(users.id, events.organizerId))
    .leftJoin(stores, eq(stores.id, events.storeId))
    .orderBy(...order);
  return {
    total: rows[0]?.total ?? 0,
    items: rows.map((row) => ({
      source: toListSource(row),
      isPublished: row.isPublished,
      ticketsSold: row.sold,
      revenue: row.gross - row.refunded,
      refunded: row.refunded,
      discounts: row.discounts,
    })),
  };
}

export interface Dashboard {
  /** Σ paid on COMPLETED orders less their completed refunds: what the organizer keeps. */
  total_revenue: number;
  gross_revenue: number;
  total_refunded: number;
  total_discounts: number;
  /** Seats of COMPLETED orders, less tickets CANCELLED (refunds, cancellation). */
  tickets_sold: number;
  total_attendees: number;
  avg_ticket_price: number;
  orders_pending: number;
  orders_paid_unfulfilled: number;
  /** Paid orders whose ticket email kept failing (the buyer can resend; support can see them). */
  orders_delivery_failed: number;
  /** Refunds on their way: PENDING or SENT. */
  refunds_pending: number;
  /** Refunds needing the organizer: FAILED and unresolved, or flagged for review. */
  refunds_failed: number;
  recent_events: Array<{
    id: string;
    title: string;
    date: string;
    status: "Active" | "Past" | "Draft";
    sold: number;
    capacity: number;
    revenue: number;
    refunded: number;
    discounts: number;
  }>;
  sales_last_7_days: Array<{ date: string; tickets: number; revenue: number; refunded: number }>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const NAIROBI_OFFSET_MS = 3 * 60 * 60 * 1000;

/** `YYYY-MM-DD` of a Nairobi calendar day. */
function nairobiDay(epochMs: number): string {
  return new Date(epochMs + NAIROBI_OFFSET_MS).toISOString().slice(0, 10);
}

/** SQL: the Nairobi calendar day of an epoch-ms column. */
const nairobiDaySql = (column: SQL) =>
  sql<string>`strftime('%Y-%m-%d', (${column} + ${NAIROBI_OFFSET_MS}) / 1000, 'unixepoch')`;

export async function organizerDashboard(
  db: Database,
  organizerId: string,
  now = Date.now(),
): Promise<Dashboard> {
  const ownEvent = (column: SQL | typeof orders.eventId) =>
    sql`${column} IN (SELECT ${events.id} FROM ${events} WHERE ${events.organizerId} = ${organizerId})`;
  const ownOrders = and(eq(orders.status, "COMPLETED"), ownEvent(orders.eventId));
  const todayStart = Date.parse(`${nairobiDay(now)}T00:00:00+03:00`);
  const windowStart = todayStart - 6 * DAY_MS;
  const paidSql = sql<number>`CASE WHEN ${orders.isFree} = 1 THEN 0 ELSE COALESCE(${orders.paidAmount}, ${orders.amount}) END`;
  // Completed refunds of COMPLETED orders: the money that came back out of gross revenue.
  const completedRefunds = and(
    eq(refunds.status, "COMPLETED"),
    eq(orders.status, "COMPLETED"),
    ownEvent(sql`${refunds.eventId}`),
  );

  const [totals, pending, cancelled, refundTotals, recent, daily, dailyRefunds] = await db.batch([
    db
      .select({
        gross: sql<number>`COALESCE(SUM(${paidSql}), 0)`,
        discounts: sql<number>`COALESCE(SUM(${orders.discount}), 0)`,
        seats: sql<number>`COALESCE(SUM(${orders.quantity}), 0)`,
        attendees: sql<number>`COUNT(DISTINCT ${orders.userId})`,
      })
      .from(orders)
      .where(ownOrders),
    db
      .select({
        pending: sql<number>`COALESCE(SUM(CASE WHEN ${orders.status} = 'PENDING' THEN 1 ELSE 0 END), 0)`,
        unfulfilled: sql<number>`COALESCE(SUM(CASE WHEN ${orders.status} = 'PAID_UNFULFILLED' THEN 1 ELSE 0 END), 0)`,
        deliveryFailed: sql<number>`COALESCE(SUM(CASE WHEN ${orders.status} = 'COMPLETED' AND ${orders.deliveryStatus} = 'FAILED' THEN 1 ELSE 0 END), 0)`,
      })
      .from(orders)
      .where(ownEvent(orders.eventId)),
    db
      .select({ n: sql<number>`COUNT(*)` })
      .from(tickets)
      .innerJoin(orders, eq(orders.id, tickets.orderId))
      .where(and(eq(tickets.status, "CANCELLED"), ownOrders)),
    db
      .select({
        refunded: sql<number>`COALESCE(SUM(CASE WHEN ${refunds.status} = 'COMPLETED' AND ${orders.status} = 'COMPLETED' THEN ${refunds.amount} ELSE 0 END), 0)`,
        pending: sql<number>`COALESCE(SUM(CASE WHEN ${refunds.status} IN ('PENDING', 'SENT') THEN 1 ELSE 0 END), 0)`,
        failed: sql<number>`COALESCE(SUM(CASE WHEN (${refunds.status} = 'FAILED' AND ${refunds.resolution} IS NULL) OR ${refunds.reviewReason} IS NOT NULL THEN 1 ELSE 0 END), 0)`,
      })
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .where(ownEvent(sql`${refunds.eventId}`)),
    db
      .select({
        id: events.id,
        title: events.title,
        startAt: events.startAt,
        endAt: events.endAt,
        isPublished: events.isPublished,
        status: events.status,
        capacity: capacitySql,
        ...eventMoneyColumns,
      })
      .from(events)
      .where(eq(events.organizerId, organizerId))
      .orderBy(desc(events.startAt))
      .limit(5),
    db
      .select({
        // Nairobi calendar day of the payment.
        day: nairobiDaySql(sql`${orders.paidAt}`),
        tickets: sql<number>`COALESCE(SUM(${orders.quantity}), 0)`,
        gross: sql<number>`COALESCE(SUM(${paidSql}), 0)`,
      })
      .from(orders)
      .where(and(ownOrders, sql`${orders.paidAt} >= ${windowStart}`))
      .groupBy(sql`1`),
    db
      .select({
        // A refund counts on the day its money went back (whenever the sale was).
        day: nairobiDaySql(sql`${refunds.completedAt}`),
        refunded: sql<number>`COALESCE(SUM(${refunds.amount}), 0)`,
      })
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .where(and(completedRefunds, sql`${refunds.completedAt} >= ${windowStart}`))
      .groupBy(sql`1`),
  ]);

  const gross = totals[0]?.gross ?? 0;
  const refunded = refundTotals[0]?.refunded ?? 0;
  const revenue = gross - refunded;
  const ticketsSold = Math.max(0, (totals[0]?.seats ?? 0) - (cancelled[0]?.n ?? 0));
  const byDay = new Map(daily.map((d) => [d.day, d]));
  const refundsByDay = new Map(dailyRefunds.map((d) => [d.day, d.refunded]));
  return {
    total_revenue: revenue,
    gross_revenue: gross,
    total_refunded: refunded,
    total_discounts: totals[0]?.discounts ?? 0,
    tickets_sold: ticketsSold,
    total_attendees: totals[0]?.attendees ?? 0,
    avg_ticket_price: ticketsSold > 0 ? Math.round((revenue / ticketsSold) * 100) / 100 : 0,
    orders_pending: pending[0]?.pending ?? 0,
    orders_paid_unfulfilled: pending[0]?.unfulfilled ?? 0,
    orders_delivery_failed: pending[0]?.deliveryFailed ?? 0,
    refunds_pending: refundTotals[0]?.pending ?? 0,
    refunds_failed: refundTotals[0]?.failed ?? 0,
    recent_events: recent.map((e) => ({
      id: e.id,
      title: e.title,
      date: toNairobiIso(e.startAt),
      // A cancelled event is no longer "Active"; it is shown with the finished ones.
      status: !e.isPublished ? "Draft" : e.endAt <= now || e.status === "CANCELLED" ? "Past" : "Active",
      sold: e.sold,
      capacity: e.capacity,
      revenue: e.gross - e.refunded,
      refunded: e.refunded,
      discounts: e.discounts,
    })),
    sales_last_7_days: Array.from({ length: 7 }, (_, i) => {
      const date = nairobiDay(windowStart + i * DAY_MS);
      const entry = byDay.get(date);
      const dayRefunded = refundsByDay.get(date) ?? 0;
      return {
        date,
        tickets: entry?.tickets ?? 0,
        revenue: (entry?.gross ?? 0) - dayRefunded,
        refunded: dayRefunded,
      };
    }),
  };
}
