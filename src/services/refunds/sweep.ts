/**
 * The refund sweep the cron runs (contract §13.3 rule 4, §13.4): nothing about a refund may
 * stay stuck because a message was lost or a callback never came.
 * - PENDING refunds nobody has touched for a while go back on the queue (a lost or dropped
 *   message). Sending is the consumer's claim on PENDING, so a duplicate message is harmless.
 * - PAID_UNFULFILLED orders without their automatic refund get it (the settlement that made
 *   them so may have died between its two writes); at most one per order (rule 5).
 * - SENT for 24 h with no callback: `review_reason` `stale` (never re-sent automatically).
 */
import { and, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { orders, refunds } from "../../db/schema";
import { b2cConfigured } from "../../integrations/mpesa";
import type { Logger } from "../../lib/logger";
import { queueRefundSends } from "./queue";
import { createSystemRefund, type RefundDeps, reservedSql } from "./record";

const MINUTE = 60_000;
/** A PENDING refund untouched this long lost its message (the consumer answers in seconds). */
export const PENDING_STUCK_MS = 10 * MINUTE;
/** §13.4: SENT this long with no callback is stale. */
export const STALE_AFTER_MS = 24 * 60 * MINUTE;
const PER_RUN = 50;

export interface SweepDeps extends RefundDeps {
  log: Logger;
}

export interface RefundSweepResult {
  requeued: number;
  created: number;
  stale: number;
}

export async function sweepRefunds(
  deps: SweepDeps,
  unfulfilledReason: string,
  now = Date.now(),
): Promise<RefundSweepResult> {
  return {
    created: await createMissingUnfulfilledRefunds(deps, unfulfilledReason, now),
    requeued: await requeueStuckPending(deps, now),
    stale: await flagStaleSent(deps, now),
  };
}

/** §13.3 rule 4: "orders already in it are picked up by the scheduled job". */
async function createMissingUnfulfilledRefunds(
  deps: SweepDeps,
  reason: string,
  now: number,
): Promise<number> {
  const missing = await deps.db
    .select({ id: orders.id })
    .from(orders)
    .where(
      and(
        eq(orders.status, "PAID_UNFULFILLED"),
        eq(orders.isFree, false),
        sql`NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = ${orders.id} AND r."trigger" = 'PAID_UNFULFILLED')`,
        sql`CAST(COALESCE(${orders.paidAmount}, 0) AS INTEGER) - ${reservedSql(sql`${orders.id}`)} > 0`,
      ),
    )
    .limit(PER_RUN);
  let created = 0;
  for (const order of missing) {
    const id = await createSystemRefund(deps, order.id, "PAID_UNFULFILLED", reason, now);
    if (id) created += 1;
  }
  return created;
}

/**
 * PENDING and quiet for PENDING_STUCK_MS (a claimed one too: the consumer then settles an
 * attempt it never heard back about as outcome-unknown, never sends it again). With B2C not
 * configured they wait PENDING (§13.2) and are not re-queued.
 */
async function requeueStuckPending(deps: SweepDeps, now: number): Promise<number> {
  if (!b2cConfigured(deps.config)) return 0;
  const stuck = await deps.db
    .update(refunds)
    .set({ updatedAt: now })
    .where(
      inArray(
        refunds.id,
        deps.db
          .select({ id: refunds.id })
          .from(refunds)
          .where(and(eq(refunds.status, "PENDING"), lt(refunds.updatedAt, now - PENDING_STUCK_MS)))
          .limit(PER_RUN),
      ),
    )
    .returning({ id: refunds.id });
  if (stuck.length > 0)
    await queueRefundSends(
      deps.queue,
      stuck.map((r) => r.id),
    );
  return stuck.length;
}

/** §13.4: flag, never re-send. Reconciliation (b2c-reconciliation.ts) may still settle it. */
async function flagStaleSent(deps: SweepDeps, now: number): Promise<number> {
  const flagged = await deps.db
    .update(refunds)
    .set({ reviewReason: "stale", updatedAt: now })
    .where(
      and(eq(refunds.status, "SENT"), lt(refunds.sentAt, now - STALE_AFTER_MS), isNull(refunds.reviewReason)),
    )
    .returning({ id: refunds.id });
  if (flagged.length > 0)
    deps.log.warn("refunds stale: SENT 24 h with no callback", { count: flagged.length });
  return flagged.length;
}
