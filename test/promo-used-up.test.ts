/**
 * A used-up promo code at checkout (contract §11.4, §12.3): once the code's uses are all held
 * or used, later checkouts with it are refused `promo_exhausted` without a seat being held and
 * given back, the tiers' own refusals still come first, and a use that comes back (a failed
 * payment, the buyer's own replaced order) is granted again at once.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { tierInventory } from "../src/inventory/client";
import {
  availableQty,
  eventWithTiers,
  guestCheckout,
  networkFakes,
  postCallback,
  uniquePhone,
} from "./helpers/checkout";
import type { TestClient } from "./helpers/client";
import { codePath, createCode, type PromoCodeBody, promoEvent } from "./helpers/promo-codes";

const guest = () => ({ phone_number: uniquePhone(), email: `${crypto.randomUUID()}@example.com` });

async function timesHeld(organizer: TestClient, eventId: string, codeId: string) {
  const res = await organizer.get<PromoCodeBody>(codePath(eventId, codeId));
  expect(res.status, res.text).toBe(200);
  return res.body.times_held;
}

/** The tier object's counts and version: a hold taken and given back moves the version. */
const tierState = (tierId: string) => tierInventory(env.TIER_INVENTORY, tierId).snapshot();

describe("a used-up promo code at checkout", () => {
  it("refuses 24 parallel checkouts promo_exhausted without holding (or giving back) a single seat", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "LASTONE", max_uses: 1 });
    const first = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "LASTONE" });
    expect(first.status, first.text).toBe(202);
    const before = await tierState(regular);

    const answers = await Promise.all(
      Array.from({ length: 24 }, () =>
        guestCheckout({ ...guest(), tier_id: regular, quantity: 2, promo_code: "lastone" }),
      ),
    );
    for (const a of answers) {
      expect(a.status, a.text).toBe(409);
      expect(a.body).toMatchObject({ code: "promo_exhausted" });
    }
    // Not one seat was held and released on the way (the object's version counts every change).
    expect(await tierState(regular)).toEqual(before);
    expect(await availableQty(eventId, regular)).toBe(99);
    expect(await timesHeld(organizer, eventId, code.id)).toBe(1);
    const pending = await env.DB.prepare("SELECT COUNT(*) AS n FROM orders WHERE event_id = ?")
      .bind(eventId)
      .first<{ n: number }>();
    expect(pending?.n).toBe(1);
  });

  it("still answers the tier's sold_out and buyer_limit before the code's refusal", async () => {
    const { organizer, eventId, tiers } = await eventWithTiers([
      { name: "Few", price: 1000, quantity_allocated: 2, max_per_buyer: 1 },
    ]);
    const few = tiers[0]?.id ?? "";
    await createCode(organizer, eventId, { code: "ONLYONE", max_uses: 1 });
    const holder = guest();
    expect((await guestCheckout({ ...holder, tier_id: few, promo_code: "ONLYONE" })).status).toBe(202);

    // The holder's phone with another email, two seats: over max_per_buyer 1 (their own hold
    // is replaced, so it does not count), whatever the code says.
    const overLimit = await guestCheckout({
      phone_number: holder.phone_number,
      email: `${crypto.randomUUID()}@example.com`,
      tier_id: few,
      quantity: 2,
      promo_code: "ONLYONE",
    });
    expect(overLimit.status, overLimit.text).toBe(409);
    expect(overLimit.body).toMatchObject({ code: "buyer_limit", limit: 1, remaining: 1 });

    // The last seat goes to a buyer without the code: now the tier refuses first.
    expect((await guestCheckout({ ...guest(), tier_id: few })).status).toBe(202);
    const soldOut = await guestCheckout({ ...guest(), tier_id: few, promo_code: "ONLYONE" });
    expect(soldOut.status, soldOut.text).toBe(409);
    expect(soldOut.body).toMatchObject({ code: "sold_out", available: 0 });
  });

  it("grants the use again once it comes back: the holder's own retry, then after a failed payment", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "COMEBACK", max_uses: 1 });
    const holder = guest();
    const first = await guestCheckout({ ...holder, tier_id: regular, promo_code: "COMEBACK" });
    expect(first.status, first.text).toBe(202);
    expect((await guestCheckout({ ...guest(), tier_id: regular, promo_code: "COMEBACK" })).status).toBe(409);

    // The holder missed the prompt and tries again: their new order replaces the old one, and
    // the old one's use is theirs to take over (the code is used up only for everyone else).
    const retry = await guestCheckout({ ...holder, tier_id: regular, promo_code: "COMEBACK" });
    expect(retry.status, retry.text).toBe(202);
    expect(retry.body).toMatchObject({ amount: 1200 });
    expect(await timesHeld(organizer, eventId, code.id)).toBe(1);

    // The retry's payment fails: the use is free, and the next buyer gets the discount.
    await postCallback(networkFakes.daraja.callbackFor(retry.body.checkout_request_id, { resultCode: 1032 }));
    expect(await timesHeld(organizer, eventId, code.id)).toBe(0);
    const next = await guestCheckout({ ...guest(), tier_id: regular, promo_code: "COMEBACK" });
    expect(next.status, next.text).toBe(202);
    expect(next.body).toMatchObject({ amount: 1200 });
    expect(await timesHeld(organizer, eventId, code.id)).toBe(1);
  });
});
