/** GET /api/schema/ (OpenAPI 3.1, generated from the route declarations) and /api/docs/. */
import { z } from "@hono/zod-openapi";
import { DOCS_ASSETS, DOCS_HTML, SWAGGER_UI_VERSION } from "../docs-page/assets";
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

  // The page and its assets (Swagger UI, pinned) are served by this Worker, no CDN, under a
  // strict CSP. The vendored files are immutable under their versioned path.
  const respond = (body: string, type: string, cache: string) =>
    new Response(body, {
      status: 200,
      headers: { "Content-Type": type, "Content-Security-Policy": DOCS_CSP, "Cache-Control": cache },
    });
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/docs/",
      tags: ["Operations"],
      summary: "Interactive API documentation (Swagger UI)",
      responses: {
        200: {
          description: "HTML page rendering /api/schema/",
          schema: z.string(),
          contentType: "text/html",
        },
      },
    },
    () => respond(DOCS_HTML, "text/html; charset=utf-8", "no-cache"),
  );
  for (const asset of DOCS_ASSETS) {
    const isScript = asset.contentType.startsWith("text/javascript");
    defineRoute(
      app,
      {
        method: "get",
        path: asset.path,
        tags: ["Operations"],
        summary: asset.immutable
          ? `The docs page's Swagger UI ${SWAGGER_UI_VERSION} ${isScript ? "script" : "stylesheet"}`
          : "The docs page's Swagger UI initializer",
        responses: {
          200: {
            description: isScript ? "JavaScript" : "CSS",
            schema: z.string(),
            contentType: isScript ? "text/javascript" : "text/css",
          },
        },
      },
      () =>
        respond(
          asset.body,
          asset.contentType,
          asset.immutable ? "public, max-age=31536000, immutable" : "no-cache",
        ),
    );
  }
}
