/**
 * Security headers on every response (contract §9) — success, client error, 404, 405, the
 * fail-closed 500 — and the docs page working offline: same-origin assets only, served by
 * the Worker under a strict CSP.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../src/index";
import { BASE_URL, TestClient } from "./helpers/client";

function expectSecurityHeaders(headers: Headers, label: string) {
  expect(headers.get("x-content-type-options"), label).toBe("nosniff");
  expect(headers.get("x-frame-options"), label).toBe("DENY");
  expect(headers.get("referrer-policy"), label).toBe("no-referrer");
  expect(headers.get("strict-transport-security"), label).toMatch(/^max-age=\d{7,}/);
  expect(headers.get("content-security-policy"), label).toMatch(/frame-ancestors 'none'/);
}

describe("security headers", () => {
  it("are on success, error, 404 and 405 answers", async () => {
    const client = new TestClient();
    const answers = await Promise.all([
      client.get("/api/health/"),
      client.get("/api/events/"),
      client.get("/api/no-such-thing/"),
      client.request("DELETE", "/api/health/"),
      client.post("/api/auth/login/", { username: "nobody", password: "wrong" }),
      client.post("/api/auth/login/", undefined, {
        rawBody: "{not json",
        headers: { "content-type": "application/json" },
      }),
      client.get("/media/posters/not-a-key.png"),
      client.get("/api/docs/"),
    ]);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 404, 405, 400, 400, 404, 200]);
    for (const [i, a] of answers.entries()) expectSecurityHeaders(a.headers, `answer ${i} (${a.status})`);
    // JSON answers are data: nothing may load from them.
    expect(answers[0]?.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
  });

  it("are on the refusal of a misconfigured deployment", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request(`${BASE_URL}/api/health/`),
      { ...env, ENVIRONMENT: "Production" } as Env,
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(500);
    expectSecurityHeaders(response.headers, "misconfigured");
    vi.restoreAllMocks();
  });
});

describe("the docs page works offline", () => {
  it("is Swagger UI from this Worker: same-origin URLs only, each served 200 with its type, under script-src 'self'", async () => {
    const client = new TestClient();
    const page = await client.get("/api/docs/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toMatch(/default-src 'none'/);
    // Scripts: this origin only, never inline or eval'd; nothing from another host at all.
    expect(csp).not.toMatch(/script-src[^;]*(unsafe-inline|unsafe-eval)/);
    expect(csp).not.toMatch(/https?:|\*/);

    // No inline script (the CSP would block it anyway) and no absolute or protocol-relative URL.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    const urls = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    const assets = urls.filter((u) => u !== "/api/schema/");
    expect(assets.length).toBe(3);
    for (const url of urls) expect(url.startsWith("/") && !url.startsWith("//"), url).toBe(true);

    const expectedType = (url: string) =>
      url.endsWith(".js") ? /^text\/javascript/ : url.endsWith(".css") ? /^text\/css/ : /^application\/json/;
    const bodies = new Map<string, string>();
    for (const url of urls) {
      const asset = await client.get(url);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get("content-type"), url).toMatch(expectedType(url));
      expectSecurityHeaders(asset.headers, url);
      bodies.set(url, asset.text);
    }
    // The real Swagger UI, whole (served as text, not run in the Worker).
    const bundle = assets.find((u) => u.endsWith("/swagger-ui-bundle.js")) ?? "";
    expect(bundle).toMatch(/^\/api\/docs\/assets\/swagger-ui-\d+\.\d+\.\d+\//);
    expect(bodies.get(bundle)?.length ?? 0).toBeGreaterThan(1_000_000);
    expect(bodies.get(bundle)).toContain("SwaggerUIBundle");
    const css = assets.find((u) => u.endsWith("/swagger-ui.css")) ?? "";
    expect(bodies.get(css)).toContain(".swagger-ui");
    // The initializer: our schema, no third-party validator, nothing that builds HTML.
    const init = assets.find((u) => u.endsWith("/docs-init.js")) ?? "";
    expect(bodies.get(init)).toContain('url: "/api/schema/"');
    expect(bodies.get(init)).toContain("validatorUrl: null");
    expect(bodies.get(init)).not.toMatch(/innerHTML|eval\(|https?:\/\//);
  });

  it("caches the versioned Swagger UI files for a year, and the page and initializer not at all", async () => {
    const client = new TestClient();
    const page = await client.get("/api/docs/");
    expect(page.headers.get("cache-control")).toBe("no-cache");
    const urls = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    for (const url of urls.filter((u) => u.includes("/swagger-ui-"))) {
      const res = await client.get(url);
      expect(res.headers.get("cache-control"), url).toBe("public, max-age=31536000, immutable");
    }
    const init = await client.get("/api/docs/assets/docs-init.js");
    expect(init.headers.get("cache-control")).toBe("no-cache");
  });
});
