/**
 * Every route in the OpenAPI document, fed garbage as an anonymous caller and as a signed-in
 * organizer: whatever comes back must be a 4xx (or a success), never a 5xx.
 */
import { describe, expect, it } from "vitest";
import { registerUser } from "./helpers/accounts";
import { type OpenApiDocument, TestClient } from "./helpers/client";

type Operation = NonNullable<NonNullable<NonNullable<OpenApiDocument["paths"]>[string]>["post"]>;
type SchemaOrRef = NonNullable<
  Extract<NonNullable<Operation["requestBody"]>, { content: unknown }>["content"][string]["schema"]
>;

const METHODS = ["get", "post", "put", "patch", "delete"] as const;
const WEIRD_VALUES: unknown[] = [null, -1, 1e308, [], {}, "x".repeat(5000), "' OR 1=1 --🎟️"];

/** A request body's top-level field names, following the document's `$ref`s to components. */
function fieldNames(document: OpenApiDocument, schema: SchemaOrRef | undefined): string[] {
  if (!schema) return [];
  if (typeof schema.$ref === "string") {
    const name = schema.$ref.replace("#/components/schemas/", "");
    return fieldNames(document, document.components?.schemas?.[name]);
  }
  return "properties" in schema ? Object.keys(schema.properties ?? {}) : [];
}

function bodiesFor(document: OpenApiDocument, operation: Operation): unknown[] {
  const body = operation.requestBody;
  const properties =
    body && "content" in body ? fieldNames(document, body.content["application/json"]?.schema) : [];
  const bodies: unknown[] = [{}, [], "just a string"];
  for (const value of WEIRD_VALUES) bodies.push(Object.fromEntries(properties.map((p) => [p, value])));
  return bodies;
}

function concretePath(template: string, filler: string): string {
  return template.replace(/\{[^}]+\}/g, filler);
}

describe("garbage input never causes a 5xx", () => {
  it("holds for every documented route, anonymous and signed in", async () => {
    const anonymous = new TestClient();
    const schema = await anonymous.get<OpenApiDocument>("/api/schema/");
    // The sweep really fills the documented fields (request bodies are `$ref`s to components).
    const login = schema.body.paths?.["/api/auth/login/"]?.post;
    expect(login && bodiesFor(schema.body, login)).toContainEqual({
      username: null,
      email: null,
      password: null,
    });
    const organizer = new TestClient();
    await registerUser(organizer, { role: "ORGANIZER" });

    const failures: string[] = [];
    for (const [template, item] of Object.entries(schema.body.paths ?? {})) {
      // Logging out would end the organizer's session for the rest of the sweep.
      if (template === "/api/auth/logout/") continue;
      for (const method of METHODS) {
        const operation = item[method];
        if (!operation) continue;
        const fillers = template.includes("{") ? ["00000000-0000-4000-8000-000000000000", "not-an-id"] : [""];
        const bodies =
          method === "get" || method === "delete" ? [undefined] : bodiesFor(schema.body, operation);
        const attempts = fillers.flatMap((filler) =>
          [anonymous, organizer].flatMap((client) =>
            bodies.map((body) => ({ path: concretePath(template, filler), client, body })),
          ),
        );
        const results = await Promise.all(
          attempts.map(async ({ path, client, body }) => {
            const res = await client.request(method.toUpperCase(), `${path}?page=abc&q=%00&since=%25%25`, {
              ...(body === undefined ? {} : { json: body }),
              headers: { origin: "https://ticketsafi.test" },
            });
            return { path, body, res };
          }),
        );
        for (const { path, body, res } of results) {
          if (res.status >= 500) {
            failures.push(
              `${method.toUpperCase()} ${path} ${JSON.stringify(body)?.slice(0, 80)} → ${res.status} ${res.text.slice(0, 120)}`,
            );
          }
        }
      }
    }
    expect(failures).toEqual([]);
    // Thousands of requests: a generous ceiling, so a machine busy with other work does not
    // turn a sweep that found nothing into a timeout (speed is measured in bench/, not here).
  }, 900_000);
});
