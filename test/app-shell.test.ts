import { createExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../src/http/app";
import { pageSchema } from "../src/http/pagination";
import { OutboxMailSchema } from "../src/http/views/outbox-mail";
import { type OpenApiDocument, TestClient } from "./helpers/client";

describe("app shell", () => {
  it("answers the health check after a D1 round trip", async () => {
    const res = await new TestClient().get("/api/health/");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("echoes a well-formed incoming X-Request-Id and replaces a malformed one", async () => {
    const client = new TestClient();
    const echoed = await client.get("/api/health/", { headers: { "x-request-id": "trace-abc12345" } });
    expect(echoed.headers.get("x-request-id")).toBe("trace-abc12345");
    const replaced = await client.get("/api/health/", { headers: { "x-request-id": "bad id\twith spaces" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("answers a path without its trailing slash like the path with it", async () => {
    const client = new TestClient();
    const health = await client.get("/api/health");
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: "ok" });
    const login = await client.post("/api/auth/login", { username: "nobody", password: "Whatever-1" });
    expect(login.status).toBe(400);
    expect(login.body.non_field_errors).toBeDefined();
  });

  it("answers unknown paths with a JSON 404 and wrong methods with a JSON 405", async () => {
    const client = new TestClient();
    const missing = await client.get("/api/nothing-here/");
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ detail: "Not found." });
    expect(missing.headers.get("content-type")).toMatch(/application\/json/);
    expect(missing.headers.get("x-request-id")).toBeTruthy();

    const wrongMethod = await client.request("DELETE", "/api/auth/login/");
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.body).toEqual({ detail: 'Method "DELETE" not allowed.' });
    expect(wrongMethod.headers.get("allow")).toContain("POST");
  });

  it("allows credentialed CORS for allowed origins only", async () => {
    const client = new TestClient();
    const preflight = await client.request("OPTIONS", "/api/auth/login/", {
      headers: {
        origin: "https://ticketsafi.test",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe("https://ticketsafi.test");
    expect(preflight.headers.get("access-control-allow-credentials")).toBe("true");

    const foreign = await client.get("/api/health/", { headers: { origin: "https://evil.example" } });
    expect(foreign.headers.get("access-control-allow-origin")).toBeNull();
    const allowed = await client.get("/api/health/", { headers: { origin: "https://ticketsafi.test" } });
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://ticketsafi.test");
    expect(allowed.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
  });

  it("never shows a stack trace: unexpected errors are a generic JSON 500", async () => {
    const app = buildApp();
    app.get("/__test/boom/", () => {
      throw new Error("database password is hunter2");
    });
    const res = await app.fetch(
      new Request("https://api.ticketsafi.test/__test/boom/"),
      env,
      createExecutionContext(),
    );
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ detail: "Internal server error." });
    expect(text).not.toMatch(/hunter2|at |Error:/);
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });
});

describe("API documentation", () => {
  it("serves an OpenAPI 3.1 document generated from the route schemas", async () => {
    const res = await new TestClient().get<OpenApiDocument>("/api/schema/");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toBe("3.1.0");
    const paths = res.body.paths ?? {};
    for (const path of [
      "/api/health/",
      "/api/auth/registration/",
      "/api/auth/login/",
      "/api/auth/logout/",
      "/api/auth/token/refresh/",
      "/api/auth/user/",
      "/api/auth/google/",
      "/api/auth/check-code/",
      "/api/auth/guest/activate/",
      "/api/auth/password/reset/",
      "/api/auth/password/reset/confirm/",
    ]) {
      expect(paths[path], path).toBeDefined();
    }
    expect(paths["/api/auth/login/"]?.post?.requestBody).toBeDefined();
    expect(paths["/api/auth/user/"]?.get?.security).toBeDefined();
    const registration = res.body.components?.schemas?.RegistrationRequest;
    const properties = registration && "properties" in registration ? registration.properties : undefined;
    expect(Object.keys(properties ?? {})).toContain("invitation_code");
    // Dev tooling stays out of the public document.
    expect(Object.keys(paths).some((p) => p.startsWith("/__dev"))).toBe(false);
  });

  it("serves a docs page that renders the schema", async () => {
    const res = await new TestClient().get("/api/docs/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    expect(res.text).toContain("/api/schema/");
  });
});

describe("dev outbox", () => {
  it("does not exist in production", async () => {
    const res = await new TestClient({ ENVIRONMENT: "production" }).get("/__dev/outbox/");
    expect(res.status).toBe(404);
  });

  it("does not exist when Brevo is configured (mail really leaves)", async () => {
    const res = await new TestClient({ BREVO_API_KEY: "xkeysib-test-key" }).get("/__dev/outbox/");
    expect(res.status).toBe(404);
  });

  it("paginates DRF-style and refuses a bad page", async () => {
    const client = new TestClient();
    const page = await client.get("/__dev/outbox/?page_size=1", { schema: pageSchema(OutboxMailSchema) });
    expect(page.status).toBe(200);
    expect(Object.keys(page.body).sort()).toEqual(["count", "next", "previous", "results"]);
    for (const bad of ["0", "-1", "abc", "999999"]) {
      const res = await client.get(`/__dev/outbox/?page=${bad}`);
      expect(res.status, bad).toBe(404);
      expect(res.body).toEqual({ detail: "Invalid page." });
    }
  });
});
