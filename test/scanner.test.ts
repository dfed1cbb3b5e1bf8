/**
 * Scanning (contract §7): online verify with its race, and offline batch uploads. Tickets
 * are real: free-tier bookings through /api/pay/initiate/, signed by the platform key.
 */
import { env } from "cloudflare:workers";
import { CompactSign, generateKeyPair } from "jose";
import { describe, expect, it } from "vitest";
import { OfflineCheckinResponseSchema, ScannerVerifyResponseSchema } from "../src/http/routes/scanner";
import { AttendeePageSchema } from "../src/http/views/attendee";
import { EditEventSchema } from "../src/http/views/event";
import { BookingConfirmedSchema } from "../src/http/views/payment";
import { CreatedScannerSchema } from "../src/http/views/scanner-account";
import { LoginResponse } from "../src/http/views/session";
import { loadTicketKey, signTicket } from "../src/lib/ticket-signing";
import { countRows, GOOD_PASSWORD, registerUser } from "./helpers/accounts";
import { type Body, TestClient, uniqueName } from "./helpers/client";

const DAY = 24 * 60 * 60 * 1000;
const VERIFY = "/api/scanner/verify/";

type CreatedEvent = Body<typeof EditEventSchema>;

async function organizer() {
  const client = new TestClient();
  const user = await registerUser(client, { role: "ORGANIZER" });
  return { client, user };
}

async function createEvent(client: TestClient, tierNames = ["Regular"]): Promise<CreatedEvent> {
  const start = Date.now() + 7 * DAY;
  const res = await client.post(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Gate Night "),
      category: "CONCERT",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 5 * 60 * 60 * 1000).toISOString(),
      tiers: tierNames.map((name) => ({ name, price: 0, quantity_allocated: 500, max_per_order: 10 })),
    },
    { schema: EditEventSchema },
  );
  expect(res.status, res.text).toBe(201);
  return res.body;
}

/** Free tickets booked by a guest; returns their ids and QR codes. */
async function book(tierId: string, quantity = 1, name = "Achieng Otieno") {
  const res = await new TestClient().post(
    "/api/pay/initiate/",
    {
      tier_id: tierId,
      phone_number: "0712345678",
      quantity,
      email: `${uniqueName("guest")}@example.com`,
      name,
    },
    { schema: BookingConfirmedSchema },
  );
  expect(res.status, res.text).toBe(201);
  const tickets = [];
  for (const id of res.body.ticket_ids) {
    const row = await env.DB.prepare("SELECT qr_code_hash AS qr FROM tickets WHERE id = ?")
      .bind(id)
      .first<{ qr: string }>();
    tickets.push({ id, qr: row?.qr ?? "" });
  }
  return tickets;
}

async function gateSetup(tierNames?: string[]) {
  const org = await organizer();
  const event = await createEvent(org.client, tierNames);
  return { ...org, event, tierId: event.tiers[0]?.id ?? "" };
}

/** A SCANNER account made by `organizerClient`, logged in on its own client. */
async function scannerOf(organizerClient: TestClient) {
  const username = uniqueName("gate");
  const created = await organizerClient.post(
    "/api/organizer/team/scanners/create/",
    {
      username,
      password: GOOD_PASSWORD,
    },
    { schema: CreatedScannerSchema },
  );
  expect(created.status, created.text).toBe(201);
  const client = new TestClient();
  const login = await client.post("/api/auth/login/", { username, password: GOOD_PASSWORD });
  expect(login.status, login.text).toBe(200);
  return { client, id: created.body.id };
}

async function ticketRow(id: string) {
  return env.DB.prepare(
    "SELECT status, checked_in_at, checked_in_device, checked_in_by, updated_at FROM tickets WHERE id = ?",
  )
    .bind(id)
    .first<{
      status: string;
      checked_in_at: number | null;
      checked_in_device: string | null;
      checked_in_by: string | null;
      updated_at: number;
    }>();
}

/** Change one character in the middle of a JWS segment. */
function alter(token: string, segment: 0 | 1 | 2): string {
  const parts = token.split(".");
  const part = parts[segment] ?? "";
  const at = Math.floor(part.length / 2);
  parts[segment] = part.slice(0, at) + (part[at] === "A" ? "B" : "A") + part.slice(at + 1);
  return parts.join(".");
}

describe("POST /api/scanner/verify/", () => {
  it("checks a valid ticket in once and answers the original's VALID body", async () => {
    const { client, user, event, tierId } = await gateSetup();
    const [ticket] = await book(tierId, 1, "Wanjiru Kamau");
    const res = await client.post(VERIFY, { qr_hash: ticket?.qr });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      status: "VALID",
      attendee_name: "Wanjiru Kamau",
      tier_name: "Regular",
      event: event.title,
      checked_in_at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+03:00$/),
    });
    const row = await ticketRow(ticket?.id ?? "");
    expect(row).toMatchObject({ status: "CHECKED_IN", checked_in_by: user.id });
    expect(
      await countRows("checkins", "ticket_id = ? AND result = 'ok' AND source = 'online'", ticket?.id),
    ).toBe(1);
  });

  it("answers a second scan 409 ALREADY CHECKED IN with the first scan's time", async () => {
    const { client, tierId } = await gateSetup();
    const [ticket] = await book(tierId);
    const first = await client.post(VERIFY, { qr_hash: ticket?.qr }, { schema: ScannerVerifyResponseSchema });
    expect(first.status).toBe(200);
    const second = await client.post(VERIFY, { qr_hash: ticket?.qr });
    expect(second.status).toBe(409);
    expect(second.body).toMatchObject({
      error: "ALREADY CHECKED IN",
      detail: "ALREADY CHECKED IN",
      code: "already_checked_in",
      attendee_name: "Achieng Otieno",
      tier_name: "Regular",
      checked_in_at: first.body.checked_in_at,
    });
    expect(await countRows("checkins", "ticket_id = ?", ticket?.id)).toBe(2);
  });

  it("lets exactly one of many simultaneous scans of one ticket through", async () => {
    const { client, tierId } = await gateSetup();
    const scanner = await scannerOf(client);
    const [ticket] = await book(tierId);
    const answers = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        (i % 2 ? scanner.client : client).post<VerifyAnswer>(VERIFY, {
          qr_hash: ticket?.qr,
          device_id: `gate-${i}`,
        }),
      ),
    );
    const ok = answers.filter((a) => a.status === 200);
    const conflicts = answers.filter((a) => a.status === 409);
    expect(ok).toHaveLength(1);
    expect(conflicts).toHaveLength(5);
    for (const loser of conflicts) {
      expect(loser.body).toMatchObject({
        error: "ALREADY CHECKED IN",
        checked_in_at: ok[0]?.body.checked_in_at,
      });
    }
    const row = await ticketRow(ticket?.id ?? "");
    expect(row?.status).toBe("CHECKED_IN");
    expect(await countRows("checkins", "ticket_id = ? AND result = 'ok'", ticket?.id)).toBe(1);
  });

  it("answers forged, altered and foreign codes 'Ticket Not Found' and changes nothing", async () => {
    const { client, event, tierId } = await gateSetup();
    const [ticket] = await book(tierId);
    const qr = ticket?.qr ?? "";

    // Signed by someone else's key, even with our kid in the header.
    const ours = await loadTicketKey(env.TICKET_SIGNING_KEY ?? "");
    const { privateKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const payload = JSON.parse(atob((qr.split(".")[1] ?? "").replace(/-/g, "+").replace(/_/g, "/")));
    const forged = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
      .setProtectedHeader({ alg: "EdDSA", kid: ours.kid })
      .sign(privateKey);
    // Ours, but for a ticket that was never issued.
    const neverIssued = await signTicket(ours, {
      ticketId: crypto.randomUUID(),
      eventId: event.id,
      tierId,
    });

    for (const code of [
      forged,
      alter(qr, 1),
      alter(qr, 2),
      alter(qr, 0),
      neverIssued,
      "hello",
      "a.b.c",
      `${qr}x`,
    ]) {
      const res = await client.post(VERIFY, { qr_hash: code });
      expect(res.status, code).toBe(404);
      expect(res.body).toMatchObject({
        error: "Ticket Not Found",
        detail: "Ticket Not Found",
        code: "ticket_not_found",
      });
    }
    expect((await ticketRow(ticket?.id ?? ""))?.status).toBe("ACTIVE");
    expect(await countRows("checkins", "ticket_id = ?", ticket?.id)).toBe(0);
  });

  it("refuses an empty, missing or non-string qr_hash with 400, never 500", async () => {
    const { client } = await gateSetup();
    for (const body of [
      { qr_hash: "" },
      { qr_hash: "   " },
      {},
      { qr_hash: 123 },
      { qr_hash: null },
      { qr_hash: ["x"] },
    ]) {
      const res = await client.post(VERIFY, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.qr_hash).toEqual([expect.any(String)]);
      expect(res.body.error).toBe(res.body.detail);
      expect(res.body.code).toBe("validation_error");
    }
    const broken = await client.request("POST", VERIFY, {
      rawBody: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(broken.status).toBe(400);
  });

  it("answers 409 for a cancelled ticket", async () => {
    const { client, event, tierId } = await gateSetup();
    const [ticket] = await book(tierId);
    const cancelled = await client.request("DELETE", `/api/organizer/events/${event.id}/edit/`);
    expect(cancelled.status, cancelled.text).toBe(200);
    const res = await client.post(VERIFY, { qr_hash: ticket?.qr });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "ticket_cancelled", error: "TICKET CANCELLED" });
    expect((await ticketRow(ticket?.id ?? ""))?.status).toBe("CANCELLED");
  });

  it("limits organizers and their scanners to the organizer's own events", async () => {
    const owner = await gateSetup();
    const [ticket] = await book(owner.tierId);
    const rival = await organizer();
    const rivalScanner = await scannerOf(rival.client);
    for (const other of [rival.client, rivalScanner.client]) {
      const res = await other.post(VERIFY, { qr_hash: ticket?.qr });
      expect(res.status).toBe(403);
      expect(res.body).toMatchObject({
        error: "This ticket does not belong to your event.",
        code: "wrong_event",
      });
    }
    expect((await ticketRow(ticket?.id ?? ""))?.status).toBe("ACTIVE");

    const fan = new TestClient();
    await registerUser(fan);
    expect((await fan.post(VERIFY, { qr_hash: ticket?.qr })).status).toBe(403);
    const anonymous = await new TestClient().post(VERIFY, { qr_hash: ticket?.qr });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.error).toBe(anonymous.body.detail);

    const own = await scannerOf(owner.client);
    const res = await own.client.post(VERIFY, { qr_hash: ticket?.qr });
    expect(res.status).toBe(200);
    expect((await ticketRow(ticket?.id ?? ""))?.checked_in_by).toBe(own.id);
  });

  it("refuses a ticket for another event than the one the gate names", async () => {
    const { client, tierId } = await gateSetup();
    const other = await createEvent(client);
    const [ticket] = await book(tierId);
    const wrong = await client.post(VERIFY, { qr_hash: ticket?.qr, event_id: other.id });
    expect(wrong.status).toBe(403);
    expect(wrong.body.code).toBe("wrong_event");
    expect((await ticketRow(ticket?.id ?? ""))?.status).toBe("ACTIVE");
  });

  it("keeps accepting tickets signed before a key rotation, and publishes both keys", async () => {
    const { user, event, tierId } = await gateSetup();
    const [ticket] = await book(tierId);
    const fresh = (await crypto.subtle.generateKey({ name: "Ed25519" }, true, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const pkcs8 = new Uint8Array((await crypto.subtle.exportKey("pkcs8", fresh.privateKey)) as ArrayBuffer);
    const rotated = new TestClient({
      TICKET_SIGNING_KEY: btoa(String.fromCharCode(...pkcs8)),
      TICKET_PREVIOUS_SIGNING_KEYS: env.TICKET_SIGNING_KEY ?? "",
    });
    expect(
      (await rotated.post("/api/auth/login/", { username: user.username, password: user.password })).status,
    ).toBe(200);
    const list = await rotated.get(`/api/organizer/events/${event.id}/attendees/`, {
      schema: AttendeePageSchema,
    });
    const old = await loadTicketKey(env.TICKET_SIGNING_KEY ?? "");
    expect(list.body.public_keys).toHaveLength(2);
    expect(list.body.public_keys.map((k) => k.kid)).toContain(old.kid);
    const res = await rotated.post(VERIFY, { qr_hash: ticket?.qr });
    expect(res.status, res.text).toBe(200);
  });

  it("accepts the Bearer token the mobile scanner sends", async () => {
    const { client, user, tierId } = await gateSetup();
    const [ticket] = await book(tierId);
    const login = await new TestClient().post(
      "/api/auth/login/",
      {
        username: user.username,
        password: user.password,
      },
      { schema: LoginResponse },
    );
    const res = await new TestClient().post(VERIFY, { qr_hash: ticket?.qr }, { bearer: login.body.access });
    expect(res.status, res.text).toBe(200);
    expect((await client.post(VERIFY, { qr_hash: ticket?.qr })).status).toBe(409);
  });
});

// ---------------------------------------------------------------------------------------

/** A 200 here, a 409 for the losers of the race. */
type VerifyAnswer = Body<typeof ScannerVerifyResponseSchema>;

const iso = (ms: number) => new Date(ms).toISOString();

async function snapshot(eventId: string) {
  const tickets = await env.DB.prepare(
    "SELECT id, status, checked_in_at, checked_in_device, updated_at FROM tickets WHERE event_id = ? ORDER BY id",
  )
    .bind(eventId)
    .all();
  const checkins = await env.DB.prepare(
    "SELECT ticket_id, device_id, scanned_at, result FROM checkins WHERE event_id = ? ORDER BY ticket_id, device_id, scanned_at",
  )
    .bind(eventId)
    .all();
  return { tickets: tickets.results, checkins: checkins.results };
}

describe("POST /api/organizer/events/{id}/checkin/", () => {
  it("checks in offline scans, and a replay of the batch changes nothing and answers the same", async () => {
    const { client, event, tierId } = await gateSetup();
    const tickets = await book(tierId, 3);
    const t0 = Date.now() - 60 * 60 * 1000;
    const scans = [
      { qr_hash: tickets[0]?.qr, scanned_at: iso(t0), device_id: "gate-A" },
      { qr_hash: tickets[1]?.qr, scanned_at: iso(t0 + 1000), device_id: "gate-A" },
      // The same ticket again, a minute later, at another gate: a second entry attempt.
      { qr_hash: tickets[0]?.qr, scanned_at: iso(t0 + 60_000), device_id: "gate-B" },
    ];
    const path = `/api/organizer/events/${event.id}/checkin/`;
    const first = await client.post(path, { scans }, { schema: OfflineCheckinResponseSchema });
    expect(first.status, first.text).toBe(200);
    expect(first.body.results.map((r) => r.result)).toEqual(["ok", "ok", "already_checked_in"]);
    expect(first.body.results[2]).toMatchObject({
      index: 2,
      device_id: "gate-B",
      checked_in_device: "gate-A",
      checked_in_at: first.body.results[0]?.checked_in_at,
      attendee_name: "Achieng Otieno",
    });
    expect(first.body.counts).toEqual({
      ok: 2,
      already_checked_in: 1,
      invalid: 0,
      wrong_event: 0,
      cancelled: 0,
      revoked: 0,
    });
    expect(await ticketRow(tickets[0]?.id ?? "")).toMatchObject({
      status: "CHECKED_IN",
      checked_in_at: Math.floor(t0 / 1000) * 1000 + (t0 % 1000),
      checked_in_device: "gate-A",
    });
    expect((await ticketRow(tickets[2]?.id ?? ""))?.status).toBe("ACTIVE");

    const before = await snapshot(event.id);
    const replay = await client.post(path, { scans }, { schema: OfflineCheckinResponseSchema });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    expect(await snapshot(event.id)).toEqual(before);

    // Online verify agrees with what the offline scans recorded.
    const online = await client.post(VERIFY, { qr_hash: tickets[0]?.qr });
    expect(online.status).toBe(409);
  });

  it("lets the earliest scan win when two devices scanned one ticket offline", async () => {
    const { client, event, tierId } = await gateSetup();
    const [ticket] = await book(tierId);
    const path = `/api/organizer/events/${event.id}/checkin/`;
    const t0 = Date.now() - 30 * 60 * 1000;
    // Gate B uploads first, with the later scan.
    const late = await client.post(
      path,
      {
        scans: [{ qr_hash: ticket?.qr, scanned_at: iso(t0 + 5 * 60_000), device_id: "gate-B" }],
      },
      { schema: OfflineCheckinResponseSchema },
    );
    expect(late.body.results[0]?.result).toBe("ok");
    // Gate A scanned it five minutes earlier and comes back online afterwards.
    const early = await client.post(
      path,
      {
        scans: [{ qr_hash: ticket?.qr, scanned_at: iso(t0), device_id: "gate-A" }],
      },
      { schema: OfflineCheckinResponseSchema },
    );
    expect(early.body.results[0]).toMatchObject({ result: "ok", checked_in_device: "gate-A" });
    expect(await ticketRow(ticket?.id ?? "")).toMatchObject({
      checked_in_at: t0,
      checked_in_device: "gate-A",
    });
    // Gate B's upload, sent again, now learns it was second.
    const again = await client.post(
      path,
      {
        scans: [{ qr_hash: ticket?.qr, scanned_at: iso(t0 + 5 * 60_000), device_id: "gate-B" }],
      },
      { schema: OfflineCheckinResponseSchema },
    );
    expect(again.body.results[0]).toMatchObject({
      result: "already_checked_in",
      checked_in_device: "gate-A",
    });
    // Within one batch too: order sent does not matter, time does.
    const [other] = await book(tierId);
    const both = await client.post(
      path,
      {
        scans: [
          { qr_hash: other?.qr, scanned_at: iso(t0 + 1000), device_id: "gate-C" },
          { qr_hash: other?.qr, scanned_at: iso(t0), device_id: "gate-D" },
        ],
      },
      { schema: OfflineCheckinResponseSchema },
    );
    expect(both.body.results.map((r) => r.result)).toEqual(["already_checked_in", "ok"]);
    expect(await countRows("checkins", "ticket_id = ?", other?.id)).toBe(2);
  });

  it("answers each malformed, forged, foreign or cancelled entry on its own and still applies the rest", async () => {
    const { client, event, tierId } = await gateSetup();
    const otherEvent = await createEvent(client);
    const [good, cancelledTicket] = await book(tierId, 2);
    const [foreign] = await book(otherEvent.tiers[0]?.id ?? "");
    await env.DB.prepare("UPDATE tickets SET status = 'CANCELLED' WHERE id = ?")
      .bind(cancelledTicket?.id)
      .run();
    const now = Date.now() - 1000;
    const res = await client.post(
      `/api/organizer/events/${event.id}/checkin/`,
      {
        scans: [
          "not an object",
          { qr_hash: "", scanned_at: iso(now), device_id: "g" },
          { qr_hash: good?.qr, scanned_at: "yesterday", device_id: "g" },
          { qr_hash: good?.qr, scanned_at: iso(now) },
          { qr_hash: alter(good?.qr ?? "", 2), scanned_at: iso(now), device_id: "g" },
          { qr_hash: foreign?.qr, scanned_at: iso(now), device_id: "g" },
          { qr_hash: cancelledTicket?.qr, scanned_at: iso(now), device_id: "g" },
          { qr_hash: good?.qr, scanned_at: now, device_id: "g" },
          null,
          { qr_hash: good?.qr, scanned_at: "2001-01-01T00:00:00Z", device_id: "g" },
          { qr_hash: 42, scanned_at: iso(now), device_id: "g" },
        ],
      },
      { schema: OfflineCheckinResponseSchema },
    );
    expect(res.status, res.text).toBe(200);
    expect(res.body.results.map((r) => [r.index, r.result, r.reason ?? null])).toEqual([
      [0, "invalid", "malformed"],
      [1, "invalid", "malformed"],
      [2, "invalid", "malformed"],
      [3, "invalid", "malformed"],
      [4, "invalid", "not_found"],
      [5, "wrong_event", null],
      [6, "cancelled", null],
      [7, "ok", null],
      [8, "invalid", "malformed"],
      [9, "invalid", "malformed"],
      [10, "invalid", "malformed"],
    ]);
    expect(res.body.results[1]?.errors).toHaveProperty("qr_hash");
    expect(res.body.results[2]?.errors).toHaveProperty("scanned_at");
    expect(res.body.results[3]?.errors).toEqual({ device_id: ["This field is required."] });
    expect((await ticketRow(good?.id ?? ""))?.status).toBe("CHECKED_IN");
    expect((await ticketRow(foreign?.id ?? ""))?.status).toBe("ACTIVE");
    expect(await countRows("checkins", "ticket_id = ? AND result = 'cancelled'", cancelledTicket?.id)).toBe(
      1,
    );
  });

  it("handles an upload of thousands of scans in bounded chunks", async () => {
    const { client, event, tierId } = await gateSetup();
    const tickets = [];
    for (let order = 0; order < 6; order++) tickets.push(...(await book(tierId, 5)));
    const t0 = Date.now() - 2 * 60 * 60 * 1000;
    // 30 tickets, each scanned by 4 devices, 25 times each: 3000 scans.
    const scans = [];
    for (let round = 0; round < 25; round++) {
      for (const [i, ticket] of tickets.entries()) {
        for (let device = 0; device < 4; device++) {
          scans.push({
            qr_hash: ticket.qr,
            scanned_at: t0 + round * 60_000 + device * 1000 + i,
            device_id: `d${device}`,
          });
        }
      }
    }
    const path = `/api/organizer/events/${event.id}/checkin/`;
    const res = await client.post(path, { scans }, { schema: OfflineCheckinResponseSchema });
    expect(res.status, res.text.slice(0, 300)).toBe(200);
    expect(res.body.results).toHaveLength(3000);
    expect(res.body.counts).toMatchObject({ ok: 30, already_checked_in: 2970 });
    for (const [i, ticket] of tickets.entries()) {
      expect(await ticketRow(ticket.id)).toMatchObject({ checked_in_at: t0 + i, checked_in_device: "d0" });
    }
    expect(await countRows("checkins", "event_id = ?", event.id)).toBe(3000);
    const replay = await client.post(path, { scans }, { schema: OfflineCheckinResponseSchema });
    expect(replay.body.counts).toEqual(res.body.counts);
    expect(await countRows("checkins", "event_id = ?", event.id)).toBe(3000);
  });

  it("is open to the organizer's scanners and to no one else", async () => {
    const { client, event, tierId } = await gateSetup();
    const [ticket] = await book(tierId);
    const scans = [{ qr_hash: ticket?.qr, scanned_at: iso(Date.now() - 1000), device_id: "phone-1" }];
    const path = `/api/organizer/events/${event.id}/checkin/`;

    const rival = await organizer();
    expect((await rival.client.post(path, { scans })).status).toBe(404);
    expect((await (await scannerOf(rival.client)).client.post(path, { scans })).status).toBe(404);
    const fan = new TestClient();
    await registerUser(fan);
    expect((await fan.post(path, { scans })).status).toBe(403);
    expect((await new TestClient().post(path, { scans })).status).toBe(401);
    expect((await ticketRow(ticket?.id ?? ""))?.status).toBe("ACTIVE");

    const scanner = await scannerOf(client);
    const res = await scanner.client.post(path, { scans }, { schema: OfflineCheckinResponseSchema });
    expect(res.body.results[0]?.result).toBe("ok");
    expect((await ticketRow(ticket?.id ?? ""))?.checked_in_by).toBe(scanner.id);
  });

  it("refuses a body without a list of scans, or with too many", async () => {
    const { client, event } = await gateSetup();
    const path = `/api/organizer/events/${event.id}/checkin/`;
    for (const body of [{}, { scans: "x" }, { scans: { a: 1 } }, { scans: null }]) {
      const res = await client.post(path, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toHaveProperty("scans");
    }
    const many = Array.from({ length: 5001 }, () => ({ qr_hash: "x", scanned_at: 0, device_id: "d" }));
    const tooMany = await client.post(path, { scans: many });
    expect(tooMany.status).toBe(400);
    const empty = await client.post(path, { scans: [] }, { schema: OfflineCheckinResponseSchema });
    expect(empty.status).toBe(200);
    expect(empty.body.results).toEqual([]);
    expect(
      (await client.post(`/api/organizer/events/${crypto.randomUUID()}/checkin/`, { scans: [] })).status,
    ).toBe(404);
  });
});
