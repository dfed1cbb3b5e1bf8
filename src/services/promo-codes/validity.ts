/**
 * When a promo code may be used (contract §12.2, §12.4), and the per-address limit on trying
 * codes that the public check and checkout share. One message for every cause of "invalid":
 * telling "expired" from "unknown" would help whoever is guessing.
 */
import { and, eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type PromoCodeRow, promoCodes, promoCodeTiers } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import type { PromoTerms } from "../../lib/order-pricing";
import { consumeLimits, type Limit } from "../rate-limit";
import { normalizeCode } from "./codes";

export const INVALID_CODE = "Invalid or expired promo code.";
export const CODE_USED_UP = "This promo code has been used up.";
export const BUYER_USED_UP = "You have already used this promo code as many times as allowed.";

/** 10 attempts per minute per client address per event (§12.4). */
export const PROMO_ATTEMPTS = { max: 10, windowMs: 60_000 } as const;

export function promoAttemptLimit(clientAddress: string, eventId: string): Limit {
  return { key: `promo_try:ip:${clientAddress}:event:${eventId}`, ...PROMO_ATTEMPTS };
}

/**
 * Take one attempt, atomically, before any lookup (parallel guesses cannot take more than
 * the limit); past it 429 `rate_limited` with Retry-After.
 */
export async function takePromoAttempt(db: Database, limit: Limit, now: number): Promise<void> {
  const { allowed, retryAfter } = await consumeLimits(db, [limit], now);
  if (!allowed) throw DomainError.rateLimited("Too many promo code attempts.", retryAfter);
}

/** A code of the event with its tiers ([] = every tier), or null. Trimmed, any case. */
export async function findEventCode(
  db: Database,
  eventId: string,
  typed: string,
): Promise<{ row: PromoCodeRow; tierIds: string[] } | null> {
  const code = normalizeCode(typed);
  if (code.length === 0 || code.length > 64) return null;
  const [rows, tierRows] = await db.batch([
    db
      .select()
      .from(promoCodes)
      .where(and(eq(promoCodes.eventId, eventId), eq(promoCodes.code, code)))
      .limit(1),
    db
      .select({ tierId: promoCodeTiers.tierId })
      .from(promoCodeTiers)
      .innerJoin(promoCodes, eq(promoCodes.id, promoCodeTiers.promoCodeId))
      .where(and(eq(promoCodes.eventId, eventId), eq(promoCodes.code, code))),
  ]);
  const row = rows[0];
  if (!row) return null;
  return { row, tierIds: row.allTiers ? [] : tierRows.map((t) => t.tierId) };
}

/** Active, and now within [valid_from, valid_until] (until the event's end when unset). */
export function isUsableNow(row: PromoCodeRow, eventEndAt: number, now: number): boolean {
  if (!row.isActive) return false;
  if (row.validFrom !== null && now < row.validFrom) return false;
  return now <= (row.validUntil ?? eventEndAt);
}

export function termsOf(row: PromoCodeRow, tierIds: string[]): PromoTerms {
  return { discountType: row.discountType, value: row.value, tierIds };
}
