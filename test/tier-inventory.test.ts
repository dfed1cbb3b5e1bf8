import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { confirmSeats } from "../src/inventory/client";
import type { TierInventory } from "../src/inventory/tier-inventory";

function tier(): DurableObjectStub<TierInventory> {
  return env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier-${crypto.randomUUID()}`));
}

const seed = (allocation: number, sold = 0) => ({ allocation, sold });

describe("TierInventory (one Durable Object per tier)", () => {
  it("bootstraps from the tier's allocation and existing sales, once", async () => {
    const stub = tier();
    expect(await stub.snapshot(seed(10, 3))).toMatchObject({
      allocation: 10,
      sold: 3,
      held: 0,
      available: 7,
    });
    // Later seeds are ignored: the object is the authority now.
    expect(await stub.snapshot(seed(99, 0))).toMatchObject({
      allocation: 10,
      sold: 3,
      held: 0,
      available: 7,
    });
  });

  it("asks for a seed instead of confirming on an object that was never initialised", async () => {
    const stub = tier();
    // Without a seed it must not assume 0 seats (a paid order would become a refund).
    expect(await stub.confirm("paid-order", 2)).toEqual({ ok: false, reason: "needs_seed" });
    // …and it wrote nothing: a later seed still initialises it.
    expect(await stub.confirm("paid-order", 2, seed(5))).toMatchObject({
      ok: true,
      lateConfirm: true,
      snapshot: { allocation: 5, sold: 2, available: 3 },
    });
  });

  it("confirmSeats reads the tier only when the object needs it", async () => {
    const tierId = crypto.randomUUID();
    const stub = env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tierId}`));
    let seedReads = 0;
    const loadSeed = async () => {
      seedReads++;
      return { allocation: 4, sold: 1, tierId };
    };
    // A new object: one read of the seed, then the seats are sold.
    const first = await confirmSeats(env.TIER_INVENTORY, tierId, "order-1", 2, loadSeed);
    expect(first).toMatchObject({ ok: true, snapshot: { allocation: 4, sold: 3 } });
    expect(seedReads).toBe(1);
    // The usual case: the hold created the object, so nothing is read.
    await stub.reserve("order-2", 1, 60_000);
    expect(await confirmSeats(env.TIER_INVENTORY, tierId, "order-2", 1, loadSeed)).toMatchObject({
      ok: true,
      snapshot: { allocation: 4, sold: 4, available: 0 },
    });
    expect(seedReads).toBe(1);
  });

  it("puts a confirmed order's seats back on sale with returnSeats, once", async () => {
    const stub = tier();
    await stub.reserve("flagged", 2, 60_000, seed(3));
    await stub.confirm("flagged", 2);
    expect(await stub.returnSeats("flagged")).toMatchObject({ sold: 0, available: 3 });
    expect(await stub.returnSeats("flagged")).toMatchObject({ sold: 0, available: 3 });
    expect(await stub.returnSeats("never-confirmed")).toMatchObject({ sold: 0, available: 3 });
  });

  it("holds seats, sells them on confirm, and gives them back on release", async () => {
    const stub = tier();
    const held = await stub.reserve("order-a", 3, 60_000, seed(5));
    expect(held.ok).toBe(true);
    expect(held.snapshot).toMatchObject({ allocation: 5, sold: 0, held: 3, available: 2 });

    const refused = await stub.reserve("order-b", 3, 60_000);
    expect(refused).toMatchObject({ ok: false, reason: "sold_out", available: 2 });

    const confirmed = await stub.confirm("order-a", 3);
    expect(confirmed).toMatchObject({
      ok: true,
      lateConfirm: false,
      alreadyConfirmed: false,
      snapshot: { allocation: 5, sold: 3, held: 0, available: 2 },
    });

    // A repeated confirm (a duplicate callback) sells nothing more.
    expect(await stub.confirm("order-a", 3)).toMatchObject({ ok: true, alreadyConfirmed: true });
    expect((await stub.snapshot()).sold).toBe(3);

    await stub.reserve("order-c", 2, 60_000);
    expect((await stub.release("order-c")).available).toBe(2);
  });

  it("never holds again for an order released or replaced here, even if its reserve comes after", async () => {
    const stub = tier();
    await stub.snapshot(seed(10));
    // A buyer's newer initiate released this order on every tier before it reached this one.
    await stub.release("late-order");
    expect(await stub.reserve("late-order", 2, 60_000)).toMatchObject({ ok: false, reason: "ended" });
    expect(await stub.snapshot()).toMatchObject({ held: 0, available: 10 });
    // Replaced by the same buyer's newer hold: the old order cannot come back either.
    const keys = ["phone:254711000222" as const];
    await stub.reserve("older", 1, 60_000, undefined, keys);
    expect(await stub.reserve("newer", 1, 60_000, undefined, keys)).toMatchObject({ replaced: ["older"] });
    expect(await stub.reserve("older", 1, 60_000, undefined, keys)).toMatchObject({ reason: "ended" });
    expect(await stub.snapshot()).toMatchObject({ held: 1 });
    // A late payment of an ended order is still honoured while seats remain (§4.3).
    expect(await stub.confirm("late-order", 2)).toMatchObject({ ok: true, lateConfirm: true });
  });

  it("peek answers what reserve would, in the same order (buyer limit, then seats), and holds nothing", async () => {
    const stub = tier();
    await stub.snapshot(seed(3));
    const keys = ["email:peek@example.com" as const];
    await stub.reserve("mine", 2, 60_000, undefined, keys, 2);
    const before = await stub.snapshot();
    // The buyer's own hold is replaced by a new order, so its 2 seats are theirs again.
    expect(await stub.peek(3, undefined, keys, 3)).toMatchObject({ ok: true });
    expect(await stub.peek(3, undefined, keys, 2)).toMatchObject({
      ok: false,
      reason: "buyer_limit",
      remaining: 2,
    });
    expect(await stub.peek(2, undefined, ["email:other@example.com"], 2)).toMatchObject({
      ok: false,
      reason: "sold_out",
      available: 1,
    });
    expect(await stub.snapshot()).toEqual(before);
    expect(await stub.reserve("other", 2, 60_000, undefined, ["email:other@example.com"], 2)).toMatchObject({
      ok: false,
      reason: "sold_out",
      available: 1,
    });
  });

  it("never sells more than the allocation under concurrent reserves", async () => {
    const stub = tier();
    await stub.snapshot(seed(50));
    const attempts = await Promise.all(
      Array.from({ length: 200 }, (_, i) => stub.reserve(`order-${i}`, 1 + (i % 3), 60_000)),
    );
    const granted = attempts.filter((r) => r.ok).length;
    const snapshot = await stub.snapshot();
    expect(snapshot.held).toBeLessThanOrEqual(50);
    expect(snapshot.available).toBe(50 - snapshot.held);
    expect(granted).toBeGreaterThan(0);
    expect(attempts.some((r) => !r.ok)).toBe(true);
  });

  it("releases lapsed holds by alarm, and a late confirm re-takes seats only if still free", async () => {
    const stub = tier();
    await stub.reserve("late-order", 2, 60_000, seed(2));
    // Let the hold lapse without waiting a minute.
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE holds SET expires_at = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const rows = await runInDurableObject(stub, (_instance, state) =>
      state.storage.sql.exec("SELECT COUNT(*) AS n FROM holds").one(),
    );
    expect(rows.n).toBe(0);

    // Someone else bought the seats meanwhile: the late payment cannot be fulfilled.
    await stub.reserve("fast-buyer", 2, 60_000);
    await stub.confirm("fast-buyer", 2);
    expect(await stub.confirm("late-order", 2)).toMatchObject({ ok: false, reason: "seats_gone" });
  });

  it("refuses an allocation below sold + held", async () => {
    const stub = tier();
    await stub.reserve("o1", 4, 60_000, seed(10));
    await stub.confirm("o1", 4);
    await stub.reserve("o2", 2, 60_000);
    expect(await stub.setAllocation(5)).toMatchObject({ ok: false, reason: "below_committed", minimum: 6 });
    expect(await stub.setAllocation(6)).toMatchObject({
      ok: true,
      snapshot: { allocation: 6, available: 0 },
    });
  });
});

describe("TierInventory versions and the D1 copy", () => {
  it("bumps its version on every change and copies counts back to D1 when an alarm frees seats", async () => {
    const tierId = crypto.randomUUID();
    const eventId = crypto.randomUUID();
    const organizerId = crypto.randomUUID();
    await env.DB.batch([
      env.DB.prepare("INSERT INTO users (id, username, email, role) VALUES (?, ?, ?, 'ORGANIZER')").bind(
        organizerId,
        `o${tierId.slice(0, 8)}`,
        `${tierId}@example.com`,
      ),
      env.DB.prepare(
        "INSERT INTO events (id, organizer_id, title, start_datetime, end_datetime) VALUES (?, ?, 'E', 1, 2)",
      ).bind(eventId, organizerId),
      env.DB.prepare(
        "INSERT INTO tiers (id, event_id, name, price, quantity_allocated, quantity_held, inventory_version) VALUES (?, ?, 'T', 100, 10, 4, 0)",
      ).bind(tierId, eventId),
    ]);
    const stub = env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tierId}`));
    const first = await stub.reserve("v-order", 4, 60_000, { allocation: 10, sold: 0, tierId });
    expect(first.ok).toBe(true);
    const before = (await stub.snapshot()).version;
    await runInDurableObject(stub, (_instance, state) => {
      state.storage.sql.exec("UPDATE holds SET expires_at = ?", Date.now() - 1);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await stub.snapshot();
    expect(after.version).toBeGreaterThan(before);
    const row = await env.DB.prepare("SELECT quantity_held, inventory_version FROM tiers WHERE id = ?")
      .bind(tierId)
      .first();
    expect(row).toEqual({ quantity_held: 0, inventory_version: after.version });
  });
});
