/**
 * Issue 15 part 3: initiate names the order in Daraja's CallBackURL and records the
 * CheckoutRequestID after answering the fan, so the callback must settle the order it names
 * even before that write lands, and must never let a URL settle an order that belongs to
 * another push.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { networkFakes } from "./fakes/network";
import { registerUser } from "./helpers/accounts";
import { CALLBACK_PATH, DARAJA, eventWithTiers, type Initiated, seatsOf } from "./helpers/checkout";
import { TestClient } from "./helpers/client";

async function pendingOrder(price = 1200, quantity = 2) {
  const { tiers } = await eventWithTiers([{ name: "Regular", price, quantity_allocated: 10 }]);
  const tierId = tiers[0]?.id ?? "";
  const client = new TestClient(DARAJA);
  await registerUser(client);
  const res = await client.post<Initiated>("/api/pay/initiate/", {
    tier_id: tierId,
    phone_number: "0712345678",
    quantity,
  });
  expect(res.status, res.text).toBe(202);
  return { client, tierId, initiated: res.body };
}

function orderRow(id: string) {
  return env.DB.prepare("SELECT status, checkout_request_id, mpesa_receipt_number FROM orders WHERE id = ?")
    .bind(id)
    .first<{ status: string; checkout_request_id: string | null; mpesa_receipt_number: string | null }>();
}

function ticketCount(orderId: string) {
  return env.DB.prepare("SELECT COUNT(*) AS n FROM tickets WHERE order_id = ?")
    .bind(orderId)
    .first<{ n: number }>()
    .then((row) => row?.n ?? 0);
}

function post(path: string, body: unknown) {
  return new TestClient(DARAJA).post(path, body);
}

describe("Daraja's callback at the order's own URL", () => {
  it("is the URL initiate gives Daraja", async () => {
    const { initiated } = await pendingOrder();
    expect(networkFakes.daraja.callbackPathFor(initiated.checkout_request_id)).toBe(
      `${CALLBACK_PATH}${initiated.order_id}/`,
    );
  });

  it("settles the order it names before initiate's CheckoutRequestID write landed, and records it", async () => {
    const { initiated, tierId } = await pendingOrder(1200, 2);
    // As if the write after the answer had not happened yet.
    await env.DB.prepare("UPDATE orders SET checkout_request_id = NULL WHERE id = ?")
      .bind(initiated.order_id)
      .run();
    const body = networkFakes.daraja.callbackFor(initiated.checkout_request_id, {
      resultCode: 0,
      amount: 2400,
    });
    const res = await post(`${CALLBACK_PATH}${initiated.order_id}/`, body);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });
    const row = await orderRow(initiated.order_id);
    expect(row?.status).toBe("COMPLETED");
    expect(row?.checkout_request_id).toBe(initiated.checkout_request_id);
    expect(await ticketCount(initiated.order_id)).toBe(2);
    expect((await seatsOf(tierId)).sold).toBe(2);

    // The same callback again, at either URL: nothing more.
    await post(`${CALLBACK_PATH}${initiated.order_id}/`, body);
    await post(CALLBACK_PATH, body);
    expect(await ticketCount(initiated.order_id)).toBe(2);
    expect((await seatsOf(tierId)).sold).toBe(2);
  });

  it("never settles a named order for another push: a URL naming order A with B's result settles B", async () => {
    const a = await pendingOrder(1000, 1);
    const b = await pendingOrder(1000, 1);
    const body = networkFakes.daraja.callbackFor(b.initiated.checkout_request_id, {
      resultCode: 0,
      amount: 1000,
    });
    const res = await post(`${CALLBACK_PATH}${a.initiated.order_id}/`, body);
    expect(res.status, res.text).toBe(200);
    expect((await orderRow(a.initiated.order_id))?.status).toBe("PENDING");
    expect((await orderRow(b.initiated.order_id))?.status).toBe("COMPLETED");
    expect(await ticketCount(a.initiated.order_id)).toBe(0);
  });

  it("answers an unknown or malformed order id by the CheckoutRequestID, and a failure at the named URL fails only that order", async () => {
    const { initiated, tierId } = await pendingOrder(1000, 1);
    const unknown = networkFakes.daraja.callbackFor("ws_CO_000000000000000000", {
      resultCode: 0,
      amount: 1000,
    });
    for (const id of ["not-a-uuid", crypto.randomUUID(), "%27%20OR%201%3D1"]) {
      const res = await post(`${CALLBACK_PATH}${id}/`, unknown);
      expect(res.status, res.text).toBe(200);
    }
    expect((await orderRow(initiated.order_id))?.status).toBe("PENDING");

    const cancelled = networkFakes.daraja.callbackFor(initiated.checkout_request_id, { resultCode: 1032 });
    const res = await post(`${CALLBACK_PATH}${initiated.order_id}/`, cancelled);
    expect(res.status, res.text).toBe(200);
    expect((await orderRow(initiated.order_id))?.status).toBe("FAILED");
    expect((await seatsOf(tierId)).held).toBe(0);
    // A success after the failure (out of order) is a late payment: the seats are still free.
    const late = networkFakes.daraja.callbackFor(initiated.checkout_request_id, {
      resultCode: 0,
      amount: 1000,
    });
    await post(`${CALLBACK_PATH}${initiated.order_id}/`, late);
    expect((await orderRow(initiated.order_id))?.status).toBe("COMPLETED");
    expect(await ticketCount(initiated.order_id)).toBe(1);
  });

  it("refuses a wrong token at the named URL with 404 and changes nothing", async () => {
    const { initiated } = await pendingOrder(1000, 1);
    const body = networkFakes.daraja.callbackFor(initiated.checkout_request_id, {
      resultCode: 0,
      amount: 1000,
    });
    const res = await post(`/api/pay/callback/guessed-token/${initiated.order_id}/`, body);
    expect(res.status).toBe(404);
    expect((await orderRow(initiated.order_id))?.status).toBe("PENDING");
  });

  it("settles one order once under 10 parallel copies of its callback at its URL", async () => {
    const { initiated, tierId } = await pendingOrder(1500, 3);
    const body = networkFakes.daraja.callbackFor(initiated.checkout_request_id, {
      resultCode: 0,
      amount: 4500,
    });
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => post(`${CALLBACK_PATH}${initiated.order_id}/`, body)),
    );
    expect(answers.every((r) => r.status === 200)).toBe(true);
    expect(await ticketCount(initiated.order_id)).toBe(3);
    expect((await seatsOf(tierId)).sold).toBe(3);
  });
});
