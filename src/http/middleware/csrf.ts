/**
 * CSRF defence for cookie sessions: an unsafe request that carries our session cookies and
 * an `Origin` we do not trust is refused (403) before any handler runs. SameSite=Lax already
 * stops most cross-site posts; this closes the rest (sibling subdomains, old browsers).
 * Bearer requests are not affected: a browser never attaches them on its own.
 */
import type { MiddlewareHandler } from "hono";
import { DomainError } from "../../lib/errors";
import type { AppEnv } from "../context";
import { ACCESS_COOKIE, REFRESH_COOKIE } from "../cookies";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

export function csrfOriginCheck(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!SAFE_METHODS.has(c.req.method)) {
      const origin = c.req.header("origin");
      const cookie = c.req.header("cookie") ?? "";
      const hasSessionCookie = cookie.includes(`${ACCESS_COOKIE}=`) || cookie.includes(`${REFRESH_COOKIE}=`);
      if (origin && hasSessionCookie && !isTrustedOrigin(origin, c.var.config.allowedOrigins, c.req.url)) {
        throw new DomainError(
          "csrf_failed",
          "CSRF Failed: Origin checking failed - the origin does not match any trusted origins.",
        );
      }
    }
    await next();
  };
}

function isTrustedOrigin(origin: string, allowed: Set<string>, requestUrl: string): boolean {
  if (allowed.has(origin)) return true;
  // Same-origin requests (the API's own docs page) are always fine.
  return origin === new URL(requestUrl).origin;
}
