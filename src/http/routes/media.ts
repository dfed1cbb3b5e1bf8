/**
 * `GET /media/{key}` (contract §9): public images from R2.
 *
 * Only keys our own upload code mints are served — `posters|logos|banners/<uuid>.<ext>` —
 * so a request can never name an arbitrary object (no traversal, no user-chosen keys), and
 * other objects in the bucket stay private: ticket PNGs are served only through
 * `/api/tickets/{id}/png/` to whoever may see the ticket, mail attachments only through
 * the dev outbox. Keys are random and objects are never rewritten under the same key, so
 * the answer may be cached forever.
 */
import { z } from "@hono/zod-openapi";
import { DomainError } from "../../lib/errors";
import type { ImageType } from "../../services/images";
import { type Api, defineRoute } from "../route";

const PUBLIC_PREFIXES = ["posters", "logos", "banners"] as const;
const IMAGE_NAME = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.(jpg|png|webp)$/;
const IMAGE_TYPES: ReadonlySet<string> = new Set<ImageType>(["image/jpeg", "image/png", "image/webp"]);

const MediaParams = z.object({
  prefix: z.enum(PUBLIC_PREFIXES).openapi({ description: "The first part of the key" }),
  name: z
    .string()
    .regex(IMAGE_NAME)
    .openapi({ description: "`<uuid>.<jpg|png|webp>`", example: "0b6f4e4a-3c1e-4d5b-9d7e-2f4a1c9e8b7d.png" }),
});

/** Does an `If-None-Match` header match this ETag (weak comparison, as for GET)? */
function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const strip = (tag: string) => tag.trim().replace(/^W\//, "");
  return ifNoneMatch.split(",").some((tag) => tag.trim() === "*" || strip(tag) === strip(etag));
}

export function registerMediaRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/media/{prefix}/{name}",
      tags: ["Media"],
      summary: "An uploaded image (poster, store logo or banner)",
      description:
        "The key is `{prefix}/{name}` as it appears in image URLs. Served with its stored type, " +
        "`X-Content-Type-Options: nosniff` and a one-year immutable cache; `If-None-Match` answers 304.",
      params: MediaParams,
      responses: {
        200: {
          description: "The image bytes (image/jpeg, image/png or image/webp)",
          schema: z.string().openapi({ type: "string", format: "binary" }),
          contentType: "image/*",
        },
        304: { description: "Not modified (ETag matched)" },
        404: { description: "Unknown key" },
      },
    },
    async (c, { params }) => {
      const object = await c.var.services.media.get(`${params.prefix}/${params.name}`);
      if (!object) throw DomainError.notFound();

      // Everything under these prefixes was stored by lib/images with a sniffed type; anything
      // else is served as opaque bytes rather than trusted.
      const stored = object.httpMetadata?.contentType ?? "";
      const headers = new Headers({
        "Content-Type": IMAGE_TYPES.has(stored) ? stored : "application/octet-stream",
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        // Shown in <img> on the web app, which may be another site (preview).
        "Cross-Origin-Resource-Policy": "cross-origin",
        ETag: object.httpEtag,
        "Last-Modified": object.uploaded.toUTCString(),
      });
      if (etagMatches(c.req.header("if-none-match"), object.httpEtag)) {
        await object.body.cancel();
        return new Response(null, { status: 304, headers });
      }
      headers.set("Content-Length", String(object.size));
      return new Response(object.body, { status: 200, headers });
    },
  );
}
