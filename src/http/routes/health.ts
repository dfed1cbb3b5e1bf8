import { z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { DomainError } from "../../lib/errors";
import { type Api, defineRoute } from "../route";

export const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");

export function registerHealthRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/health/",
      tags: ["Operations"],
      summary: "Liveness with a D1 round trip",
      responses: {
        200: { description: "Healthy", schema: HealthSchema },
        503: { description: "D1 unreachable" },
      },
    },
    async (c) => {
      try {
        await c.var.db.run(sql`SELECT 1`);
      } catch (error) {
        throw new DomainError("service_unavailable", "Database unavailable.", { cause: error });
      }
      return c.json({ status: "ok" as const });
    },
  );
}
