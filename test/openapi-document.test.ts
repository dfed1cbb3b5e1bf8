/**
 * The OpenAPI document at /api/schema/ against what the Worker really serves: every route the
 * app answers is documented (and nothing else), each operation has its own operationId, every
 * response declares its body (JSON with a schema, or its own media type), and Daraja's
 * callback documents the body Daraja really sends.
 */
import { z } from "@hono/zod-openapi";
import { beforeAll, describe, expect, it } from "vitest";
import { getApp } from "../src/http/app";
import { networkFakes } from "./fakes/network";
import { type OpenApiDocument, TestClient } from "./helpers/client";

// The document's own types, as the generator declares them.
type PathItem = NonNullable<OpenApiDocument["paths"]>[string];
type OperationObject = NonNullable<PathItem["get"]>;
type RequestBody = NonNullable<OperationObject["requestBody"]>;
type ReferenceObject = Extract<RequestBody, { $ref: string }>;
type MediaType = Exclude<RequestBody, ReferenceObject>["content"][string];
type SchemaObject = Exclude<NonNullable<MediaType["schema"]>, ReferenceObject>;
interface ResponseObject {
  description: string;
  content?: Record<string, MediaType>;
}

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"] as const;

/** Statuses that carry no body by definition: they must not claim content. */
const BODYLESS = new Set(["204", "304"]);

let document: OpenApiDocument;

beforeAll(async () => {
  const res = await new TestClient().get<OpenApiDocument>("/api/schema/");
  expect(res.status).toBe(200);
  document = res.body;
});

interface Operation {
  key: string;
  operation: OperationObject;
}

function operations(): Operation[] {
  const found: Operation[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (operation) found.push({ key: `${method.toUpperCase()} ${path}`, operation });
    }
  }
  return found;
}

function isReference(value: unknown): value is ReferenceObject {
  return typeof value === "object" && value !== null && "$ref" in value;
}

/** A `#/components/schemas/X` reference, followed; anything else as it is. */
function resolved(schema: SchemaObject | ReferenceObject | undefined): SchemaObject | undefined {
  if (!isReference(schema)) return schema;
  const name = /^#\/components\/schemas\/(.+)$/.exec(schema.$ref)?.[1];
  const target = name ? document.components?.schemas?.[name] : undefined;
  return isReference(target) ? resolved(target) : target;
}

/** A schema that says something about the body (an empty `{}` accepts anything). */
function isMeaningful(schema: SchemaObject | undefined): boolean {
  if (!schema) return false;
  return ["type", "properties", "anyOf", "oneOf", "allOf", "const", "enum", "$ref"].some((k) => k in schema);
}

/**
 * The documented schema as a zod schema (through zod's JSON Schema reader), its component
 * references pointed at `$defs` so the reader can follow them.
 */
function zodFromDocumented(schema: SchemaObject | ReferenceObject): z.ZodType {
  const rewritten = JSON.parse(
    JSON.stringify({ ...schema, $defs: document.components?.schemas ?? {} }).replaceAll(
      "#/components/schemas/",
      "#/$defs/",
    ),
  );
  return z.fromJSONSchema(rewritten);
}

describe("OpenAPI document: coverage", () => {
  it("documents every route the app serves, and only those", () => {
    const served = getApp()
      .routes // Hono's own list of everything registered, middleware included
      .filter((route) => route.method !== "ALL") // app.use("*") middleware, not endpoints
      .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, "{$1}")}`)
      // The dev outbox (contract §10) is local tooling, registered `hidden` on purpose: it
      // answers 404 in production, so the public document must not promise it
      // (app-shell.test.ts checks that it stays out).
      .filter((key) => !key.split(" ")[1]?.startsWith("/__dev/"));
    const documented = operations().map(({ key }) => key);

    expect(served.length).toBeGreaterThan(40);
    expect([...new Set(served)].sort()).toEqual([...new Set(documented)].sort());
  });
});

describe("OpenAPI document: operations", () => {
  it("gives every operation its own operationId", () => {
    const ids = operations().map(({ key, operation }) => {
      expect(operation.operationId, key).toMatch(/^[a-z]+[A-Za-z0-9]+$/);
      return operation.operationId;
    });
    const repeated = ids.filter((id, index) => ids.indexOf(id) !== index);
    expect(repeated).toEqual([]);
  });

  it("declares every response's body: JSON with a schema, or its own media type", () => {
    const problems: string[] = [];
    for (const { key, operation } of operations()) {
      const responses = Object.entries(operation.responses ?? {});
      if (responses.length === 0) problems.push(`${key}: no responses`);
      for (const [status, raw] of responses) {
        const where = `${key} ${status}`;
        if (isReference(raw)) {
          problems.push(`${where}: response is a reference`);
          continue;
        }
        const content = (raw as ResponseObject).content;
        const mediaTypes = Object.keys(content ?? {});
        if (BODYLESS.has(status)) {
          if (mediaTypes.length > 0)
            problems.push(`${where}: a ${status} has no body, yet declares ${mediaTypes}`);
          continue;
        }
        if (mediaTypes.length === 0) {
          problems.push(`${where}: declares no body`);
          continue;
        }
        // Errors always come from the one error renderer, which answers JSON.
        if (Number(status) >= 400 && !mediaTypes.includes("application/json")) {
          problems.push(`${where}: an error response that is not JSON (${mediaTypes})`);
        }
        for (const mediaType of mediaTypes) {
          if (!/^[a-z]+\/[\w.*+-]+$/.test(mediaType))
            problems.push(`${where}: "${mediaType}" is no media type`);
          const schema = content?.[mediaType]?.schema;
          if (isReference(schema) && !resolved(schema))
            problems.push(`${where}: ${schema.$ref} does not resolve`);
          else if (mediaType === "application/json" && !isMeaningful(resolved(schema))) {
            problems.push(`${where}: application/json without a schema`);
          } else if (!schema) problems.push(`${where}: ${mediaType} without a schema`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("OpenAPI document: Daraja's callback", () => {
  const CALLBACK = "/api/pay/callback/{token}/";

  it("documents the callback with the request body Daraja sends", () => {
    const operation = document.paths?.[CALLBACK]?.post;
    expect(operation, CALLBACK).toBeDefined();
    const requestBody = operation?.requestBody;
    if (!requestBody || isReference(requestBody)) throw new Error(`${CALLBACK}: no inline request body`);
    const schema = requestBody.content["application/json"]?.schema;
    if (!schema) throw new Error(`${CALLBACK}: no application/json request schema`);

    // The documented schema accepts what Daraja really posts (the fake builds it with the
    // simulator's builder, in Daraja's wire format) and refuses a body without its callback.
    const documented = zodFromDocumented(schema);
    const paid = networkFakes.daraja.callbackFor("ws_CO_061120261200000001", {
      resultCode: 0,
      amount: 1000,
      receipt: "TGR0000001",
      phoneNumber: "254712345678",
    });
    const cancelled = networkFakes.daraja.callbackFor("ws_CO_061120261200000002", { resultCode: 1032 });
    expect(documented.safeParse(paid).success).toBe(true);
    expect(documented.safeParse(cancelled).success).toBe(true);
    expect(documented.safeParse({}).success).toBe(false);
    expect(documented.safeParse({ Body: { stkCallback: { ResultCode: 0 } } }).success).toBe(false);

    const accepted = (operation?.responses?.["200"] as ResponseObject | undefined)?.content;
    expect(resolved(accepted?.["application/json"]?.schema)?.required).toEqual(["ResultCode", "ResultDesc"]);
  });
});
