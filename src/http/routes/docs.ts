/** GET /api/schema/ (OpenAPI 3.1, generated from the route declarations) and /api/docs/. */
import { swaggerUI } from "@hono/swagger-ui";
import { z } from "@hono/zod-openapi";
import { type Api, defineRoute } from "../route";

export const OpenApiDocumentSchema = z
  .object({
    openapi: z.string(),
    info: z.object({ title: z.string(), version: z.string() }),
    paths: z.record(z.string(), z.unknown()).optional(),
  })
  .catchall(z.unknown())
  .openapi("OpenApiDocument");

export function registerDocsRoutes(app: Api): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "cookieAuth", {
    type: "apiKey",
    in: "cookie",
    name: "ticketsafi-auth",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", { type: "http", scheme: "bearer" });

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/schema/",
      tags: ["Operations"],
      summary: "The OpenAPI 3.1 document for this API",
      responses: { 200: { description: "OpenAPI document", schema: OpenApiDocumentSchema } },
    },
    (c) =>
      c.json(
        app.getOpenAPI31Document({
          openapi: "3.1.0",
          info: {
            title: "TicketSafi API",
            version: "1.0.0",
            description:
              "Tickets for Kenyan events, paid with M-Pesa. Every route here is generated from the schemas that validate it.",
          },
          servers: [{ url: c.var.config.publicBaseUrl }],
        }),
        200,
      ),
  );

  const ui = swaggerUI({ url: "/api/schema/", title: "TicketSafi API" });
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/docs/",
      tags: ["Operations"],
      summary: "Interactive API documentation",
      responses: {
        200: {
          description: "HTML page rendering /api/schema/",
          schema: z.string(),
          contentType: "text/html",
        },
      },
    },
    (c) => ui(c as never, async () => {}) as Promise<Response>,
  );
}
