/**
 * Reconciliation of B2C attempts Daraja never gave us a final word on (no Result: the
 * request hung, the Result was lost, or Daraja's queue timed out). The cron asks Daraja's
 * Transaction Status query about each; its asynchronous Result (status callback route)
 * settles the attempt through the same `settleB2CAttempt` the B2C Result uses, so refunds
 * and payouts alike follow.
 *
 * It never sends money: it only asks. "Completed" settles the attempt as paid; "failed" or
 * "no such transaction" counts only after GRACE_MS (Daraja may not have recorded a request
 * it accepted a moment ago) and then settles it as not paid, which lets the refund be retried
 * (§13.4) — by the organizer, never automatically. A query that fails, or an answer that says
 * neither, leaves the attempt for a later run.
 */
import { and, eq, gt, inArray, isNull, lt, or } from "drizzle-orm";
import { b2cRequests } from "../db/schema";
import { type B2CClient, StatusQueryError } from "../integrations/mpesa/b2c";
import type { TransactionStatusResult } from "../integrations/mpesa/schemas";
import { DarajaError } from "../integrations/mpesa/types";
import { describeError } from "../lib/logger";
import { type B2CCallbackOutcome, OPEN_FOR_RESULT, settleB2CAttempt } from "./refunds/callbacks";
import type { OutcomeDeps } from "./refunds/outcome";

export interface ReconciliationDeps extends OutcomeDeps {
  b2c: () => B2CClient;
}

const MINUTE = 60_000;
/** An attempt with no Result this long after it was sent is asked about. */
export const RECONCILE_AFTER_MS = 15 * MINUTE;
/** And asked again at most this often while it stays open. */
export const REQUERY_INTERVAL_MS = 15 * MINUTE;
/** "Failed" / "not found" is believed only for attempts at least this old. */
export const GRACE_MS = 60 * MINUTE;
/** Attempts older than this are left to people (§13.4 `stale`): we stop asking. */
const GIVE_UP_AFTER_MS = 30 * 24 * 60 * MINUTE;
/** Bounded work per cron run (2 requests a second to Daraja at most, in sequence). */
const PER_RUN = 20;

/**
 * ResultCodes of the query's own Result meaning "no such transaction". UNVERIFIED (see
 * README): any other code ≠ 0 is treated as the query failing, and asked again later.
 */
const NOT_FOUND_RESULT_CODES = new Set(["R000001", "R000002"]);
/** `TransactionStatus` values that say the money did not move (case-insensitive). */
const NOT_PAID_STATUSES = new Set(["failed", "declined", "cancelled", "expired", "reversed"]);

/** The cron step: ask about every open attempt that is due. Returns how many queries Daraja accepted. */
export async function queryOpenB2CAttempts(deps: ReconciliationDeps, now = Date.now()): Promise<number> {
  const due = await deps.db
    .select()
    .from(b2cRequests)
    .where(
      and(
        inArray(b2cRequests.status, [...OPEN_FOR_RESULT]),
        lt(b2cRequests.createdAt, now - RECONCILE_AFTER_MS),
        gt(b2cRequests.createdAt, now - GIVE_UP_AFTER_MS),
        or(isNull(b2cRequests.statusQueriedAt), lt(b2cRequests.statusQueriedAt, now - REQUERY_INTERVAL_MS)),
      ),
    )
    .orderBy(b2cRequests.createdAt)
    .limit(PER_RUN);
  let asked = 0;
  for (const attempt of due) {
    // Claim the turn first (conditional), so two overlapping runs never both ask.
    const [claimed] = await deps.db
      .update(b2cRequests)
      .set({ statusQueriedAt: now, statusQueries: attempt.statusQueries + 1 })
      .where(and(eq(b2cRequests.id, attempt.id), eq(b2cRequests.statusQueries, attempt.statusQueries)))
      .returning({ id: b2cRequests.id });
    if (!claimed) continue;
    try {
      const accepted = await deps.b2c().queryStatus(attempt.id);
      await deps.db
        .update(b2cRequests)
        .set({ statusQueryId: accepted.conversationId })
        .where(eq(b2cRequests.id, attempt.id));
      asked += 1;
    } catch (error) {
      if (!(error instanceof StatusQueryError || error instanceof DarajaError)) throw error;
      // Nothing moved: the next run (after REQUERY_INTERVAL_MS) asks again.
      deps.log.warn("b2c status query failed", { attempt_id: attempt.id, ...describeError(error) });
      if (error instanceof DarajaError && error.kind === "misconfigured") break;
    }
  }
  return asked;
}

export type StatusResultOutcome = B2CCallbackOutcome | "unknown_query" | "inconclusive" | "too_early";

/** The query's Result (status callback route): settle the attempt it was about, or leave it. */
export async function settleStatusResult(
  deps: OutcomeDeps,
  result: TransactionStatusResult,
  now = Date.now(),
): Promise<StatusResultOutcome> {
  const attempt = await deps.db.query.b2cRequests.findFirst({
    where: eq(b2cRequests.statusQueryId, result.queryConversationId),
  });
  if (!attempt) return "unknown_query";
  const record = {
    resultCode: "",
    resultDesc: result.resultDesc,
    conversationId: null,
    now,
  };
  const status = result.transactionStatus?.toLowerCase() ?? null;
  if (result.resultCode === "0" && status === "completed") {
    return settleB2CAttempt(
      deps,
      attempt,
      { kind: "paid", receipt: result.receipt, amount: result.amount },
      { ...record, resultCode: "0" },
    );
  }
  const notFound = NOT_FOUND_RESULT_CODES.has(result.resultCode);
  const notPaid = result.resultCode === "0" && status !== null && NOT_PAID_STATUSES.has(status);
  if (!notFound && !notPaid) {
    deps.log.warn("b2c status result inconclusive", {
      attempt_id: attempt.id,
      result_code: result.resultCode,
      transaction_status: result.transactionStatus,
    });
    return "inconclusive";
  }
  if (now - attempt.createdAt < GRACE_MS) return "too_early";
  const code = notFound ? "not_found" : "status_failed";
  const reason = notFound
    ? "Daraja's transaction status query found no such payment."
    : `Daraja's transaction status query says ${result.transactionStatus}.`;
  return settleB2CAttempt(
    deps,
    attempt,
    { kind: "failed", code, reason, transient: false, reopenTimeout: true },
    { ...record, resultCode: code },
  );
}
