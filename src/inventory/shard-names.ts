/**
 * Names and placement of a sharded tier's objects, shared by the objects (tier-inventory.ts)
 * and their client (sharded-tier.ts). A tier's coordinator is the object every tier already
 * has, `tier:<id>`; its shards are `tier:<id>#<n>`, n = 0…shards−1.
 */

export function coordinatorName(tierId: string): string {
  return `tier:${tierId}`;
}

export function shardName(tierId: string, index: number): string {
  return `tier:${tierId}#${index}`;
}

/** FNV-1a (32 bit): stable across isolates and releases, which placement needs. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shard that owns a buyer key's ledger rows (and its lock). */
export function keyOwner(key: string, shards: number): number {
  return hash32(key) % shards;
}

/**
 * A buyer's home shard, where their seats are held: the owner of their email key (every
 * order has one, contract §15.2), else of their first key, else of the order id. Being a key
 * owner, the home is always among the shards a reserve locks, so the seat step rides on the
 * same call as that key's lock.
 */
export function homeShard(keys: readonly string[], orderId: string, shards: number): number {
  const email = keys.find((key) => key.startsWith("email:"));
  const key = email ?? [...keys].sort()[0] ?? `order:${orderId}`;
  return keyOwner(key, shards);
}

/** Split `total` over `shards` as evenly as whole seats allow (the first ones get the rest). */
export function splitEvenly(total: number, shards: number, index: number): number {
  return Math.floor(total / shards) + (index < total % shards ? 1 : 0);
}

/**
 * How many shards a new tier gets: 1 below `TIER_SHARD_THRESHOLD` seats, else one per
 * `TIER_SHARD_SEATS` seats, at least 2 and at most `TIER_SHARD_MAX`. A sharded hold is 4 object
 * calls spread over the shards (prepare and commit on two key owners), so N shards carry about
 * N/4 × one object's holds: the default 1,250 gives a tier at the 20,000 threshold all 16.
 */
export function plannedShards(
  allocation: number,
  vars: { TIER_SHARD_THRESHOLD?: string; TIER_SHARD_SEATS?: string; TIER_SHARD_MAX?: string },
): number {
  const int = (raw: string | undefined, fallback: number, min: number) => {
    const n = Number.parseInt(raw ?? "", 10);
    return Number.isFinite(n) && n >= min ? n : fallback;
  };
  const threshold = int(vars.TIER_SHARD_THRESHOLD, 20_000, 1);
  const perShard = int(vars.TIER_SHARD_SEATS, 1_250, 1);
  const max = int(vars.TIER_SHARD_MAX, 16, 2);
  if (allocation < threshold) return 1;
  return Math.min(max, Math.max(2, Math.ceil(allocation / perShard)));
}
