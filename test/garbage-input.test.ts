/**
 * Every route in the OpenAPI document, fed garbage as an anonymous caller and as a signed-in
 * organizer: whatever comes back must be a 4xx (or a success), never a 5xx.
 */
import { describe, expect, it } from "vitest";
import { registerUser } from "./helpers/accounts";
import { TestClient } from "./helpers/client";

interface Operation {
  requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> };
}

const WEIRD_VALUES: unknown[] = [null, -1, 1e308, [], {}, "x".repeat(5000), "' OR 1=1 --🎟️"];

function bodiesFor(operation: Operation): unknown[] {
  const properties = Object.keys(
    operation.requestBody?.content?.["application/json"]?.schema?.properties ?? {},
  );
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
    const schema = await anonymous.get<{ paths: Record<string, Record<string, Operation>> }>("/api/schema/");
    const organizer = new TestClient();
    await registerUser(organizer, { role: "ORGANIZER" });

    const failures: string[] = [];
    for (const [template, methods] of Object.entries(schema.body.paths)) {
      // Logging out would end the organizer's session for the rest of the sweep.
      if (template === "/api/auth/logout/") continue;
      for (const [method, operation] of Object.entries(methods)) {
        const fillers = template.includes("{") ? ["00000000-0000-4000-8000-000000000000", "not-an-id"] : [""];
        const bodies = method === "get" || method === "delete" ? [undefined] : bodiesFor(operation);
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
  }, 180_000);
});
