/**
 * The cron trigger (every minute): settle PENDING orders whose hold lapsed (STK query), then
 * housekeeping that keeps D1 small and nothing stuck.
 * Each step is independent and bounded; one failing does not stop the others.
 */
import { and, eq, gt, isNotNull, isNull, lt, or } from "drizzle-orm";
import type { Services } from "./compose";
import type { Database } from "./db/client";
import {
  accountTokens,
  authSessions,
  blacklistedTokens,
  idempotencyKeys,
  mailLog,
  rateLimits,
} from "./db/schema";
import { describeError } from "./lib/logger";
import { MAIL_RETRY_WINDOW_MS } from "./mail/mailer";
import { settlePendingOrders } from "./services/settlement";
import { requeueUndeliveredOrders } from "./services/ticket-delivery";

const DAY = 24 * 60 * 60 * 1000;
/** A QUEUED mail untouched this long lost its queue message; send it again. */
const STUCK_MAIL_MS = 5 * 60 * 1000;

export async function runScheduled(
  services: Services,
  now = Date.now(),
): Promise<Record<string, number | string>> {
  const { db, log, queue } = services;
  const results: Record<string, number | string> = {};

  // Money first: settle orders whose hold lapsed without a callback.
  try {
    const settlement = await settlePendingOrders(services, log, now);
    for (const [key, value] of Object.entries(settlement)) results[`settlement_${key}`] = value;
  } catch (error) {
    results.settlement = "error";
    log.error("settlement failed", describeError(error));
  }

  const steps: Array<[string, () => Promise<number>]> = [
    ["purged_blacklisted_tokens", () => purgeExpiredBlacklist(db, now)],
    ["purged_sessions", () => purgeDeadSessions(db, now)],
    ["purged_account_tokens", () => purgeAccountTokens(db, now)],
    ["purged_rate_limits", () => purgeRateLimits(db, now)],
    ["purged_idempotency_keys", () => purgeIdempotencyKeys(db, now)],
    ["requeued_mail", () => requeueStuckMail(db, queue, now)],
    ["requeued_ticket_deliveries", () => requeueUndeliveredOrders(db, queue, now)],
  ];
  for (const [name, step] of steps) {
    try {
      results[name] = await step();
    } catch (error) {
      results[name] = "error";
      log.error(`cron step ${name} failed`, describeError(error));
    }
  }
  log.info("cron finished", results);
  return results;
}

async function purgeExpiredBlacklist(db: Database, now: number): Promise<number> {
  const rows = await db
    .delete(blacklistedTokens)
    .where(lt(blacklistedTokens.expiresAt, now))
    .returning({ jti: blacklistedTokens.jti });
  return rows.length;
}

async function purgeDeadSessions(db: Database, now: number): Promise<number> {
  // Keep revoked sessions a week for audit; expired ones can go at once.
  const rows = await db
    .delete(authSessions)
    .where(
      or(
        lt(authSessions.expiresAt, now),
        and(isNotNull(authSessions.revokedAt), lt(authSessions.revokedAt, now - 7 * DAY)),
      ),
    )
    .returning({ id: authSessions.id });
  return rows.length;
}

async function purgeAccountTokens(db: Database, now: number): Promise<number> {
  const rows = await db
    .delete(accountTokens)
    .where(lt(accountTokens.expiresAt, now - DAY))
    .returning({ id: accountTokens.id });
  return rows.length;
}

async function purgeRateLimits(db: Database, now: number): Promise<number> {
  const rows = await db
    .delete(rateLimits)
    .where(lt(rateLimits.expiresAt, now))
    .returning({ key: rateLimits.key });
  return rows.length;
}

async function purgeIdempotencyKeys(db: Database, now: number): Promise<number> {
  const rows = await db
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.expiresAt, now))
    .returning({ key: idempotencyKeys.key });
  return rows.length;
}

async function requeueStuckMail(db: Database, queue: Queue, now: number): Promise<number> {
  const stuck = await db
    .select({ id: mailLog.id })
    .from(mailLog)
    .where(
      and(
        eq(mailLog.status, "QUEUED"),
        lt(mailLog.createdAt, now - STUCK_MAIL_MS),
        // Keep trying for a day (Brevo down for an hour must not lose mail), then a human looks.
        gt(mailLog.createdAt, now - MAIL_RETRY_WINDOW_MS),
        or(isNull(mailLog.lockedUntil), lt(mailLog.lockedUntil, now)),
      ),
    )
    .limit(100);
  if (stuck.length === 0) return 0;
  await queue.sendBatch(stuck.map((row) => ({ body: { type: "mail", mailId: row.id } })));
  return stuck.length;
}
