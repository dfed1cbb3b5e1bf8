/**
 * When a promo code may be used (contract §12.2, §12.4), and the per-address limit on trying
 * codes that the public check and checkout share. One message for every cause of "invalid":
 * telling "expired" from "unknown" would help whoever is guessing.
 */
import { and, eq } from "drizzle-orm";
import { type Database, runBatch } from "../../db/client";
import { type PromoCodeRow, promoCodes, promoCodeTiers } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import type { PromoTerms } from "../../lib/order-pricing";
import { type Limit, limitTakeStatements } from "../rate-limit";
import { normalizeCode } from "./codes";

export const INVALID_CODE = "Invalid or expired promo code.";
export const CODE_USED_UP = "This promo code has been used up.";
export const BUYER_USED_UP = "You have already used this promo code as many times as allowed.";

/** 10 attempts per minute per client address per event (§12.4). */
export const PROMO_ATTEMPTS = { max: 10, windowMs: 60_000 } as const;

export function promoAttemptLimit(clientAddress: string, eventId: string): Limit {
  return { key: `promo_try:ip:${clientAddress}:event:${eventId}`, ...PROMO_ATTEMPTS };
}

type FoundCode = { row: PromoCodeRow; tierIds: string[] } | null;

function codeLookupStatements(db: Database, eventId: string, code: string) {
  return [
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
  ] as const;
}

function foundOf(rows: PromoCodeRow[], tierRows: Array<{ tierId: string }>): FoundCode {
  const row = rows[0];
  if (!row) return null;
  return { row, tierIds: row.allTiers ? [] : tierRows.map((t) => t.tierId) };
}

/**
 * Take one attempt and look the code up (trimmed, any case; its tiers, [] = every tier), in
 * ONE batch: one round trip to D1. The attempt is taken atomically (a conditional append) and
 * decides before the lookup's answer is used, so parallel guesses cannot take more than the
 * limit, and past it every code, valid or not, answers 429 `rate_limited` with Retry-After.
 */
export async function takeAttemptAndFind(
  db: Database,
  limit: Limit,
  eventId: string,
  typed: string | null,
  now: number,
): Promise<FoundCode> {
  const code = typed === null ? "" : normalizeCode(typed);
  const taking = limitTakeStatements(db, [limit], now);
  const lookup = code.length > 0 && code.length <= 64 ? codeLookupStatements(db, eventId, code) : [];
  const results = await runBatch(db, [...taking.statements, ...lookup]);
  const { allowed, retryAfter } = taking.outcome(results);
  if (!allowed) throw DomainError.rateLimited("Too many promo code attempts.", retryAfter);
  if (lookup.length === 0) return null;
  const n = taking.statements.length;
  return foundOf(results[n] as PromoCodeRow[], results[n + 1] as Array<{ tierId: string }>);
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
