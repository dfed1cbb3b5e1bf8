import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb, runBatch } from "../src/db/client";
import { rateLimits } from "../src/db/schema";
import {
  consumeLimit,
  exceededLimit,
  isLimitRefusal,
  limitTakeStatements,
  recordHits,
  refusedRetryAfter,
} from "../src/services/rate-limit";

const HOUR = 60 * 60 * 1000;
const MINUTE = 60 * 1000;
/** A clock-hour boundary well away from "now". */
const ELEVEN = Date.UTC(2030, 0, 15, 11, 0, 0);
const db = createDb(env.DB);
const limit = (max = 3) => ({ key: `test:${crypto.randomUUID()}`, max, windowMs: HOUR });

describe("sliding-window rate limits", () => {
  it("allows max in a window, refuses the next, and says when the oldest hit leaves the window", async () => {
    const l = limit();
    const first = ELEVEN + 10 * MINUTE;
    for (const at of [first, first + MINUTE, first + 2 * MINUTE]) {
      expect(await consumeLimit(db, l, at)).toEqual({ allowed: true, retryAfter: 0 });
    }
    const refused = await consumeLimit(db, l, first + 3 * MINUTE);
    expect(refused).toEqual({ allowed: false, retryAfter: 57 * 60 });
    // Asking again while refused does not push the wait out: it still ends an hour after the first.
    expect(await consumeLimit(db, l, first + 30 * MINUTE)).toEqual({ allowed: false, retryAfter: 30 * 60 });
    expect((await consumeLimit(db, l, first + HOUR + 1)).allowed).toBe(true);
    expect((await consumeLimit(db, l, first + HOUR + 2)).allowed).toBe(false);
  });

  it("does not reset at the clock hour: three at 10:59 leave no room until 11:59", async () => {
    const l = limit();
    const late = ELEVEN - MINUTE;
    for (let i = 0; i < 3; i++) expect((await consumeLimit(db, l, late + i)).allowed).toBe(true);
    expect((await consumeLimit(db, l, ELEVEN + MINUTE)).allowed).toBe(false);
    expect((await consumeLimit(db, l, ELEVEN + 58 * MINUTE)).allowed).toBe(false);
    expect((await consumeLimit(db, l, ELEVEN + 59 * MINUTE)).allowed).toBe(true);
  });

  it("never lets two concurrent requests take the last slot", async () => {
    const l = limit(5);
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => consumeLimit(db, l, ELEVEN + i)));
    expect(answers.filter((a) => a.allowed)).toHaveLength(5);
  });

  it("failBatch: the batch commits only with the take; 20 parallel batches against 5 commit 5, the rest write nothing", async () => {
    const l = limit(5);
    const marker = (i: number) => `test:${crypto.randomUUID()}:${i}`;
    const markers = Array.from({ length: 20 }, (_, i) => marker(i));
    const outcomes = await Promise.all(
      markers.map(async (key, i) => {
        const take = limitTakeStatements(db, [l], ELEVEN + i, { failBatch: true });
        // Another write in the same batch, after the take: it must stand or fall with it.
        const other = db.insert(rateLimits).values({ key, hits: "[]", expiresAt: ELEVEN + HOUR });
        return runBatch(db, [...take.statements, other]).then(
          () => "committed",
          (error: unknown) => (isLimitRefusal(error) ? "refused" : String(error)),
        );
      }),
    );
    expect(outcomes.filter((o) => o === "committed")).toHaveLength(5);
    expect(outcomes.filter((o) => o === "refused")).toHaveLength(15);
    const rows = await env.DB.prepare(
      `SELECT count(*) AS n FROM rate_limits WHERE key IN (${markers.map(() => "?").join(",")})`,
    )
      .bind(...markers)
      .first<{ n: number }>();
    expect(rows?.n).toBe(5);
    expect(await exceededLimit(db, [l], ELEVEN + 20)).toEqual({ retryAfter: 60 * 60 });
    expect(await refusedRetryAfter(db, [l], ELEVEN + 20)).toBe(60 * 60);
    expect(isLimitRefusal(new Error("UNIQUE constraint failed: rate_limits.key"))).toBe(false);
  });

  it("recordHits counts every failure and exceededLimit blocks once max are live", async () => {
    const l = limit(5);
    const start = ELEVEN + 50 * MINUTE;
    expect(await exceededLimit(db, [l], start)).toBeNull();
    for (let i = 0; i < 4; i++) expect(await recordHits(db, [l], start + i * MINUTE)).toEqual([i + 1]);
    expect(await exceededLimit(db, [l], start + 4 * MINUTE)).toBeNull();
    // Failures beyond max still count (an attacker does not get a cheaper wait), but only the
    // newest max are kept.
    expect(await recordHits(db, [l], start + 5 * MINUTE)).toEqual([5]);
    expect(await recordHits(db, [l], start + 6 * MINUTE)).toEqual([5]);
    // Blocked until the oldest of the newest five (start + 1 min) is an hour old.
    expect(await exceededLimit(db, [l], start + 7 * MINUTE)).toEqual({ retryAfter: 54 * 60 });
    expect(await exceededLimit(db, [l], start + 61 * MINUTE - 1)).not.toBeNull();
    expect(await exceededLimit(db, [l], start + 61 * MINUTE + 1)).toBeNull();
  });

  it("ignores a stored value that is not a list of timestamps", async () => {
    const l = limit();
    await env.DB.prepare("INSERT INTO rate_limits (key, hits, expires_at) VALUES (?, ?, ?)")
      .bind(l.key, '{"not": "a list"}', ELEVEN + HOUR)
      .run();
    expect(await exceededLimit(db, [l], ELEVEN)).toBeNull();
  });
});
