/**
 * The seam between checkout and promo codes (contract §11.2 step 7–8, §11.4, §11.6, §12.2,
 * §12.3). Checkout calls, in this order:
 *
 *   1. `resolveCheckoutPromo` — step 7, before any seat is touched: the typed code → the
 *      code and its terms, or null (none typed); a bad code → 400 `invalid_promo_code`
 *      (counted against the §12.4 limit), past the limit → 429 `rate_limited`.
 *   2. reserve the seats on every tier's object (ascending tier id), then
 *      `reservePromoUses` — step 8, last: k uses on the code's object for the order, and
 *      the order priced with them. A refusal (`promo_exhausted` / `promo_buyer_limit`)
 *      comes back as a value: release every tier hold, then throw it.
 *   3. `releasePromoUses` wherever the tier holds are released (Daraja error or timeout,
 *      failed payment, expiry, a replaced order).
 *   4. `consumePromoUses` when the order is paid (with the tiers' confirm; all or nothing
 *      on a late payment), `returnPromoUses` to undo that when the order ends up unfulfilled.
 */
import { eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { promoCodes } from "../../db/schema";
import { promoCodeUses, seedFromPromoCode } from "../../inventory/promo-client";
import type { PromoCodeUses } from "../../inventory/promo-code-uses";
import type { PromoSeed, PromoSnapshot } from "../../inventory/promo-types";
import type { BuyerKey } from "../../inventory/types";
import { DomainError } from "../../lib/errors";
import { LruMap } from "../../lib/lru";
import {
  eligibleSeats,
  type OrderLineInput,
  type PricedOrder,
  type PromoTerms,
  priceOrder,
} from "../../lib/order-pricing";
import { exceededLimit, releaseHit } from "../rate-limit";
import { type KnownCode, recentlyValidCode, rememberValidCode } from "./code-cache";
import { normalizeCode } from "./codes";
import {
  BUYER_USED_UP,
  CODE_USED_UP,
  INVALID_CODE,
  isUsableNow,
  promoAttemptLimit,
  takeAttemptAndFind,
  termsOf,
} from "./validity";

export interface CheckoutPromoDeps {
  db: Database;
  /** The nearest copy of D1, for reads a moment's lag cannot harm (the attempt count). */
  nearDb?: Database;
  promoCodes: DurableObjectNamespace<PromoCodeUses>;
  /** Work that must finish but need not delay the answer (waitUntil); absent: awaited. */
  defer?: (task: Promise<unknown>) => void;
}

/** A code valid for this order at initiate; freeze `id`, `code` and the pricing on the order. */
export interface CheckoutPromo {
  id: string;
  /** As stored (upper case): the order's `promo_code`. */
  code: string;
  terms: PromoTerms;
  /** Bootstraps the code's object if it is new. */
  seed: PromoSeed;
}

export interface ResolvePromoInput {
  eventId: string;
  /** The event's end: the default `valid_until`. */
  eventEndAt: number;
  /** `promo_code` as sent (any type). `""`, blanks, null, absent = no code. */
  promoCode: unknown;
  /** For the per-address limit shared with the public check (§12.4). */
  clientAddress: string;
  /** The order's lines (unit prices from the tiers, never from the client). */
  lines: readonly OrderLineInput[];
}

export const invalidPromoCode = () =>
  new DomainError("invalid_promo_code", INVALID_CODE, { fields: { promo_code: [INVALID_CODE] } });

/**
 * §12.2: valid when it exists for the order's event, is active, now is within its window,
 * and it covers at least one item priced above 0; else one 400 for every cause. The attempt
 * is reserved atomically before the lookup and given back when the code was valid, so only
 * failures count (and past the limit even a valid code answers 429, as the contract says).
 */
export async function resolveCheckoutPromo(
  deps: CheckoutPromoDeps,
  input: ResolvePromoInput,
  now = Date.now(),
): Promise<CheckoutPromo | null> {
  if (input.promoCode === undefined || input.promoCode === null) return null;
  const typed = typeof input.promoCode === "string" ? input.promoCode.trim() : null;
  if (typed === "") return null;

  const limit = promoAttemptLimit(input.clientAddress, input.eventId);
  const usable = (found: KnownCode) =>
    isUsableNow(found.row, input.eventEndAt, now) &&
    eligibleSeats(input.lines, termsOf(found.row, found.tierIds)) > 0;
  const accepted = (found: KnownCode): CheckoutPromo => ({
    id: found.row.id,
    code: found.row.code,
    terms: termsOf(found.row, found.tierIds),
    seed: seedFromPromoCode(found.row),
  });

  // A code this isolate has just found valid: nothing to count (only failures do), so no
  // attempt is taken on the primary; past the limit it still answers 429 (code-cache.ts).
  const code = typed === null ? "" : normalizeCode(typed);
  const known = recentlyValidCode(input.eventId, code, now);
  if (known && usable(known)) {
    const exceeded = await exceededLimit(deps.nearDb ?? deps.db, [limit], now);
    if (exceeded) throw DomainError.rateLimited("Too many promo code attempts.", exceeded.retryAfter);
    return accepted(known);
  }

  // One round trip: the attempt taken and the code looked up together (§12.4 stays atomic).
  const found = await takeAttemptAndFind(deps.db, limit, input.eventId, typed, now);
  if (!found || !usable(found)) throw invalidPromoCode();
  rememberValidCode(input.eventId, code, found, now);

  // A valid code does not count: its slot goes back, after the answer when the runtime allows.
  const giveBack = releaseHit(deps.db, limit, now);
  if (deps.defer) deps.defer(giveBack);
  else await giveBack;
  return accepted(found);
}

export interface ReservePromoInput {
  orderId: string;
  lines: readonly OrderLineInput[];
  /** The order's buyer keys (the same the tier objects got). */
  buyerKeys: readonly BuyerKey[];
  /** The order's one `expires_at` (epoch ms). */
  expiresAt: number;
  /** Orders this one replaced on the tiers (their `replaced`): their uses end with this reservation. */
  replaces?: readonly string[];
}

export type ReservePromoResult =
  /** `priced`: the order's lines, subtotal, discount and amount with the k granted uses. */
  | { ok: true; granted: number; priced: PricedOrder; snapshot: PromoSnapshot }
  /** Nothing reserved: release the order's tier holds, then throw `error` (409). */
  | { ok: false; error: DomainError };

/**
 * Codes this isolate last saw used up (their object refused a reservation as exhausted, or
 * granted the last use). Only a hint: `usedUpFor` asks the code's object, which decides.
 * Once "the first 100 fans" have their uses, the other 1,900 of a flash sale are refused
 * by the code; the hint lets checkout learn that (and the tiers' answer, which comes first)
 * in one round of read-only calls instead of holding a seat, being refused by the code and
 * giving the seat back (which would also briefly keep that seat from a paying buyer).
 */
const usedUpHints = new LruMap<string, true>(256);

function noteUsage(promoId: string, snapshot: PromoSnapshot): void {
  if (snapshot.retired || (snapshot.maxUses !== null && snapshot.used + snapshot.held >= snapshot.maxUses))
    usedUpHints.set(promoId, true);
}

/** Whether this isolate last saw the code used up (then `usedUpFor` is worth asking first). */
export function promoLikelyUsedUp(promoId: string): boolean {
  return usedUpHints.has(promoId);
}

/**
 * The code's object's word, writing nothing: true when a reservation for this buyer would be
 * refused as `promo_exhausted` now. A false answer drops the hint (uses came back: a hold
 * lapsed or a payment failed), so the next checkout goes straight to the reservation.
 */
export async function usedUpFor(
  deps: CheckoutPromoDeps,
  promo: CheckoutPromo,
  buyerKeys: readonly BuyerKey[],
): Promise<boolean> {
  const usedUp = await promoCodeUses(deps.promoCodes, promo.id).usedUpFor(buyerKeys);
  if (!usedUp) usedUpHints.delete(promo.id);
  return usedUp;
}

export const promoExhausted = () => new DomainError("promo_exhausted", CODE_USED_UP);

/** §12.3: k = min(eligible, max_uses − used − held, per-buyer remainder), k ≥ 1, or a 409. */
export async function reservePromoUses(
  deps: CheckoutPromoDeps,
  promo: CheckoutPromo,
  input: ReservePromoInput,
): Promise<ReservePromoResult> {
  const seats = eligibleSeats(input.lines, promo.terms);
  const result = await promoCodeUses(deps.promoCodes, promo.id).reserve(
    input.orderId,
    {
      seats,
      buyerKeys: input.buyerKeys,
      expiresAt: input.expiresAt,
      ...(input.replaces ? { replaces: input.replaces } : {}),
    },
    promo.seed,
  );
  if ("snapshot" in result) noteUsage(promo.id, result.snapshot);
  if (result.ok) {
    return {
      ok: true,
      granted: result.granted,
      priced: priceOrder(input.lines, promo.terms, result.granted),
      snapshot: result.snapshot,
    };
  }
  if (result.reason === "exhausted") {
    usedUpHints.set(promo.id, true);
    return { ok: false, error: promoExhausted() };
  }
  if (result.reason === "buyer_limit") {
    return { ok: false, error: new DomainError("promo_buyer_limit", BUYER_USED_UP) };
  }
  // resolveCheckoutPromo guarantees ≥ 1 eligible seat and the seed is always passed.
  throw new Error(`promo code object refused the reservation: ${result.reason}`);
}

/** The order's hold ended: its uses go back. Idempotent; safe for orders that never reserved. */
export async function releasePromoUses(
  deps: CheckoutPromoDeps,
  promoCodeId: string,
  orderIds: readonly string[],
): Promise<void> {
  const stub = promoCodeUses(deps.promoCodes, promoCodeId);
  for (const orderId of orderIds) await stub.release(orderId);
}

export interface ConsumePromoInput {
  /** The discounted seats frozen on the order (k). */
  seats: number;
  /** The order's discount (KES), for `discount_given`. */
  discount: number;
  buyerKeys: readonly BuyerKey[];
}

/**
 * The order is paid: its uses are consumed (idempotent). On a late payment the same k uses
 * are taken again only if still free; `uses_gone` means none was taken, and the order must
 * not be fulfilled (release/return its seats, PAID_UNFULFILLED).
 */
export async function consumePromoUses(
  deps: CheckoutPromoDeps,
  promoCodeId: string,
  orderId: string,
  input: ConsumePromoInput,
): Promise<{ ok: true; lateConsume: boolean } | { ok: false; reason: "uses_gone" }> {
  const stub = promoCodeUses(deps.promoCodes, promoCodeId);
  let result = await stub.consume(orderId, input);
  if (!result.ok && result.reason === "needs_seed") {
    const [row] = await deps.db.select().from(promoCodes).where(eq(promoCodes.id, promoCodeId)).limit(1);
    // A code deleted meanwhile (possible only once its holds lapsed): nothing to take.
    if (!row) return { ok: false, reason: "uses_gone" };
    result = await stub.consume(orderId, input, seedFromPromoCode(row));
  }
  if (result.ok) return { ok: true, lateConsume: result.lateConsume };
  return { ok: false, reason: "uses_gone" };
}

/** Undo `consumePromoUses` for an order that ends up unfulfilled. Never for refunds (§12.3). */
export async function returnPromoUses(
  deps: CheckoutPromoDeps,
  promoCodeId: string,
  orderId: string,
): Promise<void> {
  await promoCodeUses(deps.promoCodes, promoCodeId).returnUses(orderId);
}
