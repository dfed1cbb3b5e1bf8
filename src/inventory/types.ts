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
}

export interface InventorySnapshot {
  allocation: number;
  sold: number;
  held: number;
  available: number;
  /** Bumped on every change: D1 copies keep only the newest snapshot. */
  version: number;
}

export type ReserveResult =
  | { ok: true; expiresAt: number; snapshot: InventorySnapshot }
  | { ok: false; reason: "sold_out"; available: number; snapshot: InventorySnapshot };

export type ConfirmResult =
  | { ok: true; snapshot: InventorySnapshot; lateConfirm: boolean; alreadyConfirmed: boolean }
  | { ok: false; reason: "seats_gone"; snapshot: InventorySnapshot }
  /** The object has never been told its allocation: call again with a seed. Nothing changed. */
  | { ok: false; reason: "needs_seed" };

export type AllocationResult =
  | { ok: true; snapshot: InventorySnapshot }
  | { ok: false; reason: "below_committed"; minimum: number; snapshot: InventorySnapshot };
