/**
 * A promo code's uses follow the order's seats everywhere they go (contract v3 §11.4, §11.6,
 * §12.1, §12.3), through the real checkout: Daraja refusing the push gives back both; a
 * payment after the hold lapsed whose uses went to others keeps nothing (PAID_UNFULFILLED,
 * full refund); a buyer's replacing initiate frees the replaced order's uses; and the
 * organizer cannot shrink `max_uses` below what checkouts use and hold, nor rename a code
 * once it has been used or held.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import {
  availableQty,
  expireHolds,
  guestCheckout,
  networkFakes,
  postCallback,
  seatsOf,
  uniquePhone,
} from "./helpers/checkout";
import { TestClient } from "./helpers/client";
import { codePath, createCode, type PromoCodeBody, promoEvent, usesOf } from "./helpers/promo-codes";

const guestEmail = () => `${crypto.randomUUID()}@example.com`;
const guest = () => ({ phone_number: uniquePhone(), email: guestEmail() });

async function codeNow(organizer: TestClient, eventId: string, codeId: string) {
  const res = await organizer.get<PromoCodeBody>(codePath(eventId, codeId));
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** The code's reservations lapse now (as if HOLD_SECONDS had passed), in its object. */
async function expireReservations(codeId: string) {
  await runInDurableObject(usesOf(codeId), (_instance, state) => {
    state.storage.sql.exec("UPDATE reservations SET expires_at = ?", Date.now() - 1);
  });
}

async function orderRow(orderId: string) {
  return env.DB.prepare("SELECT status, refund_status, amount, discount FROM orders WHERE id = ?")
    .bind(orderId)
    .first<{ status: string; refund_status: string | null; amount: number; discount: number }>();
}

async function verifyOf(reference: string) {
  return (await new TestClient().get(`/api/pay/verify/${reference}/`)).body;
}

async function pay(initiated: { checkout_request_id: string }, resultCode = 0) {
  const res = await postCallback(
    networkFakes.daraja.callbackFor(initiated.checkout_request_id, { resultCode }),
  );
  expect(res.status, res.text).toBe(200);
}

describe("a promo code's uses are released with the seats", () => {
  it("Daraja answering 503 at the STK push releases every seat and every use", async () => {
    const { organizer, eventId, regular, vip } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "BUSY20", max_uses: 2 });
    for (const status of [503, 500]) {
      networkFakes.daraja.failNextPush(status, {
        requestId: "1",
        errorCode: "500.003.02",
        errorMessage: "System is busy",
      });
      const res = await guestCheckout({
        ...guest(),
        items: [
          { tier_id: regular, quantity: 2 },
          { tier_id: vip, quantity: 1 },
        ],
        promo_code: "busy20",
      });
      expect(res.status, res.text).toBe(503);
      expect(res.body).toMatchObject({ code: "payment_gateway_error" });
      expect(await codeNow(organizer, eventId, code.id)).toMatchObject({ times_held: 0, times_used: 0 });
      expect(await seatsOf(regular)).toMatchObject({ held: 0, sold: 0 });
      expect(await seatsOf(vip)).toMatchObject({ held: 0, sold: 0 });
      expect(await availableQty(eventId, regular)).toBe(100);
      expect(await availableQty(eventId, vip)).toBe(20);
    }
    // Both uses are really free: the next buyer gets them.
    const next = await guestCheckout({
      ...guest(),
      items: [{ tier_id: vip, quantity: 2 }],
      promo_code: "BUSY20",
    });
    expect(next.status, next.text).toBe(202);
    expect(next.body).toMatchObject({ discount: 2000 });
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(2);
  });

  it("a late payment whose uses went to another buyer keeps nothing: PAID_UNFULFILLED and a full refund", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "ONLYONE", max_uses: 1 });
    const slow = await guestCheckout({ ...guest(), tier_id: regular, quantity: 2, promo_code: "ONLYONE" });
    expect(slow.status, slow.text).toBe(202);
    expect(slow.body).toMatchObject({ amount: 2700, discount: 300 });

    // The hold lapses; another buyer takes the only use and pays.
    await expireHolds(regular);
    await expireReservations(code.id);
    const fast = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "ONLYONE" });
    expect(fast.status, fast.text).toBe(202);
    await pay(fast.body);
    expect(await codeNow(organizer, eventId, code.id)).toMatchObject({ times_used: 1, times_held: 0 });

    // The slow buyer's money arrives for the discounted amount. Seats remain, but the use is
    // gone and the buyer was never asked for the full price: none kept, money back (§11.6).
    await pay(slow.body);
    expect(await orderRow(slow.body.order_id)).toMatchObject({
      status: "PAID_UNFULFILLED",
      refund_status: "PENDING",
    });
    const tickets = await env.DB.prepare("SELECT count(*) AS n FROM tickets WHERE order_id = ?")
      .bind(slow.body.order_id)
      .first<{ n: number }>();
    expect(tickets?.n).toBe(0);
    expect(await seatsOf(regular)).toMatchObject({ sold: 1, held: 0, available: 99 });
    expect(await codeNow(organizer, eventId, code.id)).toMatchObject({
      times_used: 1,
      times_held: 0,
      discount_given: 300,
    });
    const refund = await env.DB.prepare(`SELECT amount, "trigger", "full" FROM refunds WHERE order_id = ?`)
      .bind(slow.body.order_id)
      .all<{ amount: number; trigger: string; full: number }>();
    expect(refund.results).toEqual([{ amount: 2700, trigger: "PAID_UNFULFILLED", full: 1 }]);
    const verify = await verifyOf(slow.body.transaction_ref);
    expect(verify).toMatchObject({ status: "FAILED", reason: "refund_pending" });
  });

  it("a late payment whose uses are still free takes them again with the seats: COMPLETED at the prompted price", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "STILLFREE", max_uses: 2 });
    const late = await guestCheckout({ ...guest(), tier_id: regular, quantity: 2, promo_code: "STILLFREE" });
    expect(late.status, late.text).toBe(202);
    await expireHolds(regular);
    await expireReservations(code.id);
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(0);
    await pay(late.body);
    expect(await orderRow(late.body.order_id)).toMatchObject({ status: "COMPLETED", amount: 2400 });
    expect(await codeNow(organizer, eventId, code.id)).toMatchObject({ times_used: 2, times_held: 0 });
    // The code is now used up.
    const after = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "STILLFREE" });
    expect(after.status).toBe(409);
    expect(after.body).toMatchObject({ code: "promo_exhausted" });
  });

  it("a buyer's replacing initiate releases the replaced order's use (and can take it itself)", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "REPLACE1", max_uses: 1 });
    const phone = uniquePhone();
    const again = (body: Record<string, unknown>) =>
      guestCheckout({ phone_number: phone, email: guestEmail(), tier_id: regular, ...body });
    const first = await again({ promo_code: "REPLACE1" });
    expect(first.status, first.text).toBe(202);
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(1);

    // The same buyer (same phone) starts over with the code: the replaced order's use moves
    // to the new order in the same step, so max_uses 1 is enough.
    const second = await again({ promo_code: "REPLACE1" });
    expect(second.status, second.text).toBe(202);
    expect(second.body).toMatchObject({ discount: 300 });
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(1);
    expect(await seatsOf(regular)).toMatchObject({ held: 1 });

    // And over again without it: that order's use goes with its seats.
    const third = await again({});
    expect(third.status, third.text).toBe(202);
    expect(third.body).toMatchObject({ discount: 0 });
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(0);
    expect(await seatsOf(regular)).toMatchObject({ held: 1 });

    // Another buyer gets the freed use.
    const other = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "REPLACE1" });
    expect(other.status, other.text).toBe(202);
    expect(other.body).toMatchObject({ discount: 300 });
    // A replaced order's late payment cannot take the use back: it is not fulfilled.
    await pay(first.body);
    expect(await orderRow(first.body.order_id)).toMatchObject({ status: "PAID_UNFULFILLED" });
    expect(await codeNow(organizer, eventId, code.id)).toMatchObject({ times_used: 0, times_held: 1 });
    expect(await seatsOf(regular)).toMatchObject({ sold: 0, held: 2 });
  });
});

describe("organizer edits against live checkouts", () => {
  it("refuses max_uses below what paid orders use and open checkouts hold", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "SHRINK", max_uses: 10 });
    const paid = await guestCheckout({ ...guest(), tier_id: regular, quantity: 2, promo_code: "SHRINK" });
    await pay(paid.body);
    const open = await guestCheckout({ ...guest(), tier_id: regular, quantity: 3, promo_code: "SHRINK" });
    expect(open.status, open.text).toBe(202);
    expect(await codeNow(organizer, eventId, code.id)).toMatchObject({ times_used: 2, times_held: 3 });

    for (const below of [4, 1]) {
      const res = await organizer.patch(codePath(eventId, code.id), { max_uses: below });
      expect(res.status, res.text).toBe(400);
      expect(res.body).toHaveProperty("max_uses");
    }
    expect((await codeNow(organizer, eventId, code.id)).max_uses).toBe(10);
    const at = await organizer.patch<PromoCodeBody>(codePath(eventId, code.id), { max_uses: 5 });
    expect(at.status, at.text).toBe(200);
    expect(at.body).toMatchObject({ max_uses: 5, times_used: 2, times_held: 3 });

    // At its limit: the next checkout is refused and holds nothing.
    const before = await availableQty(eventId, regular);
    const refused = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "SHRINK" });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: "promo_exhausted" });
    expect(await availableQty(eventId, regular)).toBe(before);

    // The open checkout fails: its uses are free, and max_uses may come down to what was used.
    await pay(open.body, 1032);
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(0);
    expect((await organizer.patch(codePath(eventId, code.id), { max_uses: 1 })).status).toBe(400);
    const down = await organizer.patch<PromoCodeBody>(codePath(eventId, code.id), { max_uses: 2 });
    expect(down.status, down.text).toBe(200);
    expect(down.body).toMatchObject({ max_uses: 2, times_used: 2, times_held: 0 });
  });

  it("a code cannot be renamed once a checkout holds or used it; other fields still change", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "RADIO20", max_uses: 5 });
    const held = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "RADIO20" });
    expect(held.status, held.text).toBe(202);
    const whileHeld = await organizer.patch(codePath(eventId, code.id), { code: "RADIO25" });
    expect(whileHeld.status, whileHeld.text).toBe(400);
    expect(whileHeld.body).toHaveProperty("code");

    // Released (payment cancelled) before anyone used it: nothing depends on the name yet.
    await pay(held.body, 1032);
    const renamed = await organizer.patch<PromoCodeBody>(codePath(eventId, code.id), { code: "RADIO25" });
    expect(renamed.status, renamed.text).toBe(200);
    expect(renamed.body.code).toBe("RADIO25");

    const used = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "radio25" });
    expect(used.status, used.text).toBe(202);
    await pay(used.body);
    const afterUse = await organizer.patch(codePath(eventId, code.id), { code: "RADIO30" });
    expect(afterUse.status).toBe(400);
    expect(afterUse.body).toHaveProperty("code");
    // The same code in another case is no change.
    expect((await organizer.patch(codePath(eventId, code.id), { code: "radio25" })).status).toBe(200);
    const stored = await codeNow(organizer, eventId, code.id);
    expect(stored).toMatchObject({ code: "RADIO25", times_used: 1 });
    const order = await env.DB.prepare("SELECT promo_code FROM orders WHERE id = ?")
      .bind(used.body.order_id)
      .first<{ promo_code: string }>();
    expect(order?.promo_code).toBe("RADIO25");
    // The old name finds nothing; the real one still works at checkout.
    const oldName = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "RADIO30" });
    expect(oldName.status).toBe(400);
    expect(oldName.body).toMatchObject({ code: "invalid_promo_code" });

    // Deactivating is how a used code is retired; deleting it is refused.
    const off = await organizer.patch<PromoCodeBody>(codePath(eventId, code.id), { is_active: false });
    expect(off.status, off.text).toBe(200);
    expect(off.body.is_active).toBe(false);
    const inactive = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "RADIO25" });
    expect(inactive.status).toBe(400);
    expect(inactive.body).toMatchObject({ code: "invalid_promo_code" });
    expect((await organizer.request("DELETE", codePath(eventId, code.id))).status).toBe(409);
  });
});
