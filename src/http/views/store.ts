/** The Store object of contract §8, and a store's public page (the store plus its events). */
import { z } from "@hono/zod-openapi";
import type { StoreRow } from "../../db/schema";
import { mediaUrl } from "../../services/images";
import { EventListItemSchema } from "./event-list-item";

export const StoreSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    slug: z.string(),
    description: z.string(),
    logo_image: z.string().nullable().openapi({ description: "Absolute URL, or null" }),
    banner_image: z.string().nullable().openapi({ description: "Absolute URL, or null" }),
    instagram_link: z.string(),
    website_link: z.string(),
    organizer_name: z.string().openapi({ description: "The organizer's username" }),
    is_published: z.boolean(),
  })
  .openapi("Store");

export const StoreDetailSchema = StoreSchema.extend({
  events: z.array(EventListItemSchema),
}).openapi("StoreDetail");

export type StoreResponse = z.infer<typeof StoreSchema>;

export function toStoreResponse(
  publicBaseUrl: string,
  store: StoreRow,
  organizerName: string,
): StoreResponse {
  return {
    id: store.id,
    name: store.name,
    slug: store.slug,
    description: store.description,
    logo_image: mediaUrl(publicBaseUrl, store.logoKey),
    banner_image: mediaUrl(publicBaseUrl, store.bannerKey),
    instagram_link: store.instagramLink,
    website_link: store.websiteLink,
    organizer_name: organizerName,
    is_published: store.isPublished,
  };
}
