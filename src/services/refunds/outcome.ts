/**
 * What an attempt's outcome does to its refund (contract §13.4, §13.5). Every change is a
 * conditional update on the state it expects AND on the attempt still being the refund's
 * current one, so a late or repeated answer about an older attempt never moves it back.
 */
import { and, eq, inArray, isNull, or, sql } from "drizzle-orm";
import type { Config } from "../../config";
import { type Database, runBatch } from "../../db/client";
import { events, orders, type Refund, refunds, refundTickets, users } from "../../db/schema";
import type { DeliveryJob } from "../../delivery/jobs";
import { refundEntryStatement } from "../../inventory/ledger-store";
import type { Logger } from "../../lib/logger";
import { type MailDeps, queueMail } from "../../mail/mailer";
import { refundCompletedMail } from "../../mail/templates";
import { organizerOrderById } from "../organizer-order-rows";
import { orderRefundedEvent } from "../webhooks/events";
import { announcement, enqueueAnnouncement, type OutboxWrite, outboxStatements } from "../webhooks/outbox";
import { queueRefundRetry } from "./queue";

export interface OutcomeDeps {
  db: Database;
  config: Config;
  mail: MailDeps;
  queue: Queue<DeliveryJob>;
  log: Logger;
}

/** §13.4: definite transient refusals, retried automatically (utility account short, system busy). */
const TRANSIENT_RESULT_CODES = new Set(["1", "17", "26"]);
/** After 1, 6 and 36 × REFUND_RETRY_BASE_SECONDS (10 min, 1 h, 6 h by default), then the organizer decides. */
const RETRY_FACTORS = [1, 6, 36] as const;

export function isTransientResultCode(code: string): boolean {
  return TRANSIENT_RESULT_CODES.has(code);
}

/**
 * The refund FAILED on `attemptId`: with an automatic retry scheduled when the refusal was
 * definite and transient and retries remain. A timeout is never retried automatically
 * (money may have moved): `retryable` is only advice for the organizer.
 */
export async function failRefund(
  deps: OutcomeDeps,
  refundId: string,
  attemptId: string,
  failure: {
    code: string;
    reason: string;
    transient: boolean;
    timeout?: boolean;
    /** Advice for the organizer when it differs from `transient || timeout`. */
    retryable?: boolean;
    /**
     * Reconciliation proved the attempt behind a `timeout` failure never paid: the refund,
     * already FAILED by `timeout`, takes this failure instead (so `retry_too_soon` lifts).
     */
    fromTimeout?: boolean;
  },
  now = Date.now(),
): Promise<boolean> {
  const current = await deps.db.query.refunds.findFirst({
    where: eq(refunds.id, refundId),
    columns: { autoRetries: true },
  });
  const factor = RETRY_FACTORS[current?.autoRetries ?? RETRY_FACTORS.length];
  const autoRetry = failure.transient && !failure.timeout && factor !== undefined;
  const delaySeconds = autoRetry ? factor * deps.config.mpesa.b2c.retryBaseSeconds : 0;
  const [failed] = await deps.db
    .update(refunds)
    .set({
      status: "FAILED",
      failureCode: failure.code.slice(0, 40),
      failureReason: failure.reason.slice(0, 200),
      retryable: failure.retryable ?? (failure.transient || Boolean(failure.timeout)),
      failedAt: now,
      nextRetryAt: autoRetry ? now + delaySeconds * 1000 : null,
      ...(autoRetry ? { autoRetries: sql`${refunds.autoRetries} + 1` } : {}),
      updatedAt: now,
    })
    .where(
      and(
        eq(refunds.id, refundId),
        failure.fromTimeout
          ? or(
              inArray(refunds.status, ["PENDING", "SENT"]),
              and(
                eq(refunds.status, "FAILED"),
                eq(refunds.failureCode, "timeout"),
                isNull(refunds.resolution),
              ),
            )
          : inArray(refunds.status, ["PENDING", "SENT"]),
        eq(refunds.currentAttemptId, attemptId),
      ),
    )
    .returning({ id: refunds.id });
  if (!failed) return false;
  if (autoRetry) await queueRefundRetry(deps.queue, refundId, attemptId, delaySeconds);
  return true;
}

/**
 * Result 0 for `attemptId`: the money arrived. The refund completes whatever state it was
 * in (a queue timeout, FAILED, even ABANDONED: the money moved); a refund that another
 * attempt (or a manual resolution) completed first is flagged `duplicate_payout`.
 */
export async function completeRefund(
  deps: OutcomeDeps,
  refundId: string,
  result: { receipt: string | null; amount: number | null },
  now = Date.now(),
): Promise<"completed" | "duplicate_payout" | "unknown"> {
  const refund = await deps.db.query.refunds.findFirst({ where: eq(refunds.id, refundId) });
  if (!refund) return "unknown";
  if (refund.status === "COMPLETED") {
    // Heal a ledger entry (and the organizer's `order.refunded`) a crash between the writes
    // may have left out (both idempotent).
    const outbox = await refundedOutbox(deps.db, refund, now);
    const healed = await runBatch(deps.db, [
      refundEntryStatement(deps.db, refund.id, now),
      ...(outbox?.statements ?? []),
    ]);
    if (outbox) await enqueueAnnouncement(deps, announcement(outbox, healed.at(-1)));
    await deps.db
      .update(refunds)
      .set({ reviewReason: "duplicate_payout", updatedAt: now })
      .where(eq(refunds.id, refundId));
    deps.log.error("refund paid twice: needs manual recovery", { refund_id: refundId });
    return "duplicate_payout";
  }
  const mismatch = result.amount !== null && result.amount !== refund.amount;
  const [completed] = await deps.db
    .update(refunds)
    .set({
      status: "COMPLETED",
      mpesaReceipt: result.receipt,
      completedAt: now,
      // Settled at last (e.g. by reconciliation): no longer stale.
      ...(refund.reviewReason === "stale" ? { reviewReason: null } : {}),
      // Paid after being abandoned: its amount is reserved again, and a human should look.
      ...(refund.resolution === "ABANDONED"
        ? { resolution: null, reviewReason: "duplicate_payout" as const }
        : {}),
      ...(mismatch ? { reviewReason: "amount_mismatch" as const } : {}),
      updatedAt: now,
    })
    .where(and(eq(refunds.id, refundId), inArray(refunds.status, ["PENDING", "SENT", "FAILED"])))
    .returning();
  if (!completed) return completeRefund(deps, refundId, result, now);
  await afterCompleted(deps, completed, now);
  return "completed";
}

/**
 * The organizer's REFUND ledger entry (contract §17; once per refund, and only for an order
 * whose sale is in the ledger) and the order's refund state follow, and the buyer is told
 * (once per refund).
 */
export async function afterCompleted(deps: OutcomeDeps, refund: Refund, now = Date.now()): Promise<void> {
  const outbox = await refundedOutbox(deps.db, refund, now);
  const results = await runBatch(deps.db, [
    refundEntryStatement(deps.db, refund.id, now),
    deps.db
      .update(orders)
      .set({
        refundStatus: sql`CASE WHEN (SELECT COALESCE(SUM(amount), 0) FROM refunds WHERE order_id = ${refund.orderId} AND status = 'COMPLETED') >= CAST(COALESCE(${orders.paidAmount}, 0) AS INTEGER) THEN 'REFUNDED' ELSE ${orders.refundStatus} END`,
        updatedAt: now,
      })
      .where(eq(orders.id, refund.orderId)),
    ...(outbox?.statements ?? []),
  ]);
  if (outbox) await enqueueAnnouncement(deps, announcement(outbox, results.at(-1)));
  const [row] = await deps.db
    .select({ order: orders, title: events.title, username: users.username })
    .from(orders)
    .innerJoin(events, eq(events.id, orders.eventId))
    .innerJoin(users, eq(users.id, orders.userId))
    .where(eq(orders.id, refund.orderId))
    .limit(1);
  if (!row) return;
  const mail = refundCompletedMail({
    buyerName: row.order.buyerName || row.username,
    eventTitle: row.title,
    amount: refund.amount,
    receipt: refund.mpesaReceipt,
    orderReference: row.order.reference,
    reason: refund.reason,
  });
  await queueMail(deps.mail, {
    kind: "refund_completed",
    to: { email: row.order.buyerEmail, name: row.order.buyerName },
    ...mail,
    dedupeKey: `refund:${refund.id}:completed`,
    orderId: row.order.id,
  });
}

/**
 * The organizer's `order.refunded` (contract v3 §16.2) for a refund already COMPLETED: the
 * order as it stands with this refund counted, and the refund. Written by the caller's batch.
 */
async function refundedOutbox(db: Database, refund: Refund, now: number): Promise<OutboxWrite | undefined> {
  const [order, cancelled] = await Promise.all([
    organizerOrderById(db, refund.orderId),
    db
      .select({ id: refundTickets.ticketId })
      .from(refundTickets)
      .where(eq(refundTickets.refundId, refund.id)),
  ]);
  if (!order) return undefined;
  const view = { refund, orderReference: order.order.reference, ticketIds: cancelled.map((t) => t.id) };
  return outboxStatements(db, orderRefundedEvent(order, view), now);
}
