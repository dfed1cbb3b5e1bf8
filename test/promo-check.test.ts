/** The public promo check (contract §12.4): answers, refusals in one voice, and its rate limit. */
import { describe, expect, it } from "vitest";
import { TestClient } from "./helpers/client";
import { createCode, holdUses, promoEvent, usesOf } from "./helpers/promo-codes";
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
