/**
 * The run-time response check of `defineRoute` (src/http/route.ts), which the whole suite
 * leans on to keep the OpenAPI document true: under ENVIRONMENT=test a JSON body that does
 * not match its declared schema, or a status the route does not declare, is an error; in
 * development it is not checked at all. A tiny app with the real `defineRoute`, the real
 * request-context middleware (which puts the configuration in the context) and real bindings.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import type { Config } from "../src/config";
import type { AppEnv } from "../src/http/context";
import { requestContext } from "../src/http/middleware/request-context";
import { assertDeclaredResponse, defineRoute, type RouteSpec } from "../src/http/route";

const CountSchema = z.object({ count: z.number().int() });
const BASE = "https://api.ticketsafi.test/__route-check";

function tinyApp() {
  const app = new OpenAPIHono<AppEnv>();
  app.use(
    "*",
    requestContext({
      selfFetch: () => {
        throw new Error("no self-fetch in this app");
      },
    }),
  );
  // The thrown check, as the test sees it (the real app would log it and answer a bare 500).
  app.onError((error, c) => c.json({ thrown: error.message }, 500));

  const countRoute = (path: string) => ({
    method: "get" as const,
    path,
    tags: ["Test"],
    summary: "A count",
    responses: { 200: { description: "The count", schema: CountSchema } },
  });
  defineRoute(app, countRoute("/__route-check/right/"), (c) => c.json({ count: 3 }, 200));
  // The two mistakes do not compile (a handler's return type must be one of the declared
  // responses; tsc fails if either stops being an error); the run-time check is for what
  // slips past the types (casts, bodies built from `unknown`).
  defineRoute(
    app,
    countRoute("/__route-check/wrong-shape/"),
    // @ts-expect-error a body that does not match the declared schema
    (c) => c.json({ count: "three" }, 200),
  );
  defineRoute(
    app,
    countRoute("/__route-check/undeclared-status/"),
    // @ts-expect-error a status the route does not declare
    (c) => c.json({ count: 3 }, 201),
  );
  defineRoute(
    app,
    {
      ...countRoute("/__route-check/csv/"),
      responses: { 200: { description: "CSV", schema: z.string(), contentType: "text/csv" } },
    },
    (c) => c.body("count\n3\n", 200, { "content-type": "text/csv" }),
  );
  return app;
}

const app = tinyApp();

async function call(environment: Config["environment"], path: string) {
  const ctx = createExecutionContext();
  const response = await app.fetch(
    new Request(`${BASE}/${path}/`),
    { ...env, ENVIRONMENT: environment },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  const text = await response.text();
  return { status: response.status, body: JSON.parse(text) as unknown, text };
}

describe("defineRoute's response check under ENVIRONMENT=test", () => {
  it("lets a declared status with a matching body through", async () => {
    expect(await call("test", "right")).toMatchObject({ status: 200, body: { count: 3 } });
  });

  it("turns a body that does not match its schema into an error naming the route and the field", async () => {
    const res = await call("test", "wrong-shape");
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      thrown: expect.stringMatching(
        /^get \/__route-check\/wrong-shape\/ 200: body does not match its schema at count: /,
      ),
    });
  });

  it("turns a status the route does not declare into an error", async () => {
    const res = await call("test", "undeclared-status");
    expect(res.status).toBe(500);
    expect(res.body).toEqual({
      thrown: "get /__route-check/undeclared-status/ answered 201, which it does not declare",
    });
  });

  it("does not parse a declared non-JSON body as JSON", async () => {
    const ctx = createExecutionContext();
    const response = await app.fetch(new Request(`${BASE}/csv/`), { ...env, ENVIRONMENT: "test" }, ctx);
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("count\n3\n");
  });
});

describe("defineRoute's response check outside tests", () => {
  it("does not check in development: the mismatched body and the undeclared status pass through", async () => {
    expect(await call("development", "wrong-shape")).toMatchObject({ status: 200, body: { count: "three" } });
    expect(await call("development", "undeclared-status")).toMatchObject({ status: 201, body: { count: 3 } });
  });
});

describe("assertDeclaredResponse", () => {
  const spec = {
    method: "post",
    path: "/api/things/",
    tags: ["Test"],
    summary: "Things",
    responses: { 201: { description: "Created", schema: CountSchema }, 204: { description: "Nothing" } },
  } satisfies RouteSpec<undefined, undefined, undefined> as unknown as RouteSpec<never, never, never>;

  it("accepts a declared status whose JSON body matches, and a declared empty 204", async () => {
    await expect(assertDeclaredResponse(spec, Response.json({ count: 1 }, { status: 201 }))).resolves.toBe(
      undefined,
    );
    await expect(assertDeclaredResponse(spec, new Response(null, { status: 204 }))).resolves.toBe(undefined);
  });

  it("rejects a mismatched body, naming where, and an undeclared status", async () => {
    await expect(
      assertDeclaredResponse(spec, Response.json({ count: 1.5 }, { status: 201 })),
    ).rejects.toThrow(/^post \/api\/things\/ 201: body does not match its schema at count: /);
    await expect(assertDeclaredResponse(spec, Response.json({}, { status: 201 }))).rejects.toThrow(
      /at count:/,
    );
    await expect(assertDeclaredResponse(spec, Response.json({ count: 1 }, { status: 200 }))).rejects.toThrow(
      "post /api/things/ answered 200, which it does not declare",
    );
  });

  it("leaves the response readable for the client after checking it", async () => {
    const response = Response.json({ count: 2 }, { status: 201 });
    await assertDeclaredResponse(spec, response);
    expect(await response.json()).toEqual({ count: 2 });
  });
});
