import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { pageSchema } from "../src/http/pagination";
import { StoreDetailSchema, StoreSchema } from "../src/http/views/store";
import { DomainError } from "../src/lib/errors";
import { createStore as createStoreService } from "../src/services/stores";
import { countRows, registerUser } from "./helpers/accounts";
import {
  type ApiResponse,
  BASE_URL,
  type OpenApiDocument,
  type PageOf,
  TestClient,
  uniqueName,
} from "./helpers/client";
import {
  countObjects,
  createStore,
  insertEvent,
  insertTier,
  mediaKey,
  organizer,
  PNG_BYTES,
  pngFile,
  type StoreBody,
  TIME,
  uniqueSlug,
  webpFile,
} from "./helpers/stores";

const StorePage = pageSchema(StoreSchema);
const SLUG_TAKEN = ["store with this slug already exists."];
const SLUG_INVALID = ["Enter a valid slug consisting of lowercase letters, numbers or hyphens."];
const NOT_FOUND = { detail: "Not found." };

async function storeRow(id: string) {
  return env.DB.prepare("SELECT * FROM stores WHERE id = ?").bind(id).first<Record<string, unknown>>();
}

describe("POST /api/stores/create/", () => {
  it("creates a store from a browser multipart form with a logo and a banner", async () => {
    const { client, username } = await organizer();
    const slug = uniqueSlug("nairobi");
    const logosBefore = await countObjects("logos/");
    const form = new FormData();
    form.append("name", "Nairobi Nights");
    form.append("slug", slug);
    form.append("description", "Live music every weekend.");
    form.append("instagram_link", "https://instagram.com/nairobinights");
    form.append("website_link", "");
    form.append("is_published", "true");
    form.append("is_offline_ready", "true");
    form.append("logo_image", pngFile("logo.png"));
    form.append("banner_image", webpFile("banner.webp"));

    const res = await client.request<StoreBody>("POST", "/api/stores/create/", { form });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: "Nairobi Nights",
      slug,
      description: "Live music every weekend.",
      logo_image: expect.stringMatching(new RegExp(`^${BASE_URL}/media/logos/[0-9a-f-]{36}\\.png$`)),
      banner_image: expect.stringMatching(new RegExp(`^${BASE_URL}/media/banners/[0-9a-f-]{36}\\.webp$`)),
      instagram_link: "https://instagram.com/nairobinights",
      website_link: "",
      organizer_name: username,
      is_published: true,
    });
    const logo = await env.MEDIA.get(mediaKey(res.body.logo_image));
    expect(logo?.httpMetadata?.contentType).toBe("image/png");
    expect(new Uint8Array(await (logo as R2ObjectBody).arrayBuffer())).toEqual(PNG_BYTES);
    const banner = await env.MEDIA.head(mediaKey(res.body.banner_image));
    expect(banner?.httpMetadata?.contentType).toBe("image/webp");
    expect(await countObjects("logos/")).toBe(logosBefore + 1);
  });

  it("creates a store from JSON with the defaults: published, no images, empty links", async () => {
    const { client, id, username } = await organizer();
    const slug = uniqueSlug("json");
    const res = await client.post<StoreBody>("/api/stores/create/", { name: "  Json Store  ", slug });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toMatchObject({
      name: "Json Store",
      slug,
      description: "",
      logo_image: null,
      banner_image: null,
      instagram_link: "",
      website_link: "",
      organizer_name: username,
      is_published: true,
    });
    expect(await storeRow(res.body.id)).toMatchObject({ organizer_id: id, slug, is_published: 1 });

    const hidden = await client.post<StoreBody>("/api/stores/create/", {
      name: "Hidden",
      slug: uniqueSlug("hidden"),
      is_published: false,
      logo_image: null,
    });
    expect(hidden.status).toBe(201);
    expect(hidden.body.is_published).toBe(false);
  });

  it("treats an empty file input (no file chosen in the browser) as no image", async () => {
    const { client } = await organizer();
    const form = new FormData();
    form.append("name", "No Logo Yet");
    form.append("slug", uniqueSlug("nologo"));
    form.append("is_published", "false");
    form.append("logo_image", new File([], "", { type: "application/octet-stream" }));
    const res = await client.request<StoreBody>("POST", "/api/stores/create/", { form });
    expect(res.status, res.text).toBe(201);
    expect(res.body.logo_image).toBeNull();
    expect(res.body.is_published).toBe(false);
  });

  it("refuses slugs with uppercase, bad characters, wrong length or reserved words", async () => {
    const { client } = await organizer();
    const cases: Array<[string, string[]]> = [
      ["My-Store", SLUG_INVALID],
      ["my store", SLUG_INVALID],
      ["my_store", SLUG_INVALID],
      ["ab", ["Ensure this field has at least 3 characters."]],
      ["a".repeat(51), ["Ensure this field has no more than 50 characters."]],
      ["manage", ["This slug is reserved."]],
      ["create", ["This slug is reserved."]],
      ["admin", ["This slug is reserved."]],
      ["ticketsafi", ["This slug is reserved."]],
    ];
    for (const [slug, message] of cases) {
      const res = await client.post("/api/stores/create/", { name: "Slug Test", slug });
      expect(res.status, slug).toBe(400);
      expect(res.body, slug).toEqual({ slug: message });
    }
    expect(await countRows("stores", "name = 'Slug Test'")).toBe(0);
  });

  it("refuses a slug that is already taken, by anyone, with the DRF message", async () => {
    const first = await organizer();
    const taken = await createStore(first.client);
    const { client } = await organizer();
    const res = await client.post("/api/stores/create/", { name: "Copycat", slug: taken.slug });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ slug: SLUG_TAKEN });
    expect(await countRows("stores", "slug = ?", taken.slug)).toBe(1);
  });

  it("gives exactly one of two simultaneous creates with one slug the store, the other a 400", async () => {
    const { client } = await organizer();
    const slug = uniqueSlug("race");
    const logos = await countObjects("logos/");
    const results = await Promise.all(
      [1, 2].map((n) => {
        const form = new FormData();
        form.append("name", `Race ${n}`);
        form.append("slug", slug);
        form.append("logo_image", pngFile());
        return client.request("POST", "/api/stores/create/", { form });
      }),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 400]);
    expect(results.find((r) => r.status === 400)?.body).toEqual({ slug: SLUG_TAKEN });
    expect(await countRows("stores", "slug = ?", slug)).toBe(1);
    // The loser's logo, if it got as far as storing one, was removed again.
    expect(await countObjects("logos/")).toBe(logos + 1);
  });

  it("turns a lost unique-index race into the same slug 400 and removes the loser's logo", async () => {
    // Requests through the app tend to serialise on the pre-check; calling the service in
    // parallel makes the inserts themselves collide on `stores_slug_unique`.
    const { id } = await organizer();
    const slug = uniqueSlug("collide");
    const logos = await countObjects("logos/");
    const deps = { db: createDb(env.DB), media: env.MEDIA };
    const results = await Promise.allSettled(
      [1, 2, 3, 4].map((n) =>
        createStoreService(deps, id, { name: `Collide ${n}`, slug, logoImage: pngFile() }),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const result of results) {
      if (result.status === "rejected") {
        expect(result.reason).toBeInstanceOf(DomainError);
        expect(result.reason).toMatchObject({ code: "validation_error", fields: { slug: SLUG_TAKEN } });
      }
    }
    expect(await countRows("stores", "slug = ?", slug)).toBe(1);
    expect(await countObjects("logos/")).toBe(logos + 1);
  });

  it("requires a name and a slug, and keeps names to 100 characters", async () => {
    const { client } = await organizer();
    const missing = await client.post("/api/stores/create/", { description: "x" });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ name: ["This field is required."], slug: ["This field is required."] });
    const blank = await client.post("/api/stores/create/", { name: "   ", slug: uniqueSlug() });
    expect(blank.status).toBe(400);
    expect(blank.body).toEqual({ name: ["This field may not be blank."] });
    const long = await client.post("/api/stores/create/", { name: "n".repeat(101), slug: uniqueSlug() });
    expect(long.status).toBe(400);
    expect(long.body).toEqual({ name: ["Ensure this field has no more than 100 characters."] });
  });

  it("refuses links that are not http(s) URLs", async () => {
    const { client } = await organizer();
    for (const link of ["javascript:alert(1)", "not a url", "ftp://files.example.com/x", "instagram.com/x"]) {
      const res = await client.post("/api/stores/create/", {
        name: "Links",
        slug: uniqueSlug("links"),
        instagram_link: link,
        website_link: link,
      });
      expect(res.status, link).toBe(400);
      expect(res.body, link).toEqual({
        instagram_link: ["Enter a valid URL."],
        website_link: ["Enter a valid URL."],
      });
    }
    expect(await countRows("stores", "name = 'Links'")).toBe(0);
  });

  it("refuses a text file dressed as a PNG with 415, storing nothing", async () => {
    const { client } = await organizer();
    const slug = uniqueSlug("disguised");
    const [logos, banners] = [await countObjects("logos/"), await countObjects("banners/")];
    const form = new FormData();
    form.append("name", "Disguised");
    form.append("slug", slug);
    form.append("banner_image", pngFile("banner.png"));
    form.append("logo_image", new File(["<?php echo 'hi'; ?>"], "logo.png", { type: "image/png" }));
    const res = await client.request("POST", "/api/stores/create/", { form });
    expect(res.status).toBe(415);
    expect(res.body.logo_image).toEqual([
      "Upload a valid image. The file you uploaded was either not an image or a corrupted image.",
    ]);
    // Validation runs before any upload: the good banner was not stored either.
    expect(await countObjects("logos/")).toBe(logos);
    expect(await countObjects("banners/")).toBe(banners);
    expect(await countRows("stores", "slug = ?", slug)).toBe(0);
  });

  it("refuses an image over 5 MB with 413, storing nothing", async () => {
    const { client } = await organizer();
    const slug = uniqueSlug("huge");
    const logos = await countObjects("logos/");
    const big = new Uint8Array(5 * 1024 * 1024 + 1);
    big.set(PNG_BYTES);
    const form = new FormData();
    form.append("name", "Huge");
    form.append("slug", slug);
    form.append("logo_image", new File([big], "logo.png", { type: "image/png" }));
    const res = await client.request("POST", "/api/stores/create/", { form });
    expect(res.status).toBe(413);
    expect(await countObjects("logos/")).toBe(logos);
    expect(await countRows("stores", "slug = ?", slug)).toBe(0);
  });

  it("refuses a string where a file is expected", async () => {
    const { client } = await organizer();
    const res = await client.post("/api/stores/create/", {
      name: "Url Logo",
      slug: uniqueSlug(),
      logo_image: "https://example.com/logo.png",
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      logo_image: ["The submitted data was not a file. Check the encoding type on the form."],
    });
  });

  it("is for organizers only: 401 without a session, 403 for attendees", async () => {
    const anonymous = await new TestClient().post("/api/stores/create/", { name: "X", slug: uniqueSlug() });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toEqual({ detail: "Authentication credentials were not provided." });
    const fan = new TestClient();
    await registerUser(fan);
    const forbidden = await fan.post("/api/stores/create/", { name: "X", slug: uniqueSlug() });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.detail).toBe("You do not have permission to perform this action.");
  });
});

describe("GET|PATCH|DELETE /api/stores/manage/ and /api/stores/manage/{id}/", () => {
  it("answers /manage/ with the organizer's first store, and 404 when they have none", async () => {
    const { client } = await organizer();
    const none = await client.get("/api/stores/manage/");
    expect(none.status).toBe(404);
    expect(none.body).toEqual(NOT_FOUND);
    const first = await createStore(client, { name: "First" });
    await createStore(client, { name: "Second" });
    const res = await client.get<StoreBody>("/api/stores/manage/");
    expect(res.status).toBe(200);
    expect(res.body).toEqual(first);
    const noSlash = await client.get<StoreBody>("/api/stores/manage");
    expect(noSlash.body.id).toBe(first.id);
  });

  it("answers /manage/{id}/ with that store of the organizer", async () => {
    const { client } = await organizer();
    await createStore(client);
    const second = await createStore(client, { description: "The second one" });
    const res = await client.get<StoreBody>(`/api/stores/manage/${second.id}/`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(second);
  });

  it("hides another organizer's store behind 404 for GET, PATCH and DELETE", async () => {
    const owner = await organizer();
    const store = await createStore(owner.client, { name: "Mine" });
    const { client: intruder } = await organizer();
    const path = `/api/stores/manage/${store.id}/`;
    expect((await intruder.get(path)).status).toBe(404);
    const patched = await intruder.patch(path, { name: "Stolen" });
    expect(patched.status).toBe(404);
    expect(patched.body).toEqual(NOT_FOUND);
    expect((await intruder.request("DELETE", path)).status).toBe(404);
    expect(await storeRow(store.id)).toMatchObject({ name: "Mine" });
  });

  it("answers a malformed or unknown id with a JSON 404", async () => {
    const { client } = await organizer();
    for (const id of ["not-a-uuid", "1", crypto.randomUUID()]) {
      const res = await client.get(`/api/stores/manage/${id}/`);
      expect(res.status, id).toBe(404);
      expect(res.body).toEqual(NOT_FOUND);
    }
    expect((await client.patch("/api/stores/manage/not-a-uuid/", { name: "x" })).status).toBe(404);
  });

  it("is for organizers only", async () => {
    const anonymous = new TestClient();
    expect((await anonymous.get("/api/stores/manage/")).status).toBe(401);
    expect((await anonymous.request("DELETE", "/api/stores/manage/")).status).toBe(401);
    const fan = new TestClient();
    await registerUser(fan);
    expect((await fan.get("/api/stores/manage/")).status).toBe(403);
    expect((await fan.patch(`/api/stores/manage/${crypto.randomUUID()}/`, { name: "x" })).status).toBe(403);
  });

  it("PATCH changes only the fields sent", async () => {
    const { client } = await organizer();
    const store = await createStore(client, {
      description: "Before",
      instagram_link: "https://instagram.com/before",
    });
    const res = await client.patch<StoreBody>(`/api/stores/manage/${store.id}/`, {
      name: "Renamed",
      website_link: "https://renamed.example.com",
      is_published: "false",
      organizer_name: "someone-else",
      id: crypto.randomUUID(),
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      ...store,
      name: "Renamed",
      website_link: "https://renamed.example.com",
      is_published: false,
    });
    expect((await client.get<StoreBody>(`/api/stores/manage/${store.id}/`)).body).toEqual(res.body);
  });

  it("PATCH refuses another store's slug and bad fields, and accepts its own slug", async () => {
    const other = await createStore((await organizer()).client);
    const { client } = await organizer();
    const store = await createStore(client);
    const path = `/api/stores/manage/${store.id}/`;
    const taken = await client.patch(path, { slug: other.slug });
    expect(taken.status).toBe(400);
    expect(taken.body).toEqual({ slug: SLUG_TAKEN });
    const reserved = await client.patch(path, { slug: "settings" });
    expect(reserved.body).toEqual({ slug: ["This slug is reserved."] });
    const badLink = await client.patch(path, { instagram_link: "javascript:alert(1)" });
    expect(badLink.body).toEqual({ instagram_link: ["Enter a valid URL."] });
    const blankName = await client.patch(path, { name: "" });
    expect(blankName.body).toEqual({ name: ["This field may not be blank."] });
    const same = await client.patch<StoreBody>(path, { slug: store.slug, description: "Same slug" });
    expect(same.status).toBe(200);
    const moved = await client.patch<StoreBody>(path, { slug: `${store.slug}-new` });
    expect(moved.status).toBe(200);
    expect(moved.body.slug).toBe(`${store.slug}-new`);
    expect(await storeRow(store.id)).toMatchObject({ slug: `${store.slug}-new`, description: "Same slug" });
  });

  it("PATCH replacing the logo deletes the old object from R2", async () => {
    const { client } = await organizer();
    const form = new FormData();
    form.append("name", "Logo Swap");
    form.append("slug", uniqueSlug("swap"));
    form.append("logo_image", pngFile());
    const created = await client.request<StoreBody>("POST", "/api/stores/create/", { form });
    expect(created.status).toBe(201);
    const oldKey = mediaKey(created.body.logo_image);
    expect(await env.MEDIA.head(oldKey)).not.toBeNull();

    const patch = new FormData();
    patch.append("logo_image", webpFile("new-logo.webp"));
    const res = await client.request<StoreBody>("PATCH", "/api/stores/manage/", { form: patch });
    expect(res.status, res.text).toBe(200);
    const newKey = mediaKey(res.body.logo_image);
    expect(newKey).not.toBe(oldKey);
    expect(newKey).toMatch(/\.webp$/);
    expect(await env.MEDIA.head(oldKey)).toBeNull();
    expect((await env.MEDIA.head(newKey))?.httpMetadata?.contentType).toBe("image/webp");
    expect(res.body.name).toBe("Logo Swap");
  });

  it("PATCH with an empty logo field removes the image; leaving the field out keeps it", async () => {
    const { client } = await organizer();
    const form = new FormData();
    form.append("name", "Remove Logo");
    form.append("slug", uniqueSlug("remove"));
    form.append("logo_image", pngFile());
    form.append("banner_image", pngFile("banner.png"));
    const created = await client.request<StoreBody>("POST", "/api/stores/create/", { form });
    const path = `/api/stores/manage/${created.body.id}/`;
    const logoKey = mediaKey(created.body.logo_image);
    const bannerKey = mediaKey(created.body.banner_image);

    const untouched = new FormData();
    untouched.append("description", "Still has a logo");
    const kept = await client.request<StoreBody>("PATCH", path, { form: untouched });
    expect(kept.status).toBe(200);
    expect(kept.body.logo_image).toBe(created.body.logo_image);

    const removal = new FormData();
    removal.append("logo_image", "");
    const removed = await client.request<StoreBody>("PATCH", path, { form: removal });
    expect(removed.status).toBe(200);
    expect(removed.body.logo_image).toBeNull();
    expect(removed.body.banner_image).toBe(created.body.banner_image);
    expect(await env.MEDIA.head(logoKey)).toBeNull();

    const nulled = await client.patch<StoreBody>(path, { banner_image: null });
    expect(nulled.body.banner_image).toBeNull();
    expect(await env.MEDIA.head(bannerKey)).toBeNull();
  });

  it("PATCH with a disguised upload is refused and keeps the old logo", async () => {
    const { client } = await organizer();
    const form = new FormData();
    form.append("name", "Keep Logo");
    form.append("slug", uniqueSlug("keep"));
    form.append("logo_image", pngFile());
    const created = await client.request<StoreBody>("POST", "/api/stores/create/", { form });
    const logos = await countObjects("logos/");
    const bad = new FormData();
    bad.append("name", "Should Not Apply");
    bad.append("logo_image", new File(["GIF89a not really"], "logo.png", { type: "image/png" }));
    const res = await client.request("PATCH", `/api/stores/manage/${created.body.id}/`, { form: bad });
    expect(res.status).toBe(415);
    expect(await countObjects("logos/")).toBe(logos);
    expect(await env.MEDIA.head(mediaKey(created.body.logo_image))).not.toBeNull();
    expect(await storeRow(created.body.id)).toMatchObject({ name: "Keep Logo" });
  });

  it("DELETE removes the store and its images; its events stay, without a store", async () => {
    const { client, id } = await organizer();
    const form = new FormData();
    form.append("name", "Closing Down");
    form.append("slug", uniqueSlug("closing"));
    form.append("logo_image", pngFile());
    form.append("banner_image", pngFile("banner.png"));
    const created = await client.request<StoreBody>("POST", "/api/stores/create/", { form });
    const keys = [mediaKey(created.body.logo_image), mediaKey(created.body.banner_image)];
    const event = await insertEvent({ organizerId: id, storeId: created.body.id });

    const res = await client.request("DELETE", `/api/stores/manage/${created.body.id}/`);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(await storeRow(created.body.id)).toBeNull();
    for (const key of keys) expect(await env.MEDIA.head(key)).toBeNull();
    const row = await env.DB.prepare("SELECT id, store_id FROM events WHERE id = ?").bind(event.id).first();
    expect(row).toEqual({ id: event.id, store_id: null });
    expect((await client.get(`/api/stores/manage/${created.body.id}/`)).status).toBe(404);
    expect((await client.get(`/api/stores/${created.body.slug}/`)).status).toBe(404);
  });

  it("DELETE /manage/ removes the organizer's first store only", async () => {
    const { client } = await organizer();
    const first = await createStore(client);
    const second = await createStore(client);
    expect((await client.request("DELETE", "/api/stores/manage/")).status).toBe(204);
    expect(await storeRow(first.id)).toBeNull();
    expect((await client.get<StoreBody>("/api/stores/manage/")).body.id).toBe(second.id);
  });
});

describe("GET /api/stores/organizer/list/", () => {
  it("pages through the organizer's own stores, oldest first", async () => {
    await createStore((await organizer()).client);
    const { client } = await organizer();
    const mine = [await createStore(client), await createStore(client), await createStore(client)];
    const all = await client.get("/api/stores/organizer/list/", { schema: StorePage });
    expect(all.status).toBe(200);
    expect(all.body).toEqual({ count: 3, next: null, previous: null, results: mine });

    const page2 = await client.get("/api/stores/organizer/list/?page=2&page_size=1");
    expect(page2.body).toEqual({
      count: 3,
      next: `${BASE_URL}/api/stores/organizer/list/?page=3&page_size=1`,
      previous: `${BASE_URL}/api/stores/organizer/list/?page_size=1`,
      results: [mine[1]],
    });
    const past = await client.get("/api/stores/organizer/list/?page=4&page_size=1");
    expect(past.status).toBe(404);
    expect(past.body).toEqual({ detail: "Invalid page." });
    expect((await client.get("/api/stores/organizer/list/?page=0")).status).toBe(404);
  });

  it("is an empty page for an organizer without stores, and for organizers only", async () => {
    const { client } = await organizer();
    const empty = await client.get("/api/stores/organizer/list/");
    expect(empty.body).toEqual({ count: 0, next: null, previous: null, results: [] });
    expect((await new TestClient().get("/api/stores/organizer/list/")).status).toBe(401);
    const fan = new TestClient();
    await registerUser(fan);
    expect((await fan.get("/api/stores/organizer/list/")).status).toBe(403);
  });
});

describe("GET /api/stores/", () => {
  async function allPublicStores(): Promise<StoreBody[]> {
    const out: StoreBody[] = [];
    let path: string | null = "/api/stores/?page_size=100";
    const anonymous = new TestClient();
    while (path) {
      const res: ApiResponse<PageOf<typeof StoreSchema>> = await anonymous.get(path, { schema: StorePage });
      expect(res.status).toBe(200);
      out.push(...res.body.results);
      path = res.body.next ? res.body.next.slice(BASE_URL.length) : null;
    }
    return out;
  }

  it("lists published stores only, by name regardless of case, to anyone", async () => {
    const { client } = await organizer();
    const prefix = uniqueName("zz").toLowerCase();
    const gamma = await createStore(client, { name: `${prefix} Gamma` });
    const alpha = await createStore(client, { name: `${prefix} alpha` });
    const beta = await createStore(client, { name: `${prefix} Beta` });
    const hidden = await createStore(client, { name: `${prefix} Aardvark`, is_published: false });

    const listed = await allPublicStores();
    const ours = listed.filter((s) => s.name.startsWith(prefix));
    expect(ours.map((s) => s.id)).toEqual([alpha.id, beta.id, gamma.id]);
    expect(ours[0]).toEqual(alpha);
    expect(listed.some((s) => s.id === hidden.id)).toBe(false);
    const names = listed.map((s) => s.name.toLowerCase());
    expect(names).toEqual([...names].sort());
  });

  it("pages like DRF and refuses a bad page", async () => {
    const { client } = await organizer();
    await createStore(client);
    await createStore(client);
    const anonymous = new TestClient();
    const first = await anonymous.get("/api/stores/?page_size=1", { schema: StorePage });
    expect(first.body.count).toBeGreaterThanOrEqual(2);
    expect(first.body.results).toHaveLength(1);
    expect(first.body.next).toBe(`${BASE_URL}/api/stores/?page_size=1&page=2`);
    for (const page of ["0", "abc", "99999"]) {
      const res = await anonymous.get(`/api/stores/?page=${page}`);
      expect(res.status, page).toBe(404);
      expect(res.body).toEqual({ detail: "Invalid page." });
    }
  });
});

describe("GET /api/stores/{slug}/", () => {
  it("shows a published store with its published, public, upcoming, active events, soonest first", async () => {
    const { client, id: organizerId, username } = await organizer();
    const form = new FormData();
    form.append("name", "Events Store");
    form.append("slug", uniqueSlug("events"));
    form.append("logo_image", pngFile());
    const created = await client.request<StoreBody>("POST", "/api/stores/create/", { form });
    const store = created.body;
    const otherStore = await createStore(client);
    const now = Date.now();
    const storeId = store.id;

    const running = await insertEvent({
      organizerId,
      storeId,
      startAt: now - TIME.HOUR,
      endAt: now + 2 * TIME.HOUR,
      lowestPrice: 1500,
    });
    await insertTier(running.id, { price: 1500, allocated: 100, sold: 10 });
    const soldOut = await insertEvent({
      organizerId,
      storeId,
      startAt: now + TIME.DAY,
      lowestPrice: 500,
      category: "NIGHTLIFE",
      locationName: "Alchemist, Westlands",
    });
    await insertTier(soldOut.id, { price: 500, allocated: 10, sold: 8, held: 2 });
    await insertTier(soldOut.id, { price: 900, allocated: 5, sold: 6 });
    const later = await insertEvent({
      organizerId,
      storeId,
      startAt: now + 10 * TIME.DAY,
      lowestPrice: null,
    });
    await insertTier(later.id, { price: 0, allocated: 50, sold: 0, held: 49 });

    await insertEvent({ organizerId, storeId, isPublished: false, title: uniqueName("Draft ") });
    await insertEvent({ organizerId, storeId, isPrivate: true, title: uniqueName("Private ") });
    await insertEvent({ organizerId, storeId, status: "CANCELLED", title: uniqueName("Cancelled ") });
    await insertEvent({
      organizerId,
      storeId,
      startAt: now - 2 * TIME.DAY,
      endAt: now - TIME.DAY,
      title: uniqueName("Past "),
    });
    await insertEvent({ organizerId, storeId: otherStore.id, title: uniqueName("Elsewhere ") });
    await insertEvent({ organizerId, storeId: null, title: uniqueName("No store ") });

    const res = await new TestClient().get(`/api/stores/${store.slug}/`, { schema: StoreDetailSchema });
    expect(res.status, res.text).toBe(200);
    const { events, ...storePart } = res.body;
    expect(storePart).toEqual(store);
    expect(events.map((e) => e.id)).toEqual([running.id, soldOut.id, later.id]);
    const storeRef = { id: store.id, name: "Events Store", slug: store.slug, logo_image: store.logo_image };
    const soldOutStart = (await env.DB.prepare("SELECT start_datetime AS s FROM events WHERE id = ?")
      .bind(soldOut.id)
      .first<{ s: number }>()) as { s: number };
    expect(events[1]).toEqual({
      id: soldOut.id,
      title: soldOut.title,
      start_datetime: nairobiIso(soldOutStart.s),
      end_datetime: nairobiIso(soldOutStart.s + 4 * TIME.HOUR),
      location_name: "Alchemist, Westlands",
      poster_image: null,
      lowest_price: 500,
      category: "NIGHTLIFE",
      organizer_name: username,
      is_private: false,
      is_sold_out: true,
      store: storeRef,
    });
    expect(events[0]).toMatchObject({ lowest_price: 1500, is_sold_out: false, store: storeRef });
    expect(events[2]).toMatchObject({ lowest_price: 0, is_sold_out: false });
    expect(String(events[0]?.start_datetime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00$/);
  });

  it("shows a store without events with an empty list, and answers without the trailing slash", async () => {
    const { client } = await organizer();
    const store = await createStore(client);
    const res = await new TestClient().get(`/api/stores/${store.slug}`, { schema: StoreDetailSchema });
    expect(res.status).toBe(200);
    expect(res.body.slug).toBe(store.slug);
    expect(res.body.events).toEqual([]);
  });

  it("answers 404 for unpublished stores, unknown slugs and reserved words", async () => {
    const { client } = await organizer();
    const hidden = await createStore(client, { is_published: false });
    const anonymous = new TestClient();
    for (const slug of [hidden.slug, uniqueSlug("nobody"), "create", hidden.slug.toUpperCase(), "a%20b"]) {
      const res = await anonymous.get(`/api/stores/${slug}/`);
      expect(res.status, slug).toBe(404);
      expect(res.body).toEqual(NOT_FOUND);
    }
    // The owner does not see it there either: the public page is for published stores.
    expect((await client.get(`/api/stores/${hidden.slug}/`)).status).toBe(404);
  });

  it("never lets the slug route shadow the fixed store paths", async () => {
    const { client } = await organizer();
    const store = await createStore(client);
    expect((await client.get<StoreBody>("/api/stores/manage/")).body.id).toBe(store.id);
    expect((await client.get("/api/stores/organizer/list/")).body.count).toBe(1);
    const wrongMethod = await client.request("PUT", "/api/stores/create/", { json: {} });
    expect(wrongMethod.status).toBe(405);
  });
});

function nairobiIso(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000 + 3 * TIME.HOUR).toISOString().slice(0, 19)}+03:00`;
}

describe("OpenAPI document", () => {
  it("documents the store routes", async () => {
    const res = await new TestClient().get<OpenApiDocument>("/api/schema/");
    const paths = res.body.paths ?? {};
    expect(Object.keys(paths["/api/stores/create/"] ?? {})).toEqual(["post"]);
    expect(Object.keys(paths["/api/stores/manage/{id}/"] ?? {}).sort()).toEqual(["delete", "get", "patch"]);
    expect(paths["/api/stores/{slug}/"]).toBeDefined();
    expect(paths["/api/stores/organizer/list/"]).toBeDefined();
  });
});
