/**
 * `Idempotency-Key` on the organizer's refund (contract v3 §13.2, §4 semantics, the same
 * table as initiate/): the same key and body answer the first refund and record nothing more,
 * also when replays race; another body or order is a 422; a refusal frees the key.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { registerUser } from "./helpers/accounts";
import { TestClient } from "./helpers/client";
import { type PaidOrder, paidOrder, refundWorld } from "./helpers/refunds";

function refundWithKey(
  order: PaidOrder,
  key: string,
  body: Record<string, unknown>,
  orderId = order.orderId,
) {
  return order.organizer.post<Record<string, unknown>>(`/api/organizer/orders/${orderId}/refund/`, body, {
    headers: { "Idempotency-Key": key },
  });
}

async function refundsOf(orderId: string): Promise<Array<{ id: string; amount: number }>> {
  const rows = await env.DB.prepare("SELECT id, amount FROM refunds WHERE order_id = ?")
    .bind(orderId)
    .all<{ id: string; amount: number }>();
  return rows.results;
}

describe("POST /api/organizer/orders/{id}/refund/ with Idempotency-Key", () => {
  it("answers a replay with the first refund, byte for byte, and records one", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1000 });
    const key = crypto.randomUUID();
    const first = await refundWithKey(order, key, { amount: 300, reason: "Late start" });
    expect(first.status, first.text).toBe(202);
    // The same request, spelt differently (amount as a string), is the same request.
    const replay = await refundWithKey(order, key, { amount: "300", reason: "Late start" });
    expect(replay.status, replay.text).toBe(202);
    expect(replay.text).toBe(first.text);
    expect(await refundsOf(order.orderId)).toEqual([{ id: first.body.id, amount: 300 }]);

    // Once the refund has moved on (sent to Daraja), a replay still answers what was answered.
    await world.drain();
    const now = await order.organizer.get<{ status: string }>(`/api/organizer/refunds/${first.body.id}/`);
    expect(now.body.status).toBe("SENT");
    const later = await refundWithKey(order, key, { amount: 300, reason: "Late start" });
    expect(later.status).toBe(202);
    expect(later.text).toBe(first.text);
    expect(await refundsOf(order.orderId)).toHaveLength(1);
    // Without a key, the same body is a new refund.
    expect(
      (await order.organizer.post(`/api/organizer/orders/${order.orderId}/refund/`, { amount: 300 })).status,
    ).toBe(202);
    expect(await refundsOf(order.orderId)).toHaveLength(2);
  });

  it("replays a full refund that emptied the order instead of answering 'nothing left'", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 700, quantity: 2 });
    const key = crypto.randomUUID();
    const first = await refundWithKey(order, key, {});
    expect(first.status, first.text).toBe(202);
    expect(first.body).toMatchObject({ amount: 1400, full: true });
    const replay = await refundWithKey(order, key, {});
    expect(replay.status, replay.text).toBe(202);
    expect(replay.text).toBe(first.text);
    // Another key is another request: nothing is left.
    const other = await refundWithKey(order, crypto.randomUUID(), {});
    expect(other.status).toBe(400);
    expect(other.body).toMatchObject({ code: "amount_too_high" });
  });

  it("refuses the same key with another body or another order (422) and records nothing", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1000, quantity: 2 });
    const second = await paidOrder(world, {
      price: 1000,
      organizer: { client: order.organizer, id: order.organizerId },
    });
    const key = crypto.randomUUID();
    expect((await refundWithKey(order, key, { amount: 100 })).status).toBe(202);
    const variants: Array<[Record<string, unknown>, string]> = [
      [{ amount: 200 }, order.orderId],
      [{ amount: 100, reason: "Another reason" }, order.orderId],
      [{ ticket_ids: [order.ticketIds[0]] }, order.orderId],
      [{ amount: 100 }, second.orderId],
    ];
    for (const [body, orderId] of variants) {
      const res = await refundWithKey(order, key, body, orderId);
      expect(res.status, `${JSON.stringify(body)} → ${res.text}`).toBe(422);
      expect(res.body).toMatchObject({
        code: "idempotency_conflict",
        error: "This Idempotency-Key was already used with a different request.",
      });
    }
    expect(await refundsOf(order.orderId)).toHaveLength(1);
    expect(await refundsOf(second.orderId)).toHaveLength(0);
    const statuses = await env.DB.prepare("SELECT status FROM tickets WHERE order_id = ?")
      .bind(order.orderId)
      .all<{ status: string }>();
    expect(statuses.results.every((t) => t.status === "ACTIVE")).toBe(true);
  });

  it("16 parallel replays of one key record exactly one refund; each answer is it or 409 in progress", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 500, quantity: 3 });
    const key = crypto.randomUUID();
    const body = { ticket_ids: [order.ticketIds[1]], reason: "Cannot attend" };
    const answers = await Promise.all(Array.from({ length: 16 }, () => refundWithKey(order, key, body)));
    const accepted = answers.filter((a) => a.status === 202);
    const busy = answers.filter((a) => a.status !== 202);
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(accepted.map((a) => a.text)).size).toBe(1);
    for (const a of busy) {
      expect(a.status, a.text).toBe(409);
      expect(a.body).toMatchObject({ code: "conflict" });
    }
    const recorded = await refundsOf(order.orderId);
    expect(recorded).toEqual([{ id: accepted[0]?.body.id, amount: 500 }]);
    // The race is over: the key now replays for everyone.
    const again = await refundWithKey(order, key, body);
    expect(again.status).toBe(202);
    expect(again.text).toBe(accepted[0]?.text);
    expect(world.takeRefundJobs()).toHaveLength(1);
  });

  it("16 parallel requests with 16 keys for 100 each on a 1000 order: 10 recorded, and their replays agree", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1000 });
    const keys = Array.from({ length: 16 }, () => crypto.randomUUID());
    const answers = await Promise.all(keys.map((k) => refundWithKey(order, k, { amount: 100 })));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(10);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(6);
    const replays = await Promise.all(keys.map((k) => refundWithKey(order, k, { amount: 100 })));
    for (const [i, replay] of replays.entries()) {
      const first = answers[i];
      // Accepted ones replay their refund; refused ones freed their key and are refused again.
      if (first?.status === 202) expect(replay.text).toBe(first.text);
      else expect(replay.body).toMatchObject({ code: "amount_too_high" });
    }
    expect(await refundsOf(order.orderId)).toHaveLength(10);
  });

  it("a refusal frees the key: the same key may then ask for something else", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1000 });
    const key = crypto.randomUUID();
    const tooMuch = await refundWithKey(order, key, { amount: 5000 });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body).toMatchObject({ code: "amount_too_high" });
    const fixed = await refundWithKey(order, key, { amount: 400 });
    expect(fixed.status, fixed.text).toBe(202);
    expect(await refundsOf(order.orderId)).toHaveLength(1);
  });

  it("keys are each organizer's own, and a blank or over-long key is 400 with nothing recorded", async () => {
    const world = refundWorld();
    const mine = await paidOrder(world, { price: 1000 });
    const theirs = await paidOrder(world, { price: 1000 });
    const key = crypto.randomUUID();
    expect((await refundWithKey(mine, key, { amount: 100 })).status).toBe(202);
    const other = await refundWithKey(theirs, key, { amount: 100 });
    expect(other.status, other.text).toBe(202);
    expect(other.body.order_id).toBe(theirs.orderId);
    // Another organizer's order with a key is still 404, whatever the key.
    expect((await refundWithKey(theirs, key, { amount: 100 }, mine.orderId)).status).toBe(404);

    for (const bad of [" ", "k".repeat(256)]) {
      const res = await refundWithKey(mine, bad, { amount: 100 });
      expect(res.status, res.text).toBe(400);
      expect(res.body).toHaveProperty("Idempotency-Key");
      expect(res.body).toHaveProperty("code");
    }
    expect(await refundsOf(mine.orderId)).toHaveLength(1);
    const stranger = new TestClient(world.darajaVars);
    await registerUser(stranger);
    expect((await refundWithKey({ ...mine, organizer: stranger }, key, { amount: 100 })).status).toBe(403);
  });
});
