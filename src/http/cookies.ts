/** The session cookies, exactly as contract §2 names and flags them. */
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { ACCESS_TOKEN_TTL_SECONDS, REFRESH_TOKEN_TTL_SECONDS } from "../lib/session-tokens";

export const ACCESS_COOKIE = "ticketsafi-auth";
/** The D1 bookmark (read-your-writes); named here so logout clears it with the rest. */
export const BOOKMARK_COOKIE = "ticketsafi-d1";
export const REFRESH_COOKIE = "ticketsafi-refresh";

const FLAGS = { httpOnly: true, secure: true, sameSite: "Lax", path: "/" } as const;

/** The access cookie always; the refresh cookie only when a new refresh token was minted. */
export function setSessionCookies(
  c: Context,
  tokens: { access: string; refresh?: string | undefined },
): void {
  setCookie(c, ACCESS_COOKIE, tokens.access, { ...FLAGS, maxAge: ACCESS_TOKEN_TTL_SECONDS });
  if (tokens.refresh) {
    setCookie(c, REFRESH_COOKIE, tokens.refresh, { ...FLAGS, maxAge: REFRESH_TOKEN_TTL_SECONDS });
  }
}

/** Ends the browser's session: its tokens and its D1 bookmark (http/d1-session.ts) go. */
export function clearSessionCookies(c: Context): void {
  deleteCookie(c, ACCESS_COOKIE, FLAGS);
  deleteCookie(c, REFRESH_COOKIE, FLAGS);
  deleteCookie(c, BOOKMARK_COOKIE, FLAGS);
}

export function readSessionCookies(c: Context): { access: string | undefined; refresh: string | undefined } {
  return {
    access: getCookie(c, ACCESS_COOKIE) || undefined,
    refresh: getCookie(c, REFRESH_COOKIE) || undefined,
  };
}

export function bearerToken(c: Context): string | undefined {
  const header = c.req.header("authorization") ?? "";
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1];
}

/**
 * The claim cookie (contract §2 `guest/activate/`): set on the `ACCOUNT_EXISTS_NEEDS_ACTIVATION`
 * answer, it binds the claim link just mailed to this browser, so the password chosen at that
 * registration applies only when the link is used here. It lives as long as the link (3 days)
 * and is sent only to the auth endpoints.
 */
export const CLAIM_COOKIE = "ticketsafi-claim";
const CLAIM_FLAGS = { ...FLAGS, path: "/api/auth/" } as const;
const CLAIM_TTL_SECONDS = 3 * 24 * 60 * 60;

export function setClaimCookie(c: Context, binding: string): void {
  setCookie(c, CLAIM_COOKIE, binding, { ...CLAIM_FLAGS, maxAge: CLAIM_TTL_SECONDS });
}

export function readClaimCookie(c: Context): string | undefined {
  return getCookie(c, CLAIM_COOKIE) || undefined;
}

export function clearClaimCookie(c: Context): void {
  deleteCookie(c, CLAIM_COOKIE, CLAIM_FLAGS);
}
