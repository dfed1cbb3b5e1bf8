/**
 * Issue #11 item 7: bookings and ticket emails to one recipient are limited per hour (an
 * attacker sent ten ticket emails with phishing text in the name to one address), refused
 * with 429 `rate_limited` + Retry-After before any seat is touched; and the buyer's name is
 * plain text in the tickets email: no markup, nothing a mail client would turn into a link.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryJob } from "../src/delivery/jobs";
import { inboxKey } from "../src/lib/inbox-key";
import { networkFakes } from "./fakes/network";
import { countRows } from "./helpers/accounts";
import { DARAJA, eventWithTiers, seatsOf, uniquePhone } from "./helpers/checkout";
import { TestClient } from "./helpers/client";
import { createCode, promoEvent, usesOf } from "./helpers/promo-codes";
import { brevoEnv, deliver, freeOrder, recordingQueue } from "./helpers/tickets";

/** A free tier (50 seats, 10 per order) of a fresh event, and clients that queue nothing. */
async function freeTier(vars: Record<string, string> = {}) {
  const order = await freeOrder();
  const row = await env.DB.prepare("SELECT id FROM tiers WHERE event_id = ?")
    .bind(order.eventId)
    .first<{ id: string }>();
  const recording = recordingQueue();
  const guest = () =>
    new TestClient({ DELIVERY_QUEUE: recording.queue, ...vars } as unknown as Record<string, string>);
  return { tierId: row?.id ?? "", guest, recording };
}

function book(client: TestClient, tierId: string, email: string, name = "Wanjiru Kamau", quantity = 1) {
  return client.post<Record<string, unknown>>("/api/pay/initiate/", {
    tier_id: tierId,
    phone_number: "254700000000",
    quantity,
    email,
    name,
  });
}

async function soldAndHeld(tierId: string) {
  return env.DB.prepare("SELECT quantity_sold AS sold, quantity_held AS held FROM tiers WHERE id = ?")
    .bind(tierId)
    .first<{ sold: number; held: number }>();
}

describe("bookings per recipient email per hour", () => {
  it("24 parallel guest bookings to one address: exactly 5 go through, the rest 429 with their seats back", async () => {
    const { tierId, guest } = await freeTier();
    const victim = `victim-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const before = await soldAndHeld(tierId);
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        book(guest(), tierId, i % 2 ? victim : victim.toUpperCase(), "x", 2),
      ),
    );
    const ok = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(19);
    for (const r of refused) {
      expect(r.body).toMatchObject({
        code: "rate_limited",
        error: expect.any(String),
        detail: expect.any(String),
      });
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Refused bookings gave back the seats they held: 5 orders of 2 seats more sold, nothing held.
    expect(await soldAndHeld(tierId)).toEqual({ sold: (before?.sold ?? 0) + 10, held: 0 });
    expect(await countRows("orders", "lower(buyer_email) = ?", victim)).toBe(5);
  });

  it("counts +tags and Gmail dots as the same inbox, and leaves other addresses alone", async () => {
    const { tierId, guest } = await freeTier({ BOOKINGS_PER_RECIPIENT_PER_HOUR: "2" });
    const local = `fan.${crypto.randomUUID().slice(0, 8)}`;
    expect((await book(guest(), tierId, `${local}@gmail.com`)).status).toBe(201);
    expect((await book(guest(), tierId, `${local.replace(".", "")}+promo@gmail.com`)).status).toBe(201);
    const third = await book(guest(), tierId, `${local}+x@googlemail.com`);
    expect(third.status, third.text).toBe(429);
    expect((await book(guest(), tierId, `${local}@example.com`)).status).toBe(201);
  });

  it("does not limit a signed-in buyer whose email is proven (mail to their own inbox)", async () => {
    const { tierId } = await freeTier({ BOOKINGS_PER_RECIPIENT_PER_HOUR: "1" });
    const order = await freeOrder();
    await env.DB.prepare("UPDATE users SET is_verified = 1 WHERE id = ?").bind(order.buyerUser.id).run();
    for (let i = 0; i < 3; i++) {
      const res = await order.buyer.post("/api/pay/initiate/", {
        tier_id: tierId,
        phone_number: "0712345678",
      });
      expect(res.status, res.text).toBe(201);
    }
  });
});

/**
 * The real D1 binding whose nearest copy (the `first-unconstrained` session checkout reads
 * its checks from) has not yet seen any `rate_limits` row: a replica lagging behind the
 * bookings just made, so only the take in the order's own batch can refuse.
 */
function laggingReplica(): D1Database {
  const lagging = (session: D1DatabaseSession) =>
    new Proxy(session, {
      get(target, property) {
        if (property === "prepare") {
          return (query: string) =>
            target.prepare(
              query.replaceAll(
                'from "rate_limits"',
                'from (SELECT * FROM rate_limits WHERE 0) AS "rate_limits"',
              ),
            );
        }
        const value = Reflect.get(target, property);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return new Proxy(env.DB, {
    get(target, property) {
      if (property === "withSession") {
        return (constraint?: string) => {
          const session = target.withSession(constraint);
          return constraint === "first-unconstrained" ? lagging(session) : session;
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Everything a booking could write to D1 (orders, lines, guests, tickets, keys, limit hits, events). */
async function d1Picture(email: string, tierIds: string[]) {
  const tiers = await env.DB.prepare(
    `SELECT id, quantity_sold, quantity_held FROM tiers WHERE id IN (${tierIds.map(() => "?").join(",")}) ORDER BY id`,
  )
    .bind(...tierIds)
    .all();
  return {
    orders: await countRows("orders"),
    items: await countRows("order_items"),
    users: await countRows("users"),
    tickets: await countRows("tickets"),
    keys: await countRows("idempotency_keys"),
    webhookEvents: await countRows("webhook_events"),
    hits: await env.DB.prepare("SELECT hits FROM rate_limits WHERE key = ?")
      .bind(`bookings:to:${inboxKey(email)}`)
      .first<{ hits: string }>(),
    tiers: tiers.results,
  };
}

function expectRateLimited(res: { status: number; text: string; body: unknown; headers: Headers }) {
  expect(res.status, res.text).toBe(429);
  expect(res.body).toMatchObject({ code: "rate_limited" });
  const wait = Number(res.headers.get("retry-after"));
  expect(wait).toBeGreaterThan(0);
  expect(wait).toBeLessThanOrEqual(3600);
}

describe("a refused booking writes nothing (the take rides in the order's own batch)", () => {
  it("paid, multi-tier, promo code and Idempotency-Key, refused by the batch: D1 unchanged, seats and uses back", async () => {
    const { organizer, eventId, regular, vip, free } = await promoEvent();
    const code = await createCode(organizer, eventId, { value: 20, max_uses: 10 });
    const client = new TestClient({
      ...DARAJA,
      BOOKINGS_PER_RECIPIENT_PER_HOUR: "1",
      DB: laggingReplica(),
    } as unknown as Record<string, string>);
    const local = `fan.${crypto.randomUUID().slice(0, 8)}`;
    const first = await client.post("/api/pay/initiate/", {
      items: [{ tier_id: vip, quantity: 1 }],
      phone_number: uniquePhone(),
      email: `${local}@gmail.com`,
      name: "Achieng Otieno",
    });
    expect(first.status, first.text).toBe(202);
    // Another buyer on the other tiers, so that their objects know their allocations.
    const other = await client.post("/api/pay/initiate/", {
      items: [
        { tier_id: regular, quantity: 1 },
        { tier_id: free, quantity: 1 },
      ],
      phone_number: uniquePhone(),
      email: `other-${crypto.randomUUID().slice(0, 8)}@example.com`,
      name: "Other Fan",
    });
    expect(other.status, other.text).toBe(202);

    // The same inbox (Gmail dots, +tag): its hour's one booking is taken. Other tiers than
    // the first order's, so nothing of that order is replaced (§4.3).
    const second = `${local.replace(".", "")}+b@googlemail.com`;
    const phone = uniquePhone();
    const key = crypto.randomUUID();
    const picture = await d1Picture(second, [regular, vip, free]);
    expect(JSON.parse(picture.hits?.hits ?? "[]")).toHaveLength(1);
    const seats = await Promise.all([regular, free].map(seatsOf));
    const uses = await usesOf(code.id).snapshot();
    const pushes = networkFakes.daraja.pushes.length;

    const refused = await client.post(
      "/api/pay/initiate/",
      {
        items: [
          { tier_id: regular, quantity: 2 },
          { tier_id: free, quantity: 1 },
        ],
        promo_code: code.code,
        phone_number: phone,
        email: second,
        name: "Achieng Otieno",
      },
      { headers: { "idempotency-key": key } },
    );
    expectRateLimited(refused);
    // The seats were held and given back in this request (§11.4 "Observable"): the objects
    // moved on, their counts did not; the code's uses likewise.
    const after = await Promise.all([regular, free].map(seatsOf));
    for (const [i, snapshot] of after.entries()) {
      expect(snapshot.version).toBeGreaterThan(seats[i]?.version ?? 0);
      expect(snapshot).toMatchObject({
        sold: seats[i]?.sold,
        held: seats[i]?.held,
        available: seats[i]?.available,
      });
    }
    const usesAfter = await usesOf(code.id).snapshot();
    expect(usesAfter.version).toBeGreaterThan(uses.version);
    expect(usesAfter).toMatchObject({ used: uses.used, held: uses.held, discountGiven: uses.discountGiven });
    // D1: no order, line, guest user, key or hit more; no STK push went out.
    expect(await d1Picture(second, [regular, vip, free])).toEqual(picture);
    expect(await countRows("users", "lower(email) = ?", second.toLowerCase())).toBe(0);
    expect(networkFakes.daraja.pushes.length).toBe(pushes);

    // The key was released: the same request answers the same 429, not "in progress".
    const again = await client.post(
      "/api/pay/initiate/",
      { items: [{ tier_id: regular, quantity: 1 }], phone_number: phone, email: second, name: "A O" },
      { headers: { "idempotency-key": key } },
    );
    expectRateLimited(again);
  });

  it("free (a 100 % code), refused by the batch: the seats and uses just consumed go back, no ticket", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { value: 100, max_uses: 10 });
    const client = new TestClient({
      ...DARAJA,
      BOOKINGS_PER_RECIPIENT_PER_HOUR: "1",
      DB: laggingReplica(),
    } as unknown as Record<string, string>);
    const email = `free-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const book = (e: string) =>
      client.post("/api/pay/initiate/", {
        tier_id: regular,
        quantity: 1,
        promo_code: code.code,
        phone_number: "254700000000",
        email: e,
        name: "Kamau",
      });
    const first = await book(email);
    expect(first.status, first.text).toBe(201);
    const picture = await d1Picture(email, [regular]);
    const seats = await seatsOf(regular);
    const uses = await usesOf(code.id).snapshot();
    expect(uses.used).toBe(1);

    expectRateLimited(await book(email.toUpperCase()));
    const after = await seatsOf(regular);
    expect(after.version).toBeGreaterThan(seats.version);
    expect(after).toMatchObject({ sold: seats.sold, held: seats.held, available: seats.available });
    expect(await usesOf(code.id).snapshot()).toMatchObject({
      used: 1,
      held: 0,
      discountGiven: uses.discountGiven,
    });
    expect(await d1Picture(email, [regular])).toEqual(picture);
  });

  it("refused by the nearest copy when it already shows the hour used up: 429 before any seat", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 500, quantity_allocated: 10 }]);
    const tierId = tiers[0]?.id ?? "";
    const client = new TestClient({ ...DARAJA, BOOKINGS_PER_RECIPIENT_PER_HOUR: "1" });
    const email = `early-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const book = () =>
      client.post("/api/pay/initiate/", {
        tier_id: tierId,
        phone_number: uniquePhone(),
        email,
        name: "Wafula",
      });
    expect((await book()).status).toBe(202);
    const seats = await seatsOf(tierId);
    const picture = await d1Picture(email, [tierId]);
    expectRateLimited(await book());
    // Not even held and released: the object never heard of it.
    expect(await seatsOf(tierId)).toEqual(seats);
    expect(await d1Picture(email, [tierId])).toEqual(picture);
  });

  it("a sold-out guest answer writes nothing to rate_limits (nor any other D1 row)", async () => {
    const { tiers } = await eventWithTiers([{ name: "Tiny", price: 500, quantity_allocated: 1 }]);
    const tierId = tiers[0]?.id ?? "";
    const bought = await new TestClient(DARAJA).post("/api/pay/initiate/", {
      tier_id: tierId,
      phone_number: uniquePhone(),
      email: `first-${crypto.randomUUID().slice(0, 8)}@example.com`,
      name: "First Fan",
    });
    expect(bought.status, bought.text).toBe(202);
    const email = `late-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const picture = await d1Picture(email, [tierId]);
    const soldOut = await new TestClient(DARAJA).post("/api/pay/initiate/", {
      tier_id: tierId,
      phone_number: uniquePhone(),
      email,
      name: "Late Fan",
    });
    expect(soldOut.status, soldOut.text).toBe(409);
    expect(soldOut.body).toMatchObject({ code: "sold_out" });
    expect(await countRows("rate_limits", "key = ?", `bookings:to:${inboxKey(email)}`)).toBe(0);
    expect(await d1Picture(email, [tierId])).toEqual(picture);
  });
});

describe("the buyer's name in the tickets email is plain text", () => {
  it("escapes markup and breaks every URL-like run in the name, in HTML, text and the To name", async () => {
    const { tierId, guest, recording } = await freeTier();
    const name = 'Prize <a href="https://evil.example/x">claim</a> at www.evil.example or evil.co.ke/win';
    const email = `phish-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const booked = await book(guest(), tierId, email, name);
    expect(booked.status, booked.text).toBe(201);
    const jobs: DeliveryJob[] = recording.orderJobs();
    await deliver(brevoEnv(), jobs);
    const sent = networkFakes.brevo.sent.find((m) => m.body.to[0]?.email === email)?.body;
    expect(sent).toBeDefined();
    const html = sent?.htmlContent ?? "";
    const text = sent?.textContent ?? "";
    const toName = sent?.to[0]?.name ?? "";
    for (const part of [html, text, toName]) {
      expect(part).not.toContain('<a href="https://evil');
      for (const linkable of ["https://evil", "evil.example", "www.evil", "evil.co.ke", "co.ke/win"]) {
        expect(part).not.toContain(linkable);
      }
    }
    // Still readable: the words are all there, only joined by invisible characters.
    const visible = (s: string) => s.replace(/[\u200B-\u200D\u2060]/g, "");
    expect(visible(text)).toContain("www.evil.example");
    expect(html).toContain("&lt;a href=");
    // The wallet links TicketSafi itself puts in the mail are untouched.
    expect(html).toMatch(/<a href="[^"]+\/tickets\/[0-9a-f-]{36}">/);
  });
});
