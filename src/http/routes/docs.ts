/** GET /api/schema/ (OpenAPI 3.1, generated from the route declarations) and /api/docs/. */
import { z } from "@hono/zod-openapi";
import { DOCS_CSS, DOCS_HTML, DOCS_JS, DOCS_SCRIPT_PATH, DOCS_STYLE_PATH } from "../docs-page/assets";
import { DOCS_CSP } from "../middleware/security-headers";
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

  // The page and its assets are served by this Worker (no CDN), under a strict CSP.
  const page = (body: string, type: string) =>
    new Response(body, {
      status: 200,
      headers: { "Content-Type": type, "Content-Security-Policy": DOCS_CSP, "Cache-Control": "no-cache" },
    });
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
    () => page(DOCS_HTML, "text/html; charset=utf-8"),
  );
  defineRoute(
    app,
    {
      method: "get",
      path: DOCS_SCRIPT_PATH,
      tags: ["Operations"],
      summary: "The docs page's script",
      responses: { 200: { description: "JavaScript", schema: z.string(), contentType: "text/javascript" } },
    },
    () => page(DOCS_JS, "text/javascript; charset=utf-8"),
  );
  defineRoute(
    app,
    {
      method: "get",
      path: DOCS_STYLE_PATH,
      tags: ["Operations"],
      summary: "The docs page's stylesheet",
      responses: { 200: { description: "CSS", schema: z.string(), contentType: "text/css" } },
    },
    () => page(DOCS_CSS, "text/css; charset=utf-8"),
  );
}
