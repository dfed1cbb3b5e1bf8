/**
 * The event list item of contract §3, shared by every listing (`/api/events/`, a store's
 * page, the organizer's list). It takes plain values, so each listing's query decides how
 * it gets them (one joined row per event, seats summed over the tiers in SQL).
 */

import { z } from "@hono/zod-openapi";
import { EVENT_CATEGORIES } from "../../db/schema";
import { toNairobiIso } from "../../lib/time";
import type { EventListItemSource } from "../../services/event-catalogue";
import { mediaUrl } from "../../services/images";

export const EventListStoreSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    slug: z.string(),
    logo_image: z.string().nullable(),
  })
  .openapi("EventListStore");

export const EventListItemSchema = z
  .object({
    id: z.string(),
    title: z.string(),
    start_datetime: z.string().openapi({ example: "2026-12-05T18:00:00+03:00" }),
    end_datetime: z.string().openapi({ example: "2026-12-05T23:00:00+03:00" }),
    location_name: z.string(),
    poster_image: z.string().nullable(),
    lowest_price: z.number(),
    category: z.enum(EVENT_CATEGORIES),
    organizer_name: z.string(),
    is_private: z.boolean(),
    is_sold_out: z.boolean(),
    store: EventListStoreSchema.nullable(),
  })
  .openapi("EventListItem");

export type EventListItem = z.infer<typeof EventListItemSchema>;

/** An item of the organizer's own list: drafts included, with sales. */
export const OrganizerEventItemSchema = EventListItemSchema.extend({
  is_published: z.boolean(),
  tickets_sold: z.number().int(),
  /** Net of completed refunds (contract v3 §0). */
  revenue: z.number(),
  refunded: z.number(),
  discounts: z.number(),
}).openapi("OrganizerEventItem");

export function toEventListItem(publicBaseUrl: string, source: EventListItemSource): EventListItem {
  const { event, store } = source;
  return {
    id: event.id,
    title: event.title,
    start_datetime: toNairobiIso(event.startAt),
    end_datetime: toNairobiIso(event.endAt),
    location_name: event.locationName,
    poster_image: mediaUrl(publicBaseUrl, event.posterKey),
    lowest_price: event.lowestPrice ?? 0,
    category: event.category,
    organizer_name: source.organizerName,
    is_private: event.isPrivate,
    is_sold_out: source.availableSeats <= 0,
    store: store
      ? {
          id: store.id,
          name: store.name,
          slug: store.slug,
          logo_image: mediaUrl(publicBaseUrl, store.logoKey),
        }
      : null,
  };
}
