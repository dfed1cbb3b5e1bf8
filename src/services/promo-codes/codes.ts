/**
 * Organizer CRUD of an event's promo codes (contract §12.1). Rows live in D1; the uses and
 * the limits that guard them live in the code's Durable Object (inventory/promo-code-uses.ts),
 * so every change to `max_uses` / `max_uses_per_buyer` goes through the object first: it
 * refuses a `max_uses` below used + held in the same step as reservations. What the answers
 * show of the limits and counts is read from the object, exact at read time.
 */
import { and, desc, eq, inArray, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import {
  type PromoCodeRow,
  type PromoDiscountType,
  promoCodes,
  promoCodeTiers,
  type User,
} from "../../db/schema";
import { promoCodeUses, seedFromPromoCode } from "../../inventory/promo-client";
import type { PromoCodeUses } from "../../inventory/promo-code-uses";
import type { PromoSnapshot } from "../../inventory/promo-types";
import { DomainError, type FieldErrors } from "../../lib/errors";
import { MAX_PRICE_KES } from "../../lib/money";
import { loadOwnEvent } from "../organizer-events";
import type { TierRow } from "../tier-rules";
import { forgetEventCodes } from "./code-cache";

export interface PromoCodeDeps {
  db: Database;
  promoCodes: DurableObjectNamespace<PromoCodeUses>;
}

/** 3–32 of A–Z a–z 0–9 - _ (checked as typed; stored upper case). */
export const PROMO_CODE_PATTERN = /^[A-Za-z0-9_-]{3,32}$/;
export const CODE_TAKEN = "A promo code with this code already exists for this event.";
export const CODE_IN_USE = "This code has been used; set is_active to false instead.";

/** A code as the answers show it: the row, its tiers, and its object's counts. */
export interface PromoCodeView {
  row: PromoCodeRow;
  /** [] = every tier. */
  tierIds: string[];
  usage: PromoSnapshot;
}

/** What create and PATCH may carry (PATCH: any subset). */
export interface PromoCodeInput {
  code?: string | undefined;
  discountType?: PromoDiscountType | undefined;
  value?: number | undefined;
  tierIds?: string[] | undefined;
  maxUses?: number | null | undefined;
  maxUsesPerBuyer?: number | null | undefined;
  validFrom?: number | null | undefined;
  validUntil?: number | null | undefined;
  isActive?: boolean | undefined;
}

export type PromoCodeCreate = PromoCodeInput & {
  code: string;
  discountType: PromoDiscountType;
  value: number;
};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

export function normalizeCode(code: string): string {
  return code.trim().toUpperCase();
}

function isCodeUniqueViolation(error: unknown): boolean {
  const text = (e: unknown): string =>
    e instanceof Error ? `${e.message} ${text(e.cause)}` : String(e ?? "");
  const message = text(error);
  return /UNIQUE constraint failed/i.test(message) && message.includes("promo_codes.");
}

const codeTaken = () => DomainError.field("code", CODE_TAKEN);

function validateTerms(
  fields: FieldErrors,
  merged: {
    discountType: PromoDiscountType;
    value: number;
    validFrom: number | null;
    validUntil: number | null;
  },
): void {
  if (merged.discountType === "PERCENT" && (merged.value < 1 || merged.value > 100)) {
    fields.value = ["A percentage must be a whole number from 1 to 100."];
  } else if (merged.discountType === "FIXED" && (merged.value < 1 || merged.value > MAX_PRICE_KES)) {
    fields.value = [`A fixed discount must be a whole number of shillings from 1 to ${MAX_PRICE_KES}.`];
  }
  if (merged.validFrom !== null && merged.validUntil !== null && merged.validUntil <= merged.validFrom) {
    fields.valid_until = ["valid_until must be after valid_from."];
  }
}

function validateTierIds(
  fields: FieldErrors,
  tierIds: string[] | undefined,
  eventTiers: TierRow[],
): string[] | undefined {
  if (tierIds === undefined) return undefined;
  const own = new Set(eventTiers.map((t) => t.id));
  const unique = [...new Set(tierIds)];
  const foreign = unique.filter((id) => !own.has(id));
  if (foreign.length > 0) {
    fields.tier_ids = foreign.map((id) => `Invalid pk "${id}" - object does not exist.`);
  }
  return unique;
}

async function tierIdsOf(db: Database, codeIds: string[]): Promise<Map<string, string[]>> {
  const byCode = new Map<string, string[]>();
  if (codeIds.length === 0) return byCode;
  const rows = await db
    .select({ promoCodeId: promoCodeTiers.promoCodeId, tierId: promoCodeTiers.tierId })
    .from(promoCodeTiers)
    .where(inArray(promoCodeTiers.promoCodeId, codeIds));
  for (const row of rows) byCode.set(row.promoCodeId, [...(byCode.get(row.promoCodeId) ?? []), row.tierId]);
  return byCode;
}

/** The code's object's counts (initialising it from the row if it is new). */
export function usageOf(deps: PromoCodeDeps, row: PromoCodeRow): Promise<PromoSnapshot> {
  return promoCodeUses(deps.promoCodes, row.id).snapshot(seedFromPromoCode(row));
}

async function viewsOf(deps: PromoCodeDeps, rows: PromoCodeRow[]): Promise<PromoCodeView[]> {
  const tiersByCode = await tierIdsOf(
    deps.db,
    rows.filter((r) => !r.allTiers).map((r) => r.id),
  );
  const usages = await Promise.all(rows.map((row) => usageOf(deps, row)));
  return rows.map((row, i) => ({
    row,
    tierIds: row.allTiers ? [] : (tiersByCode.get(row.id) ?? []),
    usage: usages[i] as PromoSnapshot,
  }));
}

async function findCode(db: Database, eventId: string, codeId: string): Promise<PromoCodeRow> {
  const [row] = await db
    .select()
    .from(promoCodes)
    .where(and(eq(promoCodes.id, codeId), eq(promoCodes.eventId, eventId)))
    .limit(1);
  if (!row) throw DomainError.notFound();
  return row;
}

/** Another organizer's event (or an unknown one) is "not found", never "forbidden". */
async function ownEventTiers(db: Database, organizer: User, eventId: string): Promise<TierRow[]> {
  return (await loadOwnEvent(db, organizer.id, eventId)).tiers;
}

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

export async function getPromoCode(
  deps: PromoCodeDeps,
  organizer: User,
  eventId: string,
  codeId: string,
): Promise<PromoCodeView> {
  await ownEventTiers(deps.db, organizer, eventId);
  const [view] = await viewsOf(deps, [await findCode(deps.db, eventId, codeId)]);
  if (!view) throw DomainError.notFound();
  return view;
}

/** Newest first; the event's ownership is checked by the caller's first read. */
export async function listPromoCodes(
  deps: PromoCodeDeps,
  eventId: string,
  limit: number,
  offset: number,
): Promise<PromoCodeView[]> {
  const rows = await deps.db
    .select()
    .from(promoCodes)
    .where(eq(promoCodes.eventId, eventId))
    .orderBy(desc(promoCodes.createdAt), sql`${promoCodes}.rowid DESC`)
    .limit(limit)
    .offset(offset);
  return viewsOf(deps, rows);
}

export async function countPromoCodes(db: Database, eventId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)` })
    .from(promoCodes)
    .where(eq(promoCodes.eventId, eventId));
  return row?.n ?? 0;
}

export async function assertOwnEvent(db: Database, organizer: User, eventId: string): Promise<void> {
  await ownEventTiers(db, organizer, eventId);
}

// ---------------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------------

export async function createPromoCode(
  deps: PromoCodeDeps,
  organizer: User,
  eventId: string,
  input: PromoCodeCreate,
  now = Date.now(),
): Promise<PromoCodeView> {
  const { db } = deps;
  const eventTiers = await ownEventTiers(db, organizer, eventId);
  const fields: FieldErrors = {};
  const tierIds = validateTierIds(fields, input.tierIds, eventTiers) ?? [];
  const merged = {
    discountType: input.discountType,
    value: input.value,
    validFrom: input.validFrom ?? null,
    validUntil: input.validUntil ?? null,
  };
  validateTerms(fields, merged);
  if (Object.keys(fields).length > 0) throw DomainError.validation(fields);

  const id = crypto.randomUUID();
  const code = normalizeCode(input.code);
  try {
    await db.batch([
      db.insert(promoCodes).values({
        id,
        eventId,
        code,
        ...merged,
        allTiers: tierIds.length === 0,
        maxUses: input.maxUses ?? null,
        maxUsesPerBuyer: input.maxUsesPerBuyer ?? null,
        isActive: input.isActive ?? true,
        createdAt: now,
        updatedAt: now,
      }),
      ...tierIds.map((tierId) => db.insert(promoCodeTiers).values({ promoCodeId: id, tierId })),
    ]);
  } catch (error) {
    // Two creates racing for one code: the unique index decides, the loser gets the same 400.
    if (isCodeUniqueViolation(error)) throw codeTaken();
    throw error;
  }
  return getPromoCode(deps, organizer, eventId, id);
}

/**
 * Partial update. Limits go to the object first (it is the authority and refuses what is
 * below used + held); if the row then fails to write, the object gets its old limits back.
 * Edits apply to new reservations only: a live hold keeps the price its buyer was prompted for.
 */
export async function updatePromoCode(
  deps: PromoCodeDeps,
  organizer: User,
  eventId: string,
  codeId: string,
  input: PromoCodeInput,
  now = Date.now(),
): Promise<PromoCodeView> {
  const { db } = deps;
  const eventTiers = await ownEventTiers(db, organizer, eventId);
  const row = await findCode(db, eventId, codeId);
  const stub = promoCodeUses(deps.promoCodes, row.id);
  const seed = seedFromPromoCode(row);
  const usage = await stub.snapshot(seed);

  const fields: FieldErrors = {};
  const code = input.code === undefined ? undefined : normalizeCode(input.code);
  if (code !== undefined && code !== row.code && usage.used + usage.held > 0) {
    fields.code = ["The code cannot change once it has been used or is held at checkout."];
  }
  const tierIds = validateTierIds(fields, input.tierIds, eventTiers);
  validateTerms(fields, {
    discountType: input.discountType ?? row.discountType,
    value: input.value ?? row.value,
    validFrom: input.validFrom === undefined ? row.validFrom : input.validFrom,
    validUntil: input.validUntil === undefined ? row.validUntil : input.validUntil,
  });
  if (Object.keys(fields).length > 0) throw DomainError.validation(fields);

  // The object's limits are the current ones (D1's copy only bootstraps a new object).
  const before = { maxUses: usage.maxUses, maxUsesPerBuyer: usage.maxUsesPerBuyer };
  const after = {
    maxUses: input.maxUses === undefined ? before.maxUses : input.maxUses,
    maxUsesPerBuyer: input.maxUsesPerBuyer === undefined ? before.maxUsesPerBuyer : input.maxUsesPerBuyer,
  };
  const limitsChange = after.maxUses !== before.maxUses || after.maxUsesPerBuyer !== before.maxUsesPerBuyer;
  if (limitsChange) {
    const result = await stub.setLimits(after, seed);
    if (!result.ok) {
      const minimum = result.reason === "below_committed" ? result.minimum : 0;
      throw DomainError.field(
        "max_uses",
        `max_uses cannot go below the ${minimum} uses already taken or held at checkout.`,
      );
    }
  }

  const changes: Partial<typeof promoCodes.$inferInsert> = { updatedAt: now, ...after };
  if (code !== undefined) changes.code = code;
  if (input.discountType !== undefined) changes.discountType = input.discountType;
  if (input.value !== undefined) changes.value = input.value;
  if (input.validFrom !== undefined) changes.validFrom = input.validFrom;
  if (input.validUntil !== undefined) changes.validUntil = input.validUntil;
  if (input.isActive !== undefined) changes.isActive = input.isActive;
  if (tierIds !== undefined) changes.allTiers = tierIds.length === 0;
  try {
    await db.batch([
      db
        .update(promoCodes)
        .set(changes)
        .where(and(eq(promoCodes.id, row.id), eq(promoCodes.eventId, eventId))),
      ...(tierIds === undefined
        ? []
        : [
            db.delete(promoCodeTiers).where(eq(promoCodeTiers.promoCodeId, row.id)),
            ...tierIds.map((tierId) => db.insert(promoCodeTiers).values({ promoCodeId: row.id, tierId })),
          ]),
    ]);
  } catch (error) {
    if (limitsChange) await stub.setLimits(before, seed);
    if (isCodeUniqueViolation(error)) throw codeTaken();
    throw error;
  }
  forgetEventCodes(eventId);
  return getPromoCode(deps, organizer, eventId, row.id);
}

/**
 * Delete a code never used nor held. The object retires first, in one step with its
 * reservations, so no checkout that read the code before the delete can still reserve it.
 */
export async function deletePromoCode(
  deps: PromoCodeDeps,
  organizer: User,
  eventId: string,
  codeId: string,
): Promise<void> {
  const { db } = deps;
  await ownEventTiers(db, organizer, eventId);
  const row = await findCode(db, eventId, codeId);
  const stub = promoCodeUses(deps.promoCodes, row.id);
  const retired = await stub.retire(seedFromPromoCode(row));
  if (!retired.ok) throw new DomainError("conflict", CODE_IN_USE);
  try {
    await db.delete(promoCodes).where(and(eq(promoCodes.id, row.id), eq(promoCodes.eventId, eventId)));
  } catch (error) {
    await stub.unretire();
    throw error;
  }
  forgetEventCodes(eventId);
}
