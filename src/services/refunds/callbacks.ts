/**
 * Daraja's word on a B2C attempt — its Result and queue-timeout callbacks (contract §13.5),
 * or a Transaction Status query's answer (reconciliation.ts) — settles the attempt here.
 * Matched on our own OriginatorConversationID (a b2c_requests row); when we hold Daraja's
 * ConversationID it must match too. An attempt settles once: a conditional update on its
 * state, so repeats, and a failure arriving after a success, change nothing. Then its
 * purpose decides what follows (`dispatchSettlement`: refunds, and organizer payouts).
 */
import { and, eq, inArray } from "drizzle-orm";
import { type B2CRequestRow as B2CRequest, b2cRequests } from "../../db/schema";
import type { B2CResult } from "../../integrations/mpesa/schemas";
import { settlePayoutAttempt } from "../organizer-wallet/payouts";
import { completeRefund, failRefund, isTransientResultCode, type OutcomeDeps } from "./outcome";

export type B2CCallbackOutcome =
  | "unknown_request"
  | "unknown"
  | "conversation_mismatch"
  | "duplicate"
  | "completed"
  | "duplicate_payout"
  | "failed"
  | "timed_out"
  | "unhandled_purpose";

/** What Daraja said about an attempt, whichever way it told us. */
export type B2CSettlement =
  /** The money moved. */
  | { kind: "paid"; receipt: string | null; amount: number | null }
  /**
   * Definitely not paid. `reopenTimeout`: the status query proved that an attempt which timed
   * out never paid, so a refund FAILED by `timeout` takes this code (and may be retried now).
   */
  | { kind: "failed"; code: string; reason: string; transient: boolean; reopenTimeout?: boolean }
  /** Daraja's queue timed out: outcome unknown, never re-sent automatically. */
  | { kind: "timeout"; reason: string };

/** A Result may settle an attempt we have not heard final word on (a timeout is not final). */
export const OPEN_FOR_RESULT = ["CREATED", "ACCEPTED", "UNKNOWN", "TIMED_OUT"] as const;
/** A queue timeout only says something about an attempt nothing has settled. */
const OPEN_FOR_TIMEOUT = ["CREATED", "ACCEPTED", "UNKNOWN"] as const;

export async function settleB2CCallback(
  deps: OutcomeDeps,
  kind: "result" | "timeout",
  result: B2CResult,
  now = Date.now(),
): Promise<B2CCallbackOutcome> {
  const attempt = await deps.db.query.b2cRequests.findFirst({
    where: eq(b2cRequests.id, result.originatorConversationId),
  });
  if (!attempt) return "unknown_request";
  if (attempt.conversationId && result.conversationId && attempt.conversationId !== result.conversationId) {
    deps.log.warn("b2c callback with a foreign ConversationID ignored", { attempt_id: attempt.id });
    return "conversation_mismatch";
  }
  const code = String(result.resultCode);
  const settlement: B2CSettlement =
    kind === "timeout"
      ? { kind: "timeout", reason: result.resultDesc || "Timed out in Daraja's queue" }
      : result.resultCode === 0
        ? { kind: "paid", receipt: result.receipt, amount: result.amount }
        : { kind: "failed", code, reason: result.resultDesc, transient: isTransientResultCode(code) };
  return settleB2CAttempt(deps, attempt, settlement, {
    resultCode: kind === "timeout" ? "timeout" : code,
    resultDesc: result.resultDesc,
    conversationId: result.conversationId,
    now,
  });
}

/** Settles `attempt` once (conditional on its state), then lets its purpose act on it. */
export async function settleB2CAttempt(
  deps: OutcomeDeps,
  attempt: B2CRequest,
  settlement: B2CSettlement,
  record: { resultCode: string; resultDesc: string; conversationId: string | null; now: number },
): Promise<B2CCallbackOutcome> {
  const paid = settlement.kind === "paid";
  const settled = await deps.db
    .update(b2cRequests)
    .set({
      status: settlement.kind === "timeout" ? "TIMED_OUT" : paid ? "COMPLETED" : "FAILED",
      resultCode: record.resultCode.slice(0, 40),
      resultDesc: record.resultDesc.slice(0, 200),
      receipt: paid ? settlement.receipt : null,
      resultAmount: paid && settlement.amount !== null ? Math.round(settlement.amount) : null,
      conversationId: attempt.conversationId ?? record.conversationId,
      settledAt: record.now,
    })
    .where(
      and(
        eq(b2cRequests.id, attempt.id),
        inArray(
          b2cRequests.status,
          settlement.kind === "timeout" ? [...OPEN_FOR_TIMEOUT] : [...OPEN_FOR_RESULT],
        ),
      ),
    )
    .returning({ id: b2cRequests.id });
  if (settled.length === 0) return "duplicate";
  return dispatchSettlement(deps, attempt, settlement, record.now);
}

/** The one place an attempt's purpose decides what a settled outcome does. */
async function dispatchSettlement(
  deps: OutcomeDeps,
  attempt: B2CRequest,
  settlement: B2CSettlement,
  now: number,
): Promise<B2CCallbackOutcome> {
  switch (attempt.purpose) {
    case "REFUND":
      return settleRefundAttempt(deps, attempt, settlement, now);
    case "PAYOUT":
      return settlePayoutAttempt(deps, attempt, settlement, now);
    default:
      deps.log.error("b2c attempt settled with no handler for its purpose", {
        attempt_id: attempt.id,
        purpose: attempt.purpose,
      });
      return "unhandled_purpose";
  }
}

async function settleRefundAttempt(
  deps: OutcomeDeps,
  attempt: B2CRequest,
  settlement: B2CSettlement,
  now: number,
): Promise<B2CCallbackOutcome> {
  if (settlement.kind === "paid") {
    return completeRefund(
      deps,
      attempt.subjectId,
      { receipt: settlement.receipt, amount: settlement.amount },
      now,
    );
  }
  if (settlement.kind === "timeout") {
    await failRefund(
      deps,
      attempt.subjectId,
      attempt.id,
      { code: "timeout", reason: settlement.reason, transient: false, timeout: true },
      now,
    );
    return "timed_out";
  }
  await failRefund(
    deps,
    attempt.subjectId,
    attempt.id,
    {
      code: settlement.code,
      reason: settlement.reason,
      transient: settlement.transient,
      ...(settlement.reopenTimeout ? { retryable: true, fromTimeout: true } : {}),
    },
    now,
  );
  return "failed";
}
