import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { pageSchema } from "../src/http/pagination";
import { EventDetailSchema } from "../src/http/routes/events";
import { DashboardSchema } from "../src/http/routes/organizer-events";
import { EditEventSchema } from "../src/http/views/event";
import { EventListItemSchema, OrganizerEventItemSchema } from "../src/http/views/event-list-item";
import { registerUser } from "./helpers/accounts";
import { TestClient, uniqueName } from "./helpers/client";

const DAY = 24 * 60 * 60 * 1000;

const EventPage = pageSchema(EventListItemSchema);

/** A unique search word, so each test sees only its own events in the shared database. */
function marker(): string {
  return `zq${crypto
    .randomUUID()
    .replace(/[^a-f]/g, "")
    .slice(0, 10)}`;
}

async function organizerWithEvents(
  specs: Array<{
    title: string;
    category?: string;
    startInDays?: number;
    hours?: number;
    prices?: number[];
    allocation?: number;
    is_published?: boolean;
    is_private?: boolean;
    description?: string;
    location_name?: string;
  }>,
) {
  const client = new TestClient();
  const user = await registerUser(client, { role: "ORGANIZER" });
  const ids: string[] = [];
  for (const spec of specs) {
    const start = Date.now() + (spec.startInDays ?? 5) * DAY;
    const res = await client.post(
      "/api/organizer/events/create/",
      {
        title: spec.title,
        description: spec.description ?? "",
        location_name: spec.location_name ?? "Nairobi",
        category: spec.category ?? "CONCERT",
        start_datetime: new Date(start).toISOString(),
        end_datetime: new Date(start + (spec.hours ?? 4) * 60 * 60 * 1000).toISOString(),
        is_published: spec.is_published ?? true,
        is_private: spec.is_private ?? false,
        tiers: (spec.prices ?? [1000]).map((price, i) => ({
          name: `Tier ${i}`,
          price,
          quantity_allocated: spec.allocation ?? 10,
        })),
      },
      { schema: EditEventSchema },
    );
    expect(res.status, res.text).toBe(201);
    ids.push(res.body.id);
  }
  return { client, user, ids };
}

describe("GET /api/events/", () => {
  it("lists published public upcoming events soonest first, in the contract's shape", async () => {
    const word = marker();
    const { user, ids } = await organizerWithEvents([
      { title: `Later ${word}`, startInDays: 9, prices: [2500, 800] },
      { title: `Sooner ${word}`, startInDays: 2, prices: [0, 500] },
      { title: `Draft ${word}`, is_published: false },
      { title: `Private ${word}`, is_private: true },
    ]);
    const res = await new TestClient().get(`/api/events/?q=${word}`, { schema: EventPage });
    expect(res.status).toBe(200);
    expect(res.body.count).toBe(2);
    expect(res.body.results.map((e) => e.title)).toEqual([`Sooner ${word}`, `Later ${word}`]);
    const [first] = res.body.results;
    expect(Object.keys(first ?? {}).sort()).toEqual(
      [
        "id",
        "title",
        "start_datetime",
        "end_datetime",
        "location_name",
        "poster_image",
        "lowest_price",
        "category",
        "organizer_name",
        "is_private",
        "is_sold_out",
        "store",
      ].sort(),
    );
    expect(first).toMatchObject({
      id: ids[1],
      lowest_price: 0,
      organizer_name: user.username,
      is_sold_out: false,
      store: null,
    });
    expect(first?.start_datetime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$/);
    expect(res.body.results[1]?.lowest_price).toBe(800);
  });

  it("hides ended and cancelled events", async () => {
    const word = marker();
    const { ids } = await organizerWithEvents([
      { title: `Ended ${word}` },
      { title: `Cancelled ${word}` },
      { title: `Live ${word}` },
    ]);
    await env.DB.batch([
      env.DB.prepare("UPDATE events SET start_datetime = ?, end_datetime = ? WHERE id = ?").bind(
        Date.now() - 2 * DAY,
        Date.now() - DAY,
        ids[0],
      ),
      env.DB.prepare("UPDATE events SET status = 'CANCELLED' WHERE id = ?").bind(ids[1]),
    ]);
    const res = await new TestClient().get(`/api/events/?q=${word}`, { schema: EventPage });
    expect(res.body.results.map((e) => e.title)).toEqual([`Live ${word}`]);
  });

  it("searches words in title, description and location with the full-text index", async () => {
    const word = marker();
    await organizerWithEvents([
      { title: `Benga Night ${word}`, description: "guitars", location_name: "Kisumu" },
      { title: `Theatre ${word}`, description: "A benga-inspired musical", location_name: "Nairobi" },
      { title: `Rugby ${word}`, description: "Sevens", location_name: "Machakos benga grounds" },
      { title: `Comedy ${word}`, description: "Stand-up", location_name: "Mombasa" },
    ]);
    const client = new TestClient();
    const benga = await client.get(`/api/events/?q=${word}%20benga`, { schema: EventPage });
    expect(benga.body.results.map((e) => e.title).sort()).toEqual(
      [`Benga Night ${word}`, `Rugby ${word}`, `Theatre ${word}`].sort(),
    );
    const prefix = await client.get(`/api/events/?q=${word}%20Mombas`, { schema: EventPage });
    expect(prefix.body.results.map((e) => e.title)).toEqual([`Comedy ${word}`]);
    // FTS syntax in the input is just text.
    const hostile = await client.get(`/api/events/?q=${encodeURIComponent(`${word} OR "x" NEAR(`)}`, {
      schema: EventPage,
    });
    expect(hostile.status).toBe(200);
  });

  it("filters by category case-insensitively, and All means no filter", async () => {
    const word = marker();
    await organizerWithEvents([
      { title: `A ${word}`, category: "CONCERT" },
      { title: `B ${word}`, category: "SPORTS" },
    ]);
    const client = new TestClient();
    const concert = await client.get(`/api/events/?q=${word}&category=concert`, { schema: EventPage });
    expect(concert.body.results.map((e) => e.title)).toEqual([`A ${word}`]);
    for (const all of ["All", "All%20Events", ""]) {
      const res = await client.get(`/api/events/?q=${word}&category=${all}`, { schema: EventPage });
      expect(res.body.count, all).toBe(2);
    }
  });

  it("filters by price: an event matches when any tier is within the bounds; max_price=0 is free events", async () => {
    const word = marker();
    await organizerWithEvents([
      { title: `Cheap ${word}`, prices: [300] },
      { title: `Mixed ${word}`, prices: [0, 5000] },
      { title: `Dear ${word}`, prices: [8000] },
    ]);
    const client = new TestClient();
    const titles = async (query: string) =>
      (await client.get(`/api/events/?q=${word}&${query}`, { schema: EventPage })).body.results
        .map((e) => e.title)
        .sort();
    expect(await titles("max_price=0")).toEqual([`Mixed ${word}`]);
    expect(await titles("min_price=4000&max_price=6000")).toEqual([`Mixed ${word}`]);
    expect(await titles("min_price=200&max_price=400")).toEqual([`Cheap ${word}`]);
    expect(await titles("min_price=6000")).toEqual(
      [`Dear ${word}`, `Mixed ${word}`].sort().filter((t) => t.startsWith("Dear")),
    );
  });

  it("filters by Nairobi day and date range, and orders by price", async () => {
    const word = marker();
    const { ids } = await organizerWithEvents([
      { title: `One ${word}`, prices: [900] },
      { title: `Two ${word}`, prices: [100] },
      { title: `Three ${word}`, prices: [500] },
    ]);
    // 2031-03-10 20:00 Nairobi = 17:00Z; 2031-03-11 00:30 Nairobi = 2031-03-10 21:30Z.
    const at = (iso: string) => Date.parse(iso);
    await env.DB.batch([
      env.DB.prepare("UPDATE events SET start_datetime = ?, end_datetime = ? WHERE id = ?").bind(
        at("2031-03-10T17:00:00Z"),
        at("2031-03-10T20:00:00Z"),
        ids[0],
      ),
      env.DB.prepare("UPDATE events SET start_datetime = ?, end_datetime = ? WHERE id = ?").bind(
        at("2031-03-10T21:30:00Z"),
        at("2031-03-11T01:00:00Z"),
        ids[1],
      ),
      env.DB.prepare("UPDATE events SET start_datetime = ?, end_datetime = ? WHERE id = ?").bind(
        at("2031-03-20T17:00:00Z"),
        at("2031-03-20T20:00:00Z"),
        ids[2],
      ),
    ]);
    const client = new TestClient();
    const titles = async (query: string) =>
      (await client.get(`/api/events/?q=${word}&${query}`, { schema: EventPage })).body.results.map(
        (e) => e.title,
      );
    expect(await titles("date=2031-03-10")).toEqual([`One ${word}`]);
    expect(await titles("date=2031-03-11")).toEqual([`Two ${word}`]);
    expect(await titles("date_from=2031-03-11&date_to=2031-03-31")).toEqual([`Two ${word}`, `Three ${word}`]);
    expect(await titles("ordering=lowest_price")).toEqual([`Two ${word}`, `Three ${word}`, `One ${word}`]);
    expect(await titles("ordering=-lowest_price")).toEqual([`One ${word}`, `Three ${word}`, `Two ${word}`]);
    expect(await titles("ordering=-start_datetime")).toEqual([`Three ${word}`, `Two ${word}`, `One ${word}`]);
  });

  it("filters by store slug", async () => {
    const word = marker();
    const { user, ids } = await organizerWithEvents([{ title: `In ${word}` }, { title: `Out ${word}` }]);
    const slug = uniqueName("shop-").toLowerCase();
    const storeId = crypto.randomUUID();
    await env.DB.batch([
      env.DB.prepare("INSERT INTO stores (id, organizer_id, name, slug) VALUES (?, ?, 'Shop', ?)").bind(
        storeId,
        user.id,
        slug,
      ),
      env.DB.prepare("UPDATE events SET store_id = ? WHERE id = ?").bind(storeId, ids[0]),
    ]);
    const res = await new TestClient().get(`/api/events/?q=${word}&store=${slug}`, { schema: EventPage });
    expect(res.body.results.map((e) => e.title)).toEqual([`In ${word}`]);
    expect(res.body.results[0]?.store).toMatchObject({ id: storeId, slug });
    const detail = await new TestClient().get(`/api/events/${ids[0]}/`, { schema: EventDetailSchema });
    expect(detail.body).toMatchObject({
      id: ids[0],
      title: `In ${word}`,
      store: { id: storeId, slug, name: "Shop" },
    });
  });

  it("marks an event sold out when no tier has seats left", async () => {
    const word = marker();
    const { ids } = await organizerWithEvents([{ title: `Full ${word}`, prices: [100, 200], allocation: 5 }]);
    await env.DB.prepare("UPDATE tiers SET quantity_sold = 3, quantity_held = 2 WHERE event_id = ?")
      .bind(ids[0])
      .run();
    const res = await new TestClient().get(`/api/events/?q=${word}`, { schema: EventPage });
    expect(res.body.results[0]?.is_sold_out).toBe(true);
  });

  it("paginates DRF-style with absolute next/previous links", async () => {
    const word = marker();
    await organizerWithEvents([1, 2, 3].map((n) => ({ title: `P${n} ${word}`, startInDays: n })));
    const client = new TestClient();
    const first = await client.get(`/api/events/?q=${word}&page_size=2`, { schema: EventPage });
    expect(first.body.count).toBe(3);
    expect(first.body.previous).toBeNull();
    expect(first.body.next).toBe(`https://api.ticketsafi.test/api/events/?q=${word}&page_size=2&page=2`);
    const second = await client.get(
      new URL(first.body.next ?? "").pathname + new URL(first.body.next ?? "").search,
      { schema: EventPage },
    );
    expect(second.body.results.map((e) => e.title)).toEqual([`P3 ${word}`]);
    expect(second.body.previous).toBe(`https://api.ticketsafi.test/api/events/?q=${word}&page_size=2`);
    const past = await client.get(`/api/events/?q=${word}&page=3&page_size=2`);
    expect(past.status).toBe(404);
    expect(past.body).toEqual({ detail: "Invalid page." });
  });

  it.each([
    ["min_price=abc", "min_price"],
    ["max_price=-5", "max_price"],
    ["date=2026-13-45", "date"],
    ["date_from=yesterday", "date_from"],
    ["date_to=2026-02-30", "date_to"],
    ["category=RAVE", "category"],
    ["ordering=price", "ordering"],
    ["min_price=500&max_price=100", "max_price"],
  ])("answers %s with a 400 naming the parameter", async (query, parameter) => {
    const res = await new TestClient().get(`/api/events/?${query}`);
    expect(res.status).toBe(400);
    expect(res.body[parameter]).toBeDefined();
  });

  it.each(["0", "-1", "x"])("answers page=%s with 404 Invalid page", async (page) => {
    const res = await new TestClient().get(`/api/events/?page=${page}`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual({ detail: "Invalid page." });
  });
});

describe("GET /api/events/{id}/", () => {
  it("shows a published event with tiers and live availability, private ones by link", async () => {
    const word = marker();
    const { ids } = await organizerWithEvents([
      { title: `Detail ${word}`, prices: [1500, 0], allocation: 50, is_private: true },
    ]);
    const tier = await env.DB.prepare("SELECT id FROM tiers WHERE event_id = ? ORDER BY position LIMIT 1")
      .bind(ids[0])
      .first<{ id: string }>();
    await env.DB.prepare("UPDATE tiers SET quantity_sold = 10, quantity_held = 5 WHERE id = ?")
      .bind(tier?.id)
      .run();

    const res = await new TestClient().get(`/api/events/${ids[0]}/`, { schema: EventDetailSchema });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(ids[0]);
    expect(res.body.title).toBe(`Detail ${word}`);
    expect(res.body.is_private).toBe(true);
    expect(res.body.description).toBe("");
    expect(res.body.tiers[0]).toEqual({
      id: tier?.id,
      name: "Tier 0",
      description: "",
      price: "1500.00",
      quantity_allocated: 50,
      quantity_sold: 10,
      available_qty: 35,
      max_per_order: 10,
      // Contract v3 §0/§15.1: each tier gains max_per_buyer (null = no limit).
      max_per_buyer: null,
      sales_start: null,
      sales_end: null,
      is_on_sale: true,
    });
    expect(res.body.tiers[1]?.price).toBe("0.00");
  });

  it("is 404 for drafts, cancelled events, unknown and malformed ids", async () => {
    const word = marker();
    const { ids } = await organizerWithEvents([
      { title: `Draft ${word}`, is_published: false },
      { title: `Gone ${word}` },
    ]);
    await env.DB.prepare("UPDATE events SET status = 'CANCELLED' WHERE id = ?").bind(ids[1]).run();
    const client = new TestClient();
    for (const id of [ids[0], ids[1], crypto.randomUUID(), "12345", "../etc"]) {
      const res = await client.get(`/api/events/${id}/`);
      expect(res.status, String(id)).toBe(404);
      expect(res.body).toEqual({ detail: "Not found." });
    }
  });
});

describe("organizer listing and dashboard", () => {
  it("lists the organizer's own events, drafts and past included, latest start first, with sales", async () => {
    const word = marker();
    const { client, ids } = await organizerWithEvents([
      { title: `Soon ${word}`, startInDays: 1 },
      { title: `Draft ${word}`, startInDays: 20, is_published: false },
    ]);
    await organizerWithEvents([{ title: `Someone else ${word}` }]);
    // Sold = seats of completed orders (less cancelled tickets), not the tier's counter alone.
    const buyer = await registerUser(new TestClient());
    await env.DB.batch([
      env.DB.prepare("UPDATE tiers SET quantity_sold = 4 WHERE event_id = ?").bind(ids[0]),
      env.DB.prepare(
        "INSERT INTO orders (id, reference, user_id, event_id, tier_id, quantity, unit_price, amount, buyer_email, status, paid_at) SELECT ?, ?, ?, event_id, id, 4, price, 4 * price, 'b@example.com', 'COMPLETED', ? FROM tiers WHERE event_id = ? LIMIT 1",
      ).bind(crypto.randomUUID(), `TS-${crypto.randomUUID().slice(0, 8)}`, buyer.id, Date.now(), ids[0]),
    ]);
    const res = await client.get("/api/organizer/events/", { schema: pageSchema(OrganizerEventItemSchema) });
    expect(res.status).toBe(200);
    expect(res.body.results.map((e) => e.title)).toEqual([`Draft ${word}`, `Soon ${word}`]);
    expect(res.body.results[0]).toMatchObject({ is_published: false, tickets_sold: 0, revenue: 0 });
    expect(res.body.results[1]).toMatchObject({ is_published: true, tickets_sold: 4 });
  });

  it("answers an organizer with no events with zeros", async () => {
    const client = new TestClient();
    await registerUser(client, { role: "ORGANIZER" });
    const res = await client.get("/api/organizer/dashboard/", { schema: DashboardSchema });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      total_revenue: 0,
      tickets_sold: 0,
      total_attendees: 0,
      avg_ticket_price: 0,
      orders_pending: 0,
      orders_paid_unfulfilled: 0,
      orders_delivery_failed: 0,
      recent_events: [],
    });
    expect(res.body.sales_last_7_days).toHaveLength(7);
  });

  it("computes revenue, buyers and the last 7 days from completed orders", async () => {
    const word = marker();
    const { client, ids } = await organizerWithEvents([{ title: `Dash ${word}`, prices: [1000] }]);
    const tier = await env.DB.prepare("SELECT id FROM tiers WHERE event_id = ?")
      .bind(ids[0])
      .first<{ id: string }>();
    const buyerA = await registerUser(new TestClient());
    const buyerB = await registerUser(new TestClient());
    const now = Date.now();
    const order = (user: string, status: string, qty: number, paidAt: number | null) =>
      env.DB.prepare(
        "INSERT INTO orders (id, reference, user_id, event_id, tier_id, quantity, unit_price, amount, buyer_email, status, paid_at) VALUES (?, ?, ?, ?, ?, ?, 1000, ?, 'b@example.com', ?, ?)",
      ).bind(
        crypto.randomUUID(),
        `TS-${crypto.randomUUID().slice(0, 8)}`,
        user,
        ids[0],
        tier?.id,
        qty,
        qty * 1000,
        status,
        paidAt,
      );
    await env.DB.batch([
      order(buyerA.id, "COMPLETED", 2, now),
      order(buyerA.id, "COMPLETED", 1, now - 2 * DAY),
      order(buyerB.id, "COMPLETED", 3, now - 10 * DAY),
      order(buyerB.id, "PENDING", 1, null),
      order(buyerB.id, "PAID_UNFULFILLED", 1, now),
      env.DB.prepare("UPDATE tiers SET quantity_sold = 6 WHERE id = ?").bind(tier?.id),
      env.DB.prepare(
        "UPDATE orders SET delivery_status = 'FAILED' WHERE event_id = ? AND status = 'COMPLETED' AND quantity = 3",
      ).bind(ids[0]),
    ]);
    const res = await client.get("/api/organizer/dashboard/", { schema: DashboardSchema });
    expect(res.body).toMatchObject({
      total_revenue: 6000,
      tickets_sold: 6,
      total_attendees: 2,
      avg_ticket_price: 1000,
      orders_pending: 1,
      orders_paid_unfulfilled: 1,
      orders_delivery_failed: 1,
    });
    expect(res.body.recent_events[0]).toMatchObject({
      id: ids[0],
      status: "Active",
      sold: 6,
      capacity: 10,
      revenue: 6000,
    });
    const week = res.body.sales_last_7_days;
    expect(week.reduce((sum, d) => sum + d.tickets, 0)).toBe(3);
    expect(week[6]).toMatchObject({ tickets: 2, revenue: 2000 });
    expect(week[6]?.date).toBe(new Date(now + 3 * 60 * 60 * 1000).toISOString().slice(0, 10));
  });

  it("is 403 for attendees", async () => {
    const client = new TestClient();
    await registerUser(client);
    expect((await client.get("/api/organizer/dashboard/")).status).toBe(403);
    expect((await client.get("/api/organizer/events/")).status).toBe(403);
  });
});
