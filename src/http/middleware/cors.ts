/** CORS with credentials, for ALLOWED_ORIGINS only (contract §1). */
import type { MiddlewareHandler } from "hono";
import { cors } from "hono/cors";
import type { AppEnv } from "../context";

export function corsForAllowedOrigins(): MiddlewareHandler<AppEnv> {
  return cors({
    origin: (origin, c) => (c.var.config.allowedOrigins.has(origin) ? origin : null),
    credentials: true,
    allowMethods: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    allowHeaders: [
      "Content-Type",
      "Authorization",
      "Idempotency-Key",
      "X-Request-Id",
      "X-CSRFToken",
      "X-Requested-With",
    ],
    exposeHeaders: ["X-Request-Id", "Retry-After", "Content-Disposition"],
    maxAge: 600,
  });
}
