/**
 * Which copy of D1 a request reads (issue 15, part 2: D1 read replication through the
 * Sessions API).
 *
 * - A read (GET, HEAD, OPTIONS) opens its session "first-unconstrained": the nearest read
 *   replica answers, one short round trip instead of one to the primary across the ocean.
 * - A write (any other method) opens "first-primary": the checks a write makes before it
 *   writes (a session, a balance, a status) read the latest data. Seats are never decided on
 *   D1 at all (the tier's Durable Object decides), and state changes are conditional
 *   UPDATEs, which the primary evaluates, so a stale copy can delay an answer but never
 *   double-spend anything.
 * - Read-your-writes: after a write, the session's bookmark (D1's position in its commit
 *   log) goes back to the client in a cookie and an `X-D1-Bookmark` header (for Bearer
 *   clients such as the scanner app). A later read that brings it back starts at a copy at
 *   least that fresh, so the organizer who just edited an event sees the edit, and the fan
 *   who just paid sees the ticket.
 * - The bookmark is signed: a client can only hand back a position D1 gave us, never a made-up
 *   one that a replica would wait on (or refuse). A missing, expired, tampered or malformed
 *   bookmark is ignored: the read is simply unconstrained.
 *
 * Queue batches and cron ticks use the binding directly (the primary).
 */
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import type { Config } from "../config";
import { signValue, verifySignedValue } from "../lib/crypto";
import type { AppEnv } from "./context";
import { BOOKMARK_COOKIE } from "./cookies";

export { BOOKMARK_COOKIE };
export const BOOKMARK_HEADER = "X-D1-Bookmark";
const PURPOSE = "d1-bookmark";
/** Replicas catch up within seconds; after this, any copy is at least as fresh as the write. */
const BOOKMARK_TTL_SECONDS = 300;
const MAX_SIGNED_LENGTH = 256;
/** D1's bookmarks: hex fields separated by dashes (e.g. `00000000-0000000a-00000000-…`). */
const BOOKMARK_SHAPE = /^[0-9a-f]{1,16}(-[0-9a-f]{1,64}){1,6}$/;

const READ_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface RequestD1Session {
  session: D1DatabaseSession;
  /** Whether this request may write (its session started on the primary). */
  writes: boolean;
}

/** The bookmark the client brought back, if we signed it and it still looks like one. */
async function bookmarkOf(c: Context<AppEnv>, config: Config): Promise<string | null> {
  const signed = c.req.header(BOOKMARK_HEADER) ?? getCookie(c, BOOKMARK_COOKIE);
  if (!signed || signed.length > MAX_SIGNED_LENGTH) return null;
  const bookmark = await verifySignedValue(config.jwtSecret, PURPOSE, signed);
  return bookmark && BOOKMARK_SHAPE.test(bookmark) ? bookmark : null;
}

/** Opens the request's D1 session (see the header for which copy it starts on). */
export async function openRequestD1Session(c: Context<AppEnv>, config: Config): Promise<RequestD1Session> {
  if (!READ_METHODS.has(c.req.method)) {
    return { session: c.env.DB.withSession("first-primary"), writes: true };
  }
  const bookmark = await bookmarkOf(c, config);
  return { session: c.env.DB.withSession(bookmark ?? "first-unconstrained"), writes: false };
}

/**
 * After a write that succeeded, hands the client its session's bookmark so its next read sees
 * the write. Reads and failed requests leave the client's bookmark as it was.
 */
export async function rememberWrites(
  c: Context<AppEnv>,
  d1: RequestD1Session,
  config: Config,
): Promise<void> {
  if (!d1.writes || c.res.status >= 400) return;
  // A handler that already set or cleared the cookie (logout) decided for itself.
  if (c.res.headers.getSetCookie().some((cookie) => cookie.startsWith(`${BOOKMARK_COOKIE}=`))) return;
  const bookmark = d1.session.getBookmark();
  if (!bookmark || !BOOKMARK_SHAPE.test(bookmark)) return;
  const signed = await signValue(config.jwtSecret, PURPOSE, bookmark);
  setCookie(c, BOOKMARK_COOKIE, signed, {
    httpOnly: true,
    secure: true,
    sameSite: "Lax",
    path: "/",
    maxAge: BOOKMARK_TTL_SECONDS,
  });
  c.res.headers.set(BOOKMARK_HEADER, signed);
}
