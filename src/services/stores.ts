/**
 * Storefronts (contract §8): an organizer's stores, their logo/banner images in R2, and a
 * published store's public page with its upcoming events. Plain arguments in, rows out;
 * routes shape the HTTP answers.
 *
 * Images follow one rule: every upload is validated before anything is written, a new image
 * gets a fresh random key, and an image is deleted from R2 only after the row no longer
 * points at it (so a failed write never leaves a store pointing at a missing object; at
 * worst an unreferenced object is left behind, which is harmless).
 */

import { and, asc, eq, inArray, ne, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import type { StoreRow } from "../db/schema";
import { events, stores, users } from "../db/schema";
import { DomainError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import type { EventListItemSource } from "./event-catalogue";
import { availableSeatsSql, listItemColumns } from "./event-catalogue";
import { deleteImages, readImageField, storeImage, type ValidImage } from "./images";

export interface StoreDeps {
  db: Database;
  media: R2Bucket;
  log?: Logger;
}

export interface StoreWithOrganizer {
  store: StoreRow;
  /** The organizer's username. */
  organizerName: string;
}

export interface StorePage extends StoreWithOrganizer {
  events: EventListItemSource[];
}

/** Lowercase letters, digits and hyphens; the length (3–50) is checked separately. */
export const STORE_SLUG_PATTERN = /^[a-z0-9-]+$/;
export const STORE_SLUG_MIN = 3;
export const STORE_SLUG_MAX = 50;

/**
 * Slugs that name our own paths (`/api/stores/manage/`, the web client's `/stores/new`, …)
 * or could pass for us. A store called `manage` would be shadowed by the route, and one
 * called `admin` or `support` could be used to impersonate the platform.
 */
export const RESERVED_STORE_SLUGS: ReadonlySet<string> = new Set([
  "create",
  "manage",
  "organizer",
  "organizers",
  "admin",
  "api",
  "media",
  "new",
  "edit",
  "delete",
  "settings",
  "store",
  "stores",
  "event",
  "events",
  "login",
  "logout",
  "register",
  "signup",
  "account",
  "dashboard",
  "static",
  "assets",
  "www",
  "ticketsafi",
  "help",
  "support",
  "about",
  "contact",
  "dev",
  "__dev",
]);

export const SLUG_TAKEN = "store with this slug already exists.";

/** Upper bound on a store page's event list (the full list is `/api/events/?store=`). */
export const STORE_PAGE_MAX_EVENTS = 200;

/** The fields a create or PATCH may carry. Image fields are the raw body values. */
export interface StoreInput {
  name?: string | undefined;
  slug?: string | undefined;
  description?: string | undefined;
  instagramLink?: string | undefined;
  websiteLink?: string | undefined;
  isPublished?: boolean | undefined;
  /** `undefined` keeps the image, `null`/`""` removes it, a File replaces it. */
  logoImage?: unknown;
  bannerImage?: unknown;
}

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

const slugTaken = () => DomainError.field("slug", SLUG_TAKEN);

function isSlugUniqueViolation(error: unknown): boolean {
  const text = (e: unknown): string =>
    e instanceof Error ? `${e.message} ${text(e.cause)}` : String(e ?? "");
  const message = text(error);
  return /UNIQUE constraint failed/i.test(message) && message.includes("stores.slug");
}

async function isSlugTaken(db: Database, slug: string, exceptStoreId?: string): Promise<boolean> {
  const found = await db
    .select({ id: stores.id })
    .from(stores)
    .where(and(eq(stores.slug, slug), exceptStoreId ? ne(stores.id, exceptStoreId) : undefined))
    .limit(1);
  return found.length > 0;
}

type ImageChange = { kind: "keep" } | { kind: "remove" } | { kind: "replace"; image: ValidImage };

/**
 * Absent keeps the image; `null`/`""` removes it. (workerd parses a browser's empty file
 * input, a part with `filename=""`, as the string `""`, so on PATCH it also removes.)
 */
async function readImageChange(field: string, value: unknown): Promise<ImageChange> {
  if (value === undefined) return { kind: "keep" };
  const image = await readImageField(field, value);
  return image ? { kind: "replace", image } : { kind: "remove" };
}

/** Validate both images before storing either: a bad banner must not leave a logo behind. */
async function prepareImages(input: StoreInput): Promise<{ logo: ImageChange; banner: ImageChange }> {
  const logo = await readImageChange("logo_image", input.logoImage);
  const banner = await readImageChange("banner_image", input.bannerImage);
  return { logo, banner };
}

async function storeNewImages(
  media: R2Bucket,
  changes: { logo: ImageChange; banner: ImageChange },
): Promise<{ logoKey: string | null | undefined; bannerKey: string | null | undefined }> {
  const keyFor = async (prefix: string, change: ImageChange) => {
    if (change.kind === "keep") return undefined;
    if (change.kind === "remove") return null;
    return storeImage(media, prefix, change.image);
  };
  const [logoKey, bannerKey] = await Promise.all([
    keyFor("logos", changes.logo),
    keyFor("banners", changes.banner),
  ]);
  return { logoKey, bannerKey };
}

/** Removing an object is cleanup: a failure is logged, never turned into a failed request. */
async function removeImages(deps: StoreDeps, keys: Array<string | null | undefined>): Promise<void> {
  try {
    await deleteImages(deps.media, keys);
  } catch (error) {
    deps.log?.warn("store image cleanup failed", {
      keys: keys.filter(Boolean),
      error_message: error instanceof Error ? error.message : String(error),
    });
  }
}

// ---------------------------------------------------------------------------------------
// Organizer side
// ---------------------------------------------------------------------------------------

export async function createStore(
  deps: StoreDeps,
  organizerId: string,
  input: StoreInput & { name: string; slug: string },
): Promise<StoreRow> {
  const images = await prepareImages(input);
  if (await isSlugTaken(deps.db, input.slug)) throw slugTaken();

  const { logoKey, bannerKey } = await storeNewImages(deps.media, images);
  const now = Date.now();
  try {
    const [row] = await deps.db
      .insert(stores)
      .values({
        id: crypto.randomUUID(),
        organizerId,
        name: input.name,
        slug: input.slug,
        description: input.description ?? "",
        logoKey: logoKey ?? null,
        bannerKey: bannerKey ?? null,
        instagramLink: input.instagramLink ?? "",
        websiteLink: input.websiteLink ?? "",
        isPublished: input.isPublished ?? true,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    if (!row) throw new Error("store insert returned no row");
    return row;
  } catch (error) {
    await removeImages(deps, [logoKey, bannerKey]);
    // Two creates racing for one slug: the unique index decides, the loser gets the same 400.
    if (isSlugUniqueViolation(error)) throw slugTaken();
    throw error;
  }
}

/**
 * One of the organizer's stores: the given one, or their first (oldest) when no id is given.
 * Another organizer's store is "not found", never "forbidden": ids are not confirmed to
 * people who may not see them.
 */
export async function findOwnedStore(db: Database, organizerId: string, storeId?: string): Promise<StoreRow> {
  const [row] = await db
    .select()
    .from(stores)
    .where(and(eq(stores.organizerId, organizerId), storeId ? eq(stores.id, storeId) : undefined))
    .orderBy(asc(stores.createdAt), sql`${stores}.rowid`)
    .limit(1);
  if (!row) throw DomainError.notFound();
  return row;
}

/** Partial update; replaced or removed images are deleted from R2 once the row is updated. */
export async function updateStore(deps: StoreDeps, store: StoreRow, input: StoreInput): Promise<StoreRow> {
  const images = await prepareImages(input);
  if (
    input.slug !== undefined &&
    input.slug !== store.slug &&
    (await isSlugTaken(deps.db, input.slug, store.id))
  ) {
    throw slugTaken();
  }

  const { logoKey, bannerKey } = await storeNewImages(deps.media, images);
  const changes: Partial<typeof stores.$inferInsert> = { updatedAt: Date.now() };
  if (input.name !== undefined) changes.name = input.name;
  if (input.slug !== undefined) changes.slug = input.slug;
  if (input.description !== undefined) changes.description = input.description;
  if (input.instagramLink !== undefined) changes.instagramLink = input.instagramLink;
  if (input.websiteLink !== undefined) changes.websiteLink = input.websiteLink;
  if (input.isPublished !== undefined) changes.isPublished = input.isPublished;
  if (logoKey !== undefined) changes.logoKey = logoKey;
  if (bannerKey !== undefined) changes.bannerKey = bannerKey;

  let updated: StoreRow | undefined;
  try {
    [updated] = await deps.db
      .update(stores)
      .set(changes)
      .where(and(eq(stores.id, store.id), eq(stores.organizerId, store.organizerId)))
      .returning();
  } catch (error) {
    await removeImages(deps, [logoKey, bannerKey]);
    if (isSlugUniqueViolation(error)) throw slugTaken();
    throw error;
  }
  if (!updated) {
    // Deleted by a parallel request since we read it.
    await removeImages(deps, [logoKey, bannerKey]);
    throw DomainError.notFound();
  }
  await removeImages(deps, [
    logoKey !== undefined ? store.logoKey : null,
    bannerKey !== undefined ? store.bannerKey : null,
  ]);
  return updated;
}

/** Delete the store and its images. Its events stay, unlinked (`events.store_id` is SET NULL). */
export async function deleteStore(deps: StoreDeps, store: StoreRow): Promise<void> {
  const [deleted] = await deps.db
    .delete(stores)
    .where(and(eq(stores.id, store.id), eq(stores.organizerId, store.organizerId)))
    .returning({ logoKey: stores.logoKey, bannerKey: stores.bannerKey });
  if (!deleted) throw DomainError.notFound();
  await removeImages(deps, [deleted.logoKey, deleted.bannerKey]);
}

export async function countOrganizerStores(db: Database, organizerId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)` })
    .from(stores)
    .where(eq(stores.organizerId, organizerId));
  return row?.n ?? 0;
}

export async function listOrganizerStores(
  db: Database,
  organizerId: string,
  limit: number,
  offset: number,
): Promise<StoreRow[]> {
  return db
    .select()
    .from(stores)
    .where(eq(stores.organizerId, organizerId))
    .orderBy(asc(stores.createdAt), sql`${stores}.rowid`)
    .limit(limit)
    .offset(offset);
}

// ---------------------------------------------------------------------------------------
// Public side
// ---------------------------------------------------------------------------------------

export async function countPublishedStores(db: Database): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)` })
    .from(stores)
    .where(eq(stores.isPublished, true));
  return row?.n ?? 0;
}

/** Published stores by name, case-insensitively (the `stores_published_name_idx` order). */
export async function listPublishedStores(
  db: Database,
  limit: number,
  offset: number,
): Promise<StoreWithOrganizer[]> {
  const rows = await db
    .select({ store: stores, organizerName: users.username })
    .from(stores)
    .innerJoin(users, eq(users.id, stores.organizerId))
    .where(eq(stores.isPublished, true))
    .orderBy(sql`lower(${stores.name})`, asc(stores.id))
    .limit(limit)
    .offset(offset);
  return rows;
}

/**
 * A published store and its listable events (published, public, active, not ended),
 * soonest first. Both reads go to D1 in one batch; unknown or unpublished slugs are 404.
 */
export async function getPublishedStorePage(
  db: Database,
  slug: string,
  now = Date.now(),
): Promise<StorePage> {
  const publishedStore = and(eq(stores.slug, slug), eq(stores.isPublished, true));
  const [storeRows, eventRows] = await db.batch([
    db
      .select({ store: stores, organizerName: users.username })
      .from(stores)
      .innerJoin(users, eq(users.id, stores.organizerId))
      .where(publishedStore)
      .limit(1),
    db
      .select({
        ...listItemColumns.event,
        organizerName: users.username,
        availableSeats: availableSeatsSql,
      })
      .from(events)
      .innerJoin(users, eq(users.id, events.organizerId))
      .where(
        and(
          inArray(events.storeId, db.select({ id: stores.id }).from(stores).where(publishedStore)),
          // The unary `+` keeps SQLite on events_store_idx (this store's events, by start)
          // instead of walking the listing index over every upcoming event of every store.
          sql`+${events.isPublished} = 1`,
          sql`+${events.isPrivate} = 0`,
          eq(events.status, "ACTIVE"),
          sql`+${events.endAt} > ${now}`,
        ),
      )
      .orderBy(asc(events.startAt), asc(events.id))
      .limit(STORE_PAGE_MAX_EVENTS),
  ]);
  const found = storeRows[0];
  if (!found) throw DomainError.notFound();
  const { store } = found;
  return {
    store,
    organizerName: found.organizerName,
    events: eventRows.map(({ organizerName, availableSeats, ...event }) => ({
      event,
      organizerName,
      store: { id: store.id, name: store.name, slug: store.slug, logoKey: store.logoKey },
      availableSeats: Number(availableSeats),
    })),
  };
}
