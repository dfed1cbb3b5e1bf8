/**
 * What a promo code's uses object takes and answers (its RPC types), shared by the object
 * (promo-code-uses.ts) and the way callers reach it (promo-client.ts). Contract §12.3.
 */
import type { BuyerKey } from "./types";

/** The code's limits as D1 knows them; used only when the object is new. */
export interface PromoSeed {
  /** Discounted seats in all, or null for unlimited. */
  maxUses: number | null;
  /** Discounted seats per buyer (any shared identifier, §15.2), or null for unlimited. */
  maxUsesPerBuyer: number | null;
  promoCodeId?: string;
}

export interface PromoSnapshot {
  maxUses: number | null;
  maxUsesPerBuyer: number | null;
  /** Discounted seats on paid orders. */
  used: number;
  /** Discounted seats in live reservations. */
  held: number;
  /** KES of discount on paid orders (what `consume` was told). */
  discountGiven: number;
  /** Set by `retire`: the code was deleted, nothing more is reserved. */
  retired: boolean;
  version: number;
}

export interface PromoReserveRequest {
  /** Eligible seats of the order (covered tiers, unit price > 0): the most it can get. */
  seats: number;
  /** The order's buyer (account, normalised email, M-Pesa phone). */
  buyerKeys: readonly BuyerKey[];
  /** The order's `expires_at` (epoch ms): the reservation lapses with the seat holds. */
  expiresAt: number;
  /**
   * Orders this one replaces (the tier objects' `replaced`): their reservations count as
   * free for this check and end with it, so a buyer's retry is not refused by their own
   * abandoned order.
   */
  replaces?: readonly string[];
}

export type PromoReserveResult =
  /** `granted` (≥ 1) seats get the discount; fewer than asked means partial application. */
  | {
      ok: true;
      granted: number;
      expiresAt: number;
      alreadyConsumed: false;
      /** Replaced orders whose reservations this call ended. */
      released: string[];
      snapshot: PromoSnapshot;
    }
  /** The order's uses are already consumed (paid): nothing changed. */
  | { ok: true; granted: number; alreadyConsumed: true; snapshot: PromoSnapshot }
  /**
   * Nothing reserved, nothing written. `exhausted`: used + held reached `max_uses` (or the
   * code was retired); `buyer_limit`: this buyer has no uses left; `invalid_request`: seats
   * not a positive integer or expiry in the past.
   */
  | {
      ok: false;
      reason: "exhausted" | "buyer_limit" | "invalid_request";
      snapshot: PromoSnapshot;
    }
  /** The object was never told its limits: call again with a seed. Nothing changed. */
  | { ok: false; reason: "needs_seed" };

export interface PromoConsumeRequest {
  /** The order's discounted seats (frozen at initiate): used only on a late payment. */
  seats: number;
  /** The order's total discount in KES, added to `discount_given`. */
  discount: number;
  /** Needed only on a late payment (the buyer's limit is checked again). */
  buyerKeys?: readonly BuyerKey[];
}

export type PromoConsumeResult =
  | { ok: true; seats: number; lateConsume: boolean; alreadyConsumed: boolean; snapshot: PromoSnapshot }
  /** Late payment and the uses were taken meanwhile: nothing changed. */
  | { ok: false; reason: "uses_gone"; snapshot: PromoSnapshot }
  /** The object was never told its limits: call again with a seed. Nothing changed. */
  | { ok: false; reason: "needs_seed" };

export type PromoLimitsResult =
  | { ok: true; snapshot: PromoSnapshot }
  /** `max_uses` below used + held: refused, nothing changed. */
  | { ok: false; reason: "below_committed"; minimum: number; snapshot: PromoSnapshot }
  | { ok: false; reason: "needs_seed" };

export type PromoRetireResult =
  | { ok: true; snapshot: PromoSnapshot }
  /** Used or held: not retired (the code must be deactivated instead). */
  | { ok: false; reason: "in_use"; snapshot: PromoSnapshot }
  | { ok: false; reason: "needs_seed" };
