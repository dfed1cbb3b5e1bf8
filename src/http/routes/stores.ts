/** `/api/stores/` (contract §8): thin handlers over services/stores. */

import { z } from "@hono/zod-openapi";
import type { StoreRow, User } from "../../db/schema";
import { MAX_IMAGE_BYTES } from "../../services/images";
import {
  countOrganizerStores,
  countPublishedStores,
  createStore,
  deleteStore,
  findOwnedStore,
  getPublishedStorePage,
  listOrganizerStores,
  listPublishedStores,
  RESERVED_STORE_SLUGS,
  STORE_SLUG_MAX,
  STORE_SLUG_MIN,
  STORE_SLUG_PATTERN,
  type StoreInput,
  updateStore,
} from "../../services/stores";
import { BooleanInput, FileInput, OptionalLink } from "../fields";
import { PaginationQuery, pageOf, pageSchema } from "../pagination";
import { type Api, type AppContext, defineRoute } from "../route";
import { toEventListItem } from "../views/event-list-item";
import { StoreDetailSchema, StoreSchema, toStoreResponse } from "../views/store";

const TAGS = ["Stores"];

// ---------------------------------------------------------------------------------------
// Schemas (request validation and the OpenAPI document share them)
// ---------------------------------------------------------------------------------------

const StoreName = z.string().trim().min(1).max(100);
const StoreSlug = z
  .string()
  .trim()
  .min(STORE_SLUG_MIN)
  .max(STORE_SLUG_MAX)
  .regex(STORE_SLUG_PATTERN, {
    error: "Enter a valid slug consisting of lowercase letters, numbers or hyphens.",
  })
  .refine((slug) => !RESERVED_STORE_SLUGS.has(slug), { error: "This slug is reserved." })
  .openapi({ example: "nairobi-nights", description: "Lowercase letters, digits, hyphens; 3–50; unique" });
const Description = z.string().trim().max(5000);
const Link = OptionalLink.openapi({ description: "An http(s) URL, or empty" });
const Image = FileInput.openapi({
  type: "string",
  format: "binary",
  description: "JPEG, PNG or WebP (recognised by its bytes), at most 5 MB; empty or null removes it",
});

const StoreFields = {
  description: Description.optional(),
  logo_image: Image.optional(),
  banner_image: Image.optional(),
  instagram_link: Link.optional(),
  website_link: Link.optional(),
  is_published: BooleanInput.optional(),
};

const CreateStoreBody = z
  .object({ name: StoreName, slug: StoreSlug, ...StoreFields })
  .openapi("StoreCreateRequest");
const UpdateStoreBody = z
  .object({ name: StoreName.optional(), slug: StoreSlug.optional(), ...StoreFields })
  .openapi("StoreUpdateRequest");

const StoreIdParams = z.object({ id: z.string().uuid() });
const SlugParams = z.object({ slug: z.string().min(1).max(STORE_SLUG_MAX).regex(STORE_SLUG_PATTERN) });

/** Two images plus the form fields: the multipart envelope is allowed a little over 2 × 5 MB. */
const UPLOAD_BODY_BYTES = 2 * MAX_IMAGE_BYTES + 1024 * 1024;

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

function toInput(body: z.infer<typeof UpdateStoreBody>): StoreInput {
  return {
    name: body.name,
    slug: body.slug,
    description: body.description,
    instagramLink: body.instagram_link,
    websiteLink: body.website_link,
    isPublished: body.is_published,
    logoImage: body.logo_image,
    bannerImage: body.banner_image,
  };
}

function ownStoreResponse(c: AppContext, organizer: User, store: StoreRow) {
  return toStoreResponse(c.var.config.publicBaseUrl, store, organizer.username);
}

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

export function registerStoreRoutes(app: Api): void {
  // The fixed paths first: `/api/stores/{slug}/` must never answer for `manage` or `create`.
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/stores/create/",
      tags: TAGS,
      summary: "Create a store (organizers)",
      description:
        "Multipart (with `logo_image` / `banner_image` files) or JSON. `is_published` defaults to true.",
      roles: ["ORGANIZER"],
      body: CreateStoreBody,
      maxBodyBytes: UPLOAD_BODY_BYTES,
      responses: {
        201: { description: "Created", schema: StoreSchema },
        400: { description: "Validation error (slug taken or reserved, bad link, …)" },
        401: { description: "Not signed in" },
        403: { description: "Not an organizer" },
        413: { description: "Image over 5 MB" },
        415: { description: "Not a JPEG, PNG or WebP image" },
      },
    },
    async (c, { body }) => {
      const organizer = await c.var.auth.requireUser();
      const store = await createStore(c.var.services, organizer.id, {
        ...toInput(body),
        name: body.name,
        slug: body.slug,
      });
      return c.json(ownStoreResponse(c, organizer, store), 201);
    },
  );

  // `/manage/` (the organizer's first store) and `/manage/{id}/` behave the same.
  for (const withId of [false, true]) {
    const path = withId ? "/api/stores/manage/{id}/" : "/api/stores/manage/";
    const which = withId ? "one of the organizer's stores" : "the organizer's first (oldest) store";
    const params = withId ? StoreIdParams : z.object({});
    const storeIdOf = (input: Record<string, unknown>) =>
      typeof input.id === "string" ? input.id : undefined;
    const notFound = { description: "No such store of this organizer" };

    defineRoute(
      app,
      {
        method: "get",
        path,
        tags: TAGS,
        summary: `Get ${which}`,
        roles: ["ORGANIZER"],
        params,
        responses: {
          200: { description: "Store", schema: StoreSchema },
          403: { description: "Not an organizer" },
          404: notFound,
        },
      },
      async (c, input) => {
        const organizer = await c.var.auth.requireUser();
        const store = await findOwnedStore(c.var.db, organizer.id, storeIdOf(input.params));
        return c.json(ownStoreResponse(c, organizer, store), 200);
      },
    );

    defineRoute(
      app,
      {
        method: "patch",
        path,
        tags: TAGS,
        summary: `Update ${which} (partial)`,
        description: 'Takes the create fields. A new image replaces the old one; `""` (or null) removes it.',
        roles: ["ORGANIZER"],
        params,
        body: UpdateStoreBody,
        maxBodyBytes: UPLOAD_BODY_BYTES,
        responses: {
          200: { description: "Updated store", schema: StoreSchema },
          400: { description: "Validation error" },
          403: { description: "Not an organizer" },
          404: notFound,
          413: { description: "Image over 5 MB" },
          415: { description: "Not a JPEG, PNG or WebP image" },
        },
      },
      async (c, input) => {
        const organizer = await c.var.auth.requireUser();
        const deps = c.var.services;
        const store = await findOwnedStore(deps.db, organizer.id, storeIdOf(input.params));
        const updated = await updateStore(deps, store, toInput(input.body));
        return c.json(ownStoreResponse(c, organizer, updated), 200);
      },
    );

    defineRoute(
      app,
      {
        method: "delete",
        path,
        tags: TAGS,
        summary: `Delete ${which}`,
        description: "Removes the store and its images; its events stay, without a store.",
        roles: ["ORGANIZER"],
        params,
        responses: {
          204: { description: "Deleted" },
          403: { description: "Not an organizer" },
          404: notFound,
        },
      },
      async (c, input) => {
        const organizer = await c.var.auth.requireUser();
        const deps = c.var.services;
        await deleteStore(deps, await findOwnedStore(deps.db, organizer.id, storeIdOf(input.params)));
        return c.body(null, 204);
      },
    );
  }

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/stores/organizer/list/",
      tags: TAGS,
      summary: "The organizer's stores, oldest first",
      roles: ["ORGANIZER"],
      query: PaginationQuery,
      responses: {
        200: { description: "Page of stores", schema: pageSchema(StoreSchema) },
        403: { description: "Not an organizer" },
        404: { description: "Invalid page" },
      },
    },
    async (c, { query }) => {
      const organizer = await c.var.auth.requireUser();
      const { db } = c.var;
      return c.json(
        await pageOf(c, query, {
          count: () => countOrganizerStores(db, organizer.id),
          rows: (limit, offset) => listOrganizerStores(db, organizer.id, limit, offset),
          map: (store) => ownStoreResponse(c, organizer, store),
        }),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/stores/",
      tags: TAGS,
      summary: "Published stores by name (case-insensitive)",
      query: PaginationQuery,
      responses: {
        200: { description: "Page of stores", schema: pageSchema(StoreSchema) },
        404: { description: "Invalid page" },
      },
    },
    async (c, { query }) => {
      const { db, config } = c.var;
      return c.json(
        await pageOf(c, query, {
          count: () => countPublishedStores(db),
          rows: (limit, offset) => listPublishedStores(db, limit, offset),
          map: (row) => toStoreResponse(config.publicBaseUrl, row.store, row.organizerName),
        }),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/stores/{slug}/",
      tags: TAGS,
      summary: "A published store with its upcoming public events",
      description: "`events`: published, public, not cancelled, not ended; soonest first (at most 200).",
      params: SlugParams,
      responses: {
        200: { description: "Store and its events", schema: StoreDetailSchema },
        404: { description: "Unknown or unpublished store" },
      },
    },
    async (c, { params }) => {
      const base = c.var.config.publicBaseUrl;
      const page = await getPublishedStorePage(c.var.db, params.slug);
      return c.json(
        {
          ...toStoreResponse(base, page.store, page.organizerName),
          events: page.events.map((event) => toEventListItem(base, event)),
        },
        200,
      );
    },
  );
}
