/**
 * Orders of several tiers (issue #12 part 1, contract §11): one order, one STK push for the
 * total, prices from the server, holds on every tier taken all or nothing and given back
 * together, one ticket per seat with its price, and late payments kept whole or not at all.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countRows } from "./helpers/accounts";
import {
  availableQty,
  eventWithTiers,
  expireHolds,
  guestCheckout,
  networkFakes,
  postCallback,
  seatsOf,
  uniquePhone,
} from "./helpers/checkout";
import { uniqueName } from "./helpers/client";

const PARALLEL = 24;

function guestEmail(): string {
  return `${uniqueName("fan")}@example.com`;
}

/** An event with VIP (5000, max 4 per order) and Regular (1500) tiers. */
async function vipAndRegular(vip = 20, regular = 50) {
  const made = await eventWithTiers([
    { name: "VIP", price: 5000, quantity_allocated: vip, max_per_order: 4 },
    { name: "Regular", price: 1500, quantity_allocated: regular },
  ]);
  const [vipTier, regularTier] = made.tiers;
  if (!vipTier || !regularTier) throw new Error("tiers missing");
  return { ...made, vip: vipTier.id, regular: regularTier.id };
}

async function orderRow(id: string) {
  return env.DB.prepare("SELECT status, amount, quantity, tier_id, unit_price FROM orders WHERE id = ?")
    .bind(id)
    .first<{ status: string; amount: number; quantity: number; tier_id: string; unit_price: number }>();
}

describe("an order of several tiers", () => {
  it("holds every tier, prices on the server, and sends ONE push for the total", async () => {
    const { eventId, vip, regular } = await vipAndRegular();
    const res = await guestCheckout({
      items: [
        { tier_id: vip, quantity: 1 },
        { tier_id: regular, quantity: 2 },
      ],
      phone_number: uniquePhone(),
      email: guestEmail(),
      // Prices and amounts sent by the client are ignored (§11.3).
      amount: 1,
      price: 1,
      subtotal: 1,
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({
      status: "Payment Initiated",
      amount: 8000,
      subtotal: 8000,
      discount: 0,
      items: [
        { tier_id: vip, tier_name: "VIP", quantity: 1, unit_price: 5000, discount: 0, line_total: 5000 },
        {
          tier_id: regular,
          tier_name: "Regular",
          quantity: 2,
          unit_price: 1500,
          discount: 0,
          line_total: 3000,
        },
      ],
    });
    const pushes = networkFakes.daraja.pushes.filter(
      (p) => p.body.AccountReference === res.body.transaction_ref,
    );
    expect(pushes).toHaveLength(1);
    expect(pushes[0]?.body.Amount).toBe(8000);
    expect(await seatsOf(vip)).toMatchObject({ held: 1, available: 19 });
    expect(await seatsOf(regular)).toMatchObject({ held: 2, available: 48 });
    expect(await availableQty(eventId, vip)).toBe(19);
    expect(await availableQty(eventId, regular)).toBe(48);
    expect(await orderRow(res.body.order_id)).toMatchObject({ status: "PENDING", amount: 8000, quantity: 3 });
    expect(await countRows("order_items", "order_id = ?", res.body.order_id)).toBe(2);
  });

  it("issues one ticket per seat with its tier and price_paid, and one email for the order", async () => {
    const { vip, regular } = await vipAndRegular();
    const res = await guestCheckout({
      items: [
        { tier_id: regular, quantity: 2 },
        { tier_id: vip, quantity: 1 },
      ],
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(res.status, res.text).toBe(202);
    const callback = networkFakes.daraja.callbackFor(res.body.checkout_request_id, { resultCode: 0 });
    await Promise.all([postCallback(callback), postCallback(callback)]);
    expect(await orderRow(res.body.order_id)).toMatchObject({ status: "COMPLETED" });
    const tickets = await env.DB.prepare(
      "SELECT tier_id, price_paid, seat_index FROM tickets WHERE order_id = ? ORDER BY seat_index",
    )
      .bind(res.body.order_id)
      .all<{ tier_id: string; price_paid: number; seat_index: number }>();
    // Items order, then seat (§11.5).
    expect(tickets.results).toEqual([
      { tier_id: regular, price_paid: 1500, seat_index: 0 },
      { tier_id: regular, price_paid: 1500, seat_index: 1 },
      { tier_id: vip, price_paid: 5000, seat_index: 2 },
    ]);
    expect(await seatsOf(regular)).toMatchObject({ sold: 2, held: 0 });
    expect(await seatsOf(vip)).toMatchObject({ sold: 1, held: 0 });
    await expect
      .poll(() => countRows("mail_log", "order_id = ? AND kind = 'tickets'", res.body.order_id), {
        timeout: 15_000,
      })
      .toBe(1);
    const verify = await guestVerify(res.body.transaction_ref);
    expect(verify).toMatchObject({ status: "COMPLETED" });
    expect((verify.ticket_ids as string[]).length).toBe(3);
  });

  it("books free tiers of one order at once: 201 with every ticket and the lines", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Early", price: 0, quantity_allocated: 10 },
      { name: "Late", price: 0, quantity_allocated: 10 },
    ]);
    const [early, late] = tiers.map((t) => t.id);
    const res = await guestCheckout({
      items: [
        { tier_id: early, quantity: 2 },
        { tier_id: late, quantity: 1 },
      ],
      phone_number: "254700000000",
      email: guestEmail(),
    });
    expect(res.status, res.text).toBe(201);
    const body = res.body as unknown as Record<string, unknown>;
    expect(body).toMatchObject({
      status: "Booking Confirmed",
      quantity: 3,
      subtotal: 0,
      discount: 0,
      amount: 0,
    });
    expect(body.ticket_ids).toHaveLength(3);
    expect(body.ticket_id).toBe((body.ticket_ids as string[])[0]);
    expect(await seatsOf(early ?? "")).toMatchObject({ sold: 2, held: 0 });
    expect(await seatsOf(late ?? "")).toMatchObject({ sold: 1, held: 0 });
  });

  it("answers the single-tier form with one line", async () => {
    const { vip } = await vipAndRegular();
    const res = await guestCheckout({
      tier_id: vip,
      quantity: 2,
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({
      amount: 10000,
      subtotal: 10000,
      discount: 0,
      items: [
        { tier_id: vip, tier_name: "VIP", quantity: 2, unit_price: 5000, discount: 0, line_total: 10000 },
      ],
    });
  });
});

async function guestVerify(reference: string) {
  const { TestClient } = await import("./helpers/client");
  return (await new TestClient().get(`/api/pay/verify/${reference}/`)).body;
}

describe("bad items change nothing", () => {
  it.each<
    [string, (t: { vip: string; regular: string; other: string }) => Record<string, unknown>, number, string]
  >([
    ["empty items", () => ({ items: [] }), 400, "invalid_items"],
    ["items not a list", () => ({ items: "VIP" }), 400, "invalid_items"],
    [
      "a repeated tier",
      (t) => ({ items: [{ tier_id: t.vip }, { tier_id: t.vip.toUpperCase() }] }),
      400,
      "invalid_items",
    ],
    ["both forms", (t) => ({ tier_id: t.vip, items: [{ tier_id: t.regular }] }), 400, "invalid_items"],
    ["quantity 0", (t) => ({ items: [{ tier_id: t.vip, quantity: 0 }] }), 400, "invalid_items"],
    ["quantity 1.5", (t) => ({ items: [{ tier_id: t.vip, quantity: 1.5 }] }), 400, "invalid_items"],
    [
      "a price in an item",
      (t) => ({ items: [{ tier_id: t.vip, quantity: 1, unit_price: 1 }] }),
      400,
      "invalid_items",
    ],
    ["an item that is not an object", () => ({ items: [42] }), 400, "invalid_items"],
    [
      "more seats than MAX_SEATS_PER_ORDER",
      (t) => ({
        items: [
          { tier_id: t.vip, quantity: 4 },
          { tier_id: t.regular, quantity: 7 },
        ],
      }),
      400,
      "too_many_seats",
    ],
    [
      "an unknown tier",
      (t) => ({ items: [{ tier_id: t.vip }, { tier_id: "00000000-0000-4000-8000-000000000000" }] }),
      404,
      "tier_not_found",
    ],
    [
      "a malformed tier id",
      (t) => ({ items: [{ tier_id: t.vip }, { tier_id: "x'; DROP TABLE orders;--" }] }),
      404,
      "tier_not_found",
    ],
    [
      "tiers of two events",
      (t) => ({ items: [{ tier_id: t.vip }, { tier_id: t.other }] }),
      400,
      "mixed_events",
    ],
    [
      "more than a tier's max_per_order",
      (t) => ({ items: [{ tier_id: t.vip, quantity: 5 }] }),
      400,
      "invalid_items",
    ],
  ])("refuses %s", async (_label, body, status, code) => {
    const { eventId, vip, regular } = await vipAndRegular();
    const other =
      (await eventWithTiers([{ name: "Other", price: 100, quantity_allocated: 10 }])).tiers[0]?.id ?? "";
    const orders = await countRows("orders");
    const users = await countRows("users");
    const res = await guestCheckout({
      phone_number: uniquePhone(),
      email: guestEmail(),
      ...body({ vip, regular, other }),
    });
    expect(res.status, res.text).toBe(status);
    const error = res.body as unknown as Record<string, unknown>;
    expect(error).toMatchObject({ code });
    expect(error.error).toBe(error.detail);
    if (code === "invalid_items" || code === "too_many_seats" || code === "mixed_events") {
      expect(Array.isArray(error.items)).toBe(true);
    }
    if (code === "too_many_seats") expect(error.items).toEqual(["At most 10 tickets per order."]);
    if (code === "tier_not_found")
      expect(error).toMatchObject({ error: "Not found.", tier_id: expect.any(String) });
    if (_label === "more than a tier's max_per_order") {
      expect(error.items).toEqual(["At most 4 tickets of VIP per order."]);
    }
    expect(await countRows("orders")).toBe(orders);
    expect(await countRows("users")).toBe(users);
    expect(await availableQty(eventId, vip)).toBe(20);
    expect(await availableQty(eventId, regular)).toBe(50);
    expect(await seatsOf(vip)).toMatchObject({ held: 0, sold: 0 });
  });

  it("refuses a tier out of its sales window with not_on_sale and its tier_id", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Open", price: 100, quantity_allocated: 10 },
      {
        name: "Later",
        price: 100,
        quantity_allocated: 10,
        sales_start: new Date(Date.now() + 86_400_000).toISOString(),
      },
    ]);
    const [open, later] = tiers.map((t) => t.id);
    const res = await guestCheckout({
      items: [{ tier_id: open }, { tier_id: later }],
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(res.status, res.text).toBe(400);
    expect(res.body).toMatchObject({ code: "not_on_sale", tier_id: later });
    expect(await seatsOf(open ?? "")).toMatchObject({ held: 0 });
  });

  it("releases the tiers already held when a later tier is sold out, and names that tier", async () => {
    const { eventId, vip, regular } = await vipAndRegular(20, 1);
    // Someone else holds the last Regular.
    expect(
      (await guestCheckout({ tier_id: regular, phone_number: uniquePhone(), email: guestEmail() })).status,
    ).toBe(202);
    const res = await guestCheckout({
      items: [
        { tier_id: vip, quantity: 2 },
        { tier_id: regular, quantity: 1 },
      ],
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(res.status, res.text).toBe(409);
    expect(res.body).toEqual({
      error: "Only 0 tickets are available for Regular.",
      detail: "Only 0 tickets are available for Regular.",
      code: "sold_out",
      tier_id: regular,
      tier_name: "Regular",
      available: 0,
    });
    // (The VIP object may never have been asked: tiers are taken in ascending id.)
    expect(await seatsOf(vip)).toMatchObject({ held: 0, sold: 0 });
    expect(await availableQty(eventId, vip)).toBe(20);
    expect(await availableQty(eventId, regular)).toBe(0);
  });

  it("releases every tier when Daraja fails (503)", async () => {
    const { eventId, vip, regular } = await vipAndRegular();
    networkFakes.daraja.failNextPush(500);
    const res = await guestCheckout({
      items: [{ tier_id: vip }, { tier_id: regular, quantity: 3 }],
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(res.status, res.text).toBe(503);
    expect(res.body).toMatchObject({ code: "payment_gateway_error" });
    expect(await seatsOf(vip)).toMatchObject({ held: 0 });
    expect(await seatsOf(regular)).toMatchObject({ held: 0 });
    expect(await availableQty(eventId, vip)).toBe(20);
    expect(await availableQty(eventId, regular)).toBe(50);
  });
});

describe("all or nothing under load", () => {
  it(`never leaves a partial order holding seats with ${PARALLEL} parallel buyers on a small tier`, async () => {
    const { eventId, vip, regular } = await vipAndRegular(5, 100);
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        guestCheckout({
          // Half the buyers list the tiers the other way round: the objects are taken in one order anyway.
          items:
            i % 2
              ? [{ tier_id: vip }, { tier_id: regular, quantity: 2 }]
              : [{ tier_id: regular, quantity: 2 }, { tier_id: vip }],
          phone_number: uniquePhone(),
          email: guestEmail(),
        }),
      ),
    );
    const won = answers.filter((a) => a.status === 202);
    const lost = answers.filter((a) => a.status === 409);
    expect(won).toHaveLength(5);
    expect(lost).toHaveLength(PARALLEL - 5);
    for (const answer of lost) expect(answer.body).toMatchObject({ code: "sold_out", tier_id: vip });
    // Exactly the winners' seats are held: no refused order kept a Regular.
    expect(await seatsOf(vip)).toMatchObject({ held: 5, available: 0 });
    expect(await seatsOf(regular)).toMatchObject({ held: 10, available: 90 });
    expect(await availableQty(eventId, regular)).toBe(90);
    expect(await countRows("orders", "event_id = ?", eventId)).toBe(5);
  });
});

describe("replacement and late payment take the whole order", () => {
  it("a buyer's new initiate on one tier releases their earlier order on every tier", async () => {
    const { vip, regular } = await vipAndRegular();
    const phone = uniquePhone();
    const first = await guestCheckout({
      items: [
        { tier_id: vip, quantity: 2 },
        { tier_id: regular, quantity: 3 },
      ],
      phone_number: phone,
      email: guestEmail(),
    });
    expect(first.status, first.text).toBe(202);
    const second = await guestCheckout({ tier_id: vip, phone_number: phone, email: guestEmail() });
    expect(second.status, second.text).toBe(202);
    expect(await seatsOf(vip)).toMatchObject({ held: 1 });
    expect(await seatsOf(regular)).toMatchObject({ held: 0, available: 50 });
    const replaced = await env.DB.prepare("SELECT status, hold_expires_at FROM orders WHERE id = ?")
      .bind(first.body.order_id)
      .first<{ status: string; hold_expires_at: number }>();
    expect(replaced?.status).toBe("PENDING");
    expect(replaced?.hold_expires_at).toBeLessThanOrEqual(Date.now());
  });

  it("a late payment keeps every tier when seats remain", async () => {
    const { vip, regular } = await vipAndRegular();
    const res = await guestCheckout({
      items: [{ tier_id: vip }, { tier_id: regular, quantity: 2 }],
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    await expireHolds(vip);
    await expireHolds(regular);
    await postCallback(networkFakes.daraja.callbackFor(res.body.checkout_request_id, { resultCode: 0 }));
    expect(await orderRow(res.body.order_id)).toMatchObject({ status: "COMPLETED" });
    expect(await countRows("tickets", "order_id = ?", res.body.order_id)).toBe(3);
    expect(await seatsOf(vip)).toMatchObject({ sold: 1, held: 0 });
    expect(await seatsOf(regular)).toMatchObject({ sold: 2, held: 0 });
  });

  it("a late payment with one tier's seats gone keeps none: PAID_UNFULFILLED", async () => {
    const { vip, regular } = await vipAndRegular(20, 2);
    const late = await guestCheckout({
      items: [{ tier_id: vip }, { tier_id: regular, quantity: 2 }],
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(late.status, late.text).toBe(202);
    await expireHolds(vip);
    await expireHolds(regular);
    // Someone else takes one Regular meanwhile.
    const other = await guestCheckout({ tier_id: regular, phone_number: uniquePhone(), email: guestEmail() });
    expect(other.status).toBe(202);
    await postCallback(networkFakes.daraja.callbackFor(late.body.checkout_request_id, { resultCode: 0 }));
    expect(await orderRow(late.body.order_id)).toMatchObject({ status: "PAID_UNFULFILLED" });
    expect(await countRows("tickets", "order_id = ?", late.body.order_id)).toBe(0);
    // The VIP seat it could have had is not kept.
    expect(await seatsOf(vip)).toMatchObject({ sold: 0, held: 0, available: 20 });
    expect(await seatsOf(regular)).toMatchObject({ sold: 0, held: 1, available: 1 });
    expect(await guestVerify(late.body.transaction_ref)).toMatchObject({
      status: "FAILED",
      reason: "refund_pending",
    });
  });

  it("a failed payment releases every tier", async () => {
    const { eventId, vip, regular } = await vipAndRegular();
    const res = await guestCheckout({
      items: [{ tier_id: vip }, { tier_id: regular, quantity: 2 }],
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    await postCallback(networkFakes.daraja.callbackFor(res.body.checkout_request_id, { resultCode: 1032 }));
    expect(await orderRow(res.body.order_id)).toMatchObject({ status: "FAILED" });
    expect(await seatsOf(vip)).toMatchObject({ held: 0 });
    expect(await seatsOf(regular)).toMatchObject({ held: 0 });
    expect(await availableQty(eventId, regular)).toBe(50);
  });
});
