/**
 * Every event type of contract v3 §16.2 besides `order.completed` (webhooks-delivery.test.ts),
 * each written in the batch of the change it reports and delivered by the real consumer:
 * `order.refunded` per completed refund, `ticket.transferred`, `ticket.checked_in` on a
 * ticket's FIRST check-in (online, and from an offline batch with its device), and
 * `event.cancelled` with the refunds it owes.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TestClient } from "./helpers/client";
import { attemptsOf, b2cCallback, RESULT_PATH, refundOf } from "./helpers/refunds";
import { newAddress, ticketState, transfer } from "./helpers/transfers";
import {
  eventsOfOrganizer,
  receivers,
  runWebhookJobs,
  verifySignature,
  webhookWorld,
} from "./helpers/webhooks";

type World = Awaited<ReturnType<typeof webhookWorld>>;

/** Deliver what is waiting, and the bodies the receiver got of `type`. */
async function delivered(w: World, type: string) {
  await w.drain();
  const got = receivers.to("hooks.receiver.test").filter((r) => r.headers["ticketsafi-event"] === type);
  for (const r of got) expect(await verifySignature(w.hook?.secret ?? "", r)).toBe(true);
  return got.map((r) => JSON.parse(r.body));
}

describe("order.refunded", () => {
  it("comes once per completed refund, partial too, with the order as it then stands", async () => {
    const w = await webhookWorld();
    const order = await w.buy(2);
    await w.drain();
    receivers.reset();

    const partial = await refundOf(w.organizer.client, { amount: 300, reason: "Late start" }, order.orderId);
    expect(partial.status, partial.text).toBe(202);
    // Asked for is not refunded: nothing yet.
    expect((await eventsOfOrganizer(w.organizer.id)).filter((e) => e.type === "order.refunded")).toHaveLength(
      0,
    );

    const refundJobs = w.q.sent.filter((m) => m.body.type === "refund").map((m) => m.body);
    w.q.sent.length = 0;
    await runWebhookJobs(refundJobs, w.vars);
    const [attempt] = await attemptsOf(partial.body.id);
    const result = await b2cCallback(attempt?.id ?? "");
    const posted = await new TestClient(w.vars).post(RESULT_PATH, result.body);
    expect(posted.status).toBe(200);
    // Daraja repeats its Result: still one event.
    await new TestClient(w.vars).post(RESULT_PATH, result.body);

    const [event, ...more] = await delivered(w, "order.refunded");
    expect(more).toHaveLength(0);
    expect(event.data.refund).toMatchObject({
      id: partial.body.id,
      order_id: order.orderId,
      amount: 300,
      status: "COMPLETED",
      full: false,
      ticket_ids: [],
    });
    expect(event.data.order).toMatchObject({
      id: order.orderId,
      amount_paid: 2000,
      amount_refunded: 300,
      refund_status: "PARTIAL",
      refundable: 1700,
    });
    expect(await eventsOfOrganizer(w.organizer.id)).toHaveLength(2);
  });
});

describe("ticket.transferred", () => {
  it("is written with the transfer: from, to, what is left", async () => {
    const w = await webhookWorld();
    const order = await w.buy(2);
    await w.drain();
    const [ticketId = ""] = order.ticketIds;
    const before = await ticketState(ticketId);
    const to = newAddress();
    const res = await transfer(order.buyer, ticketId, { email: to, name: "Wanjiru Friend" });
    expect(res.status, res.text).toBe(200);
    const [event, ...more] = await delivered(w, "ticket.transferred");
    expect(more).toHaveLength(0);
    expect(event).toMatchObject({
      type: "ticket.transferred",
      data: {
        ticket: { id: ticketId, event_id: order.eventId, order_id: order.orderId, tier_id: order.tierId },
        from: { name: before.attendee_name, email: before.attendee_email },
        to: { name: "Wanjiru Friend", email: to },
        transfers_left: 1,
      },
    });
  });

  it("a refused transfer announces nothing", async () => {
    const w = await webhookWorld();
    const order = await w.buy(1);
    await w.drain();
    const [ticketId = ""] = order.ticketIds;
    const refused = await transfer(order.buyer, ticketId, { email: "not-an-email", name: "X" });
    expect(refused.status).toBe(400);
    const parallel = await Promise.all([
      transfer(order.buyer, ticketId, { email: newAddress(), name: "One" }),
      transfer(order.buyer, ticketId, { email: newAddress(), name: "Two" }),
    ]);
    expect(parallel.filter((r) => r.status === 200)).toHaveLength(1);
    const events = await eventsOfOrganizer(w.organizer.id);
    expect(events.filter((e) => e.type === "ticket.transferred")).toHaveLength(1);
  });
});

describe("ticket.checked_in", () => {
  it("online: the first check-in only, device_id null", async () => {
    const w = await webhookWorld();
    const order = await w.buy(1);
    await w.drain();
    const [ticketId = ""] = order.ticketIds;
    const { qr_code_hash } = await ticketState(ticketId);
    const first = await w.organizer.client.post("/api/scanner/verify/", {
      qr_hash: qr_code_hash,
      device_id: "gate-3",
    });
    expect(first.status, first.text).toBe(200);
    const again = await w.organizer.client.post("/api/scanner/verify/", { qr_hash: qr_code_hash });
    expect(again.status).toBe(409);
    const [event, ...more] = await delivered(w, "ticket.checked_in");
    expect(more).toHaveLength(0);
    const row = await env.DB.prepare("SELECT checked_in_at FROM tickets WHERE id = ?")
      .bind(ticketId)
      .first<{ checked_in_at: number }>();
    expect(event.data.ticket).toEqual({
      id: ticketId,
      event_id: order.eventId,
      order_id: order.orderId,
      tier_id: order.tierId,
      tier_name: "Regular",
      attendee_name: (await ticketState(ticketId)).attendee_name,
      checked_in_at: new Date(Math.floor((row?.checked_in_at ?? 0) / 1000) * 1000 + 3 * 3600_000)
        .toISOString()
        .replace(".000Z", "+03:00"),
      device_id: null,
    });
  });

  it("offline: one event per ticket checked in by the batch, with its device; a replay adds none", async () => {
    const w = await webhookWorld();
    const order = await w.buy(3);
    await w.drain();
    const codes = await Promise.all(order.ticketIds.map((id) => ticketState(id)));
    const at = new Date(Date.now() - 60_000).toISOString();
    const scans = {
      scans: [
        { qr_hash: codes[0]?.qr_code_hash, scanned_at: at, device_id: "gate-1" },
        { qr_hash: codes[1]?.qr_code_hash, scanned_at: at, device_id: "gate-2" },
        { qr_hash: codes[1]?.qr_code_hash, scanned_at: new Date().toISOString(), device_id: "gate-1" },
        { qr_hash: "forged", scanned_at: at, device_id: "gate-1" },
      ],
    };
    const path = `/api/organizer/events/${order.eventId}/checkin/`;
    const res = await w.organizer.client.post(path, scans);
    expect(res.status, res.text).toBe(200);
    expect((await w.organizer.client.post(path, scans)).status).toBe(200);
    const events = await delivered(w, "ticket.checked_in");
    expect(events.map((e) => [e.data.ticket.id, e.data.ticket.device_id]).sort()).toEqual(
      [
        [order.ticketIds[0], "gate-1"],
        [order.ticketIds[1], "gate-2"],
      ].sort(),
    );
    // The third ticket, scanned later online, is announced then (once).
    await w.organizer.client.post("/api/scanner/verify/", { qr_hash: codes[2]?.qr_code_hash });
    receivers.reset();
    const late = await delivered(w, "ticket.checked_in");
    expect(late.map((e) => e.data.ticket.id)).toEqual([order.ticketIds[2]]);
  });
});

describe("event.cancelled", () => {
  it("carries the refunds the cancellation created", async () => {
    const w = await webhookWorld();
    const first = await w.buy(2);
    await w.drain();
    receivers.reset();
    const res = await w.organizer.client.request("DELETE", `/api/organizer/events/${first.eventId}/edit/`);
    expect(res.status, res.text).toBe(200);
    const [event, ...more] = await delivered(w, "event.cancelled");
    expect(more).toHaveLength(0);
    const title = await env.DB.prepare("SELECT title FROM events WHERE id = ?")
      .bind(first.eventId)
      .first<{ title: string }>();
    expect(event.data).toMatchObject({
      event: { id: first.eventId, title: title?.title },
      orders_to_refund: 1,
      amount_to_refund: 2000,
    });
    expect(event.data.event.start_datetime).toMatch(/\+03:00$/);
    // Cancelling again is refused and announces nothing more.
    expect(
      (await w.organizer.client.request("DELETE", `/api/organizer/events/${first.eventId}/edit/`)).status,
    ).toBe(400);
    const all = await eventsOfOrganizer(w.organizer.id);
    expect(all.filter((e) => e.type === "event.cancelled")).toHaveLength(1);
  });
});
