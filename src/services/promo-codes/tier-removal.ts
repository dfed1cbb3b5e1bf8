/**
 * What deleting tiers does to promo codes (contract §12.1): a deleted tier drops out of every
 * code's `tier_ids` by itself (`promo_code_tiers` cascades); a code left with none must not
 * silently become "every tier" (what an empty list means), so it is deactivated. Its own
 * module so the event edit (organizer-events.ts) can use it without a cycle.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { promoCodes, promoCodeTiers } from "../../db/schema";

/**
 * For the event edit's batch, after tiers were deleted (their `promo_code_tiers` rows go with
 * them): a code that covered only deleted tiers is deactivated, never widened to every tier.
 */
export function deactivateCodesWithoutTiers(db: Database, eventId: string, now: number) {
  return db
    .update(promoCodes)
    .set({ isActive: false, updatedAt: now })
    .where(
      and(
        eq(promoCodes.eventId, eventId),
        eq(promoCodes.allTiers, false),
        eq(promoCodes.isActive, true),
        sql`NOT EXISTS (SELECT 1 FROM ${promoCodeTiers} WHERE ${promoCodeTiers.promoCodeId} = ${promoCodes.id})`,
      ),
    );
}
