/**
 * PromoCodeUses, through the real Durable Object binding: the one writer of a code's uses
 * (contract §12.3). The invariant under test: used + held ≤ max_uses, and per buyer (any
 * shared key) ≤ max_uses_per_buyer, however many reservations race.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { PromoCodeUses } from "../src/inventory/promo-code-uses";
import type { PromoSeed, PromoSnapshot } from "../src/inventory/promo-types";
import type { BuyerKey } from "../src/inventory/types";

function code(): DurableObjectStub<PromoCodeUses> {
  return env.PROMO_CODE_USES.get(env.PROMO_CODE_USES.idFromName(`promo-${crypto.randomUUID()}`));
}

const seed = (maxUses: number | null, maxUsesPerBuyer: number | null = null): PromoSeed => ({
  maxUses,
  maxUsesPerBuyer,
});
const later = () => Date.now() + 60_000;
const buyer = (n: number | string): BuyerKey[] => [`email:fan${n}@example.com`, `phone:2547000${n}`];
const order = () => crypto.randomUUID();

describe("PromoCodeUses (one Durable Object per promo code)", () => {
  it("50 parallel reservations against max_uses 10 get exactly 10 discounted seats", async () => {
    const stub = code();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        stub.reserve(order(), { seats: 1, buyerKeys: buyer(i), expiresAt: later() }, seed(10)),
      ),
    );
    const granted = results.reduce((sum, r) => sum + (r.ok ? r.granted : 0), 0);
    expect(granted).toBe(10);
    expect(results.filter((r) => !r.ok && r.reason === "exhausted")).toHaveLength(40);
    expect(await stub.snapshot()).toMatchObject({ maxUses: 10, used: 0, held: 10 });
  });

  it("parallel multi-seat orders never take more than max_uses together, partial where some remain", async () => {
    const stub = code();
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        stub.reserve(order(), { seats: 3, buyerKeys: buyer(`m${i}`), expiresAt: later() }, seed(10)),
      ),
    );
    const grants = results.flatMap((r) => (r.ok ? [r.granted] : []));
    expect(grants.reduce((a, b) => a + b, 0)).toBe(10);
    // 3 + 3 + 3 + 1: exactly one order was partially applied.
    expect(grants.sort()).toEqual([1, 3, 3, 3]);
  });

  it("applies partially when only some uses remain, then answers exhausted", async () => {
    const stub = code();
    expect(
      await stub.reserve("a", { seats: 3, buyerKeys: buyer(1), expiresAt: later() }, seed(4)),
    ).toMatchObject({ ok: true, granted: 3 });
    expect(await stub.reserve("b", { seats: 5, buyerKeys: buyer(2), expiresAt: later() })).toMatchObject({
      ok: true,
      granted: 1,
    });
    expect(await stub.reserve("c", { seats: 1, buyerKeys: buyer(3), expiresAt: later() })).toMatchObject({
      ok: false,
      reason: "exhausted",
    });
    expect(await stub.snapshot()).toMatchObject({ used: 0, held: 4 });
  });

  it("caps a buyer across orders sharing any identifier, even in parallel", async () => {
    const stub = code();
    const phone: BuyerKey = "phone:254711000111";
    // Ten different emails, one phone: one buyer (§15.2).
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        stub.reserve(
          order(),
          { seats: 1, buyerKeys: [`email:alias${i}@example.com`, phone], expiresAt: later() },
          seed(100, 2),
        ),
      ),
    );
    expect(results.reduce((sum, r) => sum + (r.ok ? r.granted : 0), 0)).toBe(2);
    expect(results.filter((r) => !r.ok && r.reason === "buyer_limit")).toHaveLength(22);
    // Another buyer is not affected.
    expect(await stub.reserve("other", { seats: 3, buyerKeys: buyer(9), expiresAt: later() })).toMatchObject({
      ok: true,
      granted: 2,
    });
  });

  it("counts a buyer's consumed uses against their limit; partial within the buyer's remainder", async () => {
    const stub = code();
    const keys: BuyerKey[] = ["user:u-1", "email:jane@example.com"];
    expect(
      await stub.reserve("first", { seats: 2, buyerKeys: keys, expiresAt: later() }, seed(null, 3)),
    ).toMatchObject({ ok: true, granted: 2 });
    expect(await stub.consume("first", { seats: 2, discount: 400 })).toMatchObject({ ok: true, seats: 2 });
    // Same email, signed out: still the same buyer; one use left.
    expect(
      await stub.reserve("second", { seats: 4, buyerKeys: ["email:jane@example.com"], expiresAt: later() }),
    ).toMatchObject({ ok: true, granted: 1 });
    // The account again, with the email: shares identifiers with both earlier orders (3 seats).
    expect(
      await stub.reserve("third", {
        seats: 1,
        buyerKeys: ["user:u-1", "email:jane@example.com"],
        expiresAt: later(),
      }),
    ).toMatchObject({ ok: false, reason: "buyer_limit" });
  });

  it("reserve, release and consume are idempotent per order", async () => {
    const stub = code();
    const first = await stub.reserve("o1", { seats: 2, buyerKeys: buyer(1), expiresAt: later() }, seed(5));
    const again = await stub.reserve("o1", { seats: 4, buyerKeys: buyer(1), expiresAt: later() });
    expect(again).toMatchObject({ ok: true, granted: 2 });
    expect(first.ok && again.ok && !again.alreadyConsumed && !first.alreadyConsumed).toBe(true);
    expect((await stub.snapshot()).held).toBe(2);

    await stub.release("o1");
    await stub.release("o1");
    await stub.release("never-reserved");
    expect(await stub.snapshot()).toMatchObject({ used: 0, held: 0 });

    await stub.reserve("o2", { seats: 3, buyerKeys: buyer(2), expiresAt: later() });
    const consumed = await Promise.all(
      Array.from({ length: 24 }, () => stub.consume("o2", { seats: 3, discount: 900 })),
    );
    expect(consumed.filter((r) => r.ok && !r.alreadyConsumed)).toHaveLength(1);
    expect(await stub.snapshot()).toMatchObject({ used: 3, held: 0, discountGiven: 900 });
    // A paid order's reserve or release changes nothing.
    expect(await stub.reserve("o2", { seats: 3, buyerKeys: buyer(2), expiresAt: later() })).toMatchObject({
      ok: true,
      alreadyConsumed: true,
      granted: 3,
    });
    await stub.release("o2");
    expect(await stub.snapshot()).toMatchObject({ used: 3, held: 0 });
  });

  it("lapsed reservations free their uses (alarm), and a late payment takes them again only if still free", async () => {
    const stub = code();
    await stub.reserve("late", { seats: 2, buyerKeys: buyer(1), expiresAt: later() }, seed(3));
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE reservations SET expires_at = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await stub.snapshot()).held).toBe(0);

    await stub.reserve("fast", { seats: 2, buyerKeys: buyer(2), expiresAt: later() });
    expect(await stub.consume("late", { seats: 2, discount: 200, buyerKeys: buyer(1) })).toMatchObject({
      ok: false,
      reason: "uses_gone",
    });
    expect(await stub.snapshot()).toMatchObject({ used: 0, held: 2 });
    await stub.release("fast");
    expect(await stub.consume("late", { seats: 2, discount: 200, buyerKeys: buyer(1) })).toMatchObject({
      ok: true,
      lateConsume: true,
      seats: 2,
    });
    expect(await stub.snapshot()).toMatchObject({ used: 2, held: 0, discountGiven: 200 });
    // Given back only by returnUses (a payment that was not one), once.
    await stub.returnUses("late");
    await stub.returnUses("late");
    expect(await stub.snapshot()).toMatchObject({ used: 0, discountGiven: 0 });
  });

  it("a buyer's replaced order frees its uses for the new one in the same step", async () => {
    const stub = code();
    await stub.reserve("old", { seats: 2, buyerKeys: buyer(1), expiresAt: later() }, seed(2, 2));
    const next = await stub.reserve("new", {
      seats: 2,
      buyerKeys: buyer(1),
      expiresAt: later(),
      replaces: ["old"],
    });
    expect(next).toMatchObject({ ok: true, granted: 2, released: ["old"] });
    expect((await stub.snapshot()).held).toBe(2);
  });

  it("refuses max_uses below used + held, atomically with racing reservations", async () => {
    const stub = code();
    await stub.reserve("paid", { seats: 2, buyerKeys: buyer("p"), expiresAt: later() }, seed(50));
    await stub.consume("paid", { seats: 2, discount: 0 });
    expect(await stub.setLimits({ maxUses: 1, maxUsesPerBuyer: null })).toMatchObject({
      ok: false,
      reason: "below_committed",
      minimum: 2,
    });

    // 40 reservations race 10 edits lowering max_uses: whatever order they run in, the
    // invariant holds after every step and each accepted edit was ≥ used + held then.
    const edits = [30, 3, 25, 5, 20, 8, 15, 10, 12, 6];
    // Interleaved in the order the calls are made: four reservations, then an edit, …
    const calls: Array<
      Promise<{ kind: "reserve"; granted: number } | { kind: "edit"; ok: boolean; snapshot?: PromoSnapshot }>
    > = [];
    for (let i = 0; i < 40; i++) {
      calls.push(
        stub
          .reserve(`r${i}`, { seats: 1, buyerKeys: buyer(`r${i}`), expiresAt: later() })
          .then((r) => ({ kind: "reserve" as const, granted: r.ok ? r.granted : 0 })),
      );
      const maxUses = i % 4 === 3 ? edits[(i - 3) / 4] : undefined;
      if (maxUses !== undefined) {
        calls.push(
          stub.setLimits({ maxUses, maxUsesPerBuyer: null }).then((r) => ({
            kind: "edit" as const,
            ok: r.ok,
            ...(r.ok ? { snapshot: r.snapshot } : {}),
          })),
        );
      }
    }
    const settled = await Promise.all(calls);
    for (const r of settled) {
      if (r.kind === "edit" && r.snapshot) {
        expect(r.snapshot.used + r.snapshot.held).toBeLessThanOrEqual(r.snapshot.maxUses ?? Infinity);
      }
    }
    const final = await stub.snapshot();
    expect(final.used + final.held).toBeLessThanOrEqual(final.maxUses ?? Infinity);
    const granted = settled.reduce((sum, r) => sum + (r.kind === "reserve" ? r.granted : 0), 0);
    expect(final.held).toBe(granted);
    expect(settled.some((r) => r.kind === "edit" && !r.ok)).toBe(true);
  });

  it("learns its limits only from a seed, and retires only while unused", async () => {
    const stub = code();
    expect(await stub.reserve("x", { seats: 1, buyerKeys: buyer(1), expiresAt: later() })).toEqual({
      ok: false,
      reason: "needs_seed",
    });
    await stub.release("x");
    // The release above did not initialise it as "unlimited".
    expect(
      await stub.reserve("x", { seats: 5, buyerKeys: buyer(1), expiresAt: later() }, seed(1)),
    ).toMatchObject({
      ok: true,
      granted: 1,
    });
    expect(await stub.retire()).toMatchObject({ ok: false, reason: "in_use" });
    await stub.release("x");
    expect(await stub.retire()).toMatchObject({ ok: true });
    expect(await stub.reserve("y", { seats: 1, buyerKeys: buyer(2), expiresAt: later() })).toMatchObject({
      ok: false,
      reason: "exhausted",
    });
  });

  it("refuses nonsense without writing anything", async () => {
    const stub = code();
    for (const seats of [0, -1, 1.5, Number.NaN]) {
      expect(
        await stub.reserve(order(), { seats, buyerKeys: [], expiresAt: later() }, seed(5)),
      ).toMatchObject({
        ok: false,
        reason: "invalid_request",
      });
    }
    expect(await stub.reserve(order(), { seats: 1, buyerKeys: [], expiresAt: Date.now() - 1 })).toMatchObject(
      {
        ok: false,
        reason: "invalid_request",
      },
    );
    expect(await stub.snapshot()).toMatchObject({ used: 0, held: 0 });
  });
});
