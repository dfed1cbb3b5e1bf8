/**
 * Public event discovery (contract §3). The listing is one D1 statement: filters, the
 * page, and the total (a window count) in a single round trip. Text search uses the FTS5
 * index `events_fts`, never a `LIKE '%…%'` scan.
 *
 * The statement picks the page first, then dresses it: an inner query applies the filters,
 * the order, the window count and LIMIT/OFFSET over the events' rowids only; the outer one
 * joins the page's (at most `limit`) events to their organizer and store and sums their
 * seats. A window count makes SQLite build every matching row before LIMIT, so with the
 * list item's columns in the same query, each of the (hundreds of) matches paid for the
 * per-event seat subquery and the joins (bench/results/listing.md, 2026-12-04 22:xx).
 */
import { and, asc, desc, eq, gt, lt, type SQL, sql } from "drizzle-orm";
import type { SelectedFields } from "drizzle-orm/sqlite-core";
import type { Database } from "../db/client";
import { type EventCategory, events, stores, tiers, users } from "../db/schema";
import { DomainError } from "../lib/errors";
import type { TierRow } from "./tier-rules";

/** The event columns a list item shows (a subset of the `events` row). */
export interface EventListEvent {
  id: string;
  title: string;
  startAt: number;
  endAt: number;
  locationName: string;
  posterKey: string | null;
  /** `events.lowest_price`: null until the event has tiers. */
  lowestPrice: number | null;
  category: EventCategory;
  isPrivate: boolean;
}

export interface EventListStore {
  id: string;
  name: string;
  slug: string;
  logoKey: string | null;
}

export interface EventListItemSource {
  event: EventListEvent;
  /** The organizer's username. */
  organizerName: string;
  store: EventListStore | null;
  /** Σ over the event's tiers of max(allocated − sold − held, 0); 0 means sold out. */
  availableSeats: number;
}

export const EVENT_ORDERINGS = [
  "start_datetime",
  "-start_datetime",
  "lowest_price",
  "-lowest_price",
] as const;
export type EventOrdering = (typeof EVENT_ORDERINGS)[number];

export interface EventFilters {
  /** FTS5 match expression, already built from the user's words. */
  match?: string | undefined;
  category?: EventCategory | undefined;
  /** Events overlapping [from, to) in epoch ms. */
  from?: number | undefined;
  to?: number | undefined;
  minPrice?: number | undefined;
  maxPrice?: number | undefined;
  storeSlug?: string | undefined;
  ordering: EventOrdering;
}

/**
 * Words → an FTS5 query: each word a quoted prefix term, all required. Quoting makes any
 * user input safe (no FTS syntax injection); punctuation is dropped.
 */
export function buildMatchExpression(q: string): string | undefined {
  const words = q
    .normalize("NFKC")
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean)
    .slice(0, 8)
    // Prefix matching only from 3 characters: "a*" would match nearly every event.
    .map((word) => (word.length >= 3 ? `"${word.slice(0, 40)}"*` : `"${word}"`));
  return words.length > 0 ? words.join(" ") : undefined;
}

/** Seats left over all of an event's tiers, in SQL (0 = sold out). Explicit names: see organizer-dashboard. */
export const availableSeatsSql = sql<number>`(SELECT COALESCE(SUM(MAX(t.quantity_allocated - t.quantity_sold - t.quantity_held, 0)), 0) FROM tiers t WHERE t.event_id = events.id)`;

/** The columns of an event list item, shared by every listing query (the total is the page's). */
export const listItemColumns = {
  event: {
    id: events.id,
    title: events.title,
    startAt: events.startAt,
    endAt: events.endAt,
    locationName: events.locationName,
    posterKey: events.posterKey,
    lowestPrice: events.lowestPrice,
    category: events.category,
    isPrivate: events.isPrivate,
  },
  organizerName: users.username,
  storeId: stores.id,
  storeName: stores.name,
  storeSlug: stores.slug,
  storeLogoKey: stores.logoKey,
  availableSeats: availableSeatsSql,
};

/** The window count of a page query: every matching row, whatever LIMIT and OFFSET. */
export const windowTotalSql = sql<number>`COUNT(*) OVER ()`;

/** An event's rowid, the key a page query hands to the query that dresses its rows. */
export const eventRowidSql = sql<number>`${events}.rowid`;

type ListRow = {
  event: EventListItemSource["event"];
  organizerName: string;
  storeId: string | null;
  storeName: string | null;
  storeSlug: string | null;
  storeLogoKey: string | null;
  availableSeats: number;
  total: number;
};

export function toListSource(row: Omit<ListRow, "total">): EventListItemSource {
  return {
    event: row.event,
    organizerName: row.organizerName,
    store:
      row.storeId && row.storeName !== null && row.storeSlug !== null
        ? { id: row.storeId, name: row.storeName, slug: row.storeSlug, logoKey: row.storeLogoKey }
        : null,
    availableSeats: row.availableSeats,
  };
}

function orderBy(ordering: EventOrdering): SQL[] {
  switch (ordering) {
    case "-start_datetime":
      return [desc(events.startAt), asc(events.id)];
    case "lowest_price":
      return [
        sql`${events.lowestPrice} IS NULL`,
        asc(events.lowestPrice),
        asc(events.startAt),
        asc(events.id),
      ];
    case "-lowest_price":
      return [
        sql`${events.lowestPrice} IS NULL`,
        desc(events.lowestPrice),
        asc(events.startAt),
        asc(events.id),
      ];
    default:
      return [asc(events.startAt), asc(events.id)];
  }
}

/** Published, public, active events that have not ended, filtered, one page plus the total. */
export async function listPublicEvents(
  db: Database,
  filters: EventFilters,
  page: { limit: number; offset: number },
  now = Date.now(),
): Promise<{ total: number; rows: EventListItemSource[] }> {
  const searched = Boolean(filters.match);
  const byStart = filters.ordering === "start_datetime" || filters.ordering === "-start_datetime";
  // Without a search and ordered by start, the total is a count of its own and the page a
  // walk of events_listing_idx in start order that stops after LIMIT + OFFSET rows (the
  // window count would make SQLite visit and sort every upcoming event). With a search, the
  // matching rows are few but costly to find (FTS, rows, the price EXISTS): one pass, and the
  // window counts them.
  const separateTotal = !searched && byStart;
  // Which index finds the rows: events_listing_idx / events_listing_end_idx ("upcoming and
  // public") only when nothing more selective is asked. With a search (FTS), a category
  // (events_category_idx) or a store (events_store_idx), the unary `+` stops SQLite from
  // walking the listing index over every upcoming event first. Without a search, a
  // separate-total page gets `+` on the end only, so that it walks the listing index by start
  // instead of ranging over end_datetime (which the count, covered by events_listing_end_idx,
  // does).
  const viaListingIndex = !searched && !filters.category && !filters.storeSlug;
  const conditions = (forPage: boolean) => {
    const list: Array<SQL | undefined> = viaListingIndex
      ? [
          eq(events.isPublished, true),
          eq(events.isPrivate, false),
          eq(events.status, "ACTIVE"),
          forPage && separateTotal ? sql`+${events.endAt} > ${now}` : gt(events.endAt, now),
        ]
      : [
          sql`+${events.isPublished} = 1`,
          sql`+${events.isPrivate} = 0`,
          eq(events.status, "ACTIVE"),
          sql`+${events.endAt} > ${now}`,
        ];
    if (filters.match) {
      list.push(
        sql`${events}.rowid IN (SELECT rowid FROM events_fts WHERE events_fts MATCH ${filters.match})`,
      );
    }
    if (filters.category) list.push(eq(events.category, filters.category));
    if (filters.from !== undefined) list.push(gt(events.endAt, filters.from));
    if (filters.to !== undefined) list.push(lt(events.startAt, filters.to));
    if (filters.minPrice !== undefined || filters.maxPrice !== undefined) {
      // An event matches when any one of its tiers is within the bounds.
      const min = filters.minPrice ?? 0;
      const max = filters.maxPrice ?? Number.MAX_SAFE_INTEGER;
      list.push(
        sql`EXISTS (SELECT 1 FROM tiers t WHERE t.event_id = events.id AND t.price >= ${min} AND t.price <= ${max})`,
      );
    }
    if (filters.storeSlug) {
      list.push(eq(stores.slug, filters.storeSlug), eq(stores.isPublished, true));
    }
    return and(...list);
  };
  // The matching events. No join on users: events.organizer_id is NOT NULL and a foreign key
  // to users.id (enforced by D1), so the organizer join neither drops nor repeats an event;
  // the stores join only when the filter needs it.
  const matching = <T extends SelectedFields>(fields: T) => {
    const query = db.select(fields).from(events).$dynamic();
    return filters.storeSlug ? query.leftJoin(stores, eq(stores.id, events.storeId)) : query;
  };

  // The page first: rowids and the total, reading only what the filters and the order need.
  const pageRows = matching({
    rowid: eventRowidSql.as("page_rowid"),
    total: (separateTotal
      ? sql<number>`(${matching({ n: sql<number>`COUNT(*)` }).where(conditions(false))})`
      : windowTotalSql
    ).as("page_total"),
  })
    .where(conditions(true))
    .orderBy(...orderBy(filters.ordering))
    .limit(page.limit)
    .offset(page.offset)
    .as("page");

  // Then the list items of those rows only, in the same order (the same keys, same rows).
  const rows: ListRow[] = await db
    .select({ ...listItemColumns, total: pageRows.total })
    .from(pageRows)
    .innerJoin(events, sql`${events}.rowid = ${pageRows.rowid}`)
    .innerJoin(users, eq(users.id, events.organizerId))
    .leftJoin(stores, eq(stores.id, events.storeId))
    .orderBy(...orderBy(filters.ordering));
  return { total: rows[0]?.total ?? 0, rows: rows.map(toListSource) };
}

export interface PublicEventDetail {
  event: typeof events.$inferSelect;
  organizerName: string;
  store: { id: string; name: string; slug: string; logoKey: string | null } | null;
  tiers: TierRow[];
}

/** A published event by id (private ones too: the link is the key); drafts and cancelled are 404. */
export async function getPublicEvent(db: Database, eventId: string): Promise<PublicEventDetail> {
  // Two statements in parallel rather than one db.batch: inside a batch drizzle maps D1 rows
  // by column *name*, and this join's shared names (id, description, created_at) collide.
  const [found, eventTiers] = await Promise.all([
    db
      .select({ event: events, organizerName: users.username, store: stores })
      .from(events)
      .innerJoin(users, eq(users.id, events.organizerId))
      .leftJoin(stores, eq(stores.id, events.storeId))
      .where(and(eq(events.id, eventId), eq(events.isPublished, true), eq(events.status, "ACTIVE")))
      .limit(1),
    db.select().from(tiers).where(eq(tiers.eventId, eventId)).orderBy(asc(tiers.position)),
  ]);
  const row = found[0];
  if (!row) throw DomainError.notFound();
  return {
    event: row.event,
    organizerName: row.organizerName,
    store: row.store
      ? { id: row.store.id, name: row.store.name, slug: row.store.slug, logoKey: row.store.logoKey }
      : null,
    tiers: eventTiers,
  };
}
