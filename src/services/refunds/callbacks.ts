/**
 * Daraja's B2C Result and queue-timeout callbacks (contract §13.5). Matched on our own
 * OriginatorConversationID (a b2c_requests row); when we hold Daraja's ConversationID it must
 * match too. An attempt settles once: a conditional update on its state, so repeats, and a
 * failure arriving after a success, change nothing. Then its purpose decides what follows
 * (refunds today; payouts will join here).
 */
import { and, eq, inArray } from "drizzle-orm";
import { b2cRequests } from "../../db/schema";
import type { B2CResult } from "../../integrations/mpesa/schemas";
import { completeRefund, failRefund, isTransientResultCode, type OutcomeDeps } from "./outcome";

export type B2CCallbackOutcome =
  | "unknown_request"
  | "unknown"
  | "conversation_mismatch"
  | "duplicate"
  | "completed"
  | "duplicate_payout"
  | "failed"
  | "timed_out";

/** A Result may settle an attempt we have not heard final word on (a timeout is not final). */
const OPEN_FOR_RESULT = ["CREATED", "ACCEPTED", "UNKNOWN", "TIMED_OUT"] as const;
/** A queue timeout only says something about an attempt nothing has settled. */
const OPEN_FOR_TIMEOUT = ["CREATED", "ACCEPTED", "UNKNOWN"] as const;

export async function settleB2CCallback(
  deps: OutcomeDeps,
  kind: "result" | "timeout",
  result: B2CResult,
  now = Date.now(),
): Promise<B2CCallbackOutcome> {
  const { db, log } = deps;
  const attempt = await db.query.b2cRequests.findFirst({
    where: eq(b2cRequests.id, result.originatorConversationId),
  });
  if (!attempt) return "unknown_request";
  if (attempt.conversationId && result.conversationId && attempt.conversationId !== result.conversationId) {
    log.warn("b2c callback with a foreign ConversationID ignored", { attempt_id: attempt.id });
    return "conversation_mismatch";
  }

  const paid = kind === "result" && result.resultCode === 0;
  const settled = await db
    .update(b2cRequests)
    .set({
      status: kind === "timeout" ? "TIMED_OUT" : paid ? "COMPLETED" : "FAILED",
      resultCode: kind === "timeout" ? "timeout" : String(result.resultCode),
      resultDesc: result.resultDesc,
      receipt: paid ? result.receipt : null,
      resultAmount: paid && result.amount !== null ? Math.round(result.amount) : null,
      conversationId: attempt.conversationId ?? result.conversationId,
      settledAt: now,
    })
    .where(
      and(
        eq(b2cRequests.id, attempt.id),
        inArray(b2cRequests.status, kind === "timeout" ? [...OPEN_FOR_TIMEOUT] : [...OPEN_FOR_RESULT]),
      ),
    )
    .returning({ id: b2cRequests.id });
  if (settled.length === 0) return "duplicate";
  if (attempt.purpose !== "REFUND") return "duplicate";

  if (kind === "timeout") {
    await failRefund(
      deps,
      attempt.subjectId,
      attempt.id,
      {
        code: "timeout",
        reason: result.resultDesc || "Timed out in Daraja's queue",
        transient: false,
        timeout: true,
      },
      now,
    );
    return "timed_out";
  }
  if (paid) {
    return completeRefund(deps, attempt.subjectId, { receipt: result.receipt, amount: result.amount }, now);
  }
  const code = String(result.resultCode);
  await failRefund(
    deps,
    attempt.subjectId,
    attempt.id,
    { code, reason: result.resultDesc, transient: isTransientResultCode(code) },
    now,
  );
  return "failed";
}
