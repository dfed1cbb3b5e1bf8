/**
 * Buyer limits (issue #12 part 3, contract §15): a tier's max_per_buyer caps one buyer's seats
 * across all their orders, a buyer being any of account, normalised email and M-Pesa phone;
 * enforced inside the tier's object in the same step as the seats, answered before sold_out.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { registerUser } from "./helpers/accounts";
import {
  availableQty,
  DARAJA,
  eventWithTiers,
  guestCheckout,
  networkFakes,
  postCallback,
  seatsOf,
  uniquePhone,
} from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";

const PARALLEL = 24;

function guestEmail(local = uniqueName("fan")): string {
  return `${local}@example.com`;
}

async function limitedTier(maxPerBuyer: number, allocation = 50, price = 500) {
  const made = await eventWithTiers([
    { name: "VIP", price, quantity_allocated: allocation, max_per_order: 10, max_per_buyer: maxPerBuyer },
  ]);
  return { ...made, tierId: made.tiers[0]?.id ?? "" };
}

/** Initiate and pay at once (the callback through the real route). */
async function buyAndPay(body: Record<string, unknown>) {
  const res = await guestCheckout(body);
  expect(res.status, res.text).toBe(202);
  await postCallback(networkFakes.daraja.callbackFor(res.body.checkout_request_id, { resultCode: 0 }));
  return res;
}

async function ticketsOfPhone(tierId: string, phone: string): Promise<number> {
  const row = await env.DB.prepare(
    `SELECT COUNT(*) AS n FROM tickets t JOIN orders o ON o.id = t.order_id
     WHERE t.tier_id = ? AND o.phone_number = ? AND t.status != 'CANCELLED'`,
  )
    .bind(tierId, `254${phone.slice(1)}`)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

describe("max_per_buyer as the organizer sets it", () => {
  it("is a tier key on create and edit, shown on the public tier; below 1 is refused", async () => {
    const { organizer, eventId, tierId } = await limitedTier(4);
    const detail = await new TestClient().get<{ tiers: Array<{ id: string; max_per_buyer: number | null }> }>(
      `/api/events/${eventId}/`,
    );
    expect(detail.body.tiers.find((t) => t.id === tierId)?.max_per_buyer).toBe(4);
    const bad = await organizer.post("/api/organizer/events/create/", {
      title: uniqueName("Gig "),
      category: "CONCERT",
      start_datetime: new Date(Date.now() + 8 * 86_400_000).toISOString(),
      end_datetime: new Date(Date.now() + 9 * 86_400_000).toISOString(),
      tiers: [{ name: "A", price: 100, quantity_allocated: 10, max_per_buyer: 0 }],
    });
    expect(bad.status).toBe(400);
  });
});

describe("one buyer's seats across orders", () => {
  it("refuses a second order past the limit from the same phone with another email (409 buyer_limit)", async () => {
    const { eventId, tierId } = await limitedTier(3);
    const phone = uniquePhone();
    await buyAndPay({ tier_id: tierId, quantity: 2, phone_number: phone, email: guestEmail() });
    const res = await guestCheckout({
      tier_id: tierId,
      quantity: 2,
      phone_number: phone,
      email: guestEmail(),
    });
    expect(res.status, res.text).toBe(409);
    expect(res.body).toEqual({
      error: "You can buy at most 3 tickets for VIP.",
      detail: "You can buy at most 3 tickets for VIP.",
      code: "buyer_limit",
      tier_id: tierId,
      tier_name: "VIP",
      limit: 3,
      remaining: 1,
    });
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 0 });
    expect(await availableQty(eventId, tierId)).toBe(48);
    // What is left still fits.
    expect(
      (await guestCheckout({ tier_id: tierId, quantity: 1, phone_number: phone, email: guestEmail() }))
        .status,
    ).toBe(202);
  });

  it("counts +tag, dotted and googlemail spellings of one Gmail inbox as one buyer", async () => {
    const { tierId } = await limitedTier(2);
    const local = uniqueName("wanjiku")
      .replace(/[^a-z0-9]/gi, "")
      .toLowerCase();
    await buyAndPay({
      tier_id: tierId,
      quantity: 2,
      phone_number: uniquePhone(),
      email: `${local}@gmail.com`,
    });
    const spelled = `${local.slice(0, 3)}.${local.slice(3)}+radio@GoogleMail.com`;
    const res = await guestCheckout({
      tier_id: tierId,
      quantity: 1,
      phone_number: uniquePhone(),
      email: spelled,
    });
    expect(res.status, res.text).toBe(409);
    expect(res.body).toMatchObject({ code: "buyer_limit", remaining: 0 });
  });

  it("counts a signed-in account across phones", async () => {
    const { tierId } = await limitedTier(2);
    const fan = new TestClient({ ...DARAJA, BOOKINGS_PER_RECIPIENT_PER_HOUR: "1000" });
    await registerUser(fan);
    const first = await fan.post<{ checkout_request_id: string }>("/api/pay/initiate/", {
      tier_id: tierId,
      quantity: 2,
      phone_number: uniquePhone(),
    });
    expect(first.status, first.text).toBe(202);
    await postCallback(networkFakes.daraja.callbackFor(first.body.checkout_request_id, { resultCode: 0 }));
    const second = await fan.post("/api/pay/initiate/", { tier_id: tierId, phone_number: uniquePhone() });
    expect(second.status, second.text).toBe(409);
    expect(second.body).toMatchObject({ code: "buyer_limit" });
  });

  it("answers buyer_limit before sold_out", async () => {
    const { tierId } = await limitedTier(2, 3);
    const phone = uniquePhone();
    await buyAndPay({ tier_id: tierId, quantity: 2, phone_number: phone, email: guestEmail() });
    await buyAndPay({ tier_id: tierId, quantity: 1, phone_number: uniquePhone(), email: guestEmail() });
    const res = await guestCheckout({
      tier_id: tierId,
      quantity: 1,
      phone_number: phone,
      email: guestEmail(),
    });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "buyer_limit" });
  });

  it("gives the seats of a failed payment back to the buyer's allowance", async () => {
    const { tierId } = await limitedTier(2);
    const phone = uniquePhone();
    const failed = await guestCheckout({
      tier_id: tierId,
      quantity: 2,
      phone_number: phone,
      email: guestEmail(),
    });
    await postCallback(
      networkFakes.daraja.callbackFor(failed.body.checkout_request_id, { resultCode: 1032 }),
    );
    await buyAndPay({ tier_id: tierId, quantity: 2, phone_number: phone, email: guestEmail() });
    expect(await ticketsOfPhone(tierId, phone)).toBe(2);
  });

  it("limits free tiers too (by email)", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Free", price: 0, quantity_allocated: 50, max_per_buyer: 2 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const email = guestEmail();
    const first = await guestCheckout({ tier_id: tierId, quantity: 2, phone_number: "254700000000", email });
    expect(first.status, first.text).toBe(201);
    const again = await guestCheckout({
      tier_id: tierId,
      phone_number: "254700000000",
      email: email.toUpperCase(),
    });
    expect(again.status, again.text).toBe(409);
    expect(again.body).toMatchObject({ code: "buyer_limit", limit: 2, remaining: 0 });
    // Another guest on the shared placeholder phone is another buyer.
    expect(
      (await guestCheckout({ tier_id: tierId, phone_number: "254700000000", email: guestEmail() })).status,
    ).toBe(201);
  });

  it("checks each tier of a multi-tier order and keeps nothing when one is over", async () => {
    const { tiers, eventId } = await eventWithTiers([
      { name: "VIP", price: 5000, quantity_allocated: 20, max_per_buyer: 1 },
      { name: "Regular", price: 1500, quantity_allocated: 20 },
    ]);
    const [vip, regular] = tiers.map((t) => t.id);
    const phone = uniquePhone();
    await buyAndPay({ tier_id: vip, phone_number: phone, email: guestEmail() });
    const res = await guestCheckout({
      items: [{ tier_id: regular, quantity: 2 }, { tier_id: vip }],
      phone_number: phone,
      email: guestEmail(),
    });
    expect(res.status, res.text).toBe(409);
    expect(res.body).toMatchObject({
      code: "buyer_limit",
      tier_id: vip,
      tier_name: "VIP",
      limit: 1,
      remaining: 0,
    });
    expect(await seatsOf(regular ?? "")).toMatchObject({ held: 0, sold: 0 });
    expect(await availableQty(eventId, regular ?? "")).toBe(20);
  });
});

describe("one phone with many emails, in parallel (the scalper)", () => {
  it(`never gets past max_per_buyer: ${PARALLEL} parallel initiates, then every prompt paid`, async () => {
    const { tierId } = await limitedTier(2, 100);
    const phone = uniquePhone();
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        guestCheckout({ tier_id: tierId, quantity: 1, phone_number: phone, email: guestEmail() }),
      ),
    );
    // Each replaced the one before (one open hold per buyer); every prompt is on the phone.
    const started = answers.filter((a) => a.status === 202);
    expect(started.length).toBeGreaterThan(0);
    // The scalper pays every prompt at once: the replaced ones are late payments and must fit the limit too.
    await Promise.all(
      started.map((a) =>
        postCallback(networkFakes.daraja.callbackFor(a.body.checkout_request_id, { resultCode: 0 })),
      ),
    );
    expect(await ticketsOfPhone(tierId, phone)).toBe(2);
    expect((await seatsOf(tierId)).sold).toBe(2);
    const unfulfilled = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM orders WHERE tier_id = ? AND status = 'PAID_UNFULFILLED'",
    )
      .bind(tierId)
      .first<{ n: number }>();
    expect(unfulfilled?.n).toBe(started.length - 2);
  });

  it(`lets ${PARALLEL} parallel orders of 2 from one phone (limit 3) end with at most 3 seats held or sold`, async () => {
    const { tierId } = await limitedTier(3, 100);
    const phone = uniquePhone();
    await buyAndPay({ tier_id: tierId, quantity: 1, phone_number: phone, email: guestEmail() });
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        guestCheckout({ tier_id: tierId, quantity: 2, phone_number: phone, email: guestEmail() }),
      ),
    );
    expect(answers.every((a) => a.status === 202)).toBe(true);
    const seats = await seatsOf(tierId);
    expect(seats.sold + seats.held).toBe(3);
    // A third seat more is over the limit.
    const over = await guestCheckout({
      tier_id: tierId,
      quantity: 3,
      phone_number: phone,
      email: guestEmail(),
    });
    expect(over.body).toMatchObject({ code: "buyer_limit", remaining: 2 });
  });

  it(`keeps a buyer racing themself with ${PARALLEL} three-tier orders within each tier's limit, every order whole or nothing`, async () => {
    const { tiers } = await eventWithTiers([
      { name: "VIP", price: 5000, quantity_allocated: 100, max_per_buyer: 2 },
      { name: "Regular", price: 1500, quantity_allocated: 100, max_per_buyer: 3 },
      { name: "Balcony", price: 1000, quantity_allocated: 100 },
    ]);
    const ids = tiers.map((t) => t.id);
    const phone = uniquePhone();
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        guestCheckout({
          items: ids.map((tier_id) => ({ tier_id, quantity: 1 })),
          phone_number: phone,
          email: guestEmail(),
        }),
      ),
    );
    const started = answers.filter((a) => a.status === 202);
    await Promise.all(
      started.map((a) =>
        postCallback(networkFakes.daraja.callbackFor(a.body.checkout_request_id, { resultCode: 0 })),
      ),
    );
    const [vip, regular, balcony] = ids;
    expect(await ticketsOfPhone(vip ?? "", phone)).toBe(2);
    // Regular would allow 3, but an order is whole or nothing: VIP's limit stops the third order.
    expect(await ticketsOfPhone(regular ?? "", phone)).toBe(2);
    expect(await ticketsOfPhone(balcony ?? "", phone)).toBe(2);
    const perOrder = await env.DB.prepare(
      `SELECT o.status, COUNT(t.id) AS n FROM orders o LEFT JOIN tickets t ON t.order_id = o.id
       WHERE o.phone_number = ? GROUP BY o.id`,
    )
      .bind(`254${phone.slice(1)}`)
      .all<{ status: string; n: number }>();
    for (const row of perOrder.results) expect(row.n).toBe(row.status === "COMPLETED" ? 3 : 0);
    for (const id of ids) expect(await seatsOf(id ?? "")).toMatchObject({ sold: 2, held: 0 });
  });
});
