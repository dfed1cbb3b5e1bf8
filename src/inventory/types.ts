/**
 * What a tier's seat object takes and answers (its RPC types), in a module of their own so
 * the object (tier-inventory.ts) and the way callers reach it (client.ts) share them without
 * importing each other.
 */

export interface TierSeed {
  /** The tier's allocation as D1 knows it; used only when the object is new. */
  allocation: number;
  /** Seats already sold per D1; used only when the object is new. */
  sold: number;
  /** The tier's id, so the object can copy its counts back to D1 when an alarm frees seats. */
  tierId?: string;
  /**
   * Shards for a new tier (tests and benches): overrides the TIER_SHARD_* rule when the tier's
   * object is created; ignored afterwards (a tier's layout never changes).
   */
  shards?: number;
}

export interface InventorySnapshot {
  allocation: number;
  sold: number;
  held: number;
  available: number;
  /** Bumped on every change: D1 copies keep only the newest snapshot. */
  version: number;
}

/**
 * Who holds seats, as the object compares buyers: two holds share a buyer when they share any
 * key. Callers build them (services/checkout/buyer-keys.ts); the object only matches strings,
 * so a new kind of identifier is a new prefix, not a schema change.
 */
export type BuyerKey = `phone:${string}` | `email:${string}` | `user:${string}`;

export type ReserveResult =
  /**
   * Held until `expiresAt` (a new hold, or the order's existing one). `replaced`: the orders
   * whose open holds shared a buyer key with this one and were released to make it.
   */
  | {
      ok: true;
      alreadyConfirmed: false;
      expiresAt: number;
      replaced: string[];
      snapshot: InventorySnapshot;
    }
  /** The order's seats are already sold: nothing was held or changed. */
  | { ok: true; alreadyConfirmed: true; snapshot: InventorySnapshot }
  /** `available`: what this buyer could have had (free seats plus their own open holds). */
  | { ok: false; reason: "sold_out"; available: number; snapshot: InventorySnapshot }
  /**
   * The buyer (any shared key) already has `limit − remaining` seats of this tier, held or
   * bought: `quantity` more would exceed `limit` (contract §15). Nothing was changed.
   */
  | { ok: false; reason: "buyer_limit"; limit: number; remaining: number; snapshot: InventorySnapshot }
  /**
   * The order was released or replaced here (a newer initiate of the same buyer) before this
   * reserve arrived: it never holds again. Nothing was changed.
   */
  | { ok: false; reason: "ended"; snapshot: InventorySnapshot };

/** What a reserve of a new order would answer now (TierInventory.peek): nothing is held. */
export type PeekResult =
  | { ok: true; snapshot: InventorySnapshot }
  | Extract<ReserveResult, { reason: "sold_out" | "buyer_limit" }>;

/**
 * A buyer's seats on a tier are capped (contract §15): `maxPerBuyer` (null = no cap) over every
 * order sharing any of `keys`.
 */
export interface BuyerLimit {
  keys: readonly BuyerKey[];
  maxPerBuyer: number | null;
}

export type ConfirmResult =
  | { ok: true; snapshot: InventorySnapshot; lateConfirm: boolean; alreadyConfirmed: boolean }
  | { ok: false; reason: "seats_gone"; snapshot: InventorySnapshot }
  /** A late payment would take the buyer past the tier's max_per_buyer: nothing kept. */
  | { ok: false; reason: "buyer_limit"; snapshot: InventorySnapshot }
  /** The object has never been told its allocation: call again with a seed. Nothing changed. */
  | { ok: false; reason: "needs_seed" };

export type AllocationResult =
  | { ok: true; snapshot: InventorySnapshot }
  | { ok: false; reason: "below_committed"; minimum: number; snapshot: InventorySnapshot };

// --- Sharded tiers (README "Sharded tiers"; src/inventory/sharded-tier.ts) -----------------

/** How a tier's seats are laid out: 1 = one object (as before sharding existed), n ≥ 2 shards. */
export interface TierLayout {
  /** 0: the object was never initialised and no seed was given (nothing is decided yet). */
  shards: number;
}

/** One buyer key's orders on a tier, as the shard that owns the key records them. */
export interface LedgerEntry {
  orderId: string;
  quantity: number;
  /** When the order's hold lapses; null once the order bought its seats. */
  expiresAt: number | null;
  /** The shard that holds (or sold) the order's seats. */
  seatShard: number;
}

/** The seat step of a prepare on the buyer's home shard. */
export type ShardSeatAnswer =
  | { ok: true; fresh: boolean; expiresAt: number }
  | { ok: true; alreadyConfirmed: true }
  | { ok: false; available: number }
  /** The order was released here before its seats were asked for (see ReserveResult). */
  | { ok: false; ended: true };

export type ShardPrepareResult =
  /** Another order of the same buyer holds one of these keys' locks right now: try again. */
  | { busy: true; snapshot: InventorySnapshot }
  | {
      busy: false;
      entries: LedgerEntry[];
      seats: ShardSeatAnswer | null;
      snapshot: InventorySnapshot;
      /** Siblings that lent seats to this shard in the call, with their counts after. */
      lenders: Array<{ index: number; snapshot: InventorySnapshot }>;
    };

export type ShardConfirmResult =
  | {
      ok: true;
      quantity: number;
      lateConfirm: boolean;
      alreadyConfirmed: boolean;
      snapshot: InventorySnapshot;
    }
  /** Not held here (and `late` was not asked for). */
  | { ok: false; reason: "no_hold"; snapshot: InventorySnapshot }
  | { ok: false; reason: "seats_gone"; snapshot: InventorySnapshot };
