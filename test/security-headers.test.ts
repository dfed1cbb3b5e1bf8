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
  it("references only same-origin URLs, each served 200 with its type, under script-src 'self'", async () => {
    const client = new TestClient();
    const page = await client.get("/api/docs/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).not.toMatch(/unsafe-inline|unsafe-eval|https?:/);

    // No inline script (the CSP would block it anyway) and no absolute or protocol-relative URL.
    expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.text).not.toMatch(/(src|href)=["']?(https?:)?\/\//i);
    const urls = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1] ?? "");
    const assets = urls.filter((u) => u !== "/api/schema/");
    expect(assets.length).toBeGreaterThanOrEqual(2);
    for (const url of urls) expect(url.startsWith("/") && !url.startsWith("//"), url).toBe(true);

    const expectedType = (url: string) =>
      url.endsWith(".js") ? /^text\/javascript/ : url.endsWith(".css") ? /^text\/css/ : /^application\/json/;
    for (const url of urls) {
      const asset = await client.get(url);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get("content-type"), url).toMatch(expectedType(url));
      expectSecurityHeaders(asset.headers, url);
    }
    const script = await client.get(assets.find((u) => u.endsWith(".js")) ?? "");
    expect(script.text).toContain("/api/schema/");
    expect(script.text).not.toMatch(/innerHTML|eval\(|https?:\/\//);
  });
});
