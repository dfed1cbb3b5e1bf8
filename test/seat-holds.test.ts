/**
 * Seats cannot be held hostage (issue 11, items 6 and 8; contract §4.3): the open holds of
 * one phone, one email and one account on a tier never exceed its max_per_order, a buyer's
 * new initiate replaces their earlier hold, and an Idempotency-Key replay never touches seats.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { TierInventory } from "../src/inventory/tier-inventory";
import { countRows, registerUser } from "./helpers/accounts";
import {
  availableQty,
  DARAJA,
  eventWithTiers,
  type Initiated,
  networkFakes,
  postCallback,
  seatsOf,
  uniquePhone,
} from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";

const PARALLEL = 30;

/**
 * The hold cap is the rule under test here: the per-recipient booking limit (5 an hour, its
 * own rule, tested in recipient-limits.test.ts) is lifted so it does not answer first.
 */
const UNLIMITED_RECIPIENT = { ...DARAJA, BOOKINGS_PER_RECIPIENT_PER_HOUR: "1000" };

function guestEmail(): string {
  return `${uniqueName("fan")}@example.com`;
}

/** A guest's initiate (not signed in) through the real app, against the Daraja fake. */
function guestInitiate(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return new TestClient(DARAJA).post<Initiated>(
    "/api/pay/initiate/",
    { name: "Wanjiku Kamau", ...body },
    { headers },
  );
}

async function orderRow(id: string) {
  return env.DB.prepare("SELECT status, hold_expires_at, failure_reason FROM orders WHERE id = ?")
    .bind(id)
    .first<{ status: string; hold_expires_at: number | null; failure_reason: string | null }>();
}

describe("open holds per buyer on one tier (the attack: one client holding every seat)", () => {
  it(`keeps ${PARALLEL} parallel initiates from one phone with different emails within max_per_order`, async () => {
    const { eventId, tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 40, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const phone = uniquePhone();
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        guestInitiate({ tier_id: tierId, phone_number: phone, quantity: 4, email: guestEmail() }),
      ),
    );
    // Each one replaced the one before: nobody is refused, and only one hold is left open.
    expect(answers.map((a) => a.status)).toEqual(Array(PARALLEL).fill(202));
    const seats = await seatsOf(tierId);
    expect(seats).toMatchObject({ held: 4, sold: 0, available: 36 });
    expect(await availableQty(eventId, tierId)).toBe(36);
  });

  it(`keeps ${PARALLEL} parallel initiates with one email (any case) and different phones within max_per_order`, async () => {
    const { eventId, tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 40, max_per_order: 3 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const email = guestEmail();
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        new TestClient(UNLIMITED_RECIPIENT).post<Initiated>("/api/pay/initiate/", {
          name: "Wanjiku Kamau",
          tier_id: tierId,
          phone_number: uniquePhone(),
          quantity: 3,
          email: i % 2 ? email.toUpperCase() : email,
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(PARALLEL).fill(202));
    expect(await seatsOf(tierId)).toMatchObject({ held: 3, available: 37 });
    expect(await availableQty(eventId, tierId)).toBe(37);
  });

  it(`keeps ${PARALLEL} parallel initiates of one signed-in account with different phones within max_per_order`, async () => {
    const { eventId, tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 40, max_per_order: 2 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const fan = new TestClient(UNLIMITED_RECIPIENT);
    await registerUser(fan);
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        fan.post("/api/pay/initiate/", { tier_id: tierId, phone_number: uniquePhone(), quantity: 2 }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(PARALLEL).fill(202));
    expect(await seatsOf(tierId)).toMatchObject({ held: 2, available: 38 });
    expect(await availableQty(eventId, tierId)).toBe(38);
  });

  it("leaves other buyers' holds alone", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 10, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const first = await guestInitiate({
      tier_id: tierId,
      phone_number: uniquePhone(),
      quantity: 2,
      email: guestEmail(),
    });
    const second = await guestInitiate({
      tier_id: tierId,
      phone_number: uniquePhone(),
      quantity: 3,
      email: guestEmail(),
    });
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(await seatsOf(tierId)).toMatchObject({ held: 5, available: 5 });
  });
});

describe("a buyer's new initiate replaces their earlier hold", () => {
  it("lets a fan retry after a missed STK prompt on a tier they alone fill, and settles both prompts safely", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Last four", price: 500, quantity_allocated: 4, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const fan = { tier_id: tierId, phone_number: uniquePhone(), quantity: 4, email: guestEmail() };
    const missed = await guestInitiate(fan);
    expect(missed.status, missed.text).toBe(202);
    // The prompt never showed up; the fan presses "Pay" again (another email typo even).
    const retry = await guestInitiate({ ...fan, email: guestEmail() });
    expect(retry.status, retry.text).toBe(202);
    expect(await seatsOf(tierId)).toMatchObject({ held: 4, available: 0 });

    // The replaced order holds nothing any more; it waits for Daraja's word on its prompt.
    const replaced = await orderRow(missed.body.order_id);
    expect(replaced?.status).toBe("PENDING");
    expect(replaced?.hold_expires_at).toBeLessThanOrEqual(Date.now());
    expect(
      (await new TestClient().get(`/api/pay/verify/${missed.body.transaction_ref}/`)).body,
    ).toMatchObject({ status: "PENDING" });

    // The fan pays the new prompt: four tickets.
    await postCallback(networkFakes.daraja.callbackFor(retry.body.checkout_request_id, { resultCode: 0 }));
    expect(await countRows("tickets", "order_id = ?", retry.body.order_id)).toBe(4);
    // …and the old prompt too: money is never lost, the seats are gone, so it is a refund.
    await postCallback(networkFakes.daraja.callbackFor(missed.body.checkout_request_id, { resultCode: 0 }));
    expect(await orderRow(missed.body.order_id)).toMatchObject({ status: "PAID_UNFULFILLED" });
    expect(await countRows("tickets", "order_id = ?", missed.body.order_id)).toBe(0);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 4, held: 0, available: 0 });
  });

  it("gives a replaced order's late payment its tickets when seats remain", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 10, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const fan = { tier_id: tierId, phone_number: uniquePhone(), quantity: 2, email: guestEmail() };
    const first = await guestInitiate(fan);
    const second = await guestInitiate({ ...fan, quantity: 3 });
    expect([first.status, second.status]).toEqual([202, 202]);
    expect(await seatsOf(tierId)).toMatchObject({ held: 3, available: 7 });
    await postCallback(networkFakes.daraja.callbackFor(first.body.checkout_request_id, { resultCode: 0 }));
    expect(await orderRow(first.body.order_id)).toMatchObject({ status: "COMPLETED" });
    expect(await countRows("tickets", "order_id = ?", first.body.order_id)).toBe(2);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 3, available: 5 });
  });

  it("keeps the earlier hold when the new request cannot fit, and counts its seats for the retry", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 5, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const fan = { tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() };
    expect((await guestInitiate({ ...fan, quantity: 2 })).status).toBe(202);
    const other = await guestInitiate({
      tier_id: tierId,
      phone_number: uniquePhone(),
      quantity: 2,
      email: guestEmail(),
    });
    expect(other.status).toBe(202);
    // 1 free seat plus the fan's own 2: asking for 4 is refused, and nothing changes.
    const tooMany = await guestInitiate({ ...fan, quantity: 4 });
    expect(tooMany.status).toBe(409);
    expect(tooMany.body).toMatchObject({ code: "sold_out", available: 3 });
    expect(await seatsOf(tierId)).toMatchObject({ held: 4, available: 1 });
    // Asking for 3 fits: the fan's hold of 2 becomes a hold of 3.
    expect((await guestInitiate({ ...fan, quantity: 3 })).status).toBe(202);
    expect(await seatsOf(tierId)).toMatchObject({ held: 5, available: 0 });
  });
});

describe("free tiers (no M-Pesa phone)", () => {
  it(`does not make the web client's placeholder phone one buyer: ${PARALLEL} guests book in parallel`, async () => {
    const { tiers } = await eventWithTiers([
      { name: "Free", price: 0, quantity_allocated: 40, max_per_order: 2 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        guestInitiate({ tier_id: tierId, phone_number: "254700000000", quantity: 1, email: guestEmail() }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(PARALLEL).fill(201));
    expect(await seatsOf(tierId)).toMatchObject({ sold: PARALLEL, held: 0 });
  });
});

describe("TierInventory buyer keys", () => {
  function stub(): DurableObjectStub<TierInventory> {
    return env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier-${crypto.randomUUID()}`));
  }
  const seed = { allocation: 10, sold: 0 };

  it("replaces every open hold sharing any key with the new one, and says which", async () => {
    const tier = stub();
    const a = await tier.reserve("a", 2, 60_000, seed, ["phone:254711000001", "email:a@example.com"]);
    const b = await tier.reserve("b", 2, 60_000, seed, ["phone:254711000002", "email:b@example.com"]);
    const other = await tier.reserve("other", 1, 60_000, seed, ["email:z@example.com"]);
    expect([a.ok, b.ok, other.ok]).toEqual([true, true, true]);
    const c = await tier.reserve("c", 3, 60_000, seed, ["phone:254711000001", "email:b@example.com"]);
    expect(c).toMatchObject({ ok: true, alreadyConfirmed: false, replaced: ["a", "b"] });
    expect(await tier.snapshot()).toMatchObject({ held: 4, available: 6 });
    // Asking again for the same order is the same hold, replacing nothing.
    expect(
      await tier.reserve("c", 3, 60_000, seed, ["phone:254711000001", "email:b@example.com"]),
    ).toMatchObject({ ok: true, replaced: [] });
    // A released hold's keys are forgotten with it.
    await tier.release("c");
    expect(await tier.reserve("d", 1, 60_000, seed, ["phone:254711000001"])).toMatchObject({
      ok: true,
      replaced: [],
    });
    expect(await tier.snapshot()).toMatchObject({ held: 2, available: 8 });
  });

  it("never replaces a sold order, and a refusal replaces nothing", async () => {
    const tier = stub();
    await tier.reserve("paid", 2, 60_000, { allocation: 3, sold: 0 }, ["email:a@example.com"]);
    await tier.confirm("paid", 2);
    await tier.reserve("open", 1, 60_000, undefined, ["email:a@example.com"]);
    const refused = await tier.reserve("big", 2, 60_000, undefined, ["email:a@example.com"]);
    expect(refused).toMatchObject({ ok: false, reason: "sold_out", available: 1 });
    expect(await tier.snapshot()).toMatchObject({ sold: 2, held: 1, available: 0 });
  });

  it("answers a reserve of an order it already sold without holding anything", async () => {
    const tier = stub();
    await tier.reserve("sold", 2, 60_000, { allocation: 4, sold: 0 });
    await tier.confirm("sold", 2);
    const again = await tier.reserve("sold", 2, 60_000);
    expect(again).toMatchObject({ ok: true, alreadyConfirmed: true });
    expect(await tier.snapshot()).toMatchObject({ sold: 2, held: 0, available: 2 });
  });
});

describe("Idempotency-Key replays never touch seats", () => {
  it("replays a fulfilled paid order without a hidden hold: the next buyer is served", async () => {
    const { eventId, tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 4, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const key = crypto.randomUUID();
    const body = { tier_id: tierId, phone_number: uniquePhone(), quantity: 2, email: guestEmail() };
    const first = await guestInitiate(body, { "idempotency-key": key });
    expect(first.status, first.text).toBe(202);
    await postCallback(networkFakes.daraja.callbackFor(first.body.checkout_request_id, { resultCode: 0 }));
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 0, available: 2 });

    const replays = await Promise.all(
      Array.from({ length: 24 }, () => guestInitiate(body, { "idempotency-key": key })),
    );
    for (const replay of replays) {
      expect(replay.status).toBe(202);
      expect(replay.text).toBe(first.text);
    }
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 0, available: 2 });
    expect(await availableQty(eventId, tierId)).toBe(2);
    const next = await guestInitiate({
      tier_id: tierId,
      phone_number: uniquePhone(),
      quantity: 2,
      email: guestEmail(),
    });
    expect(next.status, next.text).toBe(202);
  });

  it("replays a free booking without holding its seats again", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Free", price: 0, quantity_allocated: 3, max_per_order: 2 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const key = crypto.randomUUID();
    const body = { tier_id: tierId, phone_number: "254700000000", quantity: 2, email: guestEmail() };
    const first = await guestInitiate(body, { "idempotency-key": key });
    expect(first.status, first.text).toBe(201);
    const replay = await guestInitiate(body, { "idempotency-key": key });
    expect(replay.status).toBe(201);
    expect(replay.text).toBe(first.text);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 0, available: 1 });
    const next = await guestInitiate({ ...body, email: guestEmail() });
    expect(next.status, next.text).toBe(409);
    expect(next.body).toMatchObject({ available: 1 });
    expect((await guestInitiate({ ...body, quantity: 1, email: guestEmail() })).status).toBe(201);
  });

  it("lets the same key try again after Daraja failed (503), holding the seats once", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 4, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const key = crypto.randomUUID();
    const body = { tier_id: tierId, phone_number: uniquePhone(), quantity: 2, email: guestEmail() };
    networkFakes.daraja.failNextPush(500, {
      requestId: "1",
      errorCode: "500.003.02",
      errorMessage: "System is busy",
    });
    const failed = await guestInitiate(body, { "idempotency-key": key });
    expect(failed.status, failed.text).toBe(503);
    expect(await seatsOf(tierId)).toMatchObject({ held: 0, available: 4 });
    const retry = await guestInitiate(body, { "idempotency-key": key });
    expect(retry.status, retry.text).toBe(202);
    const replay = await guestInitiate(body, { "idempotency-key": key });
    expect(replay.text).toBe(retry.text);
    expect(await seatsOf(tierId)).toMatchObject({ held: 2, available: 2 });
  });

  it("answers a key used with another body before touching any seat", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 4, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const key = crypto.randomUUID();
    const body = { tier_id: tierId, phone_number: uniquePhone(), quantity: 2, email: guestEmail() };
    const first = await guestInitiate(body, { "idempotency-key": key });
    expect(first.status).toBe(202);
    await postCallback(networkFakes.daraja.callbackFor(first.body.checkout_request_id, { resultCode: 1032 }));
    expect(await seatsOf(tierId)).toMatchObject({ held: 0, available: 4 });
    const other = await guestInitiate({ ...body, quantity: 3 }, { "idempotency-key": key });
    expect(other.status).toBe(422);
    expect(await seatsOf(tierId)).toMatchObject({ held: 0, available: 4 });
  });
});
