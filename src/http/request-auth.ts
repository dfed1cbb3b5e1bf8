/**
 * Who is calling, resolved lazily: public endpoints that never ask pay nothing (no token
 * check, no D1 read). The first `user()` call decides, once per request:
 *
 *  1. `Authorization: Bearer <access>` (the mobile scanner). Never renewed.
 *  2. The access cookie, when valid and its session is live.
 *  3. Otherwise a valid refresh cookie silently renews the session (the web client never
 *     calls token/refresh/), setting fresh cookies on this response.
 *
 * Bad or expired credentials on a public endpoint are ignored, never a 401. This module only
 * reads and writes cookies and headers; what a token is worth is services/sessions' call.
 */
import type { Context } from "hono";
import type { User } from "../db/schema";
import { DomainError } from "../lib/errors";
import {
  authenticateAccessToken,
  authenticateAccessTokenNear,
  renewSession,
  type SessionDeps,
} from "../services/sessions";
import { bearerToken, clearSessionCookies, readSessionCookies, setSessionCookies } from "./cookies";

type AuthMethod = "bearer" | "cookie";

export interface AuthContext {
  /** The current user or null; cached for the request. */
  user(): Promise<User | null>;
  /**
   * The same, with the access token's session checked on the nearest copy of D1 first (see
   * sessions.authenticateAccessTokenNear): for the checkout, whose seats and money are
   * decided elsewhere. Whichever of the two is asked first decides for the request.
   */
  userNear(): Promise<User | null>;
  /** The current user, or 401 in the contract's words. */
  requireUser(): Promise<User>;
  /** How the resolved user authenticated (after `user()`). */
  method(): AuthMethod | null;
}

interface Resolved {
  user: User | null;
  method: AuthMethod | null;
  /** Some credential was sent (so a failure is "invalid", not "not provided"). */
  presented: boolean;
}

export function createAuthContext(c: Context, sessions: SessionDeps): AuthContext {
  let resolved: Promise<Resolved> | undefined;
  let method: AuthMethod | null = null;

  const resolve = async (near: boolean): Promise<Resolved> => {
    const authenticate = near ? authenticateAccessTokenNear : authenticateAccessToken;
    const bearer = bearerToken(c);
    if (bearer) {
      const user = await authenticate(sessions, bearer);
      return { user, method: user ? "bearer" : null, presented: true };
    }

    const cookies = readSessionCookies(c);
    if (cookies.access) {
      const user = await authenticate(sessions, cookies.access);
      if (user) return { user, method: "cookie", presented: true };
    }

    if (cookies.refresh) {
      const renewed = await renewSession(sessions, cookies.refresh);
      if (renewed.ok) {
        setSessionCookies(c, renewed.tokens);
        return { user: renewed.user, method: "cookie", presented: true };
      }
      if (renewed.reason === "reused") clearSessionCookies(c);
    }

    return { user: null, method: null, presented: Boolean(cookies.access || cookies.refresh) };
  };

  const get = (near = false) => {
    resolved ??= resolve(near).then((r) => {
      method = r.method;
      return r;
    });
    return resolved;
  };

  return {
    user: async () => (await get()).user,
    userNear: async () => (await get(true)).user,
    requireUser: async () => {
      const { user, presented } = await get();
      if (user) return user;
      throw presented ? DomainError.authenticationFailed() : DomainError.notAuthenticated();
    },
    method: () => method,
  };
}
