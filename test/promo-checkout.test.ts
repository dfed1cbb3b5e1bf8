/**
 * Promo codes at checkout (contract §11.2 steps 7–8, §11.4, §11.6, §12.2, §12.3): the code is
 * checked before any seat is held, its uses are reserved after the seats, given back with
 * them, consumed on payment, and the order records code and discount.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  availableQty,
  DARAJA,
  expireHolds,
  guestCheckout,
  networkFakes,
  postCallback,
  uniquePhone,
} from "./helpers/checkout";
import { TestClient } from "./helpers/client";
import { codePath, createCode, type PromoCodeBody, promoEvent, usesOf } from "./helpers/promo-codes";

const guest = () => ({ phone_number: uniquePhone(), email: `${crypto.randomUUID()}@example.com` });

async function codeNow(organizer: TestClient, eventId: string, codeId: string) {
  const res = await organizer.get<PromoCodeBody>(codePath(eventId, codeId));
  expect(res.status, res.text).toBe(200);
  return res.body;
}

async function orderRow(orderId: string) {
  return env.DB.prepare("SELECT promo_code, promo_code_id, discount, amount FROM orders WHERE id = ?")
    .bind(orderId)
    .first<{ promo_code: string | null; promo_code_id: string | null; discount: number; amount: number }>();
}

describe("initiate/ with promo_code", () => {
  it("prices a PERCENT code over several tiers, most expensive seats first, and freezes it on the order", async () => {
    const { organizer, eventId, regular, vip } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "KARIBU20", value: 20, max_uses: 2 });
    const res = await guestCheckout({
      ...guest(),
      items: [
        { tier_id: regular, quantity: 2 },
        { tier_id: vip, quantity: 1 },
      ],
      promo_code: " karibu20 ",
    });
    expect(res.status, res.text).toBe(202);
    // k = 2: the VIP seat (1000 off) and one Regular seat (300 off).
    expect(res.body).toMatchObject({ subtotal: 8000, discount: 1300, amount: 6700 });
    expect(res.body.items).toEqual([
      {
        tier_id: regular,
        tier_name: "Regular",
        quantity: 2,
        unit_price: 1500,
        discount: 300,
        line_total: 2700,
      },
      { tier_id: vip, tier_name: "VIP", quantity: 1, unit_price: 5000, discount: 1000, line_total: 4000 },
    ]);
    expect(await orderRow(res.body.order_id)).toEqual({
      promo_code: "KARIBU20",
      promo_code_id: code.id,
      discount: 1300,
      amount: 6700,
    });
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(2);
  });

  it("prices a FIXED code per seat in the single-tier form", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    await createCode(organizer, eventId, { code: "FLAT", discount_type: "FIXED", value: 500 });
    const res = await guestCheckout({ ...guest(), tier_id: regular, quantity: 3, promo_code: "flat" });
    expect(res.status, res.text).toBe(202);
    expect(res.body).toMatchObject({ subtotal: 4500, discount: 1500, amount: 3000 });
  });

  it("refuses unknown, expired and another event's codes with 400, holding nothing", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const other = await promoEvent();
    await createCode(other.organizer, other.eventId, { code: "ELSEWHERE" });
    await createCode(organizer, eventId, {
      code: "OLD",
      valid_until: new Date(Date.now() - 1000).toISOString(),
    });
    const before = await availableQty(eventId, regular);
    for (const promo of ["NOPE", "OLD", "ELSEWHERE", 42]) {
      const res = await guestCheckout({ ...guest(), tier_id: regular, quantity: 2, promo_code: promo });
      expect(res.status, String(promo)).toBe(400);
      expect(res.body, String(promo)).toMatchObject({
        code: "invalid_promo_code",
        promo_code: ["Invalid or expired promo code."],
      });
    }
    expect(await availableQty(eventId, regular)).toBe(before);
    const held = await env.DB.prepare("SELECT COUNT(*) AS n FROM orders WHERE event_id = ?")
      .bind(eventId)
      .first<{ n: number }>();
    expect(held?.n).toBe(0);
  });

  it("lets exactly max_uses of 30 parallel initiates take a single-seat code; the rest 409 with their seats back", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "FIRST5", max_uses: 5 });
    const answers = await Promise.all(
      Array.from({ length: 30 }, () =>
        guestCheckout({ ...guest(), tier_id: regular, quantity: 1, promo_code: "FIRST5" }),
      ),
    );
    const ok = answers.filter((r) => r.status === 202);
    const refused = answers.filter((r) => r.status === 409);
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(25);
    for (const r of refused) expect(r.body).toMatchObject({ code: "promo_exhausted" });
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(5);
    expect(await availableQty(eventId, regular)).toBe(95);
  });

  it("a failed payment gives the use back; a lapsed hold does too", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "ONCE", max_uses: 1 });
    const first = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "ONCE" });
    expect(first.status, first.text).toBe(202);
    await postCallback(networkFakes.daraja.callbackFor(first.body.checkout_request_id, { resultCode: 1032 }));
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(0);

    const second = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "ONCE" });
    expect(second.status, second.text).toBe(202);
    const third = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "ONCE" });
    expect(third.status).toBe(409);
    // The hold lapses (the code's object and the tier's, as if HOLD_SECONDS had passed): the
    // use is free again, and the next buyer gets it.
    await expireHolds(regular);
    await runInDurableObject(usesOf(code.id), (_instance, state) => {
      state.storage.sql.exec("UPDATE reservations SET expires_at = ?", Date.now() - 1);
    });
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(0);
    const fourth = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "ONCE" });
    expect(fourth.status, fourth.text).toBe(202);
  });

  it("a paid order consumes its use, shows promo_code to the organizer, and a replayed Idempotency-Key takes no second use", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "PAIDONE", max_uses: 3 });
    const body = { ...guest(), name: "Wanjiku Kamau", tier_id: regular, promo_code: "PAIDONE" };
    const buyer = new TestClient({ ...DARAJA, BOOKINGS_PER_RECIPIENT_PER_HOUR: "1000" });
    const key = { headers: { "Idempotency-Key": crypto.randomUUID() } };
    const first = await buyer.post<{ order_id: string; checkout_request_id: string; amount: number }>(
      "/api/pay/initiate/",
      body,
      key,
    );
    expect(first.status, first.text).toBe(202);
    const replay = await buyer.post<{ order_id: string }>("/api/pay/initiate/", body, key);
    expect(replay.status).toBe(202);
    expect(replay.body.order_id).toBe(first.body.order_id);
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(1);

    const cb = await postCallback(
      networkFakes.daraja.callbackFor(first.body.checkout_request_id, {
        resultCode: 0,
        amount: first.body.amount,
      }),
    );
    expect(cb.status, cb.text).toBe(200);
    const after = await codeNow(organizer, eventId, code.id);
    expect(after).toMatchObject({ times_used: 1, times_held: 0, discount_given: 300 });
    const view = await organizer.get<{ promo_code: string | null; discount: number }>(
      `/api/organizer/orders/${first.body.order_id}/`,
    );
    expect(view.status, view.text).toBe(200);
    expect(view.body).toMatchObject({ promo_code: "PAIDONE", discount: 300, amount: 1200 });
  });

  it("a 100 % code books the order free (201, no STK push) and consumes the use", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "COMP", value: 100 });
    const res = await guestCheckout({ ...guest(), tier_id: regular, quantity: 2, promo_code: "COMP" });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({ subtotal: 3000, discount: 3000, amount: 0, quantity: 2 });
    expect(await codeNow(organizer, eventId, code.id)).toMatchObject({ times_used: 2, times_held: 0 });
  });
});
