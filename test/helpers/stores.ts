/** Builders for storefront and media tests: real images, stores through the API, events by SQL. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { StoreSchema } from "../../src/http/views/store";
import { registerUser } from "./accounts";
import { type Body, TestClient, uniqueName } from "./client";

/** A valid 1×1 PNG. */
export const PNG_BYTES = Uint8Array.from(
  atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="),
  (ch) => ch.charCodeAt(0),
);

/** A minimal WebP header (RIFF….WEBP): what the byte sniffer recognises. */
export const WEBP_BYTES = Uint8Array.from([
  0x52, 0x49, 0x46, 0x46, 0x1a, 0x00, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50, 0x56, 0x50, 0x38, 0x4c, 0x0d, 0x00,
  0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88, 0x88, 0xfe, 0x07, 0x00,
]);

export function pngFile(name = "logo.png"): File {
  return new File([PNG_BYTES], name, { type: "image/png" });
}

export function webpFile(name = "banner.webp"): File {
  return new File([WEBP_BYTES], name, { type: "image/webp" });
}

export async function organizer(): Promise<{ client: TestClient; id: string; username: string }> {
  const client = new TestClient();
  const user = await registerUser(client, { role: "ORGANIZER", username: uniqueName("org") });
  return { client, id: user.id, username: user.username };
}

export function uniqueSlug(prefix = "store"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export type StoreBody = Body<typeof StoreSchema>;

/** Create a store through the API (JSON, or multipart when a FormData is given). */
export async function createStore(
  client: TestClient,
  fields: Record<string, unknown> = {},
): Promise<StoreBody> {
  const res = await client.post(
    "/api/stores/create/",
    { name: uniqueName("Store "), slug: uniqueSlug(), ...fields },
    { schema: StoreSchema },
  );
  expect(res.status, res.text).toBe(201);
  return res.body;
}

/** The R2 key of an image URL (`…/media/<key>`). */
export function mediaKey(url: string | null): string {
  const key = url ? new URL(url).pathname.replace(/^\/media\//, "") : "";
  expect(key).toMatch(/^(logos|banners|posters)\/[0-9a-f-]{36}\.(png|jpg|webp)$/);
  return key;
}

export async function countObjects(prefix: string): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  do {
    const page = await env.MEDIA.list({ prefix, ...(cursor ? { cursor } : {}) });
    count += page.objects.length;
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return count;
}

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
export const TIME = { HOUR, DAY };

export interface EventSeed {
  organizerId: string;
  storeId?: string | null;
  title?: string;
  startAt?: number;
  endAt?: number;
  isPublished?: boolean;
  isPrivate?: boolean;
  status?: "ACTIVE" | "CANCELLED";
  lowestPrice?: number | null;
  category?: string;
  locationName?: string;
}

/** Insert an event row directly (the events API is another module's concern). */
export async function insertEvent(seed: EventSeed): Promise<{ id: string; title: string }> {
  const id = crypto.randomUUID();
  const title = seed.title ?? uniqueName("Event ");
  const startAt = seed.startAt ?? Date.now() + 7 * DAY;
  await env.DB.prepare(
    `INSERT INTO events (id, organizer_id, store_id, title, category, location_name, start_datetime,
       end_datetime, is_published, is_private, status, lowest_price)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  )
    .bind(
      id,
      seed.organizerId,
      seed.storeId ?? null,
      title,
      seed.category ?? "CONCERT",
      seed.locationName ?? "KICC, Nairobi",
      startAt,
      seed.endAt ?? startAt + 4 * HOUR,
      seed.isPublished === false ? 0 : 1,
      seed.isPrivate ? 1 : 0,
      seed.status ?? "ACTIVE",
      seed.lowestPrice === undefined ? null : seed.lowestPrice,
    )
    .run();
  return { id, title };
}

export async function insertTier(
  eventId: string,
  tier: { price: number; allocated: number; sold?: number; held?: number },
): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    `INSERT INTO tiers (id, event_id, name, price, quantity_allocated, quantity_sold, quantity_held)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  )
    .bind(id, eventId, uniqueName("Tier "), tier.price, tier.allocated, tier.sold ?? 0, tier.held ?? 0)
    .run();
  return id;
}
