import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { compactVerify, importJWK } from "jose";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { createDb } from "../src/db/client";
import { orders } from "../src/db/schema";
import { pageSchema } from "../src/http/pagination";
import { EditEventSchema } from "../src/http/views/event";
import {
  BookingConfirmedSchema,
  type PaymentInitiatedSchema,
  PaymentStatusSchema,
} from "../src/http/views/payment";
import { TicketSchema } from "../src/http/views/ticket";
import { loadTicketKey } from "../src/lib/ticket-signing";
import { settleOrder } from "../src/services/settlement";
import { networkFakes } from "./fakes/network";
import { countRows, latestLink, registerUser } from "./helpers/accounts";
import { type Body, type OpenApiDocument, TestClient, uniqueName } from "./helpers/client";

const DAY = 24 * 60 * 60 * 1000;
/** Real Daraja (the fake at the network edge) instead of the local simulator. */
const DARAJA = {
  MPESA_CONSUMER_KEY: "test-consumer-key",
  MPESA_CONSUMER_SECRET: "test-consumer-secret",
} as const;
const CALLBACK_PATH = "/api/pay/callback/test-callback-token-0123456789abcdef/";

/** The 202 of a paid tier; typed, not checked, because some calls expect other answers. */
type Initiated = Body<typeof PaymentInitiatedSchema>;
const WalletPage = pageSchema(TicketSchema);

async function eventWithTiers(
  tiers: Array<Record<string, unknown>>,
  overrides: Record<string, unknown> = {},
) {
  const organizer = new TestClient(DARAJA);
  const user = await registerUser(organizer, { role: "ORGANIZER" });
  const start = Date.now() + 7 * DAY;
  const res = await organizer.post(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Gig "),
      category: "CONCERT",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 4 * 60 * 60 * 1000).toISOString(),
      tiers,
      ...overrides,
    },
    { schema: EditEventSchema },
  );
  expect(res.status, res.text).toBe(201);
  return { organizer, organizerUser: user, eventId: res.body.id, tiers: res.body.tiers };
}

async function buyer() {
  const client = new TestClient(DARAJA);
  const user = await registerUser(client);
  return { client, user };
}

async function tierCounts(tierId: string) {
  return env.DB.prepare("SELECT quantity_sold AS sold, quantity_held AS held FROM tiers WHERE id = ?")
    .bind(tierId)
    .first<{ sold: number; held: number }>();
}

function postCallback(body: unknown, path = CALLBACK_PATH) {
  return new TestClient(DARAJA).post(path, body);
}

describe("POST /api/pay/initiate/ (paid tiers)", () => {
  it("holds the seats and sends an STK push in Daraja's format", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 1500, quantity_allocated: 10 }]);
    const tier = tiers[0];
    const { client } = await buyer();
    const res = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tier?.id,
      phone_number: "0712 345 678",
      quantity: 2,
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ status: "Payment Initiated", amount: 3000 });
    expect(res.body.transaction_ref).toMatch(/^TS-[2-9A-Z]{8}$/);
    expect(res.body.expires_at).toMatch(/\+03:00$/);
    // The web client redirects to its own status page, which polls verify/.
    expect(res.body.authorization_url).toBe(
      `https://ticketsafi.test/payment/callback?reference=${res.body.transaction_ref}`,
    );

    const push = networkFakes.daraja.pushRequests.at(-1)?.body;
    expect(push).toMatchObject({
      BusinessShortCode: "174379",
      TransactionType: "CustomerPayBillOnline",
      Amount: 3000,
      PartyA: "254712345678",
      PartyB: "174379",
      PhoneNumber: "254712345678",
      // The URL names the order (issue 15 part 3: the callback finds it on the nearest copy).
      CallBackURL: `https://api.ticketsafi.test${CALLBACK_PATH}${res.body.order_id}/`,
      AccountReference: res.body.transaction_ref,
    });
    expect(await tierCounts(tier?.id ?? "")).toEqual({ sold: 0, held: 2 });
    const verify = await new TestClient().get(`/api/pay/verify/${res.body.transaction_ref}/`);
    expect(verify.body).toEqual({
      status: "PENDING",
      reference: res.body.transaction_ref,
      reason: null,
      ticket_ids: [],
      amount_refunded: 0,
    });
  });

  it("completes on Daraja's success callback: one signed ticket per seat, exactly once", async () => {
    const { tiers, eventId } = await eventWithTiers([
      { name: "Regular", price: 1000, quantity_allocated: 10 },
    ]);
    const tier = tiers[0];
    const { client, user } = await buyer();
    const init = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tier?.id,
      phone_number: "+254712345678",
      quantity: 3,
    });
    const callback = networkFakes.daraja.callbackFor(init.body.checkout_request_id, {
      resultCode: 0,
      receipt: "NLJ7RT61SV",
    });

    // Daraja retries: five identical callbacks at once, then a late duplicate.
    const answers = await Promise.all(Array.from({ length: 5 }, () => postCallback(callback)));
    for (const answer of answers) {
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });
    }
    expect((await postCallback(callback)).body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });

    expect(await countRows("tickets", "order_id = ?", init.body.order_id)).toBe(3);
    // Delivery runs on the queue (issue 5): one tickets email for the order, however many callbacks.
    await expect
      .poll(() => countRows("mail_log", "dedupe_key = ?", `order:${init.body.order_id}:tickets`), {
        timeout: 15_000,
      })
      .toBe(1);
    expect(await tierCounts(tier?.id ?? "")).toEqual({ sold: 3, held: 0 });
    const order = await env.DB.prepare("SELECT status, mpesa_receipt_number FROM orders WHERE id = ?")
      .bind(init.body.order_id)
      .first();
    expect(order).toEqual({ status: "COMPLETED", mpesa_receipt_number: "NLJ7RT61SV" });

    const verify = await new TestClient().get(`/api/pay/verify/${init.body.checkout_request_id}/`, {
      schema: PaymentStatusSchema,
    });
    expect(verify.body.status).toBe("COMPLETED");
    expect(verify.body.ticket_ids).toHaveLength(3);
    expect(JSON.stringify(verify.body)).not.toContain(user.email);

    // The QR code verifies with the public key alone and names ticket, event and tier.
    const wallet = await client.get("/api/tickets/", { schema: WalletPage });
    const ticket = wallet.body.results.find((t) => t.id === verify.body.ticket_ids[0]);
    expect(ticket?.event_id).toBe(eventId);
    const key = await loadTicketKey(env.TICKET_SIGNING_KEY ?? "");
    const { payload, protectedHeader } = await compactVerify(
      ticket?.qr_code_hash ?? "",
      await importJWK(key.publicJwk, "EdDSA"),
    );
    expect(protectedHeader).toMatchObject({ alg: "EdDSA", kid: key.kid });
    expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({
      t: ticket?.id,
      e: eventId,
      r: tier?.id,
    });
    expect(ticket?.qr_code_hash).not.toContain(user.email);
  });

  it("fails the order and frees the seats when the customer cancels (1032)", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 500, quantity_allocated: 2 }]);
    const tier = tiers[0];
    const { client } = await buyer();
    const init = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tier?.id,
      phone_number: "0712345678",
      quantity: 2,
    });
    expect(init.status).toBe(202);
    await postCallback(networkFakes.daraja.callbackFor(init.body.checkout_request_id, { resultCode: 1032 }));
    const verify = await new TestClient().get(`/api/pay/verify/${init.body.order_id}/`);
    expect(verify.body).toMatchObject({ status: "FAILED", reason: "cancelled_by_user", ticket_ids: [] });
    expect(await tierCounts(tier?.id ?? "")).toEqual({ sold: 0, held: 0 });
    const again = await client.post("/api/pay/initiate/", {
      tier_id: tier?.id,
      phone_number: "0712345678",
      quantity: 2,
    });
    expect(again.status).toBe(202);
  });

  it("flags a wrong amount for review and issues nothing", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 2000, quantity_allocated: 5 }]);
    const { client } = await buyer();
    const init = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    await postCallback(
      networkFakes.daraja.callbackFor(init.body.checkout_request_id, { resultCode: 0, amount: 1 }),
    );
    const verify = await new TestClient().get(`/api/pay/verify/${init.body.transaction_ref}/`);
    expect(verify.body).toMatchObject({ status: "FAILED", reason: "under_review", ticket_ids: [] });
    expect(await countRows("tickets", "order_id = ?", init.body.order_id)).toBe(0);
  });

  it("turns a payment after the hold lapsed, with the seats gone, into PAID_UNFULFILLED for refund", async () => {
    const { tiers } = await eventWithTiers([{ name: "Last seat", price: 800, quantity_allocated: 1 }]);
    const tier = tiers[0];
    const slow = await buyer();
    const late = await slow.client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tier?.id,
      phone_number: "0712345678",
    });
    // The hold lapses; someone else takes and pays for the seat.
    const stub = env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tier?.id}`));
    await runInDurableObject(stub, (_i, state) => {
      state.storage.sql.exec("UPDATE holds SET expires_at = ?", Date.now() - 1);
    });
    const fast = await buyer();
    const won = await fast.client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tier?.id,
      phone_number: "0722000111",
    });
    expect(won.status).toBe(202);
    await postCallback(networkFakes.daraja.callbackFor(won.body.checkout_request_id, { resultCode: 0 }));

    await postCallback(networkFakes.daraja.callbackFor(late.body.checkout_request_id, { resultCode: 0 }));
    const verify = await new TestClient().get(`/api/pay/verify/${late.body.transaction_ref}/`);
    expect(verify.body).toMatchObject({ status: "FAILED", reason: "refund_pending" });
    const order = await env.DB.prepare("SELECT status, refund_status FROM orders WHERE id = ?")
      .bind(late.body.order_id)
      .first();
    expect(order).toEqual({ status: "PAID_UNFULFILLED", refund_status: "PENDING" });
    expect(await tierCounts(tier?.id ?? "")).toEqual({ sold: 1, held: 0 });
  });

  it("answers Daraja failures with 503, releasing the hold", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 700, quantity_allocated: 3 }]);
    const tier = tiers[0];
    const { client } = await buyer();
    networkFakes.daraja.failNextPush(500, {
      requestId: "1",
      errorCode: "500.003.02",
      errorMessage: "System is busy",
    });
    const res = await client.post("/api/pay/initiate/", {
      tier_id: tier?.id,
      phone_number: "0712345678",
      quantity: 3,
    });
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      error: "Payment service unavailable.",
      detail: "Payment service unavailable.",
      code: "payment_gateway_error",
    });
    expect(await tierCounts(tier?.id ?? "")).toEqual({ sold: 0, held: 0 });
    const retry = await client.post("/api/pay/initiate/", {
      tier_id: tier?.id,
      phone_number: "0712345678",
      quantity: 3,
    });
    expect(retry.status).toBe(202);
  });
});

describe("POST /api/pay/initiate/ (free tiers, guests, refusals)", () => {
  it("books a free tier at once with tickets, without calling M-Pesa", async () => {
    const { tiers } = await eventWithTiers([{ name: "Free", price: 0, quantity_allocated: 5 }]);
    const { client } = await buyer();
    const pushesBefore = networkFakes.daraja.pushRequests.length;
    const res = await client.post(
      "/api/pay/initiate/",
      { tier_id: tiers[0]?.id, phone_number: "0712345678", quantity: 2 },
      { schema: BookingConfirmedSchema },
    );
    expect(res.status, res.text).toBe(201);
    expect(res.body.status).toBe("Booking Confirmed");
    expect(res.body.transaction_ref).toMatch(/^FREE-/);
    expect(res.body.ticket_ids).toHaveLength(2);
    expect(res.body.ticket_id).toBe(res.body.ticket_ids[0]);
    expect(res.body.quantity).toBe(2);
    expect(networkFakes.daraja.pushRequests.length).toBe(pushesBefore);
    expect((await client.get(`/api/tickets/${res.body.ticket_id}/`)).status).toBe(200);
  });

  it("lets a guest buy: a shadow user owns the tickets, visible after claiming the account", async () => {
    const { tiers } = await eventWithTiers([{ name: "Free", price: 0, quantity_allocated: 5 }]);
    const guest = new TestClient(DARAJA);
    const email = `${uniqueName("walkin")}@example.com`;
    const missing = await guest.post("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({
      email: ["This field is required."],
      name: ["This field is required."],
    });
    expect(missing.body.error).toBe(missing.body.detail);

    const res = await guest.post(
      "/api/pay/initiate/",
      { tier_id: tiers[0]?.id, phone_number: "0712345678", email, name: "Wanjiku Kamau" },
      { schema: BookingConfirmedSchema },
    );
    expect(res.status).toBe(201);
    const shadow = await env.DB.prepare("SELECT is_guest, first_name FROM users WHERE email = ?")
      .bind(email)
      .first();
    expect(shadow).toEqual({ is_guest: 1, first_name: "Wanjiku" });

    // The guest claims the account and finds the tickets in the wallet.
    const claimer = new TestClient();
    await claimer.post("/api/auth/registration/", {
      username: uniqueName("wanjiku"),
      email,
      password: "Correct-Horse-42",
    });
    const link = await latestLink(claimer, email, "activate");
    expect((await claimer.post("/api/auth/guest/activate/", link)).status).toBe(200);
    const wallet = await claimer.get("/api/tickets/", { schema: WalletPage });
    expect(wallet.body.count).toBe(1);
    expect(wallet.body.results[0]).toMatchObject({
      id: res.body.ticket_ids[0],
      attendee_name: "Wanjiku Kamau",
    });
  });

  it("puts a guest purchase with an existing account's email on that account", async () => {
    const { tiers } = await eventWithTiers([{ name: "Free", price: 0, quantity_allocated: 5 }]);
    const owner = await buyer();
    const res = await new TestClient(DARAJA).post(
      "/api/pay/initiate/",
      {
        tier_id: tiers[0]?.id,
        phone_number: "0712345678",
        email: owner.user.email.toUpperCase(),
        name: "Gift",
      },
      { schema: BookingConfirmedSchema },
    );
    expect(res.status).toBe(201);
    // Contract §4 step 2 (issue #11): the tickets are the account's once it proves the email.
    const before = await owner.client.get("/api/tickets/", { schema: WalletPage });
    expect(before.body.results.map((t) => t.id)).not.toContain(res.body.ticket_ids[0]);
    const verified = await owner.client.post(
      "/api/auth/guest/activate/",
      await latestLink(owner.client, owner.user.email, "activate"),
    );
    expect(verified.status).toBe(200);
    const wallet = await owner.client.get("/api/tickets/", { schema: WalletPage });
    expect(wallet.body.results.map((t) => t.id)).toContain(res.body.ticket_ids[0]);
  });

  it("answers sold out from the tier object alone, writing nothing", async () => {
    const { tiers } = await eventWithTiers([{ name: "Tiny", price: 100, quantity_allocated: 2 }]);
    const { client } = await buyer();
    expect(
      (
        await client.post("/api/pay/initiate/", {
          tier_id: tiers[0]?.id,
          phone_number: "0712345678",
          quantity: 2,
        })
      ).status,
    ).toBe(202);
    const orders = await countRows("orders");
    const users = await countRows("users");
    const guest = await new TestClient(DARAJA).post("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      // Another phone: the same phone would replace the first hold (contract §4.3).
      phone_number: "0722345678",
      email: `${uniqueName("late")}@example.com`,
      name: "Late Fan",
    });
    expect(guest.status).toBe(409);
    // Contract v3 §0: sold_out gains tier_id and tier_name; the single-tier message stays.
    expect(guest.body).toEqual({
      error: "Only 0 tickets are available.",
      detail: "Only 0 tickets are available.",
      code: "sold_out",
      available: 0,
      tier_id: tiers[0]?.id,
      tier_name: tiers[0]?.name,
    });
    expect(await countRows("orders")).toBe(orders);
    expect(await countRows("users")).toBe(users);
  });

  it("never oversells when many fans buy the same tier at once", async () => {
    const { tiers } = await eventWithTiers([{ name: "Flash", price: 100, quantity_allocated: 5 }]);
    const fans = await Promise.all(Array.from({ length: 12 }, () => buyer()));
    const results = await Promise.all(
      fans.map((fan, i) =>
        fan.client.post("/api/pay/initiate/", {
          tier_id: tiers[0]?.id,
          // One phone each: one phone's initiates replace each other's holds (contract §4.3).
          phone_number: `07123456${String(i).padStart(2, "0")}`,
          quantity: 1,
        }),
      ),
    );
    expect(results.filter((r) => r.status === 202)).toHaveLength(5);
    expect(results.filter((r) => r.status === 409)).toHaveLength(7);
    expect(await tierCounts(tiers[0]?.id ?? "")).toEqual({ sold: 0, held: 5 });
  });

  it.each([
    ["an invalid phone", { phone_number: "12345" }, 400, "invalid_phone"],
    ["quantity 0", { quantity: 0 }, 400, "validation_error"],
    ["quantity above max_per_order", { quantity: 5 }, 400, "validation_error"],
    ["an unknown tier", { tier_id: "00000000-0000-4000-8000-000000000000" }, 404, "not_found"],
    ["a malformed tier id", { tier_id: "x'; DROP TABLE orders;--" }, 404, "not_found"],
  ])("refuses %s with %i in the error+detail+code shape", async (_label, overrides, status, code) => {
    const { tiers } = await eventWithTiers([
      { name: "Regular", price: 100, quantity_allocated: 50, max_per_order: 4 },
    ]);
    const { client } = await buyer();
    const res = await client.post("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
      ...overrides,
    });
    expect(res.status, res.text).toBe(status);
    expect(res.body.code).toBe(code);
    expect(typeof res.body.error).toBe("string");
    expect(res.body.error).toBe(res.body.detail);
    expect(await countRows("orders", "tier_id = ?", tiers[0]?.id)).toBe(0);
  });

  it("refuses an organizer buying for their own event, and tiers not on sale", async () => {
    const { organizer, tiers } = await eventWithTiers([
      { name: "Now", price: 100, quantity_allocated: 5 },
      {
        name: "Later",
        price: 100,
        quantity_allocated: 5,
        sales_start: new Date(Date.now() + 2 * DAY).toISOString(),
      },
    ]);
    const own = await organizer.post("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    expect(own.status).toBe(403);
    const { client } = await buyer();
    const later = await client.post("/api/pay/initiate/", {
      tier_id: tiers[1]?.id,
      phone_number: "0712345678",
    });
    expect(later.status).toBe(400);
    expect(later.body.code).toBe("not_on_sale");
  });

  it("is 404 for a tier of a draft event", async () => {
    const { tiers } = await eventWithTiers([{ name: "Hidden", price: 100, quantity_allocated: 5 }], {
      is_published: false,
    });
    const { client } = await buyer();
    expect(
      (await client.post("/api/pay/initiate/", { tier_id: tiers[0]?.id, phone_number: "0712345678" })).status,
    ).toBe(404);
  });
});

describe("Idempotency-Key", () => {
  it("returns the first answer for the same key and body, charging once; another body is a 422", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 100, quantity_allocated: 10 }]);
    const { client } = await buyer();
    const key = crypto.randomUUID();
    const body = { tier_id: tiers[0]?.id, phone_number: "0712345678", quantity: 2 };
    const pushes = networkFakes.daraja.pushRequests.length;
    const first = await client.post<Initiated>("/api/pay/initiate/", body, {
      headers: { "idempotency-key": key },
    });
    const second = await client.post<Initiated>("/api/pay/initiate/", body, {
      headers: { "idempotency-key": key },
    });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.body).toEqual(first.body);
    expect(networkFakes.daraja.pushRequests.length).toBe(pushes + 1);
    expect(await tierCounts(tiers[0]?.id ?? "")).toEqual({ sold: 0, held: 2 });

    const other = await client.post(
      "/api/pay/initiate/",
      { ...body, quantity: 3 },
      { headers: { "idempotency-key": key } },
    );
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_conflict");
    expect(await tierCounts(tiers[0]?.id ?? "")).toEqual({ sold: 0, held: 2 });
  });
});

describe("Idempotency-Key replays", () => {
  it("answers a replay byte for byte like the first answer, paid or free", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Regular", price: 100, quantity_allocated: 10 },
      { name: "Free", price: 0, quantity_allocated: 10 },
    ]);
    const { client } = await buyer();
    for (const tier of tiers) {
      const key = crypto.randomUUID();
      const body = { tier_id: tier.id, phone_number: "0712345678", quantity: 2 };
      const first = await client.post("/api/pay/initiate/", body, { headers: { "idempotency-key": key } });
      const second = await client.post("/api/pay/initiate/", body, { headers: { "idempotency-key": key } });
      expect([201, 202], first.text).toContain(first.status);
      expect(second.status).toBe(first.status);
      expect(second.text).toBe(first.text);
    }
  });

  it("replays an answer stored in the earlier format (the HTTP body itself) unchanged", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 100, quantity_allocated: 10 }]);
    const { client } = await buyer();
    const key = crypto.randomUUID();
    const body = { tier_id: tiers[0]?.id, phone_number: "0712345678" };
    const first = await client.post("/api/pay/initiate/", body, { headers: { "idempotency-key": key } });
    expect(first.status, first.text).toBe(202);
    await env.DB.prepare("UPDATE idempotency_keys SET response_status = 202, response_body = ? WHERE key = ?")
      .bind(first.text, key)
      .run();
    const second = await client.post("/api/pay/initiate/", body, { headers: { "idempotency-key": key } });
    expect(second.status).toBe(202);
    expect(second.text).toBe(first.text);
  });
});

describe("API documentation of /api/pay/", () => {
  it("documents Daraja's callback with its request and response schemas", async () => {
    const res = await new TestClient().get<OpenApiDocument>("/api/schema/");
    const callback = res.body.paths?.["/api/pay/callback/{token}/"]?.post;
    expect(JSON.stringify(callback?.requestBody)).toContain("#/components/schemas/StkCallback");
    expect(JSON.stringify(callback?.responses?.["200"])).toContain(
      "#/components/schemas/StkCallbackAccepted",
    );
    for (const name of ["StkCallback", "PaymentInitiated", "BookingConfirmed", "PaymentStatus"]) {
      expect(res.body.components?.schemas?.[name], name).toBeDefined();
    }
  });
});

describe("POST /api/pay/callback/{token}/", () => {
  it("is 404 for a wrong token and changes nothing", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 100, quantity_allocated: 5 }]);
    const { client } = await buyer();
    const init = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    const forged = networkFakes.daraja.callbackFor(init.body.checkout_request_id, { resultCode: 0 });
    const res = await postCallback(forged, "/api/pay/callback/guessed-token/");
    expect(res.status).toBe(404);
    const order = await env.DB.prepare("SELECT status FROM orders WHERE id = ?")
      .bind(init.body.order_id)
      .first();
    expect(order).toEqual({ status: "PENDING" });
  });

  it("answers malformed bodies with 400 and unknown CheckoutRequestIDs with Daraja's acknowledgement", async () => {
    for (const body of [
      {},
      { Body: {} },
      { Body: { stkCallback: { CheckoutRequestID: "x", ResultCode: "abc" } } },
    ]) {
      const res = await postCallback(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.ResultCode).toBe(1);
    }
    const text = await new TestClient().request("POST", CALLBACK_PATH, {
      rawBody: "not json",
      headers: { "content-type": "application/json" },
    });
    expect(text.status).toBe(400);
    const unknown = await postCallback(
      networkFakes.daraja.callbackFor("ws_CO_000000000000000000000", { resultCode: 0, amount: 10 }),
    );
    expect(unknown.status).toBe(200);
    expect(unknown.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });
  });
});

describe("GET /api/pay/verify/{reference}/", () => {
  it("is 404 with the legacy body for an unknown reference", async () => {
    const res = await new TestClient().get("/api/pay/verify/TS-NOPE0000/");
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      error: "Payment not found",
      detail: "Payment not found",
      code: "payment_not_found",
    });
  });
});

describe("ticket wallet access", () => {
  it("shows a ticket to its owner, the event's organizer and their scanners, and 404 to anyone else", async () => {
    const { organizer, organizerUser, tiers } = await eventWithTiers([
      { name: "Free", price: 0, quantity_allocated: 5 },
    ]);
    const { client } = await buyer();
    const booked = await client.post(
      "/api/pay/initiate/",
      { tier_id: tiers[0]?.id, phone_number: "0712345678" },
      { schema: BookingConfirmedSchema },
    );
    const path = `/api/tickets/${booked.body.ticket_id}/`;
    const mine = await client.get(path);
    expect(mine.status).toBe(200);
    expect(Object.keys(mine.body).sort()).toEqual(
      [
        "id",
        "qr_code_hash",
        "status",
        "purchase_date",
        "attendee_name",
        "attendee_email",
        "event_id",
        "event_title",
        "event_image",
        "event_location",
        "event_start_date",
        "event_end_date",
        "organizer_name",
        "tier_name",
        "tier_price",
        // Contract v3 §0 (§5): a ticket gains price_paid.
        "price_paid",
        "checked_in_at",
        "png_url",
        // Issue #14: transfers.
        "transferable",
        "transfers_left",
      ].sort(),
    );
    expect(mine.body).toMatchObject({
      status: "ACTIVE",
      tier_price: 0,
      event_image: "",
      organizer_name: organizerUser.username,
    });
    expect((await organizer.get(path)).status).toBe(200);

    const scannerId = crypto.randomUUID();
    const scannerName = uniqueName("gate");
    await env.DB.prepare(
      "INSERT INTO users (id, username, email, role, organizer_id, password_hash) VALUES (?, ?, ?, 'SCANNER', ?, NULL)",
    )
      .bind(scannerId, scannerName, `${scannerName}@example.com`, organizerUser.id)
      .run();
    const other = await buyer();
    expect((await other.client.get(path)).status).toBe(404);
    expect((await new TestClient().get(path)).status).toBe(401);
    expect((await client.get("/api/tickets/not-a-uuid/")).status).toBe(404);
    expect(scannerId).toBeTruthy();
  });
});

describe("the local M-Pesa simulator, end to end", () => {
  // No MPESA_CONSUMER_KEY: Daraja calls go to the simulator, which calls back in-process.
  const SIMULATED = { MPESA_SIMULATOR_DELAY_MS: "0" } as const;

  it.each([
    ["0712345678", "COMPLETED", null],
    ["0708000001", "FAILED", "cancelled_by_user"],
    ["0708000002", "FAILED", "insufficient_funds"],
    ["0708000003", "PENDING", null],
  ])("settles a purchase from %s as %s", async (phone, status, reason) => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 1500, quantity_allocated: 5 }]);
    const fan = new TestClient(SIMULATED);
    await registerUser(fan);
    const init = await fan.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: phone,
    });
    expect(init.status, init.text).toBe(202);
    expect(init.body.checkout_request_id).toMatch(/^ws_CO_/);
    const verify = await new TestClient().get(`/api/pay/verify/${init.body.transaction_ref}/`, {
      schema: PaymentStatusSchema,
    });
    expect(verify.body.status).toBe(status);
    expect(verify.body.reason).toBe(reason);
    expect(verify.body.ticket_ids).toHaveLength(status === "COMPLETED" ? 1 : 0);
  });

  it("does not exist in production: no consumer key there fails closed with 503", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 1500, quantity_allocated: 5 }]);
    const fan = new TestClient({
      ENVIRONMENT: "production",
      JWT_SECRET: env.JWT_SECRET ?? "",
      MPESA_SHORTCODE: "600000",
    });
    await registerUser(fan);
    const init = await fan.post("/api/pay/initiate/", { tier_id: tiers[0]?.id, phone_number: "0712345678" });
    expect(init.status).toBe(503);
    expect(init.body.code).toBe("payment_gateway_error");
    expect(await tierCounts(tiers[0]?.id ?? "")).toEqual({ sold: 0, held: 0 });
  });
});

describe("large orders", () => {
  it("issues all ten tickets of a ten-seat order (more rows than one D1 statement can bind)", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Group", price: 0, quantity_allocated: 20, max_per_order: 10 },
    ]);
    const { client } = await buyer();
    const res = await client.post(
      "/api/pay/initiate/",
      { tier_id: tiers[0]?.id, phone_number: "0712345678", quantity: 10 },
      { schema: BookingConfirmedSchema },
    );
    expect(res.status, res.text).toBe(201);
    expect(res.body.ticket_ids).toHaveLength(10);
    expect(new Set(res.body.ticket_ids).size).toBe(10);
  });
});

describe("the purchase's few round trips stay correct", () => {
  it("gives parallel guest checkouts with one email (any case) one shadow user and its stored email", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 700, quantity_allocated: 10 }]);
    const email = `${uniqueName("Crowd")}@Example.com`;
    const answers = await Promise.all(
      [email, email.toLowerCase(), email.toUpperCase(), email, email.toLowerCase()].map((address) =>
        new TestClient(DARAJA).post<Initiated>("/api/pay/initiate/", {
          tier_id: tiers[0]?.id,
          phone_number: "0712345678",
          email: address,
          name: "Achieng Otieno",
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([202, 202, 202, 202, 202]);
    const users = await env.DB.prepare("SELECT id, email, is_guest FROM users WHERE lower(email) = ?")
      .bind(email.toLowerCase())
      .all<{ id: string; email: string; is_guest: number }>();
    expect(users.results).toHaveLength(1);
    const owners = await env.DB.prepare(
      `SELECT DISTINCT user_id, buyer_email, buyer_name FROM orders WHERE id IN (${answers.map(() => "?").join(",")})`,
    )
      .bind(...answers.map((a) => a.body.order_id))
      .all();
    expect(owners.results).toEqual([
      { user_id: users.results[0]?.id, buyer_email: users.results[0]?.email, buyer_name: "Achieng Otieno" },
    ]);
  });

  it("issues no tickets when another settlement moved the order to review first", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 900, quantity_allocated: 5 }]);
    const { client } = await buyer();
    const init = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
      quantity: 2,
    });
    expect(init.status).toBe(202);
    const db = createDb(env.DB);
    const stale = await db.query.orders.findFirst({ where: eq(orders.id, init.body.order_id) });
    if (!stale) throw new Error("order missing");
    // The other settlement wins the race between our read of the order and our write.
    await env.DB.prepare("UPDATE orders SET status = 'UNDER_REVIEW' WHERE id = ?").bind(stale.id).run();

    const outcome = await settleOrder(
      {
        db,
        config: loadConfig(env),
        inventory: env.TIER_INVENTORY,
        promoCodes: env.PROMO_CODE_USES,
        mail: { db, config: loadConfig(env), media: env.MEDIA, queue: env.DELIVERY_QUEUE },
        daraja: () => {
          throw new Error("settling a callback never calls Daraja");
        },
      },
      stale,
      {
        resultCode: 0,
        resultDesc: "The service request is processed successfully.",
        amount: 1800,
        receipt: "TST0RACE01",
        transactionDate: "20261127120000",
        phone: "254712345678",
      },
    );
    expect(outcome).toBe("duplicate");
    expect(await countRows("tickets", "order_id = ?", stale.id)).toBe(0);
    const row = await env.DB.prepare("SELECT status, mpesa_receipt_number FROM orders WHERE id = ?")
      .bind(stale.id)
      .first();
    expect(row).toEqual({ status: "UNDER_REVIEW", mpesa_receipt_number: null });
  });

  it("sees an organizer's price change at once (the tier cache forgets the edited event)", async () => {
    const { organizer, eventId, tiers } = await eventWithTiers([
      { name: "Regular", price: 1000, quantity_allocated: 10 },
    ]);
    const { client } = await buyer();
    const first = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    expect(first.body.amount).toBe(1000);
    const edit = await organizer.patch(`/api/organizer/events/${eventId}/edit/`, {
      tiers: [{ id: tiers[0]?.id, name: "Regular", price: 1250, quantity_allocated: 10 }],
    });
    expect(edit.status, edit.text).toBe(200);
    const second = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    expect(second.body.amount).toBe(1250);
  });
});

describe("a success callback reusing another order's M-Pesa receipt", () => {
  it("is acknowledged, issues nothing, and flags the order for review instead of failing", async () => {
    const { tiers } = await eventWithTiers([{ name: "Regular", price: 600, quantity_allocated: 5 }]);
    const { client } = await buyer();
    const first = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    const second = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    const receipt = `R${crypto.randomUUID().replace(/-/g, "").slice(0, 9).toUpperCase()}`;
    const paid = await postCallback(
      networkFakes.daraja.callbackFor(first.body.checkout_request_id, { resultCode: 0, receipt }),
    );
    expect(paid.status).toBe(200);
    const reused = await postCallback(
      networkFakes.daraja.callbackFor(second.body.checkout_request_id, { resultCode: 0, receipt }),
    );
    expect(reused.status).toBe(200);
    expect(reused.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });
    expect(await countRows("tickets", "order_id = ?", second.body.order_id)).toBe(0);
    const verify = await new TestClient().get(`/api/pay/verify/${second.body.transaction_ref}/`);
    expect(verify.body).toMatchObject({ status: "FAILED", reason: "under_review", ticket_ids: [] });
    // The seats of the flagged order are not sold: only the genuine order's seat is.
    expect(await tierCounts(tiers[0]?.id ?? "")).toEqual({ sold: 1, held: 0 });
    const flagged = await env.DB.prepare(
      "SELECT status, failure_reason, mpesa_receipt_number FROM orders WHERE id = ?",
    )
      .bind(second.body.order_id)
      .first();
    expect(flagged).toEqual({
      status: "UNDER_REVIEW",
      failure_reason: "duplicate_receipt",
      mpesa_receipt_number: null,
    });

    // The same with a wrong amount: still flagged (it was never silently dropped either).
    const third = await client.post<Initiated>("/api/pay/initiate/", {
      tier_id: tiers[0]?.id,
      phone_number: "0712345678",
    });
    const wrongAmount = await postCallback(
      networkFakes.daraja.callbackFor(third.body.checkout_request_id, { resultCode: 0, receipt, amount: 1 }),
    );
    expect(wrongAmount.status).toBe(200);
    const thirdRow = await env.DB.prepare("SELECT status, failure_reason FROM orders WHERE id = ?")
      .bind(third.body.order_id)
      .first();
    expect(thirdRow).toEqual({ status: "UNDER_REVIEW", failure_reason: "duplicate_receipt" });
    expect(await tierCounts(tiers[0]?.id ?? "")).toEqual({ sold: 1, held: 0 });
  });
});
