/**
 * How the rest of the Worker reaches a tier's seats. Callers name a tier and pass what D1
 * knows about it (used only to bootstrap a new object); they never see the sharding.
 *
 * Scaling note: one object serialises one tier, which comfortably takes a flash sale of a
 * few thousand buyers a second. A tier too hot for one object can be split over N shard
 * objects (`tier:<id>:<n>`), each owning allocation/N seats, with `reserve` trying a random
 * shard first and then the others; `snapshot` sums the shards. That change lives entirely
 * behind these functions.
 */
import type { TierInventory } from "./tier-inventory";
import type { BuyerLimit, ConfirmResult, TierSeed } from "./types";

export function tierInventory(
  namespace: DurableObjectNamespace<TierInventory>,
  tierId: string,
): DurableObjectStub<TierInventory> {
  return namespace.get(namespace.idFromName(`tier:${tierId}`));
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
  const stub = tierInventory(namespace, tierId);
  const first = await stub.confirm(orderId, quantity, undefined, buyer);
  if (first.ok || first.reason !== "needs_seed") return first;
  const seed = (await loadSeed()) ?? { allocation: 0, sold: 0, tierId };
  const second = await stub.confirm(orderId, quantity, seed, buyer);
  if (!second.ok && second.reason === "needs_seed") throw new Error("tier inventory refused its seed");
  return second;
}
