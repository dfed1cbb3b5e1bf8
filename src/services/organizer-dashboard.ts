/**
 * What an organizer sees at a glance: their events list (with sales and revenue) and the
 * dashboard figures of contract §6. Everything is aggregate SQL sent as one D1 batch: no
 * per-event loops, and correct for an organizer with no events at all.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, orders, stores, users } from "../db/schema";
import { toNairobiIso } from "../lib/time";
import type { EventListItemSource } from "./event-catalogue";
import { listColumns, toListSource } from "./event-catalogue";

// Correlated subqueries are written out with explicit table names: drizzle leaves column
// references unqualified in single-table selects, which would bind to the inner table.
const ticketsSoldSql = sql<number>`(SELECT COALESCE(SUM(t.quantity_sold), 0) FROM tiers t WHERE t.event_id = events.id)`;
const capacitySql = sql<number>`(SELECT COALESCE(SUM(t.quantity_allocated), 0) FROM tiers t WHERE t.event_id = events.id)`;
const revenueSql = sql<number>`(SELECT COALESCE(SUM(o.amount), 0) FROM orders o WHERE o.event_id = events.id AND o.status = 'COMPLETED')`;

export interface OrganizerEventSummary {
  source: EventListItemSource;
  isPublished: boolean;
  ticketsSold: number;
  revenue: number;
}

/** The organizer's own events, drafts and past included, latest start first. */
export async function listOrganizerEvents(
  db: Database,
  organizerId: string,
  page: { limit: number; offset: number },
): Promise<{ total: number; items: OrganizerEventSummary[] }> {
  const rows = await db
    .select({
      ...listColumns,
      isPublished: events.isPublished,
      ticketsSold: ticketsSoldSql,
      revenue: revenueSql,
    })
    .from(events)
    .innerJoin(users, eq(users.id, events.organizerId))
    .leftJoin(stores, eq(stores.id, events.storeId))
    .where(eq(events.organizerId, organizerId))
    .orderBy(desc(events.startAt), desc(events.id))
    .limit(page.limit)
    .offset(page.offset);
  return {
    total: rows[0]?.total ?? 0,
    items: rows.map((row) => ({
      source: toListSource(row),
      isPublished: row.isPublished,
      ticketsSold: row.ticketsSold,
      revenue: row.revenue,
    })),
  };
}

export interface Dashboard {
  total_revenue: number;
  tickets_sold: number;
  total_attendees: number;
  avg_ticket_price: number;
  orders_pending: number;
  orders_paid_unfulfilled: number;
  /** Paid orders whose ticket email kept failing (the buyer can resend; support can see them). */
  orders_delivery_failed: number;
  recent_events: Array<{
    id: string;
    title: string;
    date: string;
    status: "Active" | "Past" | "Draft";
    sold: number;
    capacity: number;
    revenue: number;
  }>;
  sales_last_7_days: Array<{ date: string; tickets: number; revenue: number }>;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const NAIROBI_OFFSET_MS = 3 * 60 * 60 * 1000;

/** `YYYY-MM-DD` of a Nairobi calendar day. */
function nairobiDay(epochMs: number): string {
  return new Date(epochMs + NAIROBI_OFFSET_MS).toISOString().slice(0, 10);
}

export async function organizerDashboard(
  db: Database,
  organizerId: string,
  now = Date.now(),
): Promise<Dashboard> {
  const ownOrders = and(
    eq(orders.status, "COMPLETED"),
    sql`${orders.eventId} IN (SELECT ${events.id} FROM ${events} WHERE ${events.organizerId} = ${organizerId})`,
  );
  const todayStart = Date.parse(`${nairobiDay(now)}T00:00:00+03:00`);
  const windowStart = todayStart - 6 * DAY_MS;

  const [totals, pending, recent, daily] = await db.batch([
    db
      .select({
        revenue: sql<number>`COALESCE(SUM(${orders.amount}), 0)`,
        tickets: sql<number>`COALESCE(SUM(${orders.quantity}), 0)`,
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
      .where(
        sql`${orders.eventId} IN (SELECT ${events.id} FROM ${events} WHERE ${events.organizerId} = ${organizerId})`,
      ),
    db
      .select({
        id: events.id,
        title: events.title,
        startAt: events.startAt,
        endAt: events.endAt,
        isPublished: events.isPublished,
        status: events.status,
        sold: ticketsSoldSql,
        capacity: capacitySql,
        revenue: revenueSql,
      })
      .from(events)
      .where(eq(events.organizerId, organizerId))
      .orderBy(desc(events.startAt))
      .limit(5),
    db
      .select({
        // Nairobi calendar day of the payment.
        day: sql<string>`strftime('%Y-%m-%d', (${orders.paidAt} + ${NAIROBI_OFFSET_MS}) / 1000, 'unixepoch')`,
        tickets: sql<number>`COALESCE(SUM(${orders.quantity}), 0)`,
        revenue: sql<number>`COALESCE(SUM(${orders.amount}), 0)`,
      })
      .from(orders)
      .where(and(ownOrders, sql`${orders.paidAt} >= ${windowStart}`))
      .groupBy(sql`1`),
  ]);

  const revenue = totals[0]?.revenue ?? 0;
  const tickets = totals[0]?.tickets ?? 0;
  const byDay = new Map(daily.map((d) => [d.day, d]));
  return {
    total_revenue: revenue,
    tickets_sold: tickets,
    total_attendees: totals[0]?.attendees ?? 0,
    avg_ticket_price: tickets > 0 ? Math.round((revenue / tickets) * 100) / 100 : 0,
    orders_pending: pending[0]?.pending ?? 0,
    orders_paid_unfulfilled: pending[0]?.unfulfilled ?? 0,
    orders_delivery_failed: pending[0]?.deliveryFailed ?? 0,
    recent_events: recent.map((e) => ({
      id: e.id,
      title: e.title,
      date: toNairobiIso(e.startAt),
      // A cancelled event is no longer "Active"; it is shown with the finished ones.
      status: !e.isPublished ? "Draft" : e.endAt <= now || e.status === "CANCELLED" ? "Past" : "Active",
      sold: e.sold,
      capacity: e.capacity,
      revenue: e.revenue,
    })),
    sales_last_7_days: Array.from({ length: 7 }, (_, i) => {
      const date = nairobiDay(windowStart + i * DAY_MS);
      const entry = byDay.get(date);
      return { date, tickets: entry?.tickets ?? 0, revenue: entry?.revenue ?? 0 };
    }),
  };
}
