/**
 * Cron housekeeping for the session tables (src/services/sessions.ts writes them): keeps
 * D1 small. Each returns how many rows it deleted.
 */
import { and, isNotNull, lt, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { authSessions, blacklistedTokens } from "../db/schema";

const WEEK = 7 * 24 * 60 * 60 * 1000;

/** Blacklisted access-token ids whose token has expired anyway. */
export async function purgeExpiredBlacklist(db: Database, now: number): Promise<number> {
  const rows = await db
    .delete(blacklistedTokens)
    .where(lt(blacklistedTokens.expiresAt, now))
    .returning({ jti: blacklistedTokens.jti });
  return rows.length;
}

export async function purgeDeadSessions(db: Database, now: number): Promise<number> {
  // Keep revoked sessions a week for audit; expired ones can go at once.
  const rows = await db
    .delete(authSessions)
    .where(
      or(
        lt(authSessions.expiresAt, now),
        and(isNotNull(authSessions.revokedAt), lt(authSessions.revokedAt, now - WEEK)),
      ),
    )
    .returning({ id: authSessions.id });
  return rows.length;
}
