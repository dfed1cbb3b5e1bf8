/**
 * Login sessions: signing in (a session row and a token pair), authenticating an access
 * token against its session, renewing from a refresh token (rotation with reuse detection),
 * logout and revocation. Tokens in, users and tokens out: the HTTP layer only reads and
 * writes the cookies. No Hono in here.
 *
 * Rotation rule (contract §2): the current refresh jti rotates; the previous one is still
 * honoured for 30 s (a browser firing parallel requests with the old cookie); anything
 * older, or the previous one after the grace period, means a stolen token is in play, so the
 * whole session (refresh and access) is revoked.
 */
import { and, eq, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { authSessions, blacklistedTokens, type User, users } from "../db/schema";
import {
  REFRESH_TOKEN_TTL_SECONDS,
  signToken,
  type TokenClaims,
  type TokenType,
  verifyToken,
} from "../lib/session-tokens";

const ROTATION_GRACE_MS = 30_000;

export interface SessionDeps {
  db: Database;
  /** The nearest copy of D1 (compose.ts); only `authenticateAccessTokenNear` reads it. */
  nearDb?: Database;
  config: { jwtSecret: string };
}

export interface IssuedTokens {
  access: string;
  /** Present when a new refresh token was minted (login, rotation). */
  refresh?: string;
}

export interface SessionMeta {
  userAgent?: string | undefined;
  ipAddress?: string | undefined;
}

/** A user who has just signed in, and the tokens of the new session. */
export interface SignedIn {
  user: User;
  tokens: IssuedTokens;
}

async function issuePair(secret: string, userId: string, sessionId: string, refreshJti: string, now: number) {
  const nowSeconds = Math.floor(now / 1000);
  const [access, refresh] = await Promise.all([
    signToken(secret, { sub: userId, sid: sessionId, jti: crypto.randomUUID(), typ: "access" }, nowSeconds),
    signToken(secret, { sub: userId, sid: sessionId, jti: refreshJti, typ: "refresh" }, nowSeconds),
  ]);
  return { access, refresh };
}

async function issueAccessOnly(secret: string, userId: string, sessionId: string, now: number) {
  const access = await signToken(
    secret,
    { sub: userId, sid: sessionId, jti: crypto.randomUUID(), typ: "access" },
    Math.floor(now / 1000),
  );
  return { access };
}

/** A new login for `user`: one session row, an access + refresh pair. */
export async function signIn(
  deps: SessionDeps,
  user: User,
  meta: SessionMeta = {},
  now = Date.now(),
): Promise<SignedIn> {
  const { db } = deps;
  const sessionId = crypto.randomUUID();
  const refreshJti = crypto.randomUUID();
  await db.batch([
    db.insert(authSessions).values({
      id: sessionId,
      userId: user.id,
      refreshJti,
      expiresAt: now + REFRESH_TOKEN_TTL_SECONDS * 1000,
      userAgent: meta.userAgent?.slice(0, 256) ?? null,
      ipAddress: meta.ipAddress ?? null,
      createdAt: now,
    }),
    db.update(users).set({ lastLoginAt: now }).where(eq(users.id, user.id)),
  ]);
  return { user, tokens: await issuePair(deps.config.jwtSecret, user.id, sessionId, refreshJti, now) };
}

/** The session row, its user and whether the presented jti is blacklisted, in one D1 round trip. */
async function sessionFor(db: Database, claims: TokenClaims) {
  const rows = await db
    .select({
      session: authSessions,
      user: users,
      blacklisted: sql<number>`EXISTS (SELECT 1 FROM ${blacklistedTokens} WHERE ${blacklistedTokens.jti} = ${claims.jti})`,
    })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(and(eq(authSessions.id, claims.sid), eq(authSessions.userId, claims.sub)))
    .limit(1);
  return rows[0];
}

/**
 * The user behind an access token (Bearer or cookie), or null: the token must verify, its
 * session be live, its jti not blacklisted and the user active.
 */
export async function authenticateAccessToken(
  deps: SessionDeps,
  token: string,
  now = Date.now(),
): Promise<User | null> {
  const verified = await verifyToken(deps.config.jwtSecret, token, "access");
  if (!verified.ok) return null;
  const { claims } = verified;
  if (claims.exp * 1000 <= now) return null;
  const row = await sessionFor(deps.db, claims);
  return liveUser(row);
}

function liveUser(row: Awaited<ReturnType<typeof sessionFor>>): User | null {
  if (!row || row.session.revokedAt !== null || row.blacklisted || !row.user.isActive) return null;
  return row.user;
}

/**
 * The same check read from the nearest copy of D1 (issue 15 part 3: a checkout's session
 * check should not cross an ocean before the seats are held). Only a live session is taken
 * from the copy; anything else (a session or user the copy has not got yet, a revocation,
 * a blacklisted token) is asked of the primary again, so a new login is never refused by a
 * lagging copy. The one thing a lagging copy can do: let a token revoked within the last
 * moment (replication lag, normally well under a second) place an order for its own user;
 * the order, its seats and its money are still decided on the primary and the tier objects.
 */
export async function authenticateAccessTokenNear(
  deps: SessionDeps,
  token: string,
  now = Date.now(),
): Promise<User | null> {
  if (!deps.nearDb) return authenticateAccessToken(deps, token, now);
  const verified = await verifyToken(deps.config.jwtSecret, token, "access");
  if (!verified.ok) return null;
  const { claims } = verified;
  if (claims.exp * 1000 <= now) return null;
  const near = liveUser(await sessionFor(deps.nearDb, claims));
  return near ?? liveUser(await sessionFor(deps.db, claims));
}

type RenewalResult =
  | { ok: true; user: User; tokens: IssuedTokens }
  | {
      ok: false;
      /**
       * `unverified`: not a valid refresh token at all (bad signature, expired, wrong type);
       * `invalid`: its session is over (revoked, expired, blacklisted, user inactive);
       * `reused`: a rotated token replayed after the grace period, so the session was just ended.
       */
      reason: "unverified" | "invalid" | "reused";
    };

/**
 * Exchange a refresh token for new tokens (see the rotation rule above). The one place a
 * refresh token rotates: `token/refresh/` and the silent renewal of request auth both call it.
 */
export async function renewSession(
  deps: SessionDeps,
  refreshToken: string,
  now = Date.now(),
): Promise<RenewalResult> {
  const { db } = deps;
  const secret = deps.config.jwtSecret;
  const verified = await verifyToken(secret, refreshToken, "refresh");
  if (!verified.ok) return { ok: false, reason: "unverified" };
  const { claims } = verified;

  const row = await sessionFor(db, claims);
  if (
    !row ||
    row.blacklisted ||
    row.session.revokedAt !== null ||
    row.session.expiresAt <= now ||
    !row.user.isActive
  ) {
    return { ok: false, reason: "invalid" };
  }
  const { session, user } = row;

  if (claims.jti === session.refreshJti) {
    const newJti = crypto.randomUUID();
    // Conditional on the jti we saw: of two parallel rotations exactly one wins.
    const updated = await db
      .update(authSessions)
      .set({
        previousRefreshJti: session.refreshJti,
        refreshJti: newJti,
        rotatedAt: now,
        expiresAt: now + REFRESH_TOKEN_TTL_SECONDS * 1000,
      })
      .where(
        and(
          eq(authSessions.id, session.id),
          eq(authSessions.refreshJti, claims.jti),
          isNull(authSessions.revokedAt),
        ),
      )
      .returning({ id: authSessions.id });
    if (updated.length === 1) {
      return { ok: true, user, tokens: await issuePair(secret, user.id, session.id, newJti, now) };
    }
    // Lost the race to a parallel request that rotated this very token a moment ago.
    return { ok: true, user, tokens: await issueAccessOnly(secret, user.id, session.id, now) };
  }

  if (
    claims.jti === session.previousRefreshJti &&
    session.rotatedAt !== null &&
    now - session.rotatedAt <= ROTATION_GRACE_MS
  ) {
    return { ok: true, user, tokens: await issueAccessOnly(secret, user.id, session.id, now) };
  }

  await revokeSessionsWhere(db, eq(authSessions.id, session.id), "refresh_reuse", now);
  return { ok: false, reason: "reused" };
}

/** End every live session matching `where` (their access and refresh tokens stop working). */
function revokeSessionsWhere(db: Database, where: SQL | undefined, reason: string, now: number) {
  return db
    .update(authSessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(where, isNull(authSessions.revokedAt)));
}

/** Every session of a user ends (a password reset, an account taken over by Google). */
export async function revokeAllSessionsForUser(
  db: Database,
  userId: string,
  reason: string,
  now = Date.now(),
): Promise<void> {
  await revokeSessionsWhere(db, eq(authSessions.userId, userId), reason, now);
}

/** The tokens a logout request presented, each as it came (Bearer, cookies); any may be absent. */
interface PresentedTokens {
  access: Array<string | undefined>;
  refresh: string | undefined;
}

/**
 * Logout: blacklist the jti of every presented token that verifies (even an expired one)
 * and end their sessions. Nothing presented, or nothing valid: nothing to do.
 */
export async function logout(deps: SessionDeps, presented: PresentedTokens, now = Date.now()): Promise<void> {
  const { db } = deps;
  const candidates: Array<[string | undefined, TokenType]> = [
    ...presented.access.map((token): [string | undefined, TokenType] => [token, "access"]),
    [presented.refresh, "refresh"],
  ];
  const claims: TokenClaims[] = [];
  for (const [token, type] of candidates) {
    if (!token) continue;
    const verified = await verifyToken(deps.config.jwtSecret, token, type, { allowExpired: true });
    if (verified.ok) claims.push(verified.claims);
  }
  if (claims.length === 0) return;
  const sessionIds = [...new Set(claims.map((c) => c.sid))];
  await db.batch([
    db
      .insert(blacklistedTokens)
      .values(claims.map((c) => ({ jti: c.jti, userId: c.sub, expiresAt: c.exp * 1000, createdAt: now })))
      .onConflictDoNothing(),
    revokeSessionsWhere(db, inArray(authSessions.id, sessionIds), "logout", now),
  ]);
}
