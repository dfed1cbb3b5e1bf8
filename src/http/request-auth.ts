/**
 * Who is calling, resolved lazily: public endpoints that never ask pay nothing (no token
 * check, no D1 read). The first `user()` call decides, once per request:
 *
 *  1. `Authorization: Bearer <access>` (the mobile scanner). Never renewed.
 *  2. The access cookie, when valid and its session is live.
 *  3. Otherwise a valid refresh cookie silently renews the session (the web client never
 *     calls token/refresh/), setting fresh cookies on this response.
 *
 * Bad or expired credentials on a public endpoint are ignored, never a 401.
 */
import type { Context } from "hono";
import type { User } from "../db/schema";
import { DomainError } from "../lib/errors";
import { verifyToken } from "../lib/session-tokens";
import { rotateRefreshToken, userForAccessToken } from "../services/sessions";
import type { AppEnv } from "./context";
import {
  bearerToken,
  clearSessionCookies,
  readSessionCookies,
  setAccessCookie,
  setRefreshCookie,
} from "./cookies";

export type AuthMethod = "bearer" | "cookie";

export interface AuthContext {
  /** The current user or null; cached for the request. */
  user(): Promise<User | null>;
  /** The current user, or 401 in the contract's words. */
  requireUser(): Promise<User>;
  /** How the resolved user authenticated (after `user()`). */
  method(): AuthMethod | null;
}

export function createAuthContext(c: Context<AppEnv>): AuthContext {
  let resolved: Promise<{ user: User | null; method: AuthMethod | null; presented: boolean }> | undefined;
  let method: AuthMethod | null = null;

  const resolve = async () => {
    const { db, config } = c.var;
    const secret = config.jwtSecret;

    const bearer = bearerToken(c);
    if (bearer) {
      const verified = await verifyToken(secret, bearer, "access");
      const user = verified.ok ? await userForAccessToken(db, verified.claims) : null;
      return { user, method: user ? ("bearer" as const) : null, presented: true };
    }

    const cookies = readSessionCookies(c);
    if (cookies.access) {
      const verified = await verifyToken(secret, cookies.access, "access");
      if (verified.ok) {
        const user = await userForAccessToken(db, verified.claims);
        if (user) return { user, method: "cookie" as const, presented: true };
      }
    }

    if (cookies.refresh) {
      const verified = await verifyToken(secret, cookies.refresh, "refresh");
      if (verified.ok) {
        const rotated = await rotateRefreshToken(db, secret, verified.claims);
        if (rotated.ok) {
          setAccessCookie(c, rotated.tokens.access);
          if (rotated.tokens.refresh) setRefreshCookie(c, rotated.tokens.refresh);
          return { user: rotated.user, method: "cookie" as const, presented: true };
        }
        if (rotated.reason === "reused") clearSessionCookies(c);
      }
    }

    return { user: null, method: null, presented: Boolean(cookies.access || cookies.refresh) };
  };

  const get = () => {
    resolved ??= resolve().then((r) => {
      method = r.method;
      return r;
    });
    return resolved;
  };

  return {
    user: async () => (await get()).user,
    requireUser: async () => {
      const { user, presented } = await get();
      if (user) return user;
      throw presented ? DomainError.authenticationFailed() : DomainError.notAuthenticated();
    },
    method: () => method,
  };
}
