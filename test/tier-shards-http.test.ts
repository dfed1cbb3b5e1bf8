/**
 * Sharded tiers through the HTTP routes (issue #15 part 4): every checkout rule the
 * unsharded tests prove — no oversell, the last seats sold, the organizer's allocation edits,
 * cancellation, late payments, refunds putting seats back (§13.3), multi-tier orders all or
 * nothing (§11), promo codes (§12) and max_per_buyer (§15) — holds when the tier is split
 * over shard objects. The tiers here are sharded the way a real one is, by their size: this
 * file lowers TIER_SHARD_THRESHOLD (10 seats), TIER_SHARD_SEATS (4) and TIER_SHARD_MAX (4)
 * in the environment the tier objects read (the objects share the test's `env`), so a tier
 * of 12 seats is 3 shards and one of 16 is 4, while one of fewer than 10 stays one object.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tierInventory } from "../src/inventory/client";
import { homeShard, shardName } from "../src/inventory/shard-names";
import type { BuyerKey, InventorySnapshot } from "../src/inventory/types";
import { inboxKey } from "../src/lib/inbox-key";
import { countRows, registerUser } from "./helpers/accounts";
import {
  availableQty,
  DARAJA,
  eventWithTiers,
  guestCheckout,
  type Initiated,
  networkFakes,
  postCallback,
  seatsOf,
  uniquePhone,
} from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";
import { codePath, createCode, type PromoCodeBody } from "./helpers/promo-codes";
import { refundOf, refundWorld } from "./helpers/refunds";

const SHARD_VARS = { TIER_SHARD_THRESHOLD: "10", TIER_SHARD_SEATS: "4", TIER_SHARD_MAX: "4" } as const;
const vars = env as unknown as Record<string, string | undefined>;
const before: Record<string, string | undefined> = {};

beforeAll(() => {
  for (const [name, value] of Object.entries(SHARD_VARS)) {
    before[name] = vars[name];
    vars[name] = value;
  }
});
afterAll(() => {
  for (const name of Object.keys(SHARD_VARS)) vars[name] = before[name];
});

const PARALLEL = 24;

function shardStub(tierId: string, index: number) {
  return env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(shardName(tierId, index)));
}

/** How the tier's coordinator says it is laid out (0: no object yet, 1: one object). */
async function shardsOf(tierId: string): Promise<number> {
  return (await env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tierId}`)).layout()).shards;
}

async function shardSnapshots(tierId: string): Promise<InventorySnapshot[]> {
  const shards = await shardsOf(tierId);
  return Promise.all(Array.from({ length: shards }, (_, i) => shardStub(tierId, i).snapshot()));
}

/**
 * The invariants of a sharded tier at rest: it is sharded into `shards`, the shards'
 * allocations sum to the tier's, and no shard has sold or held more than it has.
 */
async function expectShardsSound(tierId: string, shards: number, allocation: number) {
  expect(await shardsOf(tierId)).toBe(shards);
  const each = await shardSnapshots(tierId);
  expect(each.reduce((n, s) => n + s.allocation, 0)).toBe(allocation);
  for (const s of each) expect(s.sold + s.held).toBeLessThanOrEqual(s.allocation);
  return each;
}

/** Every open hold of the tier lapses now (as if HOLD_SECONDS had passed), on every shard. */
async function expireShardHolds(tierId: string): Promise<void> {
  const shards = await shardsOf(tierId);
  for (let i = 0; i < shards; i++) {
    await runInDurableObject(shardStub(tierId, i), (_o, state) => {
      state.storage.sql.exec("UPDATE holds SET expires_at = ?", Date.now() - 1);
      state.storage.sql.exec("UPDATE ledger SET expires_at = ? WHERE expires_at IS NOT NULL", Date.now() - 1);
    });
    await runDurableObjectAlarm(shardStub(tierId, i));
  }
}

/** A guest email whose home shard (of `shards`) is `home`. */
function emailHomedAt(home: number, shards: number, tag = "fan"): string {
  for (;;) {
    const email = `${uniqueName(tag)}@example.com`;
    if (homeShard([`email:${inboxKey(email)}`], "x", shards) === home) return email;
  }
}

const guestEmail = () => `${uniqueName("fan")}@example.com`;

function pay(init: Initiated, phoneNumber?: string) {
  return postCallback(
    networkFakes.daraja.callbackFor(init.checkout_request_id, {
      resultCode: 0,
      ...(phoneNumber ? { phoneNumber } : {}),
    }),
  );
}

async function orderStatus(orderId: string): Promise<string | undefined> {
  const row = await env.DB.prepare("SELECT status FROM orders WHERE id = ?").bind(orderId).first<{
    status: string;
  }>();
  return row?.status;
}

/** One tier of `allocation` seats in a fresh event (sharded by its size here). */
async function oneTier(allocation: number, extra: Record<string, unknown> = {}) {
  const made = await eventWithTiers([
    { name: "Stadium", price: 1000, quantity_allocated: allocation, max_per_order: 10, ...extra },
  ]);
  const tier = made.tiers[0];
  if (!tier) throw new Error("no tier");
  return { ...made, tierId: tier.id, tier };
}

describe("a tier sharded by its size, bought over HTTP", () => {
  it("stays one object below the threshold and is sharded at it", async () => {
    const small = await oneTier(9);
    const big = await oneTier(16);
    for (const tierId of [small.tierId, big.tierId]) {
      const res = await guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() });
      expect(res.status, res.text).toBe(202);
    }
    expect(await shardsOf(small.tierId)).toBe(1);
    await expectShardsSound(big.tierId, 4, 16);
    expect(await seatsOf(big.tierId)).toMatchObject({ allocation: 16, held: 1, available: 15 });
  });

  it(`${PARALLEL * 2} parallel buyers on 16 seats over 4 shards: exactly 16 are sold, paid, ticketed`, async () => {
    const { eventId, tierId } = await oneTier(16);
    const answers = await Promise.all(
      Array.from({ length: PARALLEL * 2 }, () =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() }),
      ),
    );
    const won = answers.filter((a) => a.status === 202);
    const lost = answers.filter((a) => a.status === 409);
    expect(won).toHaveLength(16);
    expect(lost).toHaveLength(PARALLEL * 2 - 16);
    for (const answer of lost) expect(answer.body).toMatchObject({ code: "sold_out", available: 0 });
    await Promise.all(won.map((a) => pay(a.body)));
    for (const a of won) expect(await orderStatus(a.body.order_id)).toBe("COMPLETED");
    expect(await countRows("tickets", "tier_id = ?", tierId)).toBe(16);
    expect(await seatsOf(tierId)).toMatchObject({ allocation: 16, sold: 16, held: 0, available: 0 });
    await expectShardsSound(tierId, 4, 16);
    // D1's copy follows (the shards' alarms copy the sum).
    for (let i = 0; i < 4; i++) await runDurableObjectAlarm(shardStub(tierId, i));
    expect(await availableQty(eventId, tierId)).toBe(0);
  });

  it("sells the last seats to buyers homed on a dry shard: none stranded", async () => {
    const { tierId } = await oneTier(12);
    // Twelve buyers homed on shard 0 (of 3) take every seat, in parallel: 8 are borrowed.
    const first = await Promise.all(
      Array.from({ length: 12 }, () =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: emailHomedAt(0, 3) }),
      ),
    );
    expect(first.map((a) => a.status)).toEqual(Array(12).fill(202));
    const shards = await expectShardsSound(tierId, 3, 12);
    expect(shards.map((s) => s.allocation)).toEqual([12, 0, 0]);
    // A buyer homed elsewhere is told sold out…
    const none = await guestCheckout({
      tier_id: tierId,
      phone_number: uniquePhone(),
      email: emailHomedAt(2, 3),
    });
    expect(none.status).toBe(409);
    // …until a failed payment gives a seat back on shard 0: then a buyer homed on shard 2 gets it.
    const failed = first[0]?.body as Initiated;
    await postCallback(networkFakes.daraja.callbackFor(failed.checkout_request_id, { resultCode: 1032 }));
    expect(await seatsOf(tierId)).toMatchObject({ held: 11, available: 1 });
    const last = await guestCheckout({
      tier_id: tierId,
      phone_number: uniquePhone(),
      email: emailHomedAt(2, 3),
    });
    expect(last.status, last.text).toBe(202);
    await pay(last.body);
    expect(await orderStatus(last.body.order_id)).toBe("COMPLETED");
    expect(await seatsOf(tierId)).toMatchObject({ sold: 1, held: 11, available: 0 });
    await expectShardsSound(tierId, 3, 12);
  });

  it("sells orders of several seats out with nothing left that a refused order could have had", async () => {
    const { tierId } = await oneTier(16);
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        guestCheckout({
          tier_id: tierId,
          quantity: 1 + (i % 3),
          phone_number: uniquePhone(),
          email: guestEmail(),
        }),
      ),
    );
    const held = answers.map((a, i) => (a.status === 202 ? 1 + (i % 3) : 0)).reduce((n, q) => n + q, 0);
    expect(held).toBeLessThanOrEqual(16);
    const seats = await seatsOf(tierId);
    expect(seats.held).toBe(held);
    // Every refused order asked for more than was left when it was refused; what is left
    // now is then less than the largest order, and a buyer can still take all of it.
    expect(seats.available).toBeLessThan(3);
    if (seats.available > 0) {
      const rest = await guestCheckout({
        tier_id: tierId,
        quantity: seats.available,
        phone_number: uniquePhone(),
        email: emailHomedAt(3, 4),
      });
      expect(rest.status, rest.text).toBe(202);
    }
    expect(await seatsOf(tierId)).toMatchObject({ available: 0 });
    await expectShardsSound(tierId, 4, 16);
  });
});

describe("the organizer's quantity edits on a sharded tier during the sale", () => {
  async function editQuantity(
    made: Awaited<ReturnType<typeof oneTier>>,
    quantity: number,
  ): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
    return made.organizer.patch(`/api/organizer/events/${made.eventId}/edit/`, {
      tiers: [{ ...made.tier, name: "Stadium", price: 1000, quantity_allocated: quantity }],
    });
  }

  async function allocatedInD1(tierId: string) {
    const row = await env.DB.prepare("SELECT quantity_allocated FROM tiers WHERE id = ?")
      .bind(tierId)
      .first<{ quantity_allocated: number }>();
    return row?.quantity_allocated;
  }

  it("raises and lowers the allocation across shards, and refuses below sold + held (400)", async () => {
    const made = await oneTier(16);
    const { tierId } = made;
    const buyers = await Promise.all(
      Array.from({ length: 6 }, () =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() }),
      ),
    );
    for (const b of buyers) expect(b.status, b.text).toBe(202);
    await Promise.all(buyers.slice(0, 2).map((b) => pay(b.body)));
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 4, available: 10 });

    const up = await editQuantity(made, 30);
    expect(up.status, up.text).toBe(200);
    expect(await seatsOf(tierId)).toMatchObject({ allocation: 30, available: 24 });
    await expectShardsSound(tierId, 4, 30);
    expect(await allocatedInD1(tierId)).toBe(30);

    const down = await editQuantity(made, 6);
    expect(down.status, down.text).toBe(200);
    expect(await seatsOf(tierId)).toMatchObject({ allocation: 6, sold: 2, held: 4, available: 0 });
    await expectShardsSound(tierId, 4, 6);

    const tooLow = await editQuantity(made, 5);
    expect(tooLow.status, tooLow.text).toBe(400);
    expect(String((tooLow.body.tiers as string[])[0])).toMatch(/below the 6 tickets/);
    // Refused: nothing changed, in the objects or in D1.
    expect(await seatsOf(tierId)).toMatchObject({ allocation: 6, sold: 2, held: 4 });
    await expectShardsSound(tierId, 4, 6);
    expect(await allocatedInD1(tierId)).toBe(6);
    const soldOut = await guestCheckout({
      tier_id: tierId,
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(soldOut.status).toBe(409);

    // Two more seats: exactly two of many parallel buyers get them.
    expect((await editQuantity(made, 8)).status).toBe(200);
    const race = await Promise.all(
      Array.from({ length: 12 }, () =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() }),
      ),
    );
    expect(race.filter((r) => r.status === 202)).toHaveLength(2);
    expect(await seatsOf(tierId)).toMatchObject({ allocation: 8, sold: 2, held: 6, available: 0 });
    await expectShardsSound(tierId, 4, 8);
  });

  it("edits racing parallel buyers never oversell and strand nothing", async () => {
    const made = await oneTier(16);
    const { tierId } = made;
    // Touch the tier so its shards exist before the race.
    expect(
      (await guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() })).status,
    ).toBe(202);
    const [buyers, edits] = await Promise.all([
      Promise.all(
        Array.from({ length: 30 }, () =>
          guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() }),
        ),
      ),
      (async () => [await editQuantity(made, 24), await editQuantity(made, 20)])(),
    ]);
    for (const e of edits) expect([200, 400]).toContain(e.status);
    const won = buyers.filter((b) => b.status === 202).length + 1;
    const seats = await seatsOf(tierId);
    expect(seats.held).toBe(won);
    expect(seats.held + seats.sold).toBeLessThanOrEqual(seats.allocation);
    expect(await allocatedInD1(tierId)).toBe(seats.allocation);
    await expectShardsSound(tierId, 4, seats.allocation);
    // Whatever is left is for sale, from any home.
    for (let i = 0; i < seats.available; i++) {
      const more = await guestCheckout({
        tier_id: tierId,
        phone_number: uniquePhone(),
        email: emailHomedAt(i % 4, 4),
      });
      expect(more.status, more.text).toBe(202);
    }
    expect(await seatsOf(tierId)).toMatchObject({ available: 0 });
  });
});

describe("cancelling an event with a sharded tier", () => {
  it("drops the holds on every shard, keeps the sales for refund, sells nothing more", async () => {
    const made = await oneTier(16);
    const { tierId, eventId } = made;
    const buyers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: emailHomedAt(i % 4, 4) }),
      ),
    );
    for (const b of buyers) expect(b.status, b.text).toBe(202);
    const paid = buyers.slice(0, 3);
    const pending = buyers.slice(3);
    await Promise.all(paid.map((b) => pay(b.body)));
    expect(await seatsOf(tierId)).toMatchObject({ sold: 3, held: 5 });

    const res = await made.organizer.request("DELETE", `/api/organizer/events/${eventId}/edit/`);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "CANCELLED", tickets_cancelled: 3 });
    expect((res.body as { orders_to_refund: unknown[] }).orders_to_refund).toHaveLength(3);
    const shards = await shardSnapshots(tierId);
    expect(shards).toHaveLength(4);
    for (const s of shards) expect(s).toMatchObject({ held: 0, available: 0 });
    expect(await seatsOf(tierId)).toMatchObject({ sold: 3, held: 0, available: 0 });

    // A pending prompt paid afterwards finds no seat: PAID_UNFULFILLED (§13.3 rule 3).
    const late = pending[0]?.body as Initiated;
    await pay(late);
    expect(await orderStatus(late.order_id)).toBe("PAID_UNFULFILLED");
    expect(await countRows("tickets", "order_id = ?", late.order_id)).toBe(0);
    // Nobody buys any more: the route no longer finds the tier for sale, and the shards themselves (which an
    // isolate still holding the event's facts for 2 s would reach) refuse every home.
    const more = await guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() });
    expect(more.status, more.text).toBe(404);
    const tier = tierInventory(env.TIER_INVENTORY, tierId);
    for (let home = 0; home < 4; home++) {
      const keys: BuyerKey[] = [`email:${inboxKey(emailHomedAt(home, 4))}`];
      expect(await tier.reserve(`after-${home}`, 1, 60_000, undefined, keys, null)).toMatchObject({
        ok: false,
        reason: "sold_out",
      });
    }
    expect(await seatsOf(tierId)).toMatchObject({ sold: 3, held: 0, available: 0 });
  });
});

describe("a late payment on a sharded tier", () => {
  it("re-takes seats from other shards when its home ran dry: COMPLETED", async () => {
    const { tierId } = await oneTier(12);
    const email = emailHomedAt(1, 3);
    const late = await guestCheckout({ tier_id: tierId, quantity: 2, phone_number: uniquePhone(), email });
    expect(late.status, late.text).toBe(202);
    await expireShardHolds(tierId);
    // Others homed on the same shard then take all its seats and some of the others'.
    const others = await Promise.all(
      Array.from({ length: 8 }, () =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: emailHomedAt(1, 3) }),
      ),
    );
    for (const o of others) expect(o.status, o.text).toBe(202);
    expect(await seatsOf(tierId)).toMatchObject({ held: 8, available: 4 });
    await pay(late.body);
    expect(await orderStatus(late.body.order_id)).toBe("COMPLETED");
    expect(await countRows("tickets", "order_id = ?", late.body.order_id)).toBe(2);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 8, available: 2 });
    await expectShardsSound(tierId, 3, 12);
  });

  it("with every shard full goes PAID_UNFULFILLED, no ticket, no seat, a refund owed", async () => {
    const { tierId } = await oneTier(12);
    const late = await guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() });
    expect(late.status).toBe(202);
    await expireShardHolds(tierId);
    const others = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: emailHomedAt(i % 3, 3) }),
      ),
    );
    for (const o of others) expect(o.status, o.text).toBe(202);
    await pay(late.body);
    expect(await orderStatus(late.body.order_id)).toBe("PAID_UNFULFILLED");
    expect(await countRows("tickets", "order_id = ?", late.body.order_id)).toBe(0);
    expect(
      await countRows("refunds", "order_id = ? AND trigger = 'PAID_UNFULFILLED'", late.body.order_id),
    ).toBe(1);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 0, held: 12, available: 0 });
    await expectShardsSound(tierId, 3, 12);
  });
});

describe("refunds on a sharded tier (§13.3)", () => {
  it("a full refund puts the order's seats back on sale; a per-ticket refund puts back one", async () => {
    const world = refundWorld();
    const organizer = new TestClient(world.darajaVars);
    await registerUser(organizer, { role: "ORGANIZER" });
    const start = Date.now() + 7 * 24 * 60 * 60 * 1000;
    const created = await organizer.post<{ id: string; tiers: Array<{ id: string }> }>(
      "/api/organizer/events/create/",
      {
        title: uniqueName("Refund Stadium "),
        category: "CONCERT",
        start_datetime: new Date(start).toISOString(),
        end_datetime: new Date(start + 4 * 60 * 60 * 1000).toISOString(),
        tiers: [{ name: "Stadium", price: 700, quantity_allocated: 12, max_per_order: 10, max_per_buyer: 4 }],
      },
    );
    expect(created.status, created.text).toBe(201);
    const tierId = created.body.tiers[0]?.id ?? "";
    const phone = uniquePhone();
    const email = emailHomedAt(2, 3);
    const mine = await guestCheckout({ tier_id: tierId, quantity: 4, phone_number: phone, email });
    expect(mine.status, mine.text).toBe(202);
    await pay(mine.body);
    expect(await orderStatus(mine.body.order_id)).toBe("COMPLETED");
    // The rest of the tier is sold to others.
    const rest = await Promise.all(
      Array.from({ length: 8 }, () =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() }),
      ),
    );
    for (const r of rest) expect(r.status, r.text).toBe(202);
    await Promise.all(rest.map((r) => pay(r.body)));
    expect(await seatsOf(tierId)).toMatchObject({ sold: 12, available: 0 });
    // The buyer is at max_per_buyer 4.
    expect(
      (await guestCheckout({ tier_id: tierId, phone_number: phone, email: guestEmail() })).body,
    ).toMatchObject({ code: "buyer_limit", remaining: 0 });

    const tickets = await env.DB.prepare("SELECT id FROM tickets WHERE order_id = ? ORDER BY seat_index")
      .bind(mine.body.order_id)
      .all<{ id: string }>();
    const one = await refundOf(organizer, { ticket_ids: [tickets.results[0]?.id] }, mine.body.order_id);
    expect(one.status, one.text).toBe(202);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 11, available: 1 });
    await expectShardsSound(tierId, 3, 12);
    // The returned seat counts no more toward the buyer's limit, and is for sale to anyone.
    const again = await guestCheckout({
      tier_id: tierId,
      quantity: 2,
      phone_number: phone,
      email: guestEmail(),
    });
    expect(again.body).toMatchObject({ code: "buyer_limit", remaining: 1 });
    const other = await guestCheckout({
      tier_id: tierId,
      phone_number: uniquePhone(),
      email: emailHomedAt(0, 3),
    });
    expect(other.status, other.text).toBe(202);
    await pay(other.body);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 12, available: 0 });

    // A full refund of what is left of the order: its three seats are back.
    const full = await refundOf(organizer, {}, mine.body.order_id);
    expect(full.status, full.text).toBe(202);
    expect(full.body).toMatchObject({ full: true });
    expect(await seatsOf(tierId)).toMatchObject({ sold: 9, available: 3 });
    await expectShardsSound(tierId, 3, 12);
    const answers = await Promise.all(
      Array.from({ length: 8 }, () =>
        guestCheckout({ tier_id: tierId, phone_number: uniquePhone(), email: guestEmail() }),
      ),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(3);
    // And the buyer may buy four again (all their tickets are cancelled)… of what is left: none.
    expect(
      (await guestCheckout({ tier_id: tierId, quantity: 4, phone_number: phone, email: guestEmail() })).body,
    ).toMatchObject({ code: "sold_out" });
  });
});

describe("a multi-tier order with one sharded tier (§11)", () => {
  async function mixed(sharded: number, single: number) {
    const made = await eventWithTiers([
      { name: "Stadium", price: 1000, quantity_allocated: sharded, max_per_order: 10 },
      { name: "Box", price: 5000, quantity_allocated: single, max_per_order: 10 },
    ]);
    const [stadium, box] = made.tiers;
    if (!stadium || !box) throw new Error("tiers missing");
    return { ...made, stadium: stadium.id, box: box.id };
  }

  it("the one-object tier sells out: no refused order keeps a seat on any shard", async () => {
    // Stadium has room for every order (24 × 2 < 60): only Box can refuse.
    const { stadium, box } = await mixed(60, 3);
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        guestCheckout({
          items:
            i % 2
              ? [{ tier_id: stadium, quantity: 2 }, { tier_id: box }]
              : [{ tier_id: box }, { tier_id: stadium, quantity: 2 }],
          phone_number: uniquePhone(),
          email: guestEmail(),
        }),
      ),
    );
    expect(answers.filter((a) => a.status === 202)).toHaveLength(3);
    for (const a of answers.filter((x) => x.status !== 202)) {
      expect(a.status).toBe(409);
      expect(a.body).toMatchObject({ code: "sold_out", tier_id: box });
    }
    expect(await shardsOf(box)).toBe(1);
    expect(await seatsOf(box)).toMatchObject({ held: 3, available: 0 });
    expect(await seatsOf(stadium)).toMatchObject({ held: 6, available: 54 });
    await expectShardsSound(stadium, 4, 60);
  });

  it("the sharded tier sells out: no refused order keeps the other tier's seat", async () => {
    const { stadium, box } = await mixed(12, 100);
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        guestCheckout({
          items: [
            { tier_id: stadium, quantity: 3 },
            { tier_id: box, quantity: 1 },
          ],
          phone_number: uniquePhone(),
          email: guestEmail(),
        }),
      ),
    );
    const won = answers.filter((a) => a.status === 202);
    expect(won).toHaveLength(4);
    for (const a of answers.filter((x) => x.status !== 202)) {
      expect(a.body).toMatchObject({ code: "sold_out", tier_id: stadium });
    }
    expect(await seatsOf(stadium)).toMatchObject({ held: 12, available: 0 });
    expect(await seatsOf(box)).toMatchObject({ held: 4, available: 96 });
    await expectShardsSound(stadium, 3, 12);
    // Paid: every line ticketed.
    await Promise.all(won.map((a) => pay(a.body)));
    for (const a of won) expect(await countRows("tickets", "order_id = ?", a.body.order_id)).toBe(4);
    expect(await seatsOf(stadium)).toMatchObject({ sold: 12, held: 0 });
    expect(await seatsOf(box)).toMatchObject({ sold: 4, held: 0 });
  });

  it("a late payment whose sharded line is gone keeps no line: PAID_UNFULFILLED", async () => {
    const { stadium, box } = await mixed(12, 9);
    const late = await guestCheckout({
      items: [
        { tier_id: stadium, quantity: 2 },
        { tier_id: box, quantity: 1 },
      ],
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(late.status, late.text).toBe(202);
    await expireShardHolds(stadium);
    await runInDurableObject(
      env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${box}`)),
      (_o, state) => {
        state.storage.sql.exec("UPDATE holds SET expires_at = ?", Date.now() - 1);
      },
    );
    // Eleven stadium seats go to others: one is left, the late order needs two.
    const others = await Promise.all(
      Array.from({ length: 11 }, (_, i) =>
        guestCheckout({ tier_id: stadium, phone_number: uniquePhone(), email: emailHomedAt(i % 3, 3) }),
      ),
    );
    for (const o of others) expect(o.status, o.text).toBe(202);
    await pay(late.body);
    expect(await orderStatus(late.body.order_id)).toBe("PAID_UNFULFILLED");
    expect(await countRows("tickets", "order_id = ?", late.body.order_id)).toBe(0);
    expect(await seatsOf(stadium)).toMatchObject({ sold: 0, held: 11, available: 1 });
    expect(await seatsOf(box)).toMatchObject({ sold: 0, held: 0, available: 9 });
    await expectShardsSound(stadium, 3, 12);
  });
});

describe("a promo code on a sharded tier (§12)", () => {
  async function codeNow(organizer: TestClient, eventId: string, codeId: string) {
    const res = await organizer.get<PromoCodeBody>(codePath(eventId, codeId));
    expect(res.status, res.text).toBe(200);
    return res.body;
  }

  it("lets exactly max_uses of parallel initiates take it; the refused give their seats back on every shard", async () => {
    const { organizer, eventId, tierId } = await oneTier(16);
    const code = await createCode(organizer, eventId, { code: "SHARD5", value: 20, max_uses: 5 });
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        guestCheckout({
          tier_id: tierId,
          promo_code: "SHARD5",
          phone_number: uniquePhone(),
          email: emailHomedAt(i % 4, 4),
        }),
      ),
    );
    const ok = answers.filter((a) => a.status === 202);
    expect(ok).toHaveLength(5);
    for (const r of answers.filter((a) => a.status !== 202)) {
      expect(r.status).toBe(409);
      expect(r.body).toMatchObject({ code: "promo_exhausted" });
    }
    for (const a of ok) expect(a.body).toMatchObject({ amount: 800, discount: 200 });
    expect(await seatsOf(tierId)).toMatchObject({ held: 5, available: 11 });
    await expectShardsSound(tierId, 4, 16);
    expect((await codeNow(organizer, eventId, code.id)).times_held).toBe(5);

    // One pays (the use is consumed), one fails (the use and the seat come back).
    const [paid, failed] = ok.map((a) => a.body);
    if (!paid || !failed) throw new Error("two orders expected");
    await pay(paid);
    await postCallback(networkFakes.daraja.callbackFor(failed.checkout_request_id, { resultCode: 1032 }));
    expect(await orderStatus(paid.order_id)).toBe("COMPLETED");
    const after = await codeNow(organizer, eventId, code.id);
    expect(after).toMatchObject({ times_used: 1, times_held: 3 });
    expect(await seatsOf(tierId)).toMatchObject({ sold: 1, held: 3, available: 12 });
    const next = await guestCheckout({
      tier_id: tierId,
      promo_code: "SHARD5",
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(next.status, next.text).toBe(202);
    const over = await guestCheckout({
      tier_id: tierId,
      promo_code: "SHARD5",
      phone_number: uniquePhone(),
      email: guestEmail(),
    });
    expect(over.body).toMatchObject({ code: "promo_exhausted" });
  });
});

describe("max_per_buyer on a sharded tier (§15): one buyer racing themself across shards", () => {
  it(`one phone, ${PARALLEL} emails homed on every shard, every prompt paid: exactly the limit`, async () => {
    const { tierId } = await oneTier(40, { max_per_buyer: 2 });
    const phone = uniquePhone();
    const emails = Array.from({ length: PARALLEL }, (_, i) => emailHomedAt(i % 4, 4));
    const answers = await Promise.all(
      emails.map((email) => guestCheckout({ tier_id: tierId, quantity: 1, phone_number: phone, email })),
    );
    const started = answers.filter((a) => a.status === 202);
    expect(started.length).toBeGreaterThan(0);
    // One open hold per buyer (§4.3), whichever shard each order's seats were on.
    expect((await seatsOf(tierId)).held).toBe(1);
    await Promise.all(started.map((a) => pay(a.body)));
    const sold = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM tickets t JOIN orders o ON o.id = t.order_id
       WHERE t.tier_id = ? AND o.phone_number = ?`,
    )
      .bind(tierId, `254${phone.slice(1)}`)
      .first<{ n: number }>();
    expect(sold?.n).toBe(2);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 0 });
    expect(await countRows("orders", "tier_id = ? AND status = 'PAID_UNFULFILLED'", tierId)).toBe(
      started.length - 2,
    );
    await expectShardsSound(tierId, 4, 40);
  });

  it(`a signed-in account over many phones, ${PARALLEL} parallel orders of 2 (limit 3): at most 3 held or sold`, async () => {
    const { tierId } = await oneTier(40, { max_per_buyer: 3 });
    const buyer = new TestClient({ ...DARAJA, BOOKINGS_PER_RECIPIENT_PER_HOUR: "1000" });
    await registerUser(buyer);
    const first = await buyer.post<Initiated>("/api/pay/initiate/", {
      tier_id: tierId,
      quantity: 1,
      phone_number: uniquePhone(),
    });
    expect(first.status, first.text).toBe(202);
    await pay(first.body);
    expect(await orderStatus(first.body.order_id)).toBe("COMPLETED");
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        buyer.post<Initiated>("/api/pay/initiate/", {
          tier_id: tierId,
          quantity: 2,
          phone_number: uniquePhone(),
        }),
      ),
    );
    for (const a of answers) expect([202, 409]).toContain(a.status);
    const seats = await seatsOf(tierId);
    expect(seats.sold + seats.held).toBe(3);
    const over = await buyer.post("/api/pay/initiate/", {
      tier_id: tierId,
      quantity: 3,
      phone_number: uniquePhone(),
    });
    expect(over.body).toMatchObject({ code: "buyer_limit", remaining: 2 });
    await expectShardsSound(tierId, 4, 40);
  });
});
