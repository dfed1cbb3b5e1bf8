/** GET /api/schema/ (OpenAPI 3.1, generated from the route declarations) and /api/docs/. */
import { swaggerUI } from "@hono/swagger-ui";
import { type Api, defineRoute } from "../route";

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
      responses: { 200: { description: "OpenAPI document" } },
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
      responses: { 200: { description: "HTML page rendering /api/schema/", contentType: "text/html" } },
    },
    (c) => ui(c as never, async () => {}) as Promise<Response>,
  );
}
