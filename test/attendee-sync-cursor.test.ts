/**
 * Issue #11 item 16, contract §6: the `sync_token` is a strictly increasing change cursor.
 * A sync right after a sync returns nothing (rows written in the same millisecond as the
 * token included); a check-in after the token comes back; nothing is lost to a race.
 */
import { env } from "cloudflare:workers";
import { base64url } from "jose";
import { describe, expect, it } from "vitest";
import { AttendeePageSchema } from "../src/http/views/attendee";
import { type ApiResponse, type Body, TestClient, uniqueName } from "./helpers/client";
import { freeOrder } from "./helpers/tickets";

type AttendeePage = Body<typeof AttendeePageSchema>;

const listPath = (eventId: string, query = "") => `/api/organizer/events/${eventId}/attendees/${query}`;

async function sync(client: TestClient, eventId: string, token: string): Promise<AttendeePage> {
  const res: ApiResponse<AttendeePage> = await client.get(
    listPath(eventId, `?since=${encodeURIComponent(token)}&page_size=100`),
    { schema: AttendeePageSchema },
  );
  expect(res.status, res.text).toBe(200);
  expect(res.body.next, "one page holds every change here").toBeNull();
  return res.body;
}

async function codesOf(orderTicketIds: string[]) {
  const out: Array<{ id: string; qr: string; hash: string }> = [];
  for (const id of orderTicketIds) {
    const row = await env.DB.prepare(
      "SELECT qr_code_hash AS qr, ticket_hash AS hash FROM tickets WHERE id = ?",
    )
      .bind(id)
      .first<{ qr: string; hash: string }>();
    out.push({ id, qr: row?.qr ?? "", hash: row?.hash ?? "" });
  }
  return out;
}

describe("attendee sync: a change cursor, not a timestamp", () => {
  it("a sync right after a sync returns nothing, even for rows written the same millisecond", async () => {
    const order = await freeOrder({ quantity: 4 });
    const full = await order.organizer.get(listPath(order.eventId), { schema: AttendeePageSchema });
    expect(full.status, full.text).toBe(200);
    expect(full.body.results).toHaveLength(4);

    // Every ticket stamped with the very millisecond the token was issued in.
    await env.DB.prepare("UPDATE tickets SET updated_at = ?1, created_at = ?1 WHERE event_id = ?2")
      .bind(Date.now(), order.eventId)
      .run();
    const afterFull = await order.organizer.get(listPath(order.eventId), { schema: AttendeePageSchema });
    const first = await sync(order.organizer, order.eventId, afterFull.body.sync_token);
    expect(first.results).toEqual([]);
    expect(first.count).toBe(0);
    const second = await sync(order.organizer, order.eventId, first.sync_token);
    expect(second.results).toEqual([]);
    expect(second.summary.tickets).toBe(4);
  });

  it("a check-in after the token comes back, once", async () => {
    const order = await freeOrder({ quantity: 3 });
    const codes = await codesOf(order.ticketIds);
    const token = (await order.organizer.get(listPath(order.eventId), { schema: AttendeePageSchema })).body
      .sync_token;
    const scanned = await order.organizer.post("/api/scanner/verify/", { qr_hash: codes[1]?.qr });
    expect(scanned.status, scanned.text).toBe(200);

    const changed = await sync(order.organizer, order.eventId, token);
    expect(changed.results.map((a) => [a.ticket_hash, a.status])).toEqual([[codes[1]?.hash, "CHECKED_IN"]]);
    expect((await sync(order.organizer, order.eventId, changed.sync_token)).results).toEqual([]);
  });

  it("24 parallel check-ins racing 24 syncs: every sync's token plus its rows misses none", async () => {
    const order = await freeOrder({ quantity: 10 });
    const tierId = (
      await env.DB.prepare("SELECT tier_id FROM tickets WHERE id = ?")
        .bind(order.ticketIds[0])
        .first<{ tier_id: string }>()
    )?.tier_id;
    // Two more guests' orders: 24 tickets on the event.
    for (const quantity of [7, 7]) {
      const res = await new TestClient().post("/api/pay/initiate/", {
        tier_id: tierId,
        phone_number: "0712345678",
        quantity,
        email: `${uniqueName("fan")}@example.com`,
        name: "Wanjiru Kamau",
      });
      expect(res.status, res.text).toBe(201);
    }
    const ids = (
      await env.DB.prepare("SELECT id FROM tickets WHERE event_id = ?")
        .bind(order.eventId)
        .all<{ id: string }>()
    ).results.map((r) => r.id);
    expect(ids).toHaveLength(24);
    const codes = await codesOf(ids);
    const token = (await order.organizer.get(listPath(order.eventId), { schema: AttendeePageSchema })).body
      .sync_token;

    const scans = codes.map((c) => order.organizer.post("/api/scanner/verify/", { qr_hash: c.qr }));
    const syncs = codes.map(() => sync(order.organizer, order.eventId, token));
    const [scanned, synced] = await Promise.all([Promise.all(scans), Promise.all(syncs)]);
    expect(scanned.map((s) => s.status)).toEqual(codes.map(() => 200));

    for (const page of synced) {
      // What this device holds: the rows it got, then everything after its token.
      const state = new Map<string, string>();
      for (const a of page.results) state.set(a.ticket_hash, a.status);
      const after = await sync(order.organizer, order.eventId, page.sync_token);
      for (const a of after.results) state.set(a.ticket_hash, a.status);
      for (const c of codes) expect(state.get(c.hash), c.hash).toBe("CHECKED_IN");
      const again = await sync(order.organizer, order.eventId, after.sync_token);
      expect(again.results).toEqual([]);
    }
  });

  it("pages by the cursor: each change once, a ticket changed mid-pass comes again at the end", async () => {
    const order = await freeOrder({ quantity: 5 });
    const codes = await codesOf(order.ticketIds);
    const page1: ApiResponse<AttendeePage> = await order.organizer.get(
      listPath(order.eventId, "?since=0&page_size=2"),
      { schema: AttendeePageSchema },
    );
    expect(page1.body.count).toBe(5);
    expect(page1.body.results).toHaveLength(2);
    const seen = page1.body.results[0]?.ticket_hash;
    const target = codes.find((c) => c.hash === seen);
    expect((await order.organizer.post("/api/scanner/verify/", { qr_hash: target?.qr })).status).toBe(200);

    const hashes = page1.body.results.map((a) => a.ticket_hash);
    let next = page1.body.next;
    let last = page1.body;
    while (next) {
      const res: ApiResponse<AttendeePage> = await order.organizer.get(
        next.replace(env.PUBLIC_BASE_URL, ""),
        {
          schema: AttendeePageSchema,
        },
      );
      expect(res.status, res.text).toBe(200);
      hashes.push(...res.body.results.map((a) => a.ticket_hash));
      last = res.body;
      next = res.body.next;
    }
    expect(hashes).toHaveLength(6);
    expect(new Set(hashes).size).toBe(5);
    expect(hashes.at(-1)).toBe(seen);
    expect(last.results.at(-1)?.status).toBe("CHECKED_IN");
    expect((await sync(order.organizer, order.eventId, last.sync_token)).results).toEqual([]);
  });

  it("a token from before the change cursor (v1, a timestamp) is still answered: everything, once", async () => {
    const order = await freeOrder({ quantity: 2 });
    const legacy = base64url.encode(`v1.${Date.now()}.0`);
    const all = await sync(order.organizer, order.eventId, legacy);
    expect(all.results).toHaveLength(2);
    expect((await sync(order.organizer, order.eventId, all.sync_token)).results).toEqual([]);
  });
});
