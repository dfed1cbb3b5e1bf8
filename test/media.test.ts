import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { StoreSchema } from "../src/http/views/store";
import { BASE_URL, type OpenApiDocument, TestClient } from "./helpers/client";
import { mediaKey, organizer, PNG_BYTES, pngFile, type StoreBody, uniqueSlug } from "./helpers/stores";

const NOT_FOUND = { detail: "Not found." };

/** GET a path and keep the raw bytes (TestClient decodes bodies as text). */
async function fetchBytes(path: string, headers: Record<string, string> = {}, method = "GET") {
  const response = await exports.default.fetch(new Request(`${BASE_URL}${path}`, { method, headers }));
  return { response, bytes: new Uint8Array(await response.arrayBuffer()) };
}

async function storeWithLogo(): Promise<StoreBody> {
  const { client } = await organizer();
  const form = new FormData();
  form.append("name", "Media Store");
  form.append("slug", uniqueSlug("media"));
  form.append("logo_image", pngFile());
  const res = await client.request("POST", "/api/stores/create/", { form, schema: StoreSchema });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

describe("GET /media/{key}", () => {
  it("serves an uploaded logo with its bytes, stored type, nosniff and a long cache", async () => {
    const store = await storeWithLogo();
    const url = new URL(store.logo_image ?? "");
    expect(url.origin).toBe(BASE_URL);

    const { response, bytes } = await fetchBytes(url.pathname);
    expect(response.status).toBe(200);
    expect(bytes).toEqual(PNG_BYTES);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(response.headers.get("etag")).toMatch(/^"[0-9a-f]+"$/);
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers a matching If-None-Match with 304 and no body", async () => {
    const store = await storeWithLogo();
    const path = new URL(store.logo_image ?? "").pathname;
    const { response: first } = await fetchBytes(path);
    const etag = first.headers.get("etag") ?? "";
    const { response, bytes } = await fetchBytes(path, { "if-none-match": etag });
    expect(response.status).toBe(304);
    expect(bytes.byteLength).toBe(0);
    expect(response.headers.get("etag")).toBe(etag);
    const { response: other } = await fetchBytes(path, { "if-none-match": '"something-else"' });
    expect(other.status).toBe(200);
  });

  it("answers HEAD with the headers only", async () => {
    const store = await storeWithLogo();
    const { response, bytes } = await fetchBytes(new URL(store.logo_image ?? "").pathname, {}, "HEAD");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/png");
    expect(bytes.byteLength).toBe(0);
  });

  it("answers an unknown key with a JSON 404", async () => {
    const res = await new TestClient().get(`/media/logos/${crypto.randomUUID()}.png`);
    expect(res.status).toBe(404);
    expect(res.body).toEqual(NOT_FOUND);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
  });

  it("refuses traversal and any key our uploads did not mint", async () => {
    const uuid = crypto.randomUUID();
    // Objects that exist but are not public images: a ticket PNG and a mail attachment.
    await env.MEDIA.put(`tickets/${uuid}.png`, PNG_BYTES, { httpMetadata: { contentType: "image/png" } });
    await env.MEDIA.put(`mail/${uuid}/0-ticket.png`, PNG_BYTES, {
      httpMetadata: { contentType: "image/png" },
    });
    await env.MEDIA.put("wrangler.toml", "secret = 1");
    const store = await storeWithLogo();
    const logoKey = mediaKey(store.logo_image);

    const client = new TestClient();
    const paths = [
      "/media/../wrangler.toml",
      "/media/%2e%2e/wrangler.toml",
      "/media/wrangler.toml",
      "/media/posters/..%2f..%2fx",
      "/media/posters/..%2F..%2Fwrangler.toml",
      `/media/logos/..%2f${logoKey}`,
      `/media/${logoKey}/`,
      `/media/${logoKey}/extra`,
      `/media/logos%2f${logoKey.slice("logos/".length)}`,
      `/media/${logoKey.toUpperCase()}`,
      `/media/${logoKey.replace(/\.png$/, "")}`,
      `/media/${logoKey.replace(/\.png$/, ".svg")}`,
      `/media/tickets/${uuid}.png`,
      `/media/mail/${uuid}/0-ticket.png`,
      "/media/",
      "/media",
    ];
    for (const path of paths) {
      const res = await client.get(path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).toEqual(NOT_FOUND);
    }
    // The real key still works.
    expect((await fetchBytes(`/media/${logoKey}`)).response.status).toBe(200);
  });

  it("never serves a stored object as anything but an image type", async () => {
    const key = `posters/${crypto.randomUUID()}.png`;
    await env.MEDIA.put(key, "<script>alert(1)</script>", { httpMetadata: { contentType: "text/html" } });
    const { response } = await fetchBytes(`/media/${key}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/octet-stream");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
  });

  it("is documented in the OpenAPI document", async () => {
    const res = await new TestClient().get<OpenApiDocument>("/api/schema/");
    expect(Object.keys(res.body.paths?.["/media/{prefix}/{name}"] ?? {})).toEqual(["get"]);
  });
});
