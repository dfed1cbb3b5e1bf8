/** Organizer CRUD of promo codes (contract §12.1), through the real app, D1 and the code's object. */
import { describe, expect, it } from "vitest";
import { registerUser } from "./helpers/accounts";
import { DARAJA } from "./helpers/checkout";
import { TestClient } from "./helpers/client";
import {
  codePath,
  codesPath,
  createCode,
  holdUses,
  type PromoCodeBody,
  promoEvent,
  usesOf,
} from "./helpers/promo-codes";

const DAY = 24 * 60 * 60 * 1000;

describe("POST/GET /api/organizer/events/{id}/promo-codes/", () => {
  it("creates a code stored upper case and shows it with its uses", async () => {
    const { organizer, eventId, regular } = await promoEvent();
    const res = await organizer.post<PromoCodeBody>(codesPath(eventId), {
      code: "  radio-20_x ",
      discount_type: "percent",
      value: "20.00",
      tier_ids: [regular],
      max_uses: 100,
      max_uses_per_buyer: 2,
      valid_until: new Date(Date.now() + DAY).toISOString(),
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({
      event_id: eventId,
      code: "RADIO-20_X",
      discount_type: "PERCENT",
      value: "20.00",
      tier_ids: [regular],
      max_uses: 100,
      max_uses_per_buyer: 2,
      valid_from: null,
      is_active: true,
      times_used: 0,
      times_held: 0,
      discount_given: 0,
    });
    expect(res.body.valid_until).toMatch(/\+03:00$/);

    const one = await organizer.get<PromoCodeBody>(codePath(eventId, res.body.id));
    expect(one.status).toBe(200);
    expect(one.body).toEqual(res.body);
  });

  it("lists newest first, paginated", async () => {
    const { organizer, eventId } = await promoEvent();
    const made: string[] = [];
    for (let i = 0; i < 3; i++) made.push((await createCode(organizer, eventId)).id);
    const page = await organizer.get<{ count: number; next: string | null; results: PromoCodeBody[] }>(
      `${codesPath(eventId)}?page_size=2`,
    );
    expect(page.status).toBe(200);
    expect(page.body.count).toBe(3);
    expect(page.body.results.map((c) => c.id)).toEqual([made[2], made[1]]);
    expect(page.body.next).toContain("page=2");
  });

  it("refuses a code already used by the event in any case, also when 24 creates race", async () => {
    const { organizer, eventId } = await promoEvent();
    await createCode(organizer, eventId, { code: "EARLY" });
    const dup = await organizer.post(codesPath(eventId), {
      code: "early",
      discount_type: "FIXED",
      value: 100,
    });
    expect(dup.status).toBe(400);
    expect(dup.body).toEqual({ code: ["A promo code with this code already exists for this event."] });

    const raced = await Promise.all(
      Array.from({ length: 24 }, () =>
        organizer.post(codesPath(eventId), { code: "flash", discount_type: "FIXED", value: 100 }),
      ),
    );
    expect(raced.filter((r) => r.status === 201)).toHaveLength(1);
    expect(raced.filter((r) => r.status === 400)).toHaveLength(23);

    // Another event may use the same code.
    const other = await promoEvent();
    await createCode(other.organizer, other.eventId, { code: "EARLY" });
  });

  it("validates every field per contract and writes nothing on refusal", async () => {
    const { organizer, eventId } = await promoEvent();
    const foreign = await promoEvent();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ code: "AB" }, "code"],
      [{ code: "A".repeat(33) }, "code"],
      [{ code: "NO SPACE" }, "code"],
      [{ code: "ÄPFEL" }, "code"],
      [{ discount_type: "BOGO" }, "discount_type"],
      [{ value: 0 }, "value"],
      [{ value: 101 }, "value"],
      [{ value: "20.50" }, "value"],
      [{ value: -5 }, "value"],
      [{ discount_type: "FIXED", value: 0 }, "value"],
      [{ tier_ids: [foreign.regular] }, "tier_ids"],
      [{ tier_ids: ["not-a-tier"] }, "tier_ids"],
      [{ max_uses: 0 }, "max_uses"],
      [{ max_uses_per_buyer: -1 }, "max_uses_per_buyer"],
      [{ max_uses: 2.5 }, "max_uses"],
      [{ valid_from: "tomorrow" }, "valid_from"],
      [
        {
          valid_from: new Date(Date.now() + 2 * DAY).toISOString(),
          valid_until: new Date(Date.now() + DAY).toISOString(),
        },
        "valid_until",
      ],
      [{ times_usd: 3 }, "non_field_errors"],
    ];
    for (const [override, field] of cases) {
      const res = await organizer.post(codesPath(eventId), {
        code: "VALID1",
        discount_type: "PERCENT",
        value: 20,
        ...override,
      });
      expect(res.status, `${JSON.stringify(override)} → ${res.text}`).toBe(400);
      expect(Object.keys(res.body), JSON.stringify(override)).toContain(field);
    }
    const list = await organizer.get<{ count: number }>(codesPath(eventId));
    expect(list.body.count).toBe(0);
    // A fixed discount above a price is fine (capped at checkout); 100 % too.
    await createCode(organizer, eventId, { discount_type: "FIXED", value: 999_999 });
    await createCode(organizer, eventId, { value: 100 });
  });

  it("answers 404 for another organizer's event or code, 403 for non-organizers, 401 signed out", async () => {
    const { organizer, eventId } = await promoEvent();
    const code = await createCode(organizer, eventId);
    const rival = new TestClient(DARAJA);
    await registerUser(rival, { role: "ORGANIZER" });
    const rivalEvent = await promoEvent();

    expect((await rival.get(codesPath(eventId))).status).toBe(404);
    expect(
      (await rival.post(codesPath(eventId), { code: "STEAL", discount_type: "PERCENT", value: 100 })).status,
    ).toBe(404);
    expect((await rival.get(codePath(eventId, code.id))).status).toBe(404);
    expect((await rival.patch(codePath(eventId, code.id), { value: 100 })).status).toBe(404);
    expect((await rival.request("DELETE", codePath(eventId, code.id))).status).toBe(404);
    // The code under an event of the rival's that it does not belong to: 404 too.
    expect((await rivalEvent.organizer.get(codePath(rivalEvent.eventId, code.id))).status).toBe(404);
    expect((await organizer.get(codePath(eventId, crypto.randomUUID()))).status).toBe(404);
    expect((await organizer.get(codePath(eventId, "nope"))).status).toBe(404);

    const fan = new TestClient();
    await registerUser(fan);
    expect((await fan.get(codesPath(eventId))).status).toBe(403);
    expect((await new TestClient().get(codesPath(eventId))).status).toBe(401);

    const after = await organizer.get<PromoCodeBody>(codePath(eventId, code.id));
    expect(after.body.value).toBe("20.00");
  });
});

describe("PATCH /api/organizer/events/{id}/promo-codes/{code_id}/", () => {
  it("edits any writable field, and the code's object learns new limits", async () => {
    const { organizer, eventId, vip } = await promoEvent();
    const code = await createCode(organizer, eventId, { max_uses: 5 });
    const res = await organizer.patch<PromoCodeBody>(codePath(eventId, code.id), {
      code: "vipnight",
      discount_type: "FIXED",
      value: 500,
      tier_ids: [vip],
      max_uses: 50,
      max_uses_per_buyer: 4,
      is_active: false,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      code: "VIPNIGHT",
      discount_type: "FIXED",
      value: "500.00",
      tier_ids: [vip],
      max_uses: 50,
      max_uses_per_buyer: 4,
      is_active: false,
    });
    expect(await usesOf(code.id).snapshot()).toMatchObject({ maxUses: 50, maxUsesPerBuyer: 4 });

    // null = unlimited again; [] = every tier again.
    const cleared = await organizer.patch<PromoCodeBody>(codePath(eventId, code.id), {
      max_uses: null,
      tier_ids: [],
    });
    expect(cleared.body).toMatchObject({ max_uses: null, tier_ids: [] });
    expect((await usesOf(code.id).snapshot()).maxUses).toBeNull();
  });

  it("checks the value against the merged discount type", async () => {
    const { organizer, eventId } = await promoEvent();
    const code = await createCode(organizer, eventId, { discount_type: "FIXED", value: 500 });
    const res = await organizer.patch(codePath(eventId, code.id), { discount_type: "PERCENT" });
    expect(res.status).toBe(400);
    expect(res.body).toHaveProperty("value");
  });

  it("refuses to rename a code once used or held, and max_uses below used + held", async () => {
    const { organizer, eventId } = await promoEvent();
    const code = await createCode(organizer, eventId, { code: "ONCE", max_uses: 10 });
    const paid = await holdUses(code, 2);
    await usesOf(code.id).consume(paid, { seats: 2, discount: 600 });
    await holdUses(code, 3);

    const rename = await organizer.patch(codePath(eventId, code.id), { code: "TWICE" });
    expect(rename.status).toBe(400);
    expect(rename.body).toHaveProperty("code");
    // Same code in another case is no change.
    expect((await organizer.patch(codePath(eventId, code.id), { code: "once" })).status).toBe(200);

    const below = await organizer.patch(codePath(eventId, code.id), { max_uses: 4 });
    expect(below.status).toBe(400);
    expect(below.body).toHaveProperty("max_uses");
    const at = await organizer.patch<PromoCodeBody>(codePath(eventId, code.id), { max_uses: 5 });
    expect(at.status).toBe(200);
    expect(at.body).toMatchObject({ max_uses: 5, times_used: 2, times_held: 3, discount_given: 600 });
  });

  it("a max_uses edit racing 24 reservations never leaves used + held above max_uses", async () => {
    const { organizer, eventId } = await promoEvent();
    const code = await createCode(organizer, eventId, { max_uses: 100 });
    const seed = { maxUses: 100, maxUsesPerBuyer: null, promoCodeId: code.id };
    const stub = usesOf(code.id);
    await stub.snapshot(seed);
    const [patched, ...reserves] = await Promise.all([
      organizer.patch<PromoCodeBody>(codePath(eventId, code.id), { max_uses: 6 }),
      ...Array.from({ length: 24 }, (_, i) =>
        stub.reserve(
          crypto.randomUUID(),
          { seats: 1, buyerKeys: [`email:r${i}@example.com`], expiresAt: Date.now() + 60_000 },
          seed,
        ),
      ),
    ]);
    const held = reserves.reduce((sum, r) => sum + (r.ok ? r.granted : 0), 0);
    const final = await stub.snapshot();
    expect(final.held).toBe(held);
    if (patched.status === 200) {
      expect(final.maxUses).toBe(6);
      expect(held).toBeLessThanOrEqual(6);
    } else {
      expect(patched.status).toBe(400);
      expect(final.maxUses).toBe(100);
      expect(held).toBeGreaterThan(6);
    }
  });
});

describe("DELETE /api/organizer/events/{id}/promo-codes/{code_id}/", () => {
  it("deletes a code never used nor held", async () => {
    const { organizer, eventId } = await promoEvent();
    const code = await createCode(organizer, eventId);
    expect((await organizer.request("DELETE", codePath(eventId, code.id))).status).toBe(204);
    expect((await organizer.get(codePath(eventId, code.id))).status).toBe(404);
    // The code's text is free again.
    await createCode(organizer, eventId, { code: code.code });
  });

  it("refuses (409) a code used or held, and keeps it", async () => {
    const { organizer, eventId } = await promoEvent();
    const code = await createCode(organizer, eventId);
    const order = await holdUses(code, 1);
    const res = await organizer.request("DELETE", codePath(eventId, code.id));
    expect(res.status).toBe(409);
    expect(res.body).toEqual({ detail: "This code has been used; set is_active to false instead." });
    expect((await organizer.get(codePath(eventId, code.id))).status).toBe(200);
    // Still takes reservations (the refused delete did not retire it).
    await usesOf(code.id).release(order);
    await holdUses(code, 1);
  });
});

describe("Deleting a tier (§12.1)", () => {
  it("drops it from tier_ids; a code left with none is deactivated, not widened", async () => {
    const { organizer, eventId, regular, vip } = await promoEvent();
    const onlyVip = await createCode(organizer, eventId, { tier_ids: [vip] });
    const both = await createCode(organizer, eventId, { tier_ids: [regular, vip] });
    const all = await createCode(organizer, eventId);

    const edit = await organizer.get<{ tiers: Array<Record<string, unknown>> }>(
      `/api/organizer/events/${eventId}/edit/`,
    );
    const keep = edit.body.tiers
      .filter((t) => t.id !== vip)
      .map((t) => ({ id: t.id, name: t.name, price: t.price, quantity_allocated: t.quantity_allocated }));
    const res = await organizer.patch(`/api/organizer/events/${eventId}/edit/`, { tiers: keep });
    expect(res.status, res.text).toBe(200);

    const read = async (id: string) => (await organizer.get<PromoCodeBody>(codePath(eventId, id))).body;
    expect(await read(onlyVip.id)).toMatchObject({ tier_ids: [], is_active: false });
    expect(await read(both.id)).toMatchObject({ tier_ids: [regular], is_active: true });
    expect(await read(all.id)).toMatchObject({ tier_ids: [], is_active: true });
  });
});
