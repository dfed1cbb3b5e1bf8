/** The promo code object of contract §12.1, and the public check's answer (§12.4). */
import { z } from "@hono/zod-openapi";
import { formatPrice } from "../../lib/money";
import { toNairobiIso } from "../../lib/time";
import type { PromoCodeView } from "../../services/promo-codes/codes";

export const PromoCodeSchema = z
  .object({
    id: z.string(),
    event_id: z.string(),
    code: z.string().openapi({ example: "RADIO20", description: "Upper case" }),
    discount_type: z.enum(["PERCENT", "FIXED"]),
    value: z.string().openapi({ example: "20.00", description: "Percent, or KES off each eligible seat" }),
    tier_ids: z.array(z.string()).openapi({ description: "[] = every tier, including tiers added later" }),
    max_uses: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Discounted seats in all; null = unlimited" }),
    max_uses_per_buyer: z.number().int().nullable(),
    valid_from: z.string().nullable(),
    valid_until: z.string().nullable().openapi({ description: "null = until the event ends" }),
    is_active: z.boolean(),
    times_used: z.number().int().openapi({ description: "Discounted seats on paid orders" }),
    times_held: z.number().int().openapi({ description: "Discounted seats in live holds" }),
    discount_given: z.number().openapi({ description: "KES of discount on paid orders" }),
    created_at: z.string(),
  })
  .openapi("PromoCode");

export type PromoCodeResponse = z.infer<typeof PromoCodeSchema>;

export function toPromoCodeResponse(view: PromoCodeView): PromoCodeResponse {
  const { row, usage } = view;
  return {
    id: row.id,
    event_id: row.eventId,
    code: row.code,
    discount_type: row.discountType,
    value: formatPrice(row.value),
    tier_ids: view.tierIds,
    // The code's object holds the limits that are enforced; D1's copy only bootstraps it.
    max_uses: usage.maxUses,
    max_uses_per_buyer: usage.maxUsesPerBuyer,
    valid_from: toNairobiIso(row.validFrom),
    valid_until: toNairobiIso(row.validUntil),
    is_active: row.isActive,
    times_used: usage.used,
    times_held: usage.held,
    discount_given: usage.discountGiven,
    created_at: toNairobiIso(row.createdAt),
  };
}

export const PromoCheckValidSchema = z
  .object({
    valid: z.literal(true),
    discount_type: z.enum(["PERCENT", "FIXED"]),
    value: z.string(),
    tier_ids: z.array(z.string()),
  })
  .openapi("PromoCheckValid");

export const PromoCheckRefusedSchema = z
  .object({
    valid: z.literal(false),
    error: z.string(),
    detail: z.string(),
    code: z.string(),
  })
  .openapi("PromoCheckRefused");

/** A 400 of the check: `valid: false` when the code is missing; a body that is not JSON has no `valid`. */
export const PromoCheckBadRequestSchema = PromoCheckRefusedSchema.extend({
  valid: z.literal(false).optional(),
}).openapi("PromoCheckBadRequest");
