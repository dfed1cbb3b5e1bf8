/**
 * Paying a withdrawal out (contract §17) over M-Pesa B2C, run only by the queue consumer,
 * and what Daraja's word does to it. A payout has exactly ONE B2C attempt, never re-sent:
 *
 * - Daraja refused (or nothing could leave: B2C misconfigured, no OAuth token) → FAILED,
 *   PAYOUT_REVERSED gives the amount back, the organizer is emailed.
 * - No usable answer, a queue timeout → SENT and left alone (money may have moved); the
 *   Result callback or reconciliation's Transaction Status query settles it later, both
 *   through `settleB2CAttempt` (refunds/callbacks.ts), which calls `settlePayoutAttempt`.
 * - Result 0 → COMPLETED (its PAYOUT entry too); Result ≠ 0 → FAILED and reversed.
 *
 * Every change is conditional on the state it expects, and the reversal's entry is unique per
 * payout, so duplicate and out-of-order answers change nothing.
 */
import { and, eq, inArray, isNull, lt, sql } from "drizzle-orm";
import { batchableSql, type Database, runBatch } from "../../db/client";
import { b2cRequests, type PayoutRow, payouts, users } from "../../db/schema";
import type { DeliveryJob, PayoutJob } from "../../delivery/jobs";
import { type B2CClient, B2COutcomeUnknownError, B2CRejectedError } from "../../integrations/mpesa/b2c";
import { DarajaError } from "../../integrations/mpesa/types";
import { payoutReversedStatement, settlePayoutEntryStatement } from "../../inventory/ledger-store";
import { describeError, type Logger } from "../../lib/logger";
import { maskPhoneNumber } from "../../lib/masking";
import { type MailDeps, queueMail } from "../../mail/mailer";
import { payoutReversedMail } from "../../mail/templates";

export interface PayoutOutcomeDeps {
  db: Database;
  mail: MailDeps;
  log: Logger;
}

export interface PayoutSendDeps extends PayoutOutcomeDeps {
  b2c: () => B2CClient;
}

export type PayoutSendOutcome = "not_pending" | "sent" | "reversed" | "outcome_unknown";

/** The queue's `payout` job. */
export async function runPayoutJob(
  deps: PayoutSendDeps,
  job: PayoutJob,
  now = Date.now(),
): Promise<PayoutSendOutcome> {
  const { db, log } = deps;
  const payout = await db.query.payouts.findFirst({ where: eq(payouts.id, job.payoutId) });
  if (payout?.status !== "PENDING") return "not_pending";
  if (payout.b2cRequestId) {
    // An earlier delivery claimed it and never recorded Daraja's answer: it may have sent.
    await markSent(db, payout.id, payout.b2cRequestId, "UNKNOWN", null, now);
    return "outcome_unknown";
  }

  const attemptId = crypto.randomUUID();
  const [[claimed]] = (await runBatch(db, [
    db
      .update(payouts)
      .set({ b2cRequestId: attemptId, updatedAt: now })
      .where(and(eq(payouts.id, payout.id), eq(payouts.status, "PENDING"), isNull(payouts.b2cRequestId)))
      .returning({ id: payouts.id }),
    batchableSql(
      db,
      sql`
      INSERT INTO b2c_requests (id, purpose, subject_id, amount, phone, status, created_at)
      SELECT ${attemptId}, 'PAYOUT', ${payout.id}, ${payout.amount}, ${payout.phone}, 'CREATED', ${now}
      WHERE EXISTS (SELECT 1 FROM payouts WHERE id = ${payout.id} AND b2c_request_id = ${attemptId})`,
    ),
  ])) as [Array<{ id: string }>];
  if (!claimed) return "not_pending";

  try {
    const accepted = await deps.b2c().pay({
      originatorConversationId: attemptId,
      amount: payout.amount,
      phoneNumber: payout.phone,
      remarks: `Payout ${payout.reference}`,
      occasion: payout.reference,
    });
    await markSent(db, payout.id, attemptId, "ACCEPTED", accepted.conversationId, now);
    log.info("payout sent", { payout_id: payout.id, attempt_id: attemptId });
    return "sent";
  } catch (error) {
    const refused =
      error instanceof B2CRejectedError
        ? { code: error.code, reason: error.message }
        : error instanceof DarajaError && (error.kind === "misconfigured" || error.kind === "auth")
          ? // Nothing left us (no request, or no valid token): the money did not move.
            { code: error.kind, reason: error.message }
          : null;
    if (refused) {
      await db
        .update(b2cRequests)
        .set({
          status: "REJECTED",
          resultCode: refused.code.slice(0, 40),
          resultDesc: refused.reason.slice(0, 200),
          answeredAt: now,
        })
        .where(and(eq(b2cRequests.id, attemptId), eq(b2cRequests.status, "CREATED")));
      await reversePayout(deps, payout.id, refused, now);
      log.warn("payout refused; reversed", { payout_id: payout.id, code: refused.code });
      return "reversed";
    }
    await markSent(db, payout.id, attemptId, "UNKNOWN", null, now);
    if (error instanceof B2COutcomeUnknownError) {
      log.warn("payout outcome unknown", { payout_id: payout.id, attempt_id: attemptId });
      return "outcome_unknown";
    }
    // Unexpected: it may have left, so it is SENT (never re-sent); the message is retried
    // only to be logged again, and finds the payout no longer PENDING.
    log.error("payout send failed unexpectedly", { payout_id: payout.id, ...describeError(error) });
    return "outcome_unknown";
  }
}

/** Daraja took it (ACCEPTED) or may have (UNKNOWN): SENT, waiting for its Result. */
async function markSent(
  db: Database,
  payoutId: string,
  attemptId: string,
  status: "ACCEPTED" | "UNKNOWN",
  conversationId: string | null,
  now: number,
) {
  await runBatch(db, [
    db
      .update(b2cRequests)
      .set({ status, answeredAt: now, ...(conversationId ? { conversationId } : {}) })
      .where(and(eq(b2cRequests.id, attemptId), eq(b2cRequests.status, "CREATED"))),
    // A fast Result may have settled the attempt already: keep its ConversationID all the same.
    ...(conversationId
      ? [
          db
            .update(b2cRequests)
            .set({ conversationId })
            .where(and(eq(b2cRequests.id, attemptId), isNull(b2cRequests.conversationId))),
        ]
      : []),
    db
      .update(payouts)
      .set({ status: "SENT", sentAt: now, updatedAt: now })
      .where(
        and(eq(payouts.id, payoutId), eq(payouts.status, "PENDING"), eq(payouts.b2cRequestId, attemptId)),
      ),
  ]);
}

/** What Daraja said about a payout's attempt (the shape of refunds/callbacks' B2CSettlement). */
export type PayoutSettlement =
  | { kind: "paid"; receipt: string | null; amount: number | null }
  | { kind: "failed"; code: string; reason: string }
  | { kind: "timeout"; reason: string };

/** Called once per settled attempt (settleB2CAttempt already made it settle only once). */
export async function settlePayoutAttempt(
  deps: PayoutOutcomeDeps,
  attempt: { id: string; subjectId: string },
  settlement: PayoutSettlement,
  now: number,
): Promise<"completed" | "failed" | "timed_out" | "duplicate"> {
  const payout = await deps.db.query.payouts.findFirst({ where: eq(payouts.id, attempt.subjectId) });
  if (!payout || payout.b2cRequestId !== attempt.id) {
    deps.log.error("payout attempt settled for no payout of its own", { attempt_id: attempt.id });
    return "duplicate";
  }
  if (settlement.kind === "timeout") {
    // Outcome unknown: never re-sent; reconciliation asks Daraja and settles it.
    await deps.db
      .update(payouts)
      .set({
        status: "SENT",
        failureCode: "timeout",
        failureReason: settlement.reason.slice(0, 200),
        updatedAt: now,
      })
      .where(and(eq(payouts.id, payout.id), inArray(payouts.status, ["PENDING", "SENT"])));
    return "timed_out";
  }
  if (settlement.kind === "failed") {
    const reversed = await reversePayout(deps, payout.id, settlement, now);
    return reversed ? "failed" : "duplicate";
  }
  const [[completed]] = (await runBatch(deps.db, [
    deps.db
      .update(payouts)
      .set({
        status: "COMPLETED",
        mpesaReceipt: settlement.receipt,
        completedAt: now,
        failureCode: null,
        failureReason: null,
        updatedAt: now,
      })
      .where(and(eq(payouts.id, payout.id), inArray(payouts.status, ["PENDING", "SENT"])))
      .returning({ id: payouts.id }),
    settlePayoutEntryStatement(deps.db, payout.id, "COMPLETED"),
  ])) as [Array<{ id: string }>];
  if (!completed) {
    deps.log.error("payout paid after it was settled otherwise: needs manual recovery", {
      payout_id: payout.id,
      status: payout.status,
    });
    return "duplicate";
  }
  if (settlement.amount !== null && Math.round(settlement.amount) !== payout.amount) {
    deps.log.error("payout paid a different amount", { payout_id: payout.id });
  }
  return "completed";
}

/**
 * The money did not move: FAILED, its PAYOUT entry FAILED and PAYOUT_REVERSED (+ amount) in
 * one transaction, then the organizer is emailed (once per payout). False if already settled.
 */
export async function reversePayout(
  deps: PayoutOutcomeDeps,
  payoutId: string,
  failure: { code: string; reason: string },
  now = Date.now(),
): Promise<boolean> {
  const [[failed]] = (await runBatch(deps.db, [
    deps.db
      .update(payouts)
      .set({
        status: "FAILED",
        failureCode: failure.code.slice(0, 40),
        failureReason: failure.reason.slice(0, 200),
        failedAt: now,
        updatedAt: now,
      })
      .where(and(eq(payouts.id, payoutId), inArray(payouts.status, ["PENDING", "SENT"])))
      .returning(),
    settlePayoutEntryStatement(deps.db, payoutId, "FAILED"),
    payoutReversedStatement(deps.db, payoutId, now),
  ])) as [PayoutRow[]];
  if (!failed) return false;
  const organizer = await deps.db.query.users.findFirst({
    where: eq(users.id, failed.organizerId),
    columns: { email: true, username: true, firstName: true },
  });
  if (organizer) {
    await queueMail(deps.mail, {
      kind: "payout_reversed",
      to: { email: organizer.email, name: organizer.firstName || organizer.username },
      ...payoutReversedMail({
        name: organizer.firstName || organizer.username,
        amount: failed.amount,
        reference: failed.reference,
        phone: maskPhoneNumber(failed.phone),
      }),
      dedupeKey: `payout:${failed.id}:reversed`,
    });
  }
  return true;
}

const MINUTE = 60_000;
/** A PENDING payout untouched this long lost its queue message (or its send): queued again. */
const STUCK_AFTER_MS = 10 * MINUTE;

/** Cron: payouts recorded but never sent (the queue send failed, the Worker died) go again. */
export async function requeueStuckPayouts(
  db: Database,
  queue: Queue<DeliveryJob>,
  now = Date.now(),
): Promise<number> {
  const stuck = await db
    .select({ id: payouts.id })
    .from(payouts)
    .where(and(eq(payouts.status, "PENDING"), lt(payouts.updatedAt, now - STUCK_AFTER_MS)))
    .limit(50);
  if (stuck.length === 0) return 0;
  await queue.sendBatch(
    stuck.map((p) => ({ body: { type: "payout", payoutId: p.id } satisfies DeliveryJob })),
  );
  // Pushed back, so a payout waiting in the queue is not sent again every minute.
  await db
    .update(payouts)
    .set({ updatedAt: now })
    .where(
      and(
        inArray(
          payouts.id,
          stuck.map((p) => p.id),
        ),
        eq(payouts.status, "PENDING"),
      ),
    );
  return stuck.length;
}
