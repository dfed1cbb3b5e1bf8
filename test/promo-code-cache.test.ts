/**
 * A promo code just found valid is kept by the isolate for a moment (services/promo-codes/
 * code-cache.ts, contract §12.4): it takes no attempt on D1 (only failures count), so many
 * fans behind one address (a campus, a carrier's NAT) can check out with it at once; past the
 * limit it still answers 429; and an organizer's edit reaches this isolate's next checkout.
 */
import { describe, expect, it } from "vitest";
import { DARAJA, type Initiated, uniquePhone } from "./helpers/checkout";
import { TestClient } from "./helpers/client";
import { codePath, createCode, promoEvent } from "./helpers/promo-codes";

const checkPath = (eventId: string) => `/api/events/${eventId}/promo-codes/check/`;

/** A guest checkout from `address` (one per request: its own phone and email). */
function checkoutFrom(address: string, body: Record<string, unknown>) {
  return new TestClient({ ...DARAJA, BOOKINGS_PER_RECIPIENT_PER_HOUR: "1000" }, address).post<Initiated>(
    "/api/pay/initiate/",
    {
      name: "Achieng Otieno",
      phone_number: uniquePhone(),
      email: `${crypto.randomUUID()}@example.com`,
      ...body,
    },
  );
}

const nat = () => `10.77.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

describe("a promo code known valid", () => {
  it("lets 24 checkouts behind one address use it at once, with 9 of its 10 attempts already failed", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    await createCode(organizer, eventId, { code: "CAMPUS" });
    const address = nat();
    const guesser = new TestClient({}, address);
    for (let i = 0; i < 9; i++) {
      expect((await guesser.post(checkPath(eventId), { code: `WRONG${i}` })).status).toBe(404);
    }
    // One checkout finds the code valid (its attempt taken and given back)…
    const first = await checkoutFrom(address, { tier_id: regular, promo_code: "campus" });
    expect(first.status, first.text).toBe(202);
    // …then 24 at once take none: with one attempt left, taking one each would refuse most.
    const answers = await Promise.all(
      Array.from({ length: 24 }, () => checkoutFrom(address, { tier_id: regular, promo_code: "CAMPUS" })),
    );
    for (const a of answers) {
      expect(a.status, a.text).toBe(202);
      expect(a.body).toMatchObject({ amount: 1200 });
    }
    // A failure still counts: the tenth, and then even the valid code answers 429.
    const bad = await checkoutFrom(address, { tier_id: regular, promo_code: "NOTACODE" });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: "invalid_promo_code" });
    const limited = await checkoutFrom(address, { tier_id: regular, promo_code: "CAMPUS" });
    expect(limited.status, limited.text).toBe(429);
    expect(limited.body).toMatchObject({ code: "rate_limited" });
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another address is not limited.
    expect((await checkoutFrom(nat(), { tier_id: regular, promo_code: "CAMPUS" })).status).toBe(202);
  });

  it("follows the organizer's edits at once: a new value, then deactivation", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "RADIO", value: 20 });
    const address = nat();
    expect((await checkoutFrom(address, { tier_id: regular, promo_code: "RADIO" })).body).toMatchObject({
      amount: 1200,
    });
    const half = await organizer.patch(codePath(eventId, code.id), { value: 50 });
    expect(half.status, half.text).toBe(200);
    expect((await checkoutFrom(address, { tier_id: regular, promo_code: "RADIO" })).body).toMatchObject({
      amount: 750,
    });
    const off = await organizer.patch(codePath(eventId, code.id), { is_active: false });
    expect(off.status, off.text).toBe(200);
    const refused = await checkoutFrom(address, { tier_id: regular, promo_code: "RADIO" });
    expect(refused.status, refused.text).toBe(400);
    expect(refused.body).toMatchObject({ code: "invalid_promo_code" });
  });
});
