/**
 * Revocation reaching the gate (contract v3 §14.4): the attendee sync's `revoked` (first page
 * only, full and incremental), online verify's 409 TICKET REVOKED, offline batches' `revoked`,
 * a scan of the old token racing the transfer, and cancelled tickets revoked the same way.
 */
import { describe, expect, it } from "vitest";
import { AttendeePageSchema } from "../src/http/views/attendee";
import { countRows } from "./helpers/accounts";
import type { TestClient } from "./helpers/client";
import { freeOrder, scannerOf } from "./helpers/tickets";
import { newAddress, revocationsOf, ticketState, transfer, verifiedUser } from "./helpers/transfers";

const listPath = (eventId: string, query = "") => `/api/organizer/events/${eventId}/attendees/${query}`;

async function page(client: TestClient, path: string) {
  const res = await client.get(path, { schema: AttendeePageSchema });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

describe("the attendee sync carries revoked tokens", () => {
  it("full list: every revocation on the first page only; incremental: only those since the token", async () => {
    const order = await freeOrder({ quantity: 2 });
    const [moved = "", kept = ""] = order.ticketIds;
    const token = (await page(order.organizer, listPath(order.eventId))).sync_token;
    const old = await ticketState(moved);
    expect((await transfer(order.buyer, moved, { email: newAddress(), name: "New Holder" })).status).toBe(
      200,
    );
    const now = await ticketState(moved);

    const first = await page(order.organizer, listPath(order.eventId, "?page_size=1"));
    expect(first.revoked).toEqual([
      { ticket_hash: old.ticket_hash, revoked_at: expect.stringMatching(/\+03:00$/), reason: "transferred" },
    ]);
    expect(first.next).not.toBeNull();
    const second = await page(
      order.organizer,
      new URL(first.next ?? "").pathname + new URL(first.next ?? "").search,
    );
    expect(second.revoked).toBeUndefined();

    const changed = await page(order.organizer, listPath(order.eventId, `?since=${token}`));
    expect(changed.results.map((r) => [r.ticket_hash, r.attendee_name])).toEqual([
      [now.ticket_hash, "New Holder"],
    ]);
    expect(changed.revoked?.map((r) => r.ticket_hash)).toEqual([old.ticket_hash]);
    const nothing = await page(order.organizer, listPath(order.eventId, `?since=${changed.sync_token}`));
    expect(nothing.results).toEqual([]);
    expect(nothing.revoked).toEqual([]);
    expect((await ticketState(kept)).token_version).toBe(1);
  });

  it("a sync's later pages omit it, and a revocation made while paging comes in the next sync", async () => {
    const order = await freeOrder({ quantity: 3 });
    const [a = "", b = "", c = ""] = order.ticketIds;
    const token = (await page(order.organizer, listPath(order.eventId))).sync_token;
    const oldA = await ticketState(a);
    const holder = await verifiedUser();
    expect((await transfer(order.buyer, a, { email: holder.user.email, name: "A2" })).status).toBe(200);
    for (const id of [b, c]) {
      const { qr_code_hash } = await ticketState(id);
      expect((await order.organizer.post("/api/scanner/verify/", { qr_hash: qr_code_hash })).status).toBe(
        200,
      );
    }
    const first = await page(order.organizer, listPath(order.eventId, `?since=${token}&page_size=1`));
    expect(first.revoked?.map((r) => r.ticket_hash)).toEqual([oldA.ticket_hash]);
    expect(first.next).not.toBeNull();

    // While the device pages on, the new holder passes A on again.
    const oldA2 = await ticketState(a);
    expect((await transfer(holder.client, a, { email: newAddress(), name: "A3" })).status).toBe(200);

    let next = first.next;
    let last = first;
    while (next) {
      const url = new URL(next);
      last = await page(order.organizer, url.pathname + url.search);
      expect(last.revoked).toBeUndefined();
      next = last.next;
    }
    const after = await page(order.organizer, listPath(order.eventId, `?since=${last.sync_token}`));
    expect(after.revoked?.map((r) => r.ticket_hash)).toContain(oldA2.ticket_hash);
  });
});

describe("scanning an old token", () => {
  it("online: 409 TICKET REVOKED (after the ownership 403), nothing changes; the new token checks in", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const old = await ticketState(ticketId);
    expect((await transfer(order.buyer, ticketId, { email: newAddress(), name: "Fresh" })).status).toBe(200);

    const otherOrganizer = await freeOrder();
    const foreign = await otherOrganizer.organizer.post("/api/scanner/verify/", {
      qr_hash: old.qr_code_hash,
    });
    expect(foreign.status).toBe(403);

    const scanner = await scannerOf(order.organizerUser.id);
    const res = await scanner.post("/api/scanner/verify/", { qr_hash: old.qr_code_hash });
    expect(res.status).toBe(409);
    expect(res.body).toEqual({
      error: "TICKET REVOKED",
      detail: "TICKET REVOKED",
      code: "revoked",
      reason: "transferred",
      revoked_at: expect.stringMatching(/\+03:00$/),
    });
    expect(res.text).not.toContain("Fresh");
    expect((await ticketState(ticketId)).status).toBe("ACTIVE");
    expect(await countRows("checkins", "ticket_id = ?", ticketId)).toBe(0);

    const current = await ticketState(ticketId);
    const ok = await scanner.post("/api/scanner/verify/", { qr_hash: current.qr_code_hash });
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body.attendee_name).toBe("Fresh");
  });

  it("offline: the old token is `revoked` whatever its scanned_at; the new one is `ok`", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const old = await ticketState(ticketId);
    const before = new Date(Date.now() - 60_000).toISOString();
    expect((await transfer(order.buyer, ticketId, { email: newAddress(), name: "Fresh" })).status).toBe(200);
    const current = await ticketState(ticketId);
    const res = await order.organizer.post<{
      results: Array<Record<string, unknown>>;
      counts: Record<string, number>;
    }>(`/api/organizer/events/${order.eventId}/checkin/`, {
      scans: [
        { qr_hash: old.qr_code_hash, scanned_at: before, device_id: "gate-1" },
        { qr_hash: current.qr_code_hash, scanned_at: new Date().toISOString(), device_id: "gate-2" },
      ],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.results[0]).toMatchObject({ index: 0, result: "revoked", reason: "transferred" });
    expect(res.body.results[0]?.attendee_name).toBeUndefined();
    expect(res.body.results[1]).toMatchObject({ index: 1, result: "ok", attendee_name: "Fresh" });
    expect(res.body.counts).toMatchObject({ ok: 1, revoked: 1 });
  });

  it("racing the transfer: either the scan wins and the transfer is refused, or the reverse", async () => {
    const order = await freeOrder({ quantity: 6 });
    for (const ticketId of order.ticketIds) {
      const old = await ticketState(ticketId);
      const [scan, moved] = await Promise.all([
        order.organizer.post("/api/scanner/verify/", { qr_hash: old.qr_code_hash }),
        transfer(order.buyer, ticketId, { email: newAddress(), name: "Racer" }),
      ]);
      const state = await ticketState(ticketId);
      if (scan.status === 200) {
        expect([moved.status, moved.body.code]).toEqual([409, "not_transferable"]);
        expect(state).toMatchObject({ status: "CHECKED_IN", token_version: 1 });
        expect(await revocationsOf(ticketId)).toEqual([]);
      } else {
        expect(moved.status, moved.text).toBe(200);
        expect([scan.status, scan.body.code]).toEqual([409, "revoked"]);
        expect(state).toMatchObject({ status: "ACTIVE", token_version: 2 });
        expect(await countRows("checkins", "ticket_id = ?", ticketId)).toBe(0);
      }
    }
  });
});

describe("cancelled tickets", () => {
  it("are revoked the same way: listed as cancelled in the sync, refused online and offline", async () => {
    const order = await freeOrder({ quantity: 2 });
    const token = (await page(order.organizer, listPath(order.eventId))).sync_token;
    const codes = await Promise.all(order.ticketIds.map((id) => ticketState(id)));
    const cancelled = await order.organizer.request("DELETE", `/api/organizer/events/${order.eventId}/edit/`);
    expect(cancelled.status, cancelled.text).toBe(200);

    const changed = await page(order.organizer, listPath(order.eventId, `?since=${token}`));
    expect(changed.revoked?.map((r) => [r.ticket_hash, r.reason]).sort()).toEqual(
      codes.map((c) => [c.ticket_hash, "cancelled"]).sort(),
    );
    const full = await page(order.organizer, listPath(order.eventId));
    expect(full.revoked).toHaveLength(2);

    const online = await order.organizer.post("/api/scanner/verify/", { qr_hash: codes[0]?.qr_code_hash });
    expect([online.status, online.body.code]).toEqual([409, "ticket_cancelled"]);
    const offline = await order.organizer.post<{ results: Array<{ result: string }> }>(
      `/api/organizer/events/${order.eventId}/checkin/`,
      { scans: [{ qr_hash: codes[1]?.qr_code_hash, scanned_at: new Date().toISOString(), device_id: "g" }] },
    );
    expect(offline.body.results[0]?.result).toBe("cancelled");
  });
});
