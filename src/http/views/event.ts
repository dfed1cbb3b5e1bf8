/** Event detail (public, contract §3) and the organizer's edit representation (§6). */
import { z } from "@hono/zod-openapi";
import { EVENT_CATEGORIES } from "../../db/schema";
import { formatPrice } from "../../lib/money";
import { toNairobiIso } from "../../lib/time";
import { mediaUrl } from "../../services/images";
import { availableSeats, type EventRow, isTierOnSale, type TierRow } from "../../services/tier-rules";

export const PublicTierSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    price: z.string().openapi({ example: "1500.00" }),
    quantity_allocated: z.number().int(),
    quantity_sold: z.number().int(),
    available_qty: z.number().int(),
    max_per_order: z.number().int(),
    max_per_buyer: z.number().int().nullable(),
    sales_start: z.string().nullable(),
    sales_end: z.string().nullable(),
    is_on_sale: z.boolean(),
  })
  .openapi("Tier");

export function toPublicTier(event: EventRow, tier: TierRow, now: number) {
  return {
    id: tier.id,
    name: tier.name,
    description: tier.description,
    price: formatPrice(tier.price),
    quantity_allocated: tier.quantityAllocated,
    quantity_sold: tier.quantitySold,
    available_qty: availableSeats(tier),
    max_per_order: tier.maxPerOrder,
    max_per_buyer: tier.maxPerBuyer,
    sales_start: toNairobiIso(tier.salesStart),
    sales_end: toNairobiIso(tier.salesEnd),
    is_on_sale: isTierOnSale(event, tier, now),
  };
}

export const EditTierSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string(),
    price: z.string(),
    quantity_allocated: z.number().int(),
    quantity_sold: z.number().int(),
    quantity_held: z.number().int(),
    available_qty: z.number().int(),
    max_per_order: z.number().int(),
    max_per_buyer: z.number().int().nullable(),
    sales_start: z.string().nullable(),
    sales_end: z.string().nullable(),
  })
  .openapi("EditTier");

export const EditEventSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    description: z.string(),
    category: z.enum(EVENT_CATEGORIES),
    location_name: z.string(),
    start_datetime: z.string(),
    end_datetime: z.string(),
    is_published: z.boolean(),
    is_private: z.boolean(),
    allow_transfers: z.boolean(),
    status: z.enum(["ACTIVE", "CANCELLED"]),
    poster_image: z.string().nullable(),
    store: z.string().nullable(),
    tiers: z.array(EditTierSchema),
  })
  .openapi("EditEvent");

export function toEditRepresentation(publicBaseUrl: string, event: EventRow, tiers: TierRow[]) {
  return {
    id: event.id,
    title: event.title,
    description: event.description,
    category: event.category,
    location_name: event.locationName,
    start_datetime: toNairobiIso(event.startAt),
    end_datetime: toNairobiIso(event.endAt),
    is_published: event.isPublished,
    is_private: event.isPrivate,
    allow_transfers: event.allowTransfers,
    status: event.status,
    poster_image: mediaUrl(publicBaseUrl, event.posterKey),
    store: event.storeId,
    tiers: [...tiers]
      .sort((a, b) => a.position - b.position)
      .map((tier) => ({
        id: tier.id,
        name: tier.name,
        description: tier.description,
        price: formatPrice(tier.price),
        quantity_allocated: tier.quantityAllocated,
        quantity_sold: tier.quantitySold,
        quantity_held: tier.quantityHeld,
        available_qty: availableSeats(tier),
        max_per_order: tier.maxPerOrder,
        max_per_buyer: tier.maxPerBuyer,
        sales_start: toNairobiIso(tier.salesStart),
        sales_end: toNairobiIso(tier.salesEnd),
      })),
  };
}
