/**
 * Sending a refund (contract §13.4), run only by the queue consumer. One B2C request per
 * claim: the refund is claimed while PENDING with no attempt in flight (a conditional update
 * that also counts the attempt), the attempt row — whose id IS the OriginatorConversationID —
 * is written in the same transaction, and only then does the request leave.
 *
 * "May money have moved?" decides everything after a failure:
 * - Daraja refused (B2CRejectedError): FAILED; retried automatically only when transient.
 * - No usable answer (B2COutcomeUnknownError): SENT without a ConversationID; the callbacks
 *   settle it; never re-sent automatically.
 * - A redelivered message that finds an attempt in flight it never heard back about treats
 *   it the same way: the first delivery may have sent it.
 */
import { and, eq, isNull, lte, sql } from "drizzle-orm";
import { batchableSql, runBatch } from "../../db/client";
import { b2cRequests, orders, refunds } from "../../db/schema";
import type { RefundJob } from "../../delivery/jobs";
import { type B2CClient, B2COutcomeUnknownError, B2CRejectedError } from "../../integrations/mpesa/b2c";
import { DarajaError } from "../../integrations/mpesa/types";
import { consumeLimit, type Limit } from "../rate-limit";
import { failRefund, isTransientResultCode, type OutcomeDeps } from "./outcome";
import { queueRefundRetry, queueRefundSendLater } from "./queue";

/** Daraja throttles bursts: refunds' B2C requests, at most B2C_REQUESTS_PER_SECOND (5) in any second. */
export function b2cRequestPace(perSecond: number): Limit {
  return { key: "b2c:refund_requests", max: perSecond, windowMs: 1000 };
}

export interface SendDeps extends OutcomeDeps {
  b2c: () => B2CClient;
}

export type SendOutcome = "not_pending" | "not_due" | "sent" | "rejected" | "outcome_unknown" | "unavailable";

/** The queue's `refund` job. Throws only for what a redelivery may fix (then nothing was sent). */
export async function runRefundJob(deps: SendDeps, job: RefundJob, now = Date.now()): Promise<SendOutcome> {
  if (job.retryOf) {
    const reopened = await reopenForAutomaticRetry(deps, job.refundId, job.retryOf, now);
    if (reopened !== "reopened") return reopened;
  }
  return sendRefund(deps, job.refundId, now);
}

/** An automatic retry (§13.4 schedule): FAILED → PENDING, only if still due and untouched. */
async function reopenForAutomaticRetry(
  deps: SendDeps,
  refundId: string,
  retryOf: string,
  now: number,
): Promise<"reopened" | "not_pending" | "not_due"> {
  const refund = await deps.db.query.refunds.findFirst({ where: eq(refunds.id, refundId) });
  if (refund?.status !== "FAILED" || refund.resolution || refund.currentAttemptId !== retryOf)
    return "not_pending";
  if (refund.nextRetryAt === null) return "not_pending";
  if (refund.nextRetryAt > now) {
    // Delivered early (or the clock moved): ask again when it is due.
    await queueRefundRetry(deps.queue, refundId, retryOf, Math.ceil((refund.nextRetryAt - now) / 1000));
    return "not_due";
  }
  const [reopened] = await deps.db
    .update(refunds)
    .set({ status: "PENDING", currentAttemptId: null, nextRetryAt: null, updatedAt: now })
    .where(
      and(
        eq(refunds.id, refundId),
        eq(refunds.status, "FAILED"),
        isNull(refunds.resolution),
        eq(refunds.currentAttemptId, retryOf),
        lte(refunds.nextRetryAt, now),
      ),
    )
    .returning({ id: refunds.id });
  return reopened ? "reopened" : "not_pending";
}

export async function sendRefund(deps: SendDeps, refundId: string, now = Date.now()): Promise<SendOutcome> {
  const { db, log } = deps;
  const refund = await db.query.refunds.findFirst({ where: eq(refunds.id, refundId) });
  if (refund?.status !== "PENDING") return "not_pending";
  if (refund.currentAttemptId) {
    // An earlier delivery claimed it and never recorded Daraja's answer: it may have sent.
    await markOutcomeUnknown(deps, refund.id, refund.currentAttemptId, now);
    return "outcome_unknown";
  }
  // §13.3 rule 3: at most 5 B2C requests a second, whatever the backlog. The spread of the
  // initial delays is not enough: a queue that falls behind delivers them all at once.
  const slot = await consumeLimit(db, b2cRequestPace(deps.config.mpesa.b2c.requestsPerSecond), now);
  if (!slot.allowed) {
    // Spread the waiting ones over the next half minute, so they do not all come back together.
    await queueRefundSendLater(deps.queue, refund.id, slot.retryAfter + Math.floor(Math.random() * 30));
    return "not_due";
  }
  const order = await db.query.orders.findFirst({
    where: eq(orders.id, refund.orderId),
    columns: { reference: true },
  });
  const reference = order?.reference ?? refund.orderId.slice(0, 12);

  const attemptId = crypto.randomUUID();
  const [[claimed]] = (await runBatch(db, [
    db
      .update(refunds)
      .set({ currentAttemptId: attemptId, attempts: sql`${refunds.attempts} + 1`, updatedAt: now })
      .where(and(eq(refunds.id, refund.id), eq(refunds.status, "PENDING"), isNull(refunds.currentAttemptId)))
      .returning({ id: refunds.id }),
    batchableSql(
      db,
      sql`
      INSERT INTO b2c_requests (id, purpose, subject_id, amount, phone, status, created_at)
      SELECT ${attemptId}, 'REFUND', ${refund.id}, ${refund.amount}, ${refund.phone}, 'CREATED', ${now}
      WHERE EXISTS (SELECT 1 FROM refunds WHERE id = ${refund.id} AND current_attempt_id = ${attemptId})`,
    ),
  ])) as [Array<{ id: string }>];
  if (!claimed) return "not_pending";

  try {
    const accepted = await deps.b2c().pay({
      originatorConversationId: attemptId,
      amount: refund.amount,
      phoneNumber: refund.phone,
      remarks: `Refund ${reference}`,
      occasion: reference,
    });
    await runBatch(db, [
      db
        .update(b2cRequests)
        .set({ status: "ACCEPTED", conversationId: accepted.conversationId, answeredAt: now })
        .where(and(eq(b2cRequests.id, attemptId), eq(b2cRequests.status, "CREATED"))),
      // A fast Result may already have settled it: then it is not PENDING any more.
      db
        .update(b2cRequests)
        .set({ conversationId: accepted.conversationId })
        .where(and(eq(b2cRequests.id, attemptId), isNull(b2cRequests.conversationId))),
      db
        .update(refunds)
        .set({ status: "SENT", sentAt: now, updatedAt: now })
        .where(
          and(
            eq(refunds.id, refund.id),
            eq(refunds.status, "PENDING"),
            eq(refunds.currentAttemptId, attemptId),
          ),
        ),
    ]);
    log.info("refund sent", { refund_id: refund.id, attempt_id: attemptId });
    return "sent";
  } catch (error) {
    if (error instanceof B2CRejectedError) {
      await db
        .update(b2cRequests)
        .set({
          status: "REJECTED",
          resultCode: error.code,
          resultDesc: error.message.slice(0, 200),
          answeredAt: now,
        })
        .where(and(eq(b2cRequests.id, attemptId), eq(b2cRequests.status, "CREATED")));
      await failRefund(
        deps,
        refund.id,
        attemptId,
        {
          code: error.code,
          reason: error.message,
          transient: error.transient || isTransientResultCode(error.code),
        },
        now,
      );
      log.warn("refund rejected by Daraja", {
        refund_id: refund.id,
        attempt_id: attemptId,
        code: error.code,
      });
      return "rejected";
    }
    if (error instanceof B2COutcomeUnknownError) {
      await markOutcomeUnknown(deps, refund.id, attemptId, now);
      log.warn("refund outcome unknown", {
        refund_id: refund.id,
        attempt_id: attemptId,
        status: error.status,
      });
      return "outcome_unknown";
    }
    if (error instanceof DarajaError && (error.kind === "misconfigured" || error.kind === "auth")) {
      // Nothing left us (no request, or no valid token): undo the claim; it waits PENDING.
      await runBatch(db, [
        db.delete(b2cRequests).where(and(eq(b2cRequests.id, attemptId), eq(b2cRequests.status, "CREATED"))),
        db
          .update(refunds)
          .set({ currentAttemptId: null, attempts: sql`${refunds.attempts} - 1`, updatedAt: now })
          .where(and(eq(refunds.id, refund.id), eq(refunds.currentAttemptId, attemptId))),
      ]);
      log.error("refund not sent: B2C unavailable", { refund_id: refund.id, kind: error.kind });
      if (error.kind === "auth") throw error;
      return "unavailable";
    }
    // Unexpected: we cannot tell whether it left, so treat it as possibly sent.
    await markOutcomeUnknown(deps, refund.id, attemptId, now);
    throw error;
  }
}

/** Daraja may have taken it: SENT without a ConversationID; only a callback (or a human) settles it. */
async function markOutcomeUnknown(deps: SendDeps, refundId: string, attemptId: string, now: number) {
  await runBatch(deps.db, [
    deps.db
      .update(b2cRequests)
      .set({ status: "UNKNOWN", answeredAt: now })
      .where(and(eq(b2cRequests.id, attemptId), eq(b2cRequests.status, "CREATED"))),
    deps.db
      .update(refunds)
      .set({ status: "SENT", sentAt: now, updatedAt: now })
      .where(
        and(eq(refunds.id, refundId), eq(refunds.status, "PENDING"), eq(refunds.currentAttemptId, attemptId)),
      ),
  ]);
}
