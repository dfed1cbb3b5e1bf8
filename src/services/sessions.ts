/**
 * Login sessions: issuing token pairs, validating an access token against its session,
 * refresh rotation with reuse detection, logout and revocation. No Hono in here.
 *
 * Rotation rule (contract §2): the current refresh jti rotates; the previous one is still
 * honoured for 30 s (a browser firing parallel requests with the old cookie); anything
 * older, or the previous one after the grace period, means a stolen token is in play, so the
 * whole session (refresh and access) is revoked.
 */
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { authSessions, blacklistedTokens, type User, users } from "../db/schema";
import { REFRESH_TOKEN_TTL_SECONDS, signToken, type TokenClaims } from "../lib/session-tokens";

export const ROTATION_GRACE_MS = 30_000;

export interface IssuedTokens {
  access: string;
  /** Present when a new refresh token was minted (login, rotation). */
  refresh?: string;
}

export interface SessionMeta {
  userAgent?: string | undefined;
  ipAddress?: string | undefined;
}

async function issuePair(secret: string, userId: string, sessionId: string, refreshJti: string, now: number) {
  const nowSeconds = Math.floor(now / 1000);
  const [access, refresh] = await Promise.all([
    signToken(secret, { sub: userId, sid: sessionId, jti: crypto.randomUUID(), typ: "access" }, nowSeconds),
    signToken(secret, { sub: userId, sid: sessionId, jti: refreshJti, typ: "refresh" }, nowSeconds),
  ]);
  return { access: access.token, refresh: refresh.token };
}

/** A new login: one session row, an access + refresh pair. */
export async function startSession(
  db: Database,
  secret: string,
  userId: string,
  meta: SessionMeta = {},
  now = Date.now(),
): Promise<IssuedTokens> {
  const sessionId = crypto.randomUUID();
  const refreshJti = crypto.randomUUID();
  await db.batch([
    db.insert(authSessions).values({
      id: sessionId,
      userId,
      refreshJti,
      expiresAt: now + REFRESH_TOKEN_TTL_SECONDS * 1000,
      userAgent: meta.userAgent?.slice(0, 256) ?? null,
      ipAddress: meta.ipAddress ?? null,
      createdAt: now,
    }),
    db.update(users).set({ lastLoginAt: now }).where(eq(users.id, userId)),
  ]);
  return issuePair(secret, userId, sessionId, refreshJti, now);
}

/**
 * The user behind a valid access token, in one D1 round trip: the session must be live,
 * the token not blacklisted, the user active.
 */
export async function userForAccessToken(
  db: Database,
  claims: TokenClaims,
  now = Date.now(),
): Promise<User | null> {
  const rows = await db
    .select({
      user: users,
      revokedAt: authSessions.revokedAt,
      blacklisted: sql<number>`EXISTS (SELECT 1 FROM ${blacklistedTokens} WHERE ${blacklistedTokens.jti} = ${claims.jti})`,
    })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(and(eq(authSessions.id, claims.sid), eq(authSessions.userId, claims.sub)))
    .limit(1);
  const row = rows[0];
  if (!row || row.revokedAt !== null || row.blacklisted || !row.user.isActive) return null;
  if (claims.exp * 1000 <= now) return null;
  return row.user;
}

export type RotationResult =
  | { ok: true; user: User; tokens: IssuedTokens }
  | { ok: false; reason: "invalid" | "reused" };

/** Exchange a refresh token for new tokens (see the rotation rule above). */
export async function rotateRefreshToken(
  db: Database,
  secret: string,
  claims: TokenClaims,
  now = Date.now(),
): Promise<RotationResult> {
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
  const row = rows[0];
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
    return accessOnly(secret, user, session.id, now);
  }

  if (
    claims.jti === session.previousRefreshJti &&
    session.rotatedAt !== null &&
    now - session.rotatedAt <= ROTATION_GRACE_MS
  ) {
    return accessOnly(secret, user, session.id, now);
  }

  await revokeSessions(db, [session.id], "refresh_reuse", now);
  return { ok: false, reason: "reused" };
}

async function accessOnly(
  secret: string,
  user: User,
  sessionId: string,
  now: number,
): Promise<RotationResult> {
  const access = await signToken(
    secret,
    { sub: user.id, sid: sessionId, jti: crypto.randomUUID(), typ: "access" },
    Math.floor(now / 1000),
  );
  return { ok: true, user, tokens: { access: access.token } };
}

export async function revokeSessions(db: Database, sessionIds: string[], reason: string, now = Date.now()) {
  if (sessionIds.length === 0) return;
  await db
    .update(authSessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(inArray(authSessions.id, sessionIds), isNull(authSessions.revokedAt)));
}

export async function revokeAllSessionsForUser(
  db: Database,
  userId: string,
  reason: string,
  now = Date.now(),
) {
  await db
    .update(authSessions)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(authSessions.userId, userId), isNull(authSessions.revokedAt)));
}

/** Logout: blacklist every presented token's jti and end their sessions. */
export async function logout(db: Database, presented: TokenClaims[], now = Date.now()): Promise<void> {
  if (presented.length === 0) return;
  const sessionIds = [...new Set(presented.map((c) => c.sid))];
  await db.batch([
    db
      .insert(blacklistedTokens)
      .values(presented.map((c) => ({ jti: c.jti, userId: c.sub, expiresAt: c.exp * 1000, createdAt: now })))
      .onConflictDoNothing(),
    db
      .update(authSessions)
      .set({ revokedAt: now, revokedReason: "logout" })
      .where(and(inArray(authSessions.id, sessionIds), isNull(authSessions.revokedAt))),
  ]);
}
