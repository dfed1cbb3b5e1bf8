/** The public promo check (contract §12.4): answers, refusals in one voice, and its rate limit. */
import { describe, expect, it } from "vitest";
import { DomainError } from "../src/lib/errors";
import {
  consumePromoUses,
  releasePromoUses,
  reservePromoUses,
  resolveCheckoutPromo,
  returnPromoUses,
} from "../src/services/promo-codes/at-checkout";
import { TestClient } from "./helpers/client";
import { codePath, createCode, holdUses, promoEvent, usesOf } from "./helpers/promo-codes";
import { servicesFor } from "./helpers/services";
import { insertEvent } from "./helpers/stores";

const DAY = 24 * 60 * 60 * 1000;
const checkPath = (eventId: string) => `/api/events/${eventId}/promo-codes/check/`;
const INVALID = {
  valid: false,
  error: "Invalid or expired promo code.",
  detail: "Invalid or expired promo code.",
  code: "invalid_promo_code",
};

/** A fresh address per test: the limit is per client address per event. */
const buyer = () => new TestClient();

describe("POST /api/events/{id}/promo-codes/check/", () => {
  it("answers a valid code in any case, trimmed, with its terms", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    await createCode(organizer, eventId, { code: "RADIO20", tier_ids: [regular] });
    await createCode(organizer, eventId, { code: "FLAT", discount_type: "FIXED", value: 300 });
    const fan = buyer();

    const res = await fan.post(checkPath(eventId), { code: "  radio20 " });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ valid: true, discount_type: "PERCENT", value: "20.00", tier_ids: [regular] });
    const flat = await fan.post(checkPath(eventId), { code: "flat" });
    expect(flat.body).toEqual({ valid: true, discount_type: "FIXED", value: "300.00", tier_ids: [] });
  });

  it("answers every invalid code the same: unknown, inactive, expired, not yet valid, another event's, free tiers only", async () => {
    const { organizer, eventId, free } = await promoEvent();
    const other = await promoEvent();
    await createCode(organizer, eventId, { code: "OFF", is_active: false });
    await createCode(organizer, eventId, {
      code: "OLD",
      valid_until: new Date(Date.now() - 1000).toISOString(),
    });
    await createCode(organizer, eventId, {
      code: "SOON",
      valid_from: new Date(Date.now() + DAY).toISOString(),
    });
    await createCode(organizer, eventId, { code: "KIDS", tier_ids: [free] });
    await createCode(other.organizer, other.eventId, { code: "ELSEWHERE" });
    const fan = buyer();
    for (const code of ["NOPE", "OFF", "OLD", "SOON", "KIDS", "ELSEWHERE", "x".repeat(500)]) {
      const res = await fan.post(checkPath(eventId), { code });
      expect(res.status, code).toBe(404);
      expect(res.body, code).toEqual(INVALID);
    }
    // The other event's code is good there.
    expect((await buyer().post(checkPath(other.eventId), { code: "elsewhere" })).status).toBe(200);
  });

  it("answers promo_exhausted once used + held reach max_uses", async () => {
    const { organizer, eventId } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "TWO", max_uses: 2 });
    const fan = buyer();
    const order = await holdUses(code, 1);
    expect((await fan.post(checkPath(eventId), { code: "two" })).status).toBe(200);
    await holdUses(code, 1);
    const res = await fan.post(checkPath(eventId), { code: "two" });
    expect(res.status).toBe(404);
    expect(res.body).toEqual({
      valid: false,
      error: "This promo code has been used up.",
      detail: "This promo code has been used up.",
      code: "promo_exhausted",
    });
    // A hold given back makes it usable again.
    await usesOf(code.id).release(order);
    expect((await fan.post(checkPath(eventId), { code: "two" })).status).toBe(200);
  });

  it("answers 404 not_found for an event buyers cannot see", async () => {
    const { organizer } = await promoEvent();
    const me = await organizer.get<{ id: string }>("/api/auth/user/");
    const draft = await insertEvent({ organizerId: me.body.id, isPublished: false });
    const cancelled = await insertEvent({ organizerId: me.body.id, status: "CANCELLED" });
    const notFound = { valid: false, error: "Not found.", detail: "Not found.", code: "not_found" };
    for (const id of [draft.id, cancelled.id, crypto.randomUUID(), "not-a-uuid"]) {
      const res = await buyer().post(checkPath(id), { code: "ANY" });
      expect(res.status, id).toBe(404);
      expect(res.body, id).toEqual(notFound);
    }
  });

  it("asks for a code when none is given (400, no field array)", async () => {
    const { eventId } = await promoEvent();
    for (const body of [{}, { code: "" }, { code: "   " }, { code: null }, { code: 42 }]) {
      const res = await buyer().post(checkPath(eventId), body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toEqual({
        valid: false,
        error: "Enter a promo code.",
        detail: "Enter a promo code.",
        code: "invalid_promo_code",
      });
    }
  });

  it("takes at most 10 attempts a minute per address per event, even 24 at once", async () => {
    const { organizer, eventId } = await promoEvent();
    const other = await promoEvent();
    await createCode(organizer, eventId, { code: "REAL" });
    const guesser = buyer();
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        guesser.post(checkPath(eventId), { code: i === 0 ? "REAL" : `GUESS${i}` }),
      ),
    );
    const limited = answers.filter((r) => r.status === 429);
    expect(limited).toHaveLength(14);
    expect(answers.filter((r) => r.status === 404 || r.status === 200)).toHaveLength(10);
    for (const res of limited) {
      expect(res.body).toMatchObject({ code: "rate_limited" });
      expect(res.body).toHaveProperty("error");
      expect(res.body).toHaveProperty("detail");
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Valid or not, past the limit even the real code is refused.
    expect((await guesser.post(checkPath(eventId), { code: "REAL" })).status).toBe(429);
    // Another address, or another event, has its own limit.
    expect((await buyer().post(checkPath(eventId), { code: "REAL" })).status).toBe(200);
    expect((await guesser.post(checkPath(other.eventId), { code: "NOPE" })).status).toBe(404);
  });
});

describe("The checkout seam (services/promo-codes/at-checkout.ts)", () => {
  const lines = (regular: string, vip: string, free: string) => [
    { tierId: vip, tierName: "VIP", quantity: 1, unitPrice: 5000 },
    { tierId: regular, tierName: "Regular", quantity: 3, unitPrice: 1500 },
    { tierId: free, tierName: "Free", quantity: 2, unitPrice: 0 },
  ];

  it("resolves nothing for no code, and one 400 invalid_promo_code (field promo_code) for every bad one", async () => {
    const { organizer, eventId, free, regular, vip } = await promoEvent();
    await createCode(organizer, eventId, { code: "KIDS", tier_ids: [free] });
    await createCode(organizer, eventId, { code: "OFF", is_active: false });
    const deps = servicesFor();
    const base = {
      eventId,
      eventEndAt: Date.now() + 7 * DAY,
      clientAddress: "10.9.0.1",
      lines: lines(regular, vip, free),
    };
    for (const promoCode of [undefined, null, "", "   "]) {
      expect(await resolveCheckoutPromo(deps, { ...base, promoCode })).toBeNull();
    }
    // KIDS is real but covers only free seats of this order.
    for (const promoCode of ["NOPE", "OFF", "KIDS", 42]) {
      const error = await resolveCheckoutPromo(deps, { ...base, promoCode }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({
        code: "invalid_promo_code",
        detail: "Invalid or expired promo code.",
        fields: { promo_code: ["Invalid or expired promo code."] },
      });
    }
  });

  it("counts only failures, shares the check's limit, and answers 429 past it", async () => {
    const { organizer, eventId, free, regular, vip } = await promoEvent();
    await createCode(organizer, eventId, { code: "GOOD" });
    const deps = servicesFor();
    const fan = buyer();
    const base = {
      eventId,
      eventEndAt: Date.now() + 7 * DAY,
      clientAddress: fan.address,
      lines: lines(regular, vip, free),
    };
    // Twelve valid codes at checkout cost nothing…
    for (let i = 0; i < 12; i++)
      expect(await resolveCheckoutPromo(deps, { ...base, promoCode: "good" })).not.toBeNull();
    // …eight public checks and two failed checkouts fill the ten attempts…
    for (let i = 0; i < 8; i++)
      expect((await fan.post(checkPath(eventId), { code: `G${i}XX` })).status).toBe(404);
    for (let i = 0; i < 2; i++) {
      await expect(resolveCheckoutPromo(deps, { ...base, promoCode: `BAD${i}` })).rejects.toMatchObject({
        code: "invalid_promo_code",
      });
    }
    // …then checkout with any code is 429, and so is the check.
    await expect(resolveCheckoutPromo(deps, { ...base, promoCode: "GOOD" })).rejects.toMatchObject({
      code: "rate_limited",
    });
    expect((await fan.post(checkPath(eventId), { code: "GOOD" })).status).toBe(429);
    // No code at all is not an attempt.
    expect(await resolveCheckoutPromo(deps, { ...base, promoCode: "" })).toBeNull();
  });

  it("reserves k uses with the order priced most expensive first, 409s as values, release and consume", async () => {
    const { organizer, eventId, free, regular, vip } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "THREE", max_uses: 3, max_uses_per_buyer: 3 });
    const deps = servicesFor();
    const order = lines(regular, vip, free);
    const promo = await resolveCheckoutPromo(deps, {
      eventId,
      eventEndAt: Date.now() + 7 * DAY,
      clientAddress: "10.9.0.2",
      promoCode: "three",
      lines: order,
    });
    if (!promo) throw new Error("code not resolved");
    const keys = ["email:jane@example.com", "phone:254711222333"] as const;
    const expiresAt = Date.now() + 5 * 60_000;

    const first = await reservePromoUses(deps, promo, {
      orderId: "o-1",
      lines: order,
      buyerKeys: keys,
      expiresAt,
    });
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    // 4 eligible seats (VIP + 3 Regular), 3 uses: VIP and two Regular get 20 %.
    expect(first.granted).toBe(3);
    expect(first.priced.lines.map((l) => [l.tierName, l.discount, l.lineTotal])).toEqual([
      ["VIP", 1000, 4000],
      ["Regular", 600, 3900],
      ["Free", 0, 0],
    ]);
    expect(first.priced).toMatchObject({ subtotal: 9500, discount: 1600, amount: 7900 });

    // Used up for everyone, and a refusal is a value checkout throws after releasing its tiers.
    const second = await reservePromoUses(deps, promo, {
      orderId: "o-2",
      lines: order,
      buyerKeys: ["email:other@example.com"],
      expiresAt,
    });
    expect(second).toMatchObject({
      ok: false,
      error: { code: "promo_exhausted", detail: "This promo code has been used up." },
    });

    await releasePromoUses(deps, promo.id, ["o-1", "o-1"]);
    expect((await organizer.get(codePath(eventId, code.id))).body).toMatchObject({ times_held: 0 });

    const again = await reservePromoUses(deps, promo, {
      orderId: "o-3",
      lines: order,
      buyerKeys: keys,
      expiresAt,
    });
    expect(again.ok).toBe(true);
    expect(
      await consumePromoUses(deps, promo.id, "o-3", { seats: 3, discount: 1600, buyerKeys: keys }),
    ).toEqual({
      ok: true,
      lateConsume: false,
    });
    expect((await organizer.get(codePath(eventId, code.id))).body).toMatchObject({
      times_used: 3,
      times_held: 0,
      discount_given: 1600,
    });
    // Room again for others (max_uses raised), but this buyer has had their 3.
    await organizer.patch(codePath(eventId, code.id), { max_uses: 10 });
    const fresh = await resolveCheckoutPromo(deps, {
      eventId,
      eventEndAt: Date.now() + 7 * DAY,
      clientAddress: "10.9.0.2",
      promoCode: "THREE",
      lines: order,
    });
    if (!fresh) throw new Error("code not resolved");
    const mine = await reservePromoUses(deps, fresh, {
      orderId: "o-4",
      lines: order,
      buyerKeys: ["phone:254711222333"],
      expiresAt,
    });
    expect(mine).toMatchObject({ ok: false, error: { code: "promo_buyer_limit" } });
    await returnPromoUses(deps, promo.id, "o-3");
    expect((await organizer.get(codePath(eventId, code.id))).body).toMatchObject({
      times_used: 0,
      discount_given: 0,
    });
  });
});
