import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { EditEventSchema } from "../src/http/views/event";
import { PaymentInitiatedSchema } from "../src/http/views/payment";
import { createDarajaClient } from "../src/integrations/mpesa/daraja";
import { runScheduled } from "../src/scheduled";
import { networkFakes } from "./fakes/network";
import { countRows, registerUser } from "./helpers/accounts";
import { TestClient, uniqueName } from "./helpers/client";
import { servicesFor } from "./helpers/services";

const DAY = 24 * 60 * 60 * 1000;
const DARAJA = {
  MPESA_CONSUMER_KEY: "test-consumer-key",
  MPESA_CONSUMER_SECRET: "test-consumer-secret",
} as const;
const CALLBACK_PATH = "/api/pay/callback/test-callback-token-0123456789abcdef/";

function fakeDaraja() {
  const fake = networkFakes.daraja;
  return createDarajaClient({
    baseUrl: "https://sandbox.safaricom.co.ke",
    shortcode: fake.shortcode,
    passkey: fake.passkey,
    consumerKey: fake.consumerKey,
    consumerSecret: fake.consumerSecret,
  });
}

/** Run the cron as if `minutesLater` had passed (the holds have lapsed by then). */
function runCron(minutesLater = 6) {
  return runScheduled(
    servicesFor({ ...env, ...DARAJA } as Env, { daraja: fakeDaraja() }),
    Date.now() + minutesLater * 60 * 1000,
  );
}

async function pendingOrder(price = 1000, allocation = 5) {
  const organizer = new TestClient(DARAJA);
  await registerUser(organizer, { role: "ORGANIZER" });
  const start = Date.now() + 5 * DAY;
  const event = await organizer.post(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Settle "),
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 3 * 60 * 60 * 1000).toISOString(),
      tiers: [{ name: "Regular", price, quantity_allocated: allocation }],
    },
    { schema: EditEventSchema },
  );
  const buyer = new TestClient(DARAJA);
  await registerUser(buyer);
  const init = await buyer.post(
    "/api/pay/initiate/",
    {
      tier_id: event.body.tiers[0]?.id,
      phone_number: "0712345678",
    },
    { schema: PaymentInitiatedSchema },
  );
  expect(init.status, init.text).toBe(202);
  return { ...init.body, tierId: event.body.tiers[0]?.id ?? "" };
}

async function orderRow(id: string) {
  return env.DB.prepare("SELECT status, failure_reason, query_attempts FROM orders WHERE id = ?")
    .bind(id)
    .first<{ status: string; failure_reason: string | null; query_attempts: number }>();
}

describe("settlement of orders whose callback never came", () => {
  it("completes a paid order found by STK query, issuing its tickets", async () => {
    const order = await pendingOrder();
    networkFakes.daraja.queryAnswers.set(order.checkout_request_id, { resultCode: 0 });
    const results = await runCron();
    expect(results.settlement_completed).toBeGreaterThanOrEqual(1);
    expect(await orderRow(order.order_id)).toMatchObject({ status: "COMPLETED" });
    expect(await countRows("tickets", "order_id = ?", order.order_id)).toBe(1);
    const query = networkFakes.daraja.queryRequests.find(
      (r) => r.body?.CheckoutRequestID === order.checkout_request_id,
    );
    expect(query?.body).toMatchObject({
      BusinessShortCode: "174379",
      CheckoutRequestID: order.checkout_request_id,
    });

    // The callback arriving afterwards is a duplicate: nothing more is issued.
    const late = await new TestClient().post(
      CALLBACK_PATH,
      networkFakes.daraja.callbackFor(order.checkout_request_id, { resultCode: 0 }),
    );
    expect(late.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });
    expect(await countRows("tickets", "order_id = ?", order.order_id)).toBe(1);
  });

  it("keeps asking, less often, while Daraja says the transaction is being processed", async () => {
    const order = await pendingOrder();
    networkFakes.daraja.queryAnswers.set(order.checkout_request_id, "pending");
    await runCron(6);
    expect(await orderRow(order.order_id)).toMatchObject({ status: "PENDING", query_attempts: 1 });
    // Asked again only once the backoff has passed.
    await runCron(6.5);
    expect(await orderRow(order.order_id)).toMatchObject({ query_attempts: 1 });
    await runCron(9);
    expect(await orderRow(order.order_id)).toMatchObject({ status: "PENDING", query_attempts: 2 });
  });

  it("fails a timed-out push (1037) and gives the seats back", async () => {
    const order = await pendingOrder(500, 1);
    networkFakes.daraja.queryAnswers.set(order.checkout_request_id, { resultCode: 1037 });
    await runCron();
    expect(await orderRow(order.order_id)).toMatchObject({ status: "FAILED", failure_reason: "timeout" });
    const tier = await env.DB.prepare("SELECT quantity_held FROM tiers WHERE id = ?")
      .bind(order.tierId)
      .first();
    expect(tier).toEqual({ quantity_held: 0 });
  });

  it("survives Daraja being down: the order stays pending and is retried", async () => {
    const order = await pendingOrder();
    networkFakes.daraja.failNextQuery(503);
    const results = await runCron();
    expect(results.settlement_errors).toBeGreaterThanOrEqual(1);
    expect(await orderRow(order.order_id)).toMatchObject({ status: "PENDING", query_attempts: 1 });
  });
});

describe("a payment for a push we thought had failed", () => {
  it("is matched to the failed order by phone and amount instead of being lost", async () => {
    const organizer = new TestClient(DARAJA);
    await registerUser(organizer, { role: "ORGANIZER" });
    const start = Date.now() + 5 * DAY;
    const event = await organizer.post(
      "/api/organizer/events/create/",
      {
        title: uniqueName("Orphan "),
        start_datetime: new Date(start).toISOString(),
        end_datetime: new Date(start + 3 * 60 * 60 * 1000).toISOString(),
        tiers: [{ name: "Regular", price: 1234, quantity_allocated: 5 }],
      },
      { schema: EditEventSchema },
    );
    const buyer = new TestClient(DARAJA);
    await registerUser(buyer);
    networkFakes.daraja.failNextPush(503);
    const failed = await buyer.post("/api/pay/initiate/", {
      tier_id: event.body.tiers[0]?.id,
      phone_number: "0733111222",
    });
    expect(failed.status).toBe(503);

    // Daraja had in fact sent the push; the customer paid; the callback names an ID we never saw.
    const orphan = `ws_CO_${Date.now()}${Math.floor(Math.random() * 1e6)}`;
    const callback = networkFakes.daraja.callbackFor(orphan, {
      resultCode: 0,
      amount: 1234,
      phoneNumber: "254733111222",
    });
    const res = await new TestClient().post(CALLBACK_PATH, callback);
    expect(res.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });
    const order = await env.DB.prepare("SELECT id, status FROM orders WHERE checkout_request_id = ?")
      .bind(orphan)
      .first<{ id: string; status: string }>();
    expect(order?.status).toBe("COMPLETED");
    expect(await countRows("tickets", "order_id = ?", order?.id)).toBe(1);
  });

  it("also settles an order left PENDING without its CheckoutRequestID (the Worker died mid-request)", async () => {
    const order = await pendingOrder(4321);
    await env.DB.prepare("UPDATE orders SET checkout_request_id = NULL WHERE id = ?")
      .bind(order.order_id)
      .run();
    const orphan = `ws_CO_${Date.now()}${Math.floor(Math.random() * 1e6)}`;
    const callback = networkFakes.daraja.callbackFor(orphan, {
      resultCode: 0,
      amount: 4321,
      phoneNumber: "254712345678",
    });
    const res = await new TestClient().post(CALLBACK_PATH, callback);
    expect(res.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });
    expect(await orderRow(order.order_id)).toMatchObject({ status: "COMPLETED" });
    expect(await countRows("tickets", "order_id = ?", order.order_id)).toBe(1);
  });
});
