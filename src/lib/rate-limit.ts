/**
 * Fixed-window counters in D1 (`rate_limits`). Used for failed logins (per account and per
 * address), password-reset mails and ticket resends. One upsert per hit; reads are cheap.
 */
import { inArray, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { rateLimits } from "../db/schema";

export interface Limit {
  key: string;
  max: number;
  windowMs: number;
}

function windowStart(now: number, windowMs: number): number {
  return now - (now % windowMs);
}

/** The first limit already reached, with the seconds until its window ends. */
export async function exceededLimit(
  db: Database,
  limits: Limit[],
  now = Date.now(),
): Promise<{ retryAfter: number } | null> {
  if (limits.length === 0) return null;
  const rows = await db
    .select()
    .from(rateLimits)
    .where(
      inArray(
        rateLimits.key,
        limits.map((l) => l.key),
      ),
    );
  for (const limit of limits) {
    const row = rows.find((r) => r.key === limit.key);
    const start = windowStart(now, limit.windowMs);
    if (row && row.windowStart === start && row.count >= limit.max) {
      return { retryAfter: Math.ceil((start + limit.windowMs - now) / 1000) };
    }
  }
  return null;
}

/** Count one hit against each limit; returns the counts after the hit. */
export async function recordHits(db: Database, limits: Limit[], now = Date.now()): Promise<number[]> {
  if (limits.length === 0) return [];
  const statements = limits.map((limit) => {
    const start = windowStart(now, limit.windowMs);
    return db
      .insert(rateLimits)
      .values({ key: limit.key, windowStart: start, count: 1, expiresAt: start + limit.windowMs })
      .onConflictDoUpdate({
        target: rateLimits.key,
        set: {
          count: sql`CASE WHEN ${rateLimits.windowStart} = ${start} THEN ${rateLimits.count} + 1 ELSE 1 END`,
          windowStart: start,
          expiresAt: start + limit.windowMs,
        },
      })
      .returning({ count: rateLimits.count });
  });
  const [first, ...rest] = statements;
  if (!first) return [];
  const results = await db.batch([first, ...rest]);
  return results.map((r) => r[0]?.count ?? 0);
}

/** Check-and-count in one step: throws nothing, answers whether this hit is allowed. */
export async function consumeLimit(
  db: Database,
  limit: Limit,
  now = Date.now(),
): Promise<{ allowed: boolean; retryAfter: number }> {
  const [count = 0] = await recordHits(db, [limit], now);
  const start = windowStart(now, limit.windowMs);
  return { allowed: count <= limit.max, retryAfter: Math.ceil((start + limit.windowMs - now) / 1000) };
}

export async function clearLimits(db: Database, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await db.delete(rateLimits).where(inArray(rateLimits.key, keys));
}
