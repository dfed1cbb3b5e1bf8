/**
 * The guest list (contract §6): masking, the summary, the published keys, and the `since`
 * sync a scanner device uses to keep an offline copy current.
 */
import { env } from "cloudflare:workers";
import { compactVerify, importJWK, type JWK } from "jose";
import { describe, expect, it } from "vitest";
import { AttendeePageSchema, type AttendeeSchema } from "../src/http/views/attendee";
import { EditEventSchema } from "../src/http/views/event";
import { BookingConfirmedSchema } from "../src/http/views/payment";
import { GOOD_PASSWORD, registerUser } from "./helpers/accounts";
import { type ApiResponse, type Body, TestClient, uniqueName } from "./helpers/client";

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;

type Attendee = Body<typeof AttendeeSchema>;
type AttendeePage = Body<typeof AttendeePageSchema>;

async function gateSetup(tiers = [{ name: "Regular", price: 0, quantity_allocated: 500 }]) {
  const client = new TestClient();
  const user = await registerUser(client, { role: "ORGANIZER" });
  const start = Date.now() + 7 * DAY;
  const res = await client.post(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Guest List "),
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 5 * HOUR).toISOString(),
      tiers,
    },
    { schema: EditEventSchema },
  );
  expect(res.status, res.text).toBe(201);
  return { client, user, event: res.body };
}

interface Booked {
  id: string;
  qr: string;
  email: string;
}

async function book(
  tierId: string,
  options: { quantity?: number; name?: string; email?: string; phone?: string } = {},
): Promise<Booked[]> {
  const email = options.email ?? `${uniqueName("fan")}@gmail.com`;
  const res = await new TestClient().post(
    "/api/pay/initiate/",
    {
      tier_id: tierId,
      phone_number: options.phone ?? "0712345678",
      quantity: options.quantity ?? 1,
      email,
      name: options.name ?? "Jane Wambui",
    },
    { schema: BookingConfirmedSchema },
  );
  expect(res.status, res.text).toBe(201);
  const out: Booked[] = [];
  for (const id of res.body.ticket_ids) {
    const row = await env.DB.prepare("SELECT qr_code_hash AS qr FROM tickets WHERE id = ?")
      .bind(id)
      .first<{ qr: string }>();
    out.push({ id, qr: row?.qr ?? "", email });
  }
  return out;
}

async function scannerOf(organizerClient: TestClient) {
  const username = uniqueName("gate");
  const created = await organizerClient.post("/api/organizer/team/scanners/create/", {
    username,
    password: GOOD_PASSWORD,
  });
  expect(created.status, created.text).toBe(201);
  const client = new TestClient();
  expect((await client.post("/api/auth/login/", { username, password: GOOD_PASSWORD })).status).toBe(200);
  return client;
}

const listPath = (eventId: string, query = "") => `/api/organizer/events/${eventId}/attendees/${query}`;

/** Push every ticket of the event into the past, as if sold an hour ago and untouched since. */
async function ageTickets(eventId: string, by = HOUR) {
  await env.DB.prepare(
    "UPDATE tickets SET created_at = created_at - ?1, updated_at = updated_at - ?1 WHERE event_id = ?2",
  )
    .bind(by, eventId)
    .run();
}

/** Follow `next` links from `path`; every page's results, and the last page. */
async function follow(client: TestClient, path: string) {
  const results: Attendee[] = [];
  let url: string | null = path;
  let last: AttendeePage | undefined;
  let pages = 0;
  while (url) {
    const res: ApiResponse<AttendeePage> = await client.get(url.replace("https://api.ticketsafi.test", ""), {
      schema: AttendeePageSchema,
    });
    expect(res.status, res.text).toBe(200);
    results.push(...res.body.results);
    last = res.body;
    url = res.body.next;
    if (++pages > 100) throw new Error("paging does not end");
  }
  return { results, last: last as AttendeePage, pages };
}

function sha256Hex(text: string) {
  return crypto.subtle
    .digest("SHA-256", new TextEncoder().encode(text))
    .then((d) => [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, "0")).join(""));
}

describe("GET /api/organizer/events/{id}/attendees/", () => {
  it("masks every contact detail, and no raw email, phone, ticket id or code appears anywhere", async () => {
    const { client, event } = await gateSetup([
      { name: "Regular", price: 0, quantity_allocated: 100 },
      { name: "Kids", price: 0, quantity_allocated: 100 },
    ]);
    const regular = event.tiers[0]?.id ?? "";
    const email = `${uniqueName("jane")}@gmail.com`;
    const tickets = await book(regular, {
      quantity: 2,
      email,
      name: "Jane Wambui",
      phone: "+254 712 345 678",
    });
    await book(event.tiers[1]?.id ?? "", { email: "o@ke.co", phone: "0110123456", name: "Otieno" });

    const res = await client.get(listPath(event.id), { schema: AttendeePageSchema });
    expect(res.status, res.text).toBe(200);
    expect(res.body.count).toBe(3);
    const first = res.body.results.find((a) => a.attendee_name === "Jane Wambui");
    const ticket = tickets.find(
      (t) => t.id.replace(/-/g, "").slice(-10).toUpperCase() === first?.id.slice(4),
    );
    expect(first).toEqual({
      id: expect.stringMatching(/^••••[0-9A-F]{10}$/),
      ticket_hash: await sha256Hex(ticket?.qr ?? ""),
      attendee_name: "Jane Wambui",
      attendee_email: `${email[0]}***@gmail.com`,
      phone: "2547****678",
      tier_id: regular,
      tier_name: "Regular",
      tier_price: 0,
      status: "ACTIVE",
      purchase_date: expect.stringMatching(/\+03:00$/),
      checked_in_at: null,
    });
    const kid = res.body.results.find((a) => a.attendee_name === "Otieno");
    expect(kid).toMatchObject({ attendee_email: "o***@ke.co", phone: "2541****456" });

    const text = res.text;
    for (const secret of [
      email,
      email.split("@")[0] ?? "",
      "o@ke.co",
      "254712345678",
      "0712345678",
      "712345678",
      "254110123456",
      "110123456",
      ...tickets.map((t) => t.id),
      ...tickets.map((t) => t.qr),
      ...tickets.map((t) => t.qr.split(".")[2] ?? ""),
    ]) {
      expect(text, secret).not.toContain(secret);
    }
    // Incremental pages are masked the same way.
    const since = await client.get(listPath(event.id, "?since=0"));
    expect(since.status).toBe(200);
    expect(since.text).not.toContain(email);
    expect(since.text).not.toContain("254712345678");
  });

  it("summarises by tier and counts check-ins", async () => {
    const { client, event } = await gateSetup([
      { name: "Regular", price: 0, quantity_allocated: 100 },
      { name: "VIP", price: 0, quantity_allocated: 10 },
      { name: "Unsold", price: 0, quantity_allocated: 10 },
    ]);
    const [regular, vip, unsold] = event.tiers;
    const tickets = await book(regular?.id ?? "", { quantity: 3 });
    const [vipTicket] = await book(vip?.id ?? "");
    for (const code of [tickets[0]?.qr, vipTicket?.qr]) {
      expect((await client.post("/api/scanner/verify/", { qr_hash: code })).status).toBe(200);
    }
    await env.DB.prepare("UPDATE tickets SET status = 'CANCELLED' WHERE id = ?").bind(tickets[2]?.id).run();

    const res = await client.get(listPath(event.id), { schema: AttendeePageSchema });
    expect(res.body.summary).toEqual({
      tickets: 3,
      checked_in: 2,
      by_tier: [
        { tier_id: regular?.id, name: "Regular", tickets: 2, checked_in: 1 },
        { tier_id: vip?.id, name: "VIP", tickets: 1, checked_in: 1 },
        { tier_id: unsold?.id, name: "Unsold", tickets: 0, checked_in: 0 },
      ],
    });
    const checked = res.body.results.filter((a) => a.status === "CHECKED_IN");
    expect(checked).toHaveLength(2);
    expect(checked[0]?.checked_in_at).toMatch(/\+03:00$/);
  });

  it("publishes the JWKs that verify a ticket code with any JOSE library, outside our code", async () => {
    const { client, event } = await gateSetup();
    const [ticket] = await book(event.tiers[0]?.id ?? "");
    const res = await client.get(listPath(event.id), { schema: AttendeePageSchema });
    expect(res.body.public_keys.length).toBeGreaterThanOrEqual(1);
    for (const jwk of res.body.public_keys) {
      expect(jwk).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
      expect(jwk).not.toHaveProperty("d");
    }

    // What a scanner app does offline: pick the key by kid, verify, then match ticket_hash.
    const code = ticket?.qr ?? "";
    const header = JSON.parse(atob((code.split(".")[0] ?? "").replace(/-/g, "+").replace(/_/g, "/")));
    const jwk = res.body.public_keys.find((k) => k.kid === header.kid);
    expect(jwk).toBeDefined();
    const { payload, protectedHeader } = await compactVerify(code, await importJWK(jwk as JWK, "EdDSA"));
    expect(protectedHeader.alg).toBe("EdDSA");
    const claims = JSON.parse(new TextDecoder().decode(payload));
    expect(claims).toMatchObject({ t: ticket?.id, e: event.id, r: event.tiers[0]?.id });
    const hash = await sha256Hex(code);
    expect(res.body.results.map((a) => a.ticket_hash)).toContain(hash);

    // An altered code does not verify with the published key.
    const parts = code.split(".");
    const forgedPayload = btoa(JSON.stringify({ ...claims, t: crypto.randomUUID() }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    await expect(
      compactVerify(`${parts[0]}.${forgedPayload}.${parts[2]}`, await importJWK(jwk as JWK, "EdDSA")),
    ).rejects.toThrow();
  });

  it("is open to the organizer and their scanners, and to no one else", async () => {
    const { client, event } = await gateSetup();
    await book(event.tiers[0]?.id ?? "");
    const scanner = await scannerOf(client);
    expect((await scanner.get(listPath(event.id))).status).toBe(200);

    const rival = new TestClient();
    await registerUser(rival, { role: "ORGANIZER" });
    expect((await rival.get(listPath(event.id))).status).toBe(404);
    expect((await (await scannerOf(rival)).get(listPath(event.id))).status).toBe(404);
    const fan = new TestClient();
    await registerUser(fan);
    expect((await fan.get(listPath(event.id))).status).toBe(403);
    expect((await new TestClient().get(listPath(event.id))).status).toBe(401);
    expect((await client.get(listPath(crypto.randomUUID()))).status).toBe(404);
    expect((await client.get(listPath("not-a-uuid"))).status).toBe(404);
  });

  it("pages the full list by purchase, and every page reports the first page's sync token", async () => {
    const { client, event } = await gateSetup();
    for (let i = 0; i < 3; i++) await book(event.tiers[0]?.id ?? "", { quantity: 2, name: `Guest ${i}` });
    const first = await client.get(listPath(event.id, "?page_size=2"), { schema: AttendeePageSchema });
    expect(first.body.count).toBe(6);
    expect(first.body.results.map((a) => a.attendee_name)).toEqual(["Guest 0", "Guest 0"]);
    expect(first.body.next).toContain("page=2");
    expect(new URL(first.body.next ?? "").searchParams.get("sync_token")).toBe(first.body.sync_token);
    const rest = await follow(client, first.body.next ?? "");
    expect(rest.pages).toBe(2);
    expect(rest.results.map((a) => a.attendee_name)).toEqual(["Guest 1", "Guest 1", "Guest 2", "Guest 2"]);
    expect(rest.last.previous).toContain(`sync_token=${first.body.sync_token}`);
    expect(rest.last.sync_token).toBe(first.body.sync_token);
    expect((await client.get(listPath(event.id, "?page=4&page_size=2"))).status).toBe(404);
    const bad = await client.get(listPath(event.id, "?sync_token=nonsense"));
    expect(bad.status).toBe(400);
    expect(bad.body).toHaveProperty("sync_token");
  });
});

describe("GET /api/organizer/events/{id}/attendees/?since=", () => {
  it("returns only what changed: a check-in, a new sale, a cancellation", async () => {
    const { client, event } = await gateSetup();
    const tierId = event.tiers[0]?.id ?? "";
    const tickets = await book(tierId, { quantity: 5 });
    await ageTickets(event.id);
    const full = await client.get(listPath(event.id), { schema: AttendeePageSchema });
    const token = full.body.sync_token;

    const nothing = await client.get(listPath(event.id, `?since=${token}`), { schema: AttendeePageSchema });
    expect(nothing.status, nothing.text).toBe(200);
    expect(nothing.body.results).toEqual([]);
    expect(nothing.body.count).toBe(0);
    expect(nothing.body.next).toBeNull();
    expect(nothing.body.summary.tickets).toBe(5);

    expect((await client.post("/api/scanner/verify/", { qr_hash: tickets[1]?.qr })).status).toBe(200);
    const one = await client.get(listPath(event.id, `?since=${token}`), { schema: AttendeePageSchema });
    expect(one.body.results).toHaveLength(1);
    expect(one.body.results[0]).toMatchObject({
      ticket_hash: await sha256Hex(tickets[1]?.qr ?? ""),
      status: "CHECKED_IN",
    });
    expect(one.body.summary.checked_in).toBe(1);

    const [fresh] = await book(tierId);
    const two = await client.get(listPath(event.id, `?since=${one.body.sync_token}`), {
      schema: AttendeePageSchema,
    });
    expect(two.body.results.map((a) => a.ticket_hash)).toContain(await sha256Hex(fresh?.qr ?? ""));

    await client.request("DELETE", `/api/organizer/events/${event.id}/edit/`);
    const cancelled = await follow(client, listPath(event.id, `?since=${two.body.sync_token}&page_size=100`));
    expect(cancelled.results).toHaveLength(6);
    expect(cancelled.results.every((a) => a.status === "CANCELLED")).toBe(true);
  });

  it("never skips or repeats a ticket when many share one updated_at, across small pages", async () => {
    const { client, event } = await gateSetup();
    for (let i = 0; i < 3; i++) await book(event.tiers[0]?.id ?? "", { quantity: 3 });
    await ageTickets(event.id);
    const token = (await client.get(listPath(event.id), { schema: AttendeePageSchema })).body.sync_token;
    // Nine tickets changed in the same millisecond (a bulk update).
    const stamp = Date.now();
    await env.DB.prepare("UPDATE tickets SET updated_at = ? WHERE event_id = ?").bind(stamp, event.id).run();

    const pass = await follow(client, listPath(event.id, `?since=${token}&page_size=2`));
    expect(pass.pages).toBe(5);
    expect(pass.results).toHaveLength(9);
    expect(new Set(pass.results.map((a) => a.ticket_hash)).size).toBe(9);
    // The continuation tokens are opaque and the count says what is left.
    const firstPage = await client.get(listPath(event.id, `?since=${token}&page_size=2`), {
      schema: AttendeePageSchema,
    });
    expect(firstPage.body.count).toBe(9);
    expect(firstPage.body.sync_token).toBe(new URL(firstPage.body.next ?? "").searchParams.get("since"));
  });

  it("delivers a ticket changed while a client is paging, in this pass or the next", async () => {
    const { client, event } = await gateSetup();
    const tickets = [];
    for (let i = 0; i < 2; i++) tickets.push(...(await book(event.tiers[0]?.id ?? "", { quantity: 3 })));
    await ageTickets(event.id);
    const token = (await client.get(listPath(event.id), { schema: AttendeePageSchema })).body.sync_token;
    // Six tickets changed just now, a millisecond apart.
    await env.DB.prepare("UPDATE tickets SET updated_at = ?1 + (rowid % 1000) WHERE event_id = ?2")
      .bind(Date.now() - 5000, event.id)
      .run();

    const page1 = await client.get(listPath(event.id, `?since=${token}&page_size=2`), {
      schema: AttendeePageSchema,
    });
    const seenFirst = page1.body.results[0];
    expect(page1.body.count).toBe(6);
    const target = await (async () => {
      for (const t of tickets) if ((await sha256Hex(t.qr)) === seenFirst?.ticket_hash) return t;
    })();
    expect((await client.post("/api/scanner/verify/", { qr_hash: target?.qr })).status).toBe(200);

    expect(page1.body.next, page1.text).not.toBeNull();
    const rest = await follow(client, page1.body.next ?? "");
    const next = await follow(client, listPath(event.id, `?since=${rest.last.sync_token}`));
    const delivered = [...rest.results, ...next.results].filter(
      (a) => a.ticket_hash === seenFirst?.ticket_hash,
    );
    expect(delivered.at(-1)?.status).toBe("CHECKED_IN");
    expect(new Set([...page1.body.results, ...rest.results].map((a) => a.ticket_hash)).size).toBe(6);
  });

  it("finds a ticket inserted after the token with an older stamp (a slow settlement)", async () => {
    const { client, event } = await gateSetup();
    await book(event.tiers[0]?.id ?? "", { quantity: 2 });
    await ageTickets(event.id, 3 * HOUR);
    const token = (await client.get(listPath(event.id), { schema: AttendeePageSchema })).body.sync_token;
    const [late] = await book(event.tiers[0]?.id ?? "");
    // Issued now, but stamped two hours ago: the time the settlement run started.
    await env.DB.prepare("UPDATE tickets SET created_at = ?1, updated_at = ?1 WHERE id = ?2")
      .bind(Date.now() - 2 * HOUR, late?.id)
      .run();
    const res = await client.get(listPath(event.id, `?since=${token}`), { schema: AttendeePageSchema });
    expect(res.body.results.map((a) => a.ticket_hash)).toEqual([await sha256Hex(late?.qr ?? "")]);
  });

  it("streams every ticket with since=0, then nothing new with the token it ends on", async () => {
    const { client, event } = await gateSetup();
    for (let i = 0; i < 2; i++) await book(event.tiers[0]?.id ?? "", { quantity: 4 });
    await ageTickets(event.id);
    const all = await follow(client, listPath(event.id, "?since=0&page_size=3"));
    expect(all.results).toHaveLength(8);
    expect(all.pages).toBe(3);
    const after = await client.get(listPath(event.id, `?since=${all.last.sync_token}`), {
      schema: AttendeePageSchema,
    });
    expect(after.body.results).toEqual([]);
  });

  it("refuses a sync token it did not issue with 400, never 500", async () => {
    const { client, event } = await gateSetup();
    const forged = btoa("v1.abc.1").replace(/=+$/, "");
    const wrongVersion = btoa("v2.1.1").replace(/=+$/, "");
    const badCursor = btoa("v1.1.1.5.not-a-uuid").replace(/=+$/, "");
    for (const since of [
      "",
      "garbage!",
      "%00",
      "-1",
      forged,
      wrongVersion,
      badCursor,
      "x".repeat(500),
      "🎫",
    ]) {
      const res = await client.get(listPath(event.id, `?since=${encodeURIComponent(since)}`));
      expect(res.status, since).toBe(400);
      expect(res.body.since ?? res.body).toBeTruthy();
    }
  });
});
