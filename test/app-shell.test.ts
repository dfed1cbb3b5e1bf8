import { describe, expect, it } from "vitest";
import { TestClient } from "./helpers/client";

describe("app shell", () => {
  it("answers the health check after a D1 round trip", async () => {
    const res = await new TestClient().get("/api/health/");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: "ok" });
    expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});
