/**
 * The listing statements pick their page first and dress only its rows (issue 15, part 5):
 * every page and total must be what a plain reading of the rules gives. The reference here
 * is computed in JS over every row of events/tiers/users/stores, independently of the SQL.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { type EventCategory, events, stores, tiers, users } from "../src/db/schema";
import {
  buildMatchExpression,
  EVENT_ORDERINGS,
  type EventFilters,
  type EventListItemSource,
  type EventOrdering,
  listPublicEvents,
} from "../src/services/event-catalogue";
import { listOrganizerEvents } from "../src/services/organizer-dashboard";

const db = createDb(env.DB);
const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
/** "Now" for these listings: far ahead, so other test files' events have all ended by then. */
const NOW = Date.UTC(2033, 5, 1);
const CATEGORIES: EventCategory[] = ["CONCERT", "FESTIVAL", "SPORTS"];

/** A small deterministic PRNG (mulberry32), so a failure is reproducible. */
function prng(seed: number) {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function seed() {
  const tag = crypto
    .randomUUID()
    .replace(/[^a-f]/g, "")
    .slice(0, 8);
  const word = `zl${tag}`;
  const rand = prng(15);
  const organizerId = crypto.randomUUID();
  await db.insert(users).values({
    id: organizerId,
    username: `org_${tag}`,
    email: `org_${tag}@example.com`,
    role: "ORGANIZER",
  });
  const storeId = crypto.randomUUID();
  const hiddenStoreId = crypto.randomUUID();
  await db.insert(stores).values([
    { id: storeId, organizerId, name: `Store ${tag}`, slug: `store-${tag}`, logoKey: "logo.png" },
    { id: hiddenStoreId, organizerId, name: `Hidden ${tag}`, slug: `hidden-${tag}`, isPublished: false },
  ]);
  for (let i = 0; i < 60; i++) {
    const id = crypto.randomUUID();
    // Ties on start (every 4th pair) and on lowest price exercise the id tie-break.
    const start = NOW + (i % 4 === 1 ? Math.floor((i - 1) / 4) : Math.floor(i / 4)) * DAY + 10 * HOUR;
    const ended = i % 13 === 5;
    const startAt = ended ? NOW - 2 * DAY : start;
    const prices =
      i % 11 === 3
        ? []
        : Array.from({ length: 1 + (i % 3) }, (_, k) => [500, 1000, 1500, 2500, 4000][(i + k * 2) % 5] ?? 0);
    await db.insert(events).values({
      id,
      organizerId,
      storeId: i % 3 === 0 ? storeId : i % 7 === 0 ? hiddenStoreId : null,
      title: `${i % 2 === 0 ? `${word} ` : ""}Listing event ${i}`,
      description: i % 5 === 0 ? "an evening of music" : "",
      category: CATEGORIES[i % 3] ?? "OTHER",
      locationName: "Nairobi",
      startAt,
      endAt: startAt + 3 * HOUR,
      posterKey: i % 4 === 0 ? `posters/${i}.png` : null,
      isPublished: i % 17 !== 2,
      isPrivate: i % 19 === 4,
      status: i % 23 === 7 ? "CANCELLED" : "ACTIVE",
      lowestPrice: prices.length ? Math.min(...prices) : null,
      highestPrice: prices.length ? Math.max(...prices) : null,
    });
    if (prices.length) {
      await db.insert(tiers).values(
        prices.map((price, k) => {
          const allocated = 5 + Math.floor(rand() * 20);
          // Some sold out (sold = allocated), some with holds, one oversubscribed by holds.
          const soldOut = (i + k) % 5 === 0;
          const sold = soldOut ? allocated : Math.floor(rand() * allocated);
          const held = soldOut ? 0 : i % 9 === 0 ? allocated : Math.floor(rand() * (allocated - sold));
          return {
            id: crypto.randomUUID(),
            eventId: id,
            name: `T${k}`,
            price,
            quantityAllocated: allocated,
            quantitySold: sold,
            quantityHeld: held,
            position: k,
          };
        }),
      );
    }
  }
  return { word, organizerId, storeSlug: `store-${tag}`, hiddenStoreSlug: `hidden-${tag}` };
}

/** The rules of contract §3, read plainly over every row. */
async function reference(
  filters: EventFilters & { word?: string },
  page: { limit: number; offset: number },
): Promise<{ total: number; rows: EventListItemSource[] }> {
  const [allEvents, allTiers, allUsers, allStores] = await Promise.all([
    db.select().from(events),
    db.select().from(tiers),
    db.select().from(users),
    db.select().from(stores),
  ]);
  const usersById = new Map(allUsers.map((u) => [u.id, u]));
  const storesById = new Map(allStores.map((s) => [s.id, s]));
  const tiersOf = (eventId: string) => allTiers.filter((t) => t.eventId === eventId);
  const min = filters.minPrice ?? 0;
  const max = filters.maxPrice ?? Number.MAX_SAFE_INTEGER;
  const matching = allEvents.filter((e) => {
    const store = e.storeId ? storesById.get(e.storeId) : undefined;
    return (
      e.isPublished &&
      !e.isPrivate &&
      e.status === "ACTIVE" &&
      e.endAt > NOW &&
      (filters.word === undefined || e.title.split(" ").includes(filters.word)) &&
      (filters.category === undefined || e.category === filters.category) &&
      (filters.from === undefined || e.endAt > filters.from) &&
      (filters.to === undefined || e.startAt < filters.to) &&
      (filters.minPrice === undefined && filters.maxPrice === undefined
        ? true
        : tiersOf(e.id).some((t) => t.price >= min && t.price <= max)) &&
      (filters.storeSlug === undefined ||
        (store !== undefined && store.slug === filters.storeSlug && store.isPublished))
    );
  });
  const cmp = (a: number | string, b: number | string) => (a < b ? -1 : a > b ? 1 : 0);
  const byPrice = (a: (typeof allEvents)[number], b: (typeof allEvents)[number], sign: number) =>
    cmp(a.lowestPrice === null ? 1 : 0, b.lowestPrice === null ? 1 : 0) ||
    (a.lowestPrice !== null && b.lowestPrice !== null ? sign * cmp(a.lowestPrice, b.lowestPrice) : 0) ||
    cmp(a.startAt, b.startAt) ||
    cmp(a.id, b.id);
  const sorters: Record<
    EventOrdering,
    (a: (typeof allEvents)[number], b: (typeof allEvents)[number]) => number
  > = {
    start_datetime: (a, b) => cmp(a.startAt, b.startAt) || cmp(a.id, b.id),
    "-start_datetime": (a, b) => cmp(b.startAt, a.startAt) || cmp(a.id, b.id),
    lowest_price: (a, b) => byPrice(a, b, 1),
    "-lowest_price": (a, b) => byPrice(a, b, -1),
  };
  matching.sort(sorters[filters.ordering]);
  const rows = matching.slice(page.offset, page.offset + page.limit).map((e) => {
    const store = e.storeId ? storesById.get(e.storeId) : undefined;
    return {
      event: {
        id: e.id,
        title: e.title,
        startAt: e.startAt,
        endAt: e.endAt,
        locationName: e.locationName,
        posterKey: e.posterKey,
        lowestPrice: e.lowestPrice,
        category: e.category,
        isPrivate: e.isPrivate,
      },
      organizerName: usersById.get(e.organizerId)?.username ?? "?",
      store: store ? { id: store.id, name: store.name, slug: store.slug, logoKey: store.logoKey } : null,
      availableSeats: tiersOf(e.id).reduce(
        (sum, t) => sum + Math.max(t.quantityAllocated - t.quantitySold - t.quantityHeld, 0),
        0,
      ),
    };
  });
  // The listing's contract: a page past the end has no rows and reports no total.
  return { total: rows.length > 0 ? matching.length : 0, rows };
}

describe("event listing pages (page first, then its rows)", () => {
  it("gives the reference's rows, order, fields and total for every filter, order and page", async () => {
    const { word, storeSlug, hiddenStoreSlug } = await seed();
    const filterSets: Array<Omit<EventFilters, "ordering"> & { word?: string }> = [
      {},
      { word },
      { word, minPrice: 1000 },
      { minPrice: 1500 },
      { maxPrice: 1000 },
      { minPrice: 900, maxPrice: 1600 },
      { category: "FESTIVAL" },
      { category: "CONCERT", word },
      { storeSlug },
      { storeSlug, word, minPrice: 1000 },
      { storeSlug: hiddenStoreSlug },
      { from: NOW + 3 * DAY, to: NOW + 10 * DAY },
      { from: NOW + 5 * DAY, maxPrice: 2500, category: "SPORTS" },
    ];
    const limit = 7;
    let compared = 0;
    let nonEmpty = 0;
    for (const set of filterSets) {
      for (const ordering of EVENT_ORDERINGS) {
        const { word: w, ...rest } = set;
        const filters: EventFilters = { ...rest, ordering, match: w ? buildMatchExpression(w) : undefined };
        const expectedAll = await reference({ ...filters, word: w }, { limit: 1000, offset: 0 });
        // Every page up to the last (partial) one, then one past the end.
        const pages = Math.ceil(expectedAll.total / limit) + 1;
        for (let p = 0; p < pages; p++) {
          const page = { limit, offset: p * limit };
          const actual = await listPublicEvents(db, filters, page, NOW);
          const expected = await reference({ ...filters, word: w }, page);
          expect(actual, `${JSON.stringify(set)} ${ordering} offset ${page.offset}`).toEqual(expected);
          compared++;
          if (expected.rows.length > 0) nonEmpty++;
        }
      }
    }
    // The seed must exercise real pages, not only empty answers (a test that can fail).
    expect(nonEmpty).toBeGreaterThan(100);
    expect(compared).toBeGreaterThan(nonEmpty);
    // The hidden (unpublished) store's events never show under its slug.
    expect(
      await listPublicEvents(
        db,
        { ordering: "start_datetime", storeSlug: hiddenStoreSlug },
        { limit, offset: 0 },
        NOW,
      ),
    ).toEqual({ total: 0, rows: [] });
  });

  it("the organizer's own list: every page and its total, drafts and ended events included", async () => {
    const { organizerId } = await seed();
    const own = (await db.select().from(events))
      .filter((e) => e.organizerId === organizerId)
      .sort((a, b) => b.startAt - a.startAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
    expect(own).toHaveLength(60);
    const limit = 9;
    for (let offset = 0; offset <= own.length + limit; offset += limit) {
      const { total, items } = await listOrganizerEvents(db, organizerId, { limit, offset });
      const expected = own.slice(offset, offset + limit);
      expect(items.map((item) => item.source.event.id)).toEqual(expected.map((e) => e.id));
      expect(items.map((item) => item.isPublished)).toEqual(expected.map((e) => e.isPublished));
      expect(total).toBe(expected.length > 0 ? own.length : 0);
    }
  });

  it("relies on the foreign key the page query leans on: no event without its organizer", async () => {
    // listPublicEvents counts and pages events without joining users (events.organizer_id is
    // NOT NULL and references users.id); D1 enforces that, so the join could not drop a row.
    const error = await db
      .insert(events)
      .values({
        id: crypto.randomUUID(),
        organizerId: crypto.randomUUID(),
        title: "orphan",
        startAt: NOW + DAY,
        endAt: NOW + 2 * DAY,
      })
      .then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: unknown },
      );
    expect(String(error?.cause ?? error)).toMatch(/FOREIGN KEY constraint failed/i);
  });
});
