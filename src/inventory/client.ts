/**
 * How the rest of the Worker reaches a tier's seats. Callers name a tier and pass what D1
 * knows about it (used only to bootstrap a new object); they never see the sharding.
 *
 * A tier is one Durable Object (`tier:<id>`, TierInventory) unless it was created with at
 * least TIER_SHARD_THRESHOLD seats: then that object is the tier's coordinator and its seats
 * live in N shard objects (`tier:<id>#<n>`), reached through ShardedTier (sharded-tier.ts)
 * with the same methods and answers. Which one a tier is, the coordinator decides once (when
 * it first sees a seed) and this isolate remembers, so the question costs one call per tier
 * per isolate. Tiers that existed before sharding stay one object.
 */
import { coordinatorName } from "./shard-names";
import { ShardedTier } from "./sharded-tier";
import type { TierInventory } from "./tier-inventory";
import type {
  AllocationResult,
  BuyerKey,
  BuyerLimit,
  ConfirmResult,
  InventorySnapshot,
  PeekResult,
  ReserveResult,
  TierSeed,
} from "./types";

/** A tier's seats: the methods of TierInventory that callers use, sharded or not. */
export interface TierHandle {
  snapshot(seed?: TierSeed): Promise<InventorySnapshot>;
  reserve(
    orderId: string,
    quantity: number,
    holdMs: number,
    seed?: TierSeed,
    buyerKeys?: readonly BuyerKey[],
    maxPerBuyer?: number | null,
  ): Promise<ReserveResult>;
  /**
   * What a reserve of a new order would answer now, holding nothing; null where the tier
   * cannot say in one call (a sharded tier decides across its shards' ledgers).
   */
  peek(
    quantity: number,
    seed?: TierSeed,
    buyerKeys?: readonly BuyerKey[],
    maxPerBuyer?: number | null,
  ): Promise<PeekResult | null>;
  confirm(orderId: string, quantity: number, seed?: TierSeed, buyer?: BuyerLimit): Promise<ConfirmResult>;
  returnSeats(orderId: string): Promise<InventorySnapshot>;
  returnTickets(orderId: string, ticketIds: string[]): Promise<InventorySnapshot>;
  release(orderId: string, seed?: TierSeed): Promise<InventorySnapshot>;
  setAllocation(allocation: number, seed?: TierSeed): Promise<AllocationResult>;
  close(seed?: TierSeed): Promise<InventorySnapshot>;
}

/** Layouts this isolate has learnt (tier id → shards; 1 = one object). They never change. */
const layouts = new Map<string, number>();

function coordinator(namespace: DurableObjectNamespace<TierInventory>, tierId: string) {
  return namespace.get(namespace.idFromName(coordinatorName(tierId)));
}

/** Shards of the tier (1: one object; 0: not known yet and no seed to decide with). */
async function shardsOf(
  namespace: DurableObjectNamespace<TierInventory>,
  tierId: string,
  seed: TierSeed | undefined,
): Promise<number> {
  const known = layouts.get(tierId);
  if (known !== undefined) return known;
  const { shards } = await coordinator(namespace, tierId).layout(seed);
  if (shards > 0) layouts.set(tierId, shards);
  return shards;
}

/** What a tier whose object was never created answers to a call that must not create it. */
const NOTHING_YET: InventorySnapshot = { allocation: 0, sold: 0, held: 0, available: 0, version: 0 };

export function tierInventory(namespace: DurableObjectNamespace<TierInventory>, tierId: string): TierHandle {
  const one = () => coordinator(namespace, tierId);
  const route = async <T>(
    seed: TierSeed | undefined,
    single: () => Promise<T>,
    sharded: (tier: ShardedTier) => Promise<T>,
  ): Promise<T> => {
    const shards = await shardsOf(namespace, tierId, seed);
    return shards >= 2 ? sharded(new ShardedTier(namespace, tierId, shards)) : single();
  };
  /**
   * Giving seats back to a tier that never held any is a no-op, and must not create its
   * object (an object created without a seed would be one object of 0 seats for good).
   * Version 0: D1's copy is never overwritten by it.
   */
  const giveBack = async (
    single: () => Promise<InventorySnapshot>,
    sharded: (tier: ShardedTier) => Promise<InventorySnapshot>,
  ): Promise<InventorySnapshot> => {
    const shards = await shardsOf(namespace, tierId, undefined);
    if (shards === 0) return NOTHING_YET;
    return shards >= 2 ? sharded(new ShardedTier(namespace, tierId, shards)) : single();
  };
  return {
    snapshot: (seed) =>
      route(
        seed,
        () => one().snapshot(seed),
        (t) => t.snapshot(),
      ),
    reserve: (orderId, quantity, holdMs, seed, buyerKeys = [], maxPerBuyer = null) =>
      route(
        seed,
        async (): Promise<ReserveResult> =>
          await one().reserve(orderId, quantity, holdMs, seed, buyerKeys, maxPerBuyer),
        (t) => t.reserve(orderId, quantity, holdMs, buyerKeys, maxPerBuyer),
      ),
    peek: (quantity, seed, buyerKeys = [], maxPerBuyer = null) =>
      route(
        seed,
        async (): Promise<PeekResult | null> => await one().peek(quantity, seed, buyerKeys, maxPerBuyer),
        async () => null,
      ),
    confirm: (orderId, quantity, seed, buyer) =>
      route(
        seed,
        async (): Promise<ConfirmResult> => await one().confirm(orderId, quantity, seed, buyer),
        (t): Promise<ConfirmResult> => t.confirm(orderId, quantity, buyer),
      ),
    returnSeats: (orderId) =>
      giveBack(
        () => one().returnSeats(orderId),
        (t) => t.returnSeats(orderId),
      ),
    returnTickets: (orderId, ticketIds) =>
      giveBack(
        () => one().returnTickets(orderId, ticketIds),
        (t) => t.returnTickets(orderId, ticketIds),
      ),
    release: (orderId, seed) =>
      seed
        ? route(
            seed,
            () => one().release(orderId, seed),
            (t) => t.release(orderId),
          )
        : giveBack(
            () => one().release(orderId),
            (t) => t.release(orderId),
          ),
    // An organizer's edit may be a tier's first touch: its layout follows the larger of the
    // old and new allocations (a tier raised to stadium size before its first sale is sharded).
    setAllocation: (allocation, seed) =>
      route(
        seed && {
          ...seed,
          allocation: Math.max(seed.allocation, Number.isInteger(allocation) ? allocation : 0),
        },
        async (): Promise<AllocationResult> => await one().setAllocation(allocation, seed),
        (t) => t.setAllocation(allocation),
      ),
    close: (seed) =>
      route(
        seed,
        () => one().close(seed),
        (t) => t.close(),
      ),
  };
}

export function seedFromTier(tier: {
  id: string;
  quantityAllocated: number;
  quantitySold: number;
}): TierSeed {
  return { allocation: tier.quantityAllocated, sold: tier.quantitySold, tierId: tier.id };
}

/**
 * Sell an order's held seats. The object normally knows its tier (the hold created it), so
 * the tier's D1 row is read only when the object answers that it was never initialised.
 */
export async function confirmSeats(
  namespace: DurableObjectNamespace<TierInventory>,
  tierId: string,
  orderId: string,
  quantity: number,
  loadSeed: () => Promise<TierSeed | undefined>,
  buyer?: BuyerLimit,
): Promise<Exclude<ConfirmResult, { reason: "needs_seed" }>> {
  const tier = tierInventory(namespace, tierId);
  const first = await tier.confirm(orderId, quantity, undefined, buyer);
  if (first.ok || first.reason !== "needs_seed") return first;
  const seed = (await loadSeed()) ?? { allocation: 0, sold: 0, tierId };
  const second = await tier.confirm(orderId, quantity, seed, buyer);
  if (!second.ok && second.reason === "needs_seed") throw new Error("tier inventory refused its seed");
  return second;
}
