/**
 * Sliding-window limits in D1 (`rate_limits`): "at most `max` in any `windowMs`", exactly.
 * Used for failed logins (per account and per address), account emails, ticket resends and
 * bookings per recipient email.
 *
 * Why exact and not clock windows: with fixed windows "3 an hour" allows 3 at 10:59 and 3 more
 * at 11:00, and estimates that weigh the previous window still let a burst through. Each key
 * keeps the timestamps of its newest hits, at most `max` of them (small: our limits are 3 to
 * 30), which is all it takes to know whether `max` hits fell inside the last window and when
 * the oldest of them leaves it.
 *
 * Every change is one conditional UPDATE whose subqueries read the stored JSON array, so two
 * requests at once cannot both take the last slot. Guard a step with `consumeLimit(s)` BEFORE
 * it runs (reserve, then act): `exceededLimit` followed by `recordHits` is check-then-act and
 * lets parallel requests through between the two (100 parallel logins once got 32 password
 * checks against a limit of 5); it stays only for counting what was never guarded.
 */
import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { rateLimits } from "../db/schema";

export interface Limit {
  key: string;
  max: number;
  windowMs: number;
}

/** The stored hits still inside the window ending at `now`, oldest first. */
function liveHits(stored: string | undefined, limit: Limit, now: number): number[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stored ?? "[]");
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  return parsed
    .filter((t): t is number => typeof t === "number" && t > now - limit.windowMs && t <= now)
    .sort((a, b) => a - b);
}

/** Seconds until one more hit fits: when the oldest of the last `max` live hits leaves the window. */
function retryAfterSeconds(live: number[], limit: Limit, now: number): number {
  const oldestThatMatters = live[live.length - limit.max] ?? now;
  return Math.max(1, Math.ceil((oldestThatMatters + limit.windowMs - now) / 1000));
}

/**
 * Statements that add a hit at `now` to a limit (keeping its newest `max`), only while fewer
 * than `max` are live when `onlyIfRoom`. Run in one batch: create the row, append, read back.
 */
function hitStatements(db: Database, limit: Limit, now: number, onlyIfRoom: boolean) {
  const cutoff = now - limit.windowMs;
  const stored = sql`json_each(${sql.identifier("rate_limits")}.${sql.identifier("hits")})`;
  const liveCount = sql`(SELECT count(*) FROM ${stored} WHERE value > ${cutoff})`;
  // The newest `max` of (live hits + this one), back into a JSON array.
  const appended = sql`(SELECT json_group_array(v) FROM (SELECT v FROM (SELECT value AS v FROM ${stored} WHERE value > ${cutoff} UNION ALL SELECT ${now}) ORDER BY v DESC LIMIT ${limit.max}))`;
  return [
    db
      .insert(rateLimits)
      .values({ key: limit.key, hits: "[]", expiresAt: now + limit.windowMs })
      .onConflictDoNothing(),
    db
      .update(rateLimits)
      .set({ hits: appended, expiresAt: now + limit.windowMs })
      .where(and(eq(rateLimits.key, limit.key), onlyIfRoom ? sql`${liveCount} < ${limit.max}` : undefined))
      .returning({ key: rateLimits.key }),
    db.select({ hits: rateLimits.hits }).from(rateLimits).where(eq(rateLimits.key, limit.key)),
  ] as const;
}

/** The first limit already reached, with the seconds until it lets one more through. */
export async function exceededLimit(
  db: Database,
  limits: Limit[],
  now = Date.now(),
): Promise<{ retryAfter: number } | null> {
  if (limits.length === 0) return null;
  const rows = await limitRows(db, limits);
  for (const limit of limits) {
    const live = liveHits(rows.find((r) => r.key === limit.key)?.hits, limit, now);
    if (live.length >= limit.max) return { retryAfter: retryAfterSeconds(live, limit, now) };
  }
  return null;
}

/** Count one hit against each limit, room or not (failed logins); returns the live hits after it. */
export async function recordHits(db: Database, limits: Limit[], now = Date.now()): Promise<number[]> {
  if (limits.length === 0) return [];
  const statements = limits.flatMap((limit) => hitStatements(db, limit, now, false));
  const [first, ...rest] = statements;
  if (!first) return [];
  const results = await db.batch([first, ...rest]);
  return limits.map((limit, i) => {
    const read = results[i * 3 + 2] as Array<{ hits: string }> | undefined;
    return liveHits(read?.[0]?.hits, limit, now).length;
  });
}

/**
 * Check and count in one step: the hit is counted only when it is allowed, so asking again
 * while refused does not push the wait further out.
 */
export async function consumeLimit(
  db: Database,
  limit: Limit,
  now = Date.now(),
): Promise<{ allowed: boolean; retryAfter: number }> {
  return consumeLimits(db, [limit], now);
}

/** How many of a key's stored hits are inside its window, read from any row (not the one updated). */
function liveCountOf(limit: Limit, now: number) {
  const other = sql.identifier("rl");
  return sql`(SELECT count(*) FROM ${rateLimits} AS ${other}, json_each(${other}.${sql.identifier("hits")}) WHERE ${other}.${sql.identifier("key")} = ${limit.key} AND value > ${now - limit.windowMs})`;
}

/** The newest `max` of (the updated row's live hits + `now`), as a JSON array. */
function appendedHits(limit: Limit, now: number) {
  const stored = sql`json_each(${sql.identifier("rate_limits")}.${sql.identifier("hits")})`;
  return sql`(SELECT json_group_array(v) FROM (SELECT v FROM (SELECT value AS v FROM ${stored} WHERE value > ${now - limit.windowMs} UNION ALL SELECT ${now}) ORDER BY v DESC LIMIT ${limit.max}))`;
}

/**
 * Reserve one hit on every limit, or on none: ONE conditional UPDATE appends `now` to each
 * key only while every key still has room, so parallel callers can never take more slots
 * than sequential ones, and a caller refused by one limit costs the others nothing. Use it
 * BEFORE the step the limit guards (a password check, an email); give the hit back with
 * `releaseHit` / `clearLimits` when the outcome should not count (a successful login).
 */
export async function consumeLimits(
  db: Database,
  limits: Limit[],
  now = Date.now(),
): Promise<{ allowed: boolean; retryAfter: number }> {
  const taking = limitTakeStatements(db, limits, now);
  const [first, ...rest] = taking.statements;
  if (!first) return { allowed: true, retryAfter: 0 };
  return taking.outcome(await db.batch([first, ...rest]));
}

/**
 * `consumeLimits` as statements, for a caller that runs them in its own batch (one round trip
 * with its lookup): `outcome` reads their results, which must come first in that batch.
 *
 * `failBatch`: the take is the condition of the whole batch. Finding no room, the append
 * writes NULL into `hits` (NOT NULL), so that statement fails and with it the batch (a D1
 * batch is one transaction): nothing the batch would have written is written, the limit
 * rows included. The caller recognises the failure with `isLimitRefusal` and asks
 * `refusedRetryAfter` for the wait; a batch that commits took the hit. One limit only: the
 * room is then checked in the append's SET, per row, and a second row would see the first
 * row's new hit.
 */
export function limitTakeStatements(
  db: Database,
  limits: Limit[],
  now: number,
  options: { failBatch?: boolean } = {},
) {
  if (options.failBatch && limits.length > 1) throw new Error("failBatch takes one limit");
  const keys = limits.map((l) => l.key);
  const perKey = (value: (l: Limit) => unknown) =>
    sql`CASE ${rateLimits.key} ${sql.join(
      limits.map((l) => sql`WHEN ${l.key} THEN ${value(l)}`),
      sql` `,
    )} END`;
  const creates = limits.map((limit) =>
    db
      .insert(rateLimits)
      .values({ key: limit.key, hits: "[]", expiresAt: now + limit.windowMs })
      .onConflictDoNothing(),
  );
  const room = limits.map((l) => sql`${liveCountOf(l, now)} < ${l.max}`);
  const appended = perKey((l) => appendedHits(l, now));
  const append = db
    .update(rateLimits)
    .set({
      hits: options.failBatch ? sql`CASE WHEN ${sql.join(room, sql` AND `)} THEN ${appended} END` : appended,
      expiresAt: perKey((l) => now + l.windowMs),
    })
    .where(options.failBatch ? inArray(rateLimits.key, keys) : and(inArray(rateLimits.key, keys), ...room))
    .returning({ key: rateLimits.key });
  const read = db.select().from(rateLimits).where(inArray(rateLimits.key, keys));
  const statements = limits.length === 0 ? [] : [...creates, append, read];
  const outcome = (results: readonly unknown[]): { allowed: boolean; retryAfter: number } => {
    if (limits.length === 0) return { allowed: true, retryAfter: 0 };
    const appended = results[creates.length] as Array<{ key: string }>;
    if (appended.length > 0) return { allowed: true, retryAfter: 0 };
    const rows = results[creates.length + 1] as Array<{ key: string; hits: string }>;
    return { allowed: false, retryAfter: waitOf(rows, limits, now) };
  };
  return { statements, outcome };
}

/** Refused: wait for the limit that frees up last (every one must have room). */
function waitOf(rows: Array<{ key: string; hits: string }>, limits: Limit[], now: number): number {
  let retryAfter = 1;
  for (const limit of limits) {
    const live = liveHits(rows.find((r) => r.key === limit.key)?.hits, limit, now);
    if (live.length >= limit.max) retryAfter = Math.max(retryAfter, retryAfterSeconds(live, limit, now));
  }
  return retryAfter;
}

/** The failure of a batch whose `failBatch` take found no room (the message may sit in the cause). */
export function isLimitRefusal(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const message = e instanceof Error ? e.message : String(e);
    if (/NOT NULL constraint failed: rate_limits\.hits/i.test(message)) return true;
    e = e instanceof Error ? e.cause : undefined;
  }
  return false;
}

/** After a `failBatch` refusal (which wrote nothing): the seconds until every limit has room. */
export async function refusedRetryAfter(db: Database, limits: Limit[], now: number): Promise<number> {
  if (limits.length === 0) return 1;
  return waitOf(await limitRows(db, limits), limits, now);
}

/** The stored rows of `limits` (a key never hit has none). */
function limitRows(db: Database, limits: Limit[]) {
  return db
    .select()
    .from(rateLimits)
    .where(
      inArray(
        rateLimits.key,
        limits.map((l) => l.key),
      ),
    );
}

/** Give back one hit taken at `at` (a reservation whose outcome does not count). */
export async function releaseHit(db: Database, limit: Limit, at: number): Promise<void> {
  const stored = sql`json_each(${sql.identifier("rate_limits")}.${sql.identifier("hits")})`;
  const index = sql`(SELECT min(${sql.identifier("key")}) FROM ${stored} WHERE value = ${at})`;
  await db
    .update(rateLimits)
    .set({ hits: sql`json_remove(${rateLimits.hits}, '$[' || ${index} || ']')` })
    .where(and(eq(rateLimits.key, limit.key), sql`${index} IS NOT NULL`));
}

export async function clearLimits(db: Database, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await db.delete(rateLimits).where(inArray(rateLimits.key, keys));
}

/** For the cron: drop limits whose every hit has left its window. Returns how many rows it deleted. */
export async function purgeRateLimits(db: Database, now: number): Promise<number> {
  const rows = await db
    .delete(rateLimits)
    .where(lt(rateLimits.expiresAt, now))
    .returning({ key: rateLimits.key });
  return rows.length;
}
