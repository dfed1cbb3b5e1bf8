/**
 * The organizer's refunds (contract v3 §13.2, §13.3): full, partial and per-ticket; the amount
 * reserved atomically (24+ racing requests never refund more than was paid); tickets
 * cancelled and seats back on sale before any money moves; bad input answered 4xx with
 * nothing recorded; retry and manual resolution.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { registerUser } from "./helpers/accounts";
import { DARAJA, type Initiated, networkFakes, seatsOf } from "./helpers/checkout";
import { TestClient } from "./helpers/client";
import {
  attemptsOf,
  b2cCallback,
  b2cRequestTo,
  mailsOf,
  paidOrder,
  RESULT_PATH,
  refundOf,
  refundRow,
  refundWorld,
} from "./helpers/refunds";
import { scannerOf } from "./helpers/tickets";

async function refundCount(orderId: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM refunds WHERE order_id = ?")
    .bind(orderId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

async function ticketStatuses(orderId: string): Promise<string[]> {
  const rows = await env.DB.prepare("SELECT status FROM tickets WHERE order_id = ? ORDER BY seat_index")
    .bind(orderId)
    .all<{ status: string }>();
  return rows.results.map((r) => r.status);
}

describe("organizer refunds", () => {
  it("a full refund cancels every ticket, puts the seats back on sale, then the queue sends it", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 700, quantity: 2, allocation: 5 });
    expect((await seatsOf(order.tierId)).sold).toBe(2);

    const res = await refundOf(order.organizer, { reason: "Venue change" }, order.orderId);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({
      status: "PENDING",
      amount: 1400,
      full: true,
      trigger: "ORGANIZER",
      attempts: 0,
      phone: `${order.phone.slice(0, 4)}****${order.phone.slice(-3)}`,
    });
    expect([...res.body.ticket_ids].sort()).toEqual([...order.ticketIds].sort());
    // Tickets died before any B2C request left.
    expect(await ticketStatuses(order.orderId)).toEqual(["CANCELLED", "CANCELLED"]);
    expect(networkFakes.daraja.b2cRequests).toHaveLength(0);
    expect((await seatsOf(order.tierId)).sold).toBe(0);
    expect(await mailsOf(order.orderId, "refund_tickets_cancelled")).toBe(1);

    expect(await world.drain()).toBe(1);
    const [attempt] = await attemptsOf(res.body.id);
    expect(b2cRequestTo(attempt?.id ?? "")).toMatchObject({
      OriginatorConversationID: attempt?.id,
      CommandID: "BusinessPayment",
      Amount: 1400,
      PartyA: "600996",
      PartyB: order.phone,
      Remarks: `Refund ${order.reference}`,
      Occasion: order.reference,
    });
    expect(await refundRow(res.body.id)).toMatchObject({ status: "SENT", attempts: 1 });

    const result = await b2cCallback(attempt?.id ?? "");
    await new TestClient().post(RESULT_PATH, result.body);
    const done = await order.organizer.get<{ status: string; mpesa_receipt: string }>(
      `/api/organizer/refunds/${res.body.id}/`,
    );
    expect(done.body).toMatchObject({ status: "COMPLETED" });
    expect(done.body.mpesa_receipt).toMatch(/^[A-Z0-9]{10}$/);
    expect(await mailsOf(order.orderId, "refund_completed")).toBe(1);

    const verify = await new TestClient().get(`/api/pay/verify/${order.reference}/`);
    expect(verify.body).toMatchObject({
      status: "FAILED",
      reason: "refunded",
      amount_refunded: 1400,
      ticket_ids: [],
    });
    // Nothing left to refund.
    const more = await refundOf(order.organizer, { amount: 1 }, order.orderId);
    expect(more.status).toBe(400);
    expect(more.body).toMatchObject({ code: "amount_too_high", amount: ["At most KES 0 can be refunded."] });
  });

  it("a partial refund cancels nothing and leaves the rest refundable", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1500 });
    const res = await refundOf(order.organizer, { amount: "300" }, order.orderId);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ amount: 300, full: false, ticket_ids: [] });
    expect(await ticketStatuses(order.orderId)).toEqual(["ACTIVE"]);
    expect(await mailsOf(order.orderId, "refund_tickets_cancelled")).toBe(0);

    const tooMuch = await refundOf(order.organizer, { amount: 1201 }, order.orderId);
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body).toMatchObject({
      code: "amount_too_high",
      amount: ["At most KES 1200 can be refunded."],
      error: "At most KES 1200 can be refunded.",
    });
    // The rest, by default, is a full refund: it takes refundable to 0 and cancels the ticket.
    const rest = await refundOf(order.organizer, {}, order.orderId);
    expect(rest.body).toMatchObject({ amount: 1200, full: true });
    expect(await ticketStatuses(order.orderId)).toEqual(["CANCELLED"]);
    const verify = await new TestClient().get(`/api/pay/verify/${order.reference}/`);
    expect(verify.body).toMatchObject({ status: "FAILED", reason: "refund_pending", amount_refunded: 0 });
  });

  it("a per-ticket refund cancels those tickets only and defaults to their price", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 500, quantity: 3, allocation: 3 });
    const [first, second, third] = order.ticketIds;
    const res = await refundOf(order.organizer, { ticket_ids: [second] }, order.orderId);
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ amount: 500, full: false, ticket_ids: [second] });
    expect(await ticketStatuses(order.orderId)).toEqual(["ACTIVE", "CANCELLED", "ACTIVE"]);
    expect(await seatsOf(order.tierId)).toMatchObject({ sold: 2, available: 1 });

    // The same ticket again, or a ticket of another order: 400 ticket_ids, nothing recorded.
    const other = await paidOrder(world, { price: 500 });
    for (const ids of [[second], [other.ticketIds[0]], [first, crypto.randomUUID()], ["not-a-uuid"]]) {
      const bad = await refundOf(order.organizer, { ticket_ids: ids }, order.orderId);
      expect(bad.status, bad.text).toBe(400);
      expect(bad.body).toHaveProperty("ticket_ids");
      expect(bad.body).toHaveProperty("code");
    }
    expect(await refundCount(order.orderId)).toBe(1);
    const verify = await new TestClient().get<{ ticket_ids: string[]; status: string }>(
      `/api/pay/verify/${order.reference}/`,
    );
    expect(verify.body.status).toBe("COMPLETED");
    expect(verify.body.ticket_ids).toEqual([first, third]);
  });

  it("refuses bad amounts with 400 and records nothing", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1500 });
    const cases: Array<[unknown, string]> = [
      [0, "validation_error"],
      [-5, "validation_error"],
      ["-5", "validation_error"],
      [12.5, "validation_error"],
      ["12.50", "validation_error"],
      ["abc", "validation_error"],
      [true, "validation_error"],
      [1501, "amount_too_high"],
      [10_000_000, "validation_error"],
    ];
    for (const [amount, code] of cases) {
      const res = await refundOf(order.organizer, { amount }, order.orderId);
      expect(res.status, `${JSON.stringify(amount)} → ${res.text}`).toBe(400);
      expect(res.body).toMatchObject({ code });
      expect(res.body).toHaveProperty("amount");
      expect(res.body).toHaveProperty("error");
    }
    const longReason = await refundOf(order.organizer, { reason: "x".repeat(201) }, order.orderId);
    expect(longReason.status).toBe(400);
    expect(await refundCount(order.orderId)).toBe(0);
    expect(await ticketStatuses(order.orderId)).toEqual(["ACTIVE"]);
  });

  it("an unpaid order is not refundable; another organizer's order is 404; a scanner is 403", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 900 });
    const pending = await order.buyer.post<Initiated>("/api/pay/initiate/", {
      tier_id: order.tierId,
      phone_number: "0711222333",
    });
    expect(pending.status).toBe(202);
    const unpaid = await refundOf(order.organizer, {}, pending.body.order_id);
    expect(unpaid.status).toBe(400);
    expect(unpaid.body).toMatchObject({ code: "not_refundable", error: "Only paid orders can be refunded." });

    const stranger = new TestClient(world.darajaVars);
    await registerUser(stranger, { role: "ORGANIZER" });
    const theirs = await refundOf(stranger, {}, order.orderId);
    expect(theirs.status).toBe(404);
    expect(theirs.body).toHaveProperty("code");
    const unknown = await refundOf(order.organizer, {}, crypto.randomUUID());
    expect(unknown.status).toBe(404);

    const gate = await scannerOf(order.organizerId);
    expect((await refundOf(gate, {}, order.orderId)).status).toBe(403);
    expect((await refundOf(order.buyer, {}, order.orderId)).status).toBe(403);
    expect(await refundCount(order.orderId)).toBe(0);
  });

  it("B2C not configured against real Daraja: 503 refunds_unavailable, nothing recorded", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 900 });
    const noB2C = new TestClient({
      ...DARAJA,
      MPESA_SECURITY_CREDENTIAL: "",
      DELIVERY_QUEUE: world.recording.queue,
    } as never);
    noB2C.cookies.clear();
    for (const [k, v] of order.organizer.cookies) noB2C.cookies.set(k, v);
    const res = await refundOf(noB2C, {}, order.orderId);
    expect(res.status, res.text).toBe(503);
    expect(res.body).toMatchObject({ code: "refunds_unavailable" });
    expect(await refundCount(order.orderId)).toBe(0);
    expect(await ticketStatuses(order.orderId)).toEqual(["ACTIVE"]);
  });

  it("30 concurrent refunds of 100 on a 1000 order: exactly 10 fit, the rest are amount_too_high", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1000 });
    const answers = await Promise.all(
      Array.from({ length: 30 }, () => refundOf(order.organizer, { amount: 100 }, order.orderId)),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 202)).toHaveLength(10);
    expect(statuses.filter((s) => s === 400)).toHaveLength(20);
    for (const a of answers.filter((x) => x.status === 400)) expect(a.body.code).toBe("amount_too_high");
    const sum = await env.DB.prepare(
      'SELECT SUM(amount) AS s, SUM("full") AS f FROM refunds WHERE order_id = ?',
    )
      .bind(order.orderId)
      .first<{ s: number; f: number }>();
    expect(sum).toEqual({ s: 1000, f: 1 });
    expect(await ticketStatuses(order.orderId)).toEqual(["CANCELLED"]);
  });

  it("24 concurrent full refunds: one wins", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 800, quantity: 2 });
    const answers = await Promise.all(
      Array.from({ length: 24 }, () => refundOf(order.organizer, {}, order.orderId)),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(23);
    expect(await refundCount(order.orderId)).toBe(1);
    expect((await seatsOf(order.tierId)).sold).toBe(0);
  });

  it("retry and resolve only from FAILED; ABANDONED frees the amount, MANUAL completes it", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1000 });
    const res = await refundOf(order.organizer, { amount: 600 }, order.orderId);
    const id = res.body.id;
    const retry = () => order.organizer.post(`/api/organizer/refunds/${id}/retry/`);
    const resolve = (body: unknown) => order.organizer.post(`/api/organizer/refunds/${id}/resolve/`, body);
    expect((await retry()).body).toMatchObject({ code: "invalid_state" });
    expect((await resolve({ resolution: "MANUAL" })).status).toBe(409);
    expect((await resolve({ resolution: "LATER" })).status).toBe(400);

    await world.drain();
    const [attempt] = await attemptsOf(id);
    const failure = await b2cCallback(attempt?.id ?? "", "failure");
    await new TestClient().post(RESULT_PATH, failure.body);
    expect(await refundRow(id)).toMatchObject({ status: "FAILED", failure_code: "2001" });

    // Abandoned: its 600 is free again.
    expect((await refundOf(order.organizer, { amount: 401 }, order.orderId)).status).toBe(400);
    const abandoned = await resolve({ resolution: "ABANDONED", note: "buyer unreachable" });
    expect(abandoned.status, abandoned.text).toBe(200);
    expect(abandoned.body).toMatchObject({ status: "FAILED", resolution: "ABANDONED" });
    expect((await retry()).status).toBe(409);
    expect((await resolve({ resolution: "MANUAL" })).status).toBe(409);
    const second = await refundOf(order.organizer, { amount: 1000 }, order.orderId);
    expect(second.status, second.text).toBe(202);

    // A FAILED one retried goes out again with a new attempt; MANUAL settles another.
    await world.drain();
    const [secondAttempt] = await attemptsOf(second.body.id);
    await new TestClient().post(RESULT_PATH, (await b2cCallback(secondAttempt?.id ?? "", "failure")).body);
    const again = await order.organizer.post(`/api/organizer/refunds/${second.body.id}/retry/`);
    expect(again.status, again.text).toBe(202);
    expect(again.body).toMatchObject({ status: "PENDING" });
    await world.drain();
    const attempts = await attemptsOf(second.body.id);
    expect(attempts).toHaveLength(2);
    expect(new Set(attempts.map((a) => a.id)).size).toBe(2);
    await new TestClient().post(RESULT_PATH, (await b2cCallback(attempts[1]?.id ?? "", "failure")).body);
    const manual = await order.organizer.post(`/api/organizer/refunds/${second.body.id}/resolve/`, {
      resolution: "MANUAL",
      mpesa_receipt: "QWE123RTY9",
    });
    expect(manual.body).toMatchObject({
      status: "COMPLETED",
      resolution: "MANUAL",
      mpesa_receipt: "QWE123RTY9",
    });
    expect(await mailsOf(order.orderId, "refund_completed")).toBe(1);

    const list = await order.organizer.get<{ count: number; results: Array<{ id: string }> }>(
      `/api/organizer/events/${order.eventId}/refunds/?status=COMPLETED`,
    );
    expect(list.body.count).toBe(1);
    expect(list.body.results[0]?.id).toBe(second.body.id);
  });
});
