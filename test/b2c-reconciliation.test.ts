/**
 * Reconciliation (#13 part 5): B2C attempts with no Result are asked about with Daraja's
 * Transaction Status query (fake Daraja at the edge, real wire format), and the query's
 * Result, POSTed to our status route, settles them through the B2C outcome. It never sends
 * money: no second payment request ever leaves.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { transactionStatusResultFor } from "../src/integrations/mpesa/simulator";
import { GRACE_MS, queryOpenB2CAttempts, RECONCILE_AFTER_MS } from "../src/services/b2c-reconciliation";
import { networkFakes } from "./fakes/network";
import { TestClient } from "./helpers/client";
import { attemptsOf, paidOrder, RESULT_TOKEN, refundOf, refundRow, refundWorld } from "./helpers/refunds";
import { servicesFor } from "./helpers/services";

const STATUS_PATH = `/api/pay/b2c/status/result/${RESULT_TOKEN}/`;
const ACCEPTED = { ResultCode: 0, ResultDesc: "Accepted" };
const daraja = networkFakes.daraja;

/** A refund the fake Daraja accepted (SENT) and whose Result never came. */
async function sentRefund() {
  const world = refundWorld();
  const order = await paidOrder(world, { price: 1500 });
  const res = await refundOf(order.organizer, {}, order.orderId);
  expect(res.status, res.text).toBe(202);
  await world.drain();
  const [attempt] = await attemptsOf(res.body.id);
  expect(attempt?.status).toBe("ACCEPTED");
  const row = (await env.DB.prepare("SELECT created_at FROM b2c_requests WHERE id = ?")
    .bind(attempt?.id)
    .first<{ created_at: number }>()) ?? { created_at: 0 };
  return { world, order, refundId: res.body.id, attemptId: attempt?.id ?? "", sentAt: row.created_at };
}

function cron(world: ReturnType<typeof refundWorld>, at: number) {
  return queryOpenB2CAttempts(servicesFor({ ...env, ...world.darajaVars } as Env), at);
}

function queriesFor(attemptId: string) {
  return daraja.statusQueries.filter((q) => q.originalConversationId === attemptId);
}

/** Daraja's status Result for the last query about `attemptId`, in its wire shape. */
function statusResult(attemptId: string, outcome: "Completed" | "Failed" | "not_found", amount = 1500) {
  const query = queriesFor(attemptId).at(-1);
  expect(query, "a status query was sent").toBeDefined();
  const request = query?.body as Parameters<typeof transactionStatusResultFor>[0];
  return transactionStatusResultFor(
    request,
    { conversationId: query?.conversationId ?? "", originatorConversationId: "12345-67890123-1" },
    outcome === "not_found"
      ? undefined
      : {
          partyB: "254700000000",
          amount,
          status: outcome,
          receipt: outcome === "Completed" ? "SRC4RECON1" : "",
        },
    Date.now(),
  );
}

describe("B2C reconciliation by Transaction Status query", () => {
  it("asks only after the timeout, in Daraja's wire format; 'Completed' completes the refund once, nothing re-sent", async () => {
    const { world, refundId, attemptId, sentAt } = await sentRefund();
    const b2cBefore = daraja.b2cRequests.length;
    await cron(world, sentAt + 60_000);
    expect(queriesFor(attemptId)).toHaveLength(0);

    await cron(world, sentAt + RECONCILE_AFTER_MS + 60_000);
    const [query] = queriesFor(attemptId);
    expect(query?.body).toMatchObject({
      CommandID: "TransactionStatusQuery",
      OriginalConversationID: attemptId,
      PartyA: "600996",
      IdentifierType: "4",
      Initiator: "testapi",
      ResultURL: expect.stringContaining(STATUS_PATH),
    });
    // Asked again only after the interval.
    await cron(world, sentAt + RECONCILE_AFTER_MS + 120_000);
    expect(queriesFor(attemptId)).toHaveLength(1);

    const body = statusResult(attemptId, "Completed");
    const first = await new TestClient().post(STATUS_PATH, body);
    expect(first.status).toBe(200);
    expect(first.body).toEqual(ACCEPTED);
    expect(await refundRow(refundId)).toMatchObject({ status: "COMPLETED", mpesa_receipt: "SRC4RECON1" });
    const again = await new TestClient().post(STATUS_PATH, body);
    expect(again.status).toBe(200);
    expect(await refundRow(refundId)).toMatchObject({ status: "COMPLETED", review_reason: null });
    const [attempt] = await attemptsOf(refundId);
    expect(attempt?.status).toBe("COMPLETED");
    // Settled: never asked again, and no money sent twice.
    await cron(world, sentAt + 10 * RECONCILE_AFTER_MS);
    expect(queriesFor(attemptId)).toHaveLength(1);
    expect(daraja.b2cRequests.length).toBe(b2cBefore);
  });

  it("'not found' inside the grace period changes nothing; after it the refund FAILS and may be retried", async () => {
    const { world, order, refundId, attemptId, sentAt } = await sentRefund();
    await cron(world, sentAt + RECONCILE_AFTER_MS + 60_000);
    const early = await new TestClient().post(STATUS_PATH, statusResult(attemptId, "not_found"));
    expect(early.status).toBe(200);
    expect(await refundRow(refundId)).toMatchObject({ status: "SENT" });
    expect((await attemptsOf(refundId))[0]?.status).toBe("ACCEPTED");

    // The Result of a query sent after the grace period (the clock is the attempt's age).
    await env.DB.prepare("UPDATE b2c_requests SET created_at = ? WHERE id = ?")
      .bind(Date.now() - GRACE_MS - 60_000, attemptId)
      .run();
    await cron(world, Date.now() + 60 * 60_000);
    expect(queriesFor(attemptId)).toHaveLength(2);
    const late = await new TestClient().post(STATUS_PATH, statusResult(attemptId, "not_found"));
    expect(late.status).toBe(200);
    expect(await refundRow(refundId)).toMatchObject({
      status: "FAILED",
      failure_code: "not_found",
      retryable: 1,
      next_retry_at: null,
    });
    // Never retried automatically; the organizer may.
    expect(world.takeRefundJobs()).toEqual([]);
    const retry = await order.organizer.post(`/api/organizer/refunds/${refundId}/retry/`);
    expect(retry.status, retry.text).toBe(202);
  });

  it("a query Daraja refuses leaves the attempt for the next run", async () => {
    const { world, refundId, attemptId, sentAt } = await sentRefund();
    daraja.failNextStatusQuery(500);
    const at = sentAt + RECONCILE_AFTER_MS + 60_000;
    expect(await cron(world, at)).toBe(0);
    expect(await refundRow(refundId)).toMatchObject({ status: "SENT" });
    expect((await attemptsOf(refundId))[0]?.status).toBe("ACCEPTED");
    await cron(world, at + RECONCILE_AFTER_MS + 60_000);
    expect(queriesFor(attemptId)).toHaveLength(1);
  });

  it("a queue-timed-out refund that the query finds Completed completes (money moved, never re-sent)", async () => {
    const { world, refundId, attemptId, sentAt } = await sentRefund();
    await env.DB.prepare("UPDATE b2c_requests SET status = 'TIMED_OUT' WHERE id = ?").bind(attemptId).run();
    await env.DB.prepare(
      "UPDATE refunds SET status = 'FAILED', failure_code = 'timeout', retryable = 1 WHERE id = ?",
    )
      .bind(refundId)
      .run();
    await cron(world, sentAt + RECONCILE_AFTER_MS + 60_000);
    const res = await new TestClient().post(STATUS_PATH, statusResult(attemptId, "Completed"));
    expect(res.status).toBe(200);
    expect(await refundRow(refundId)).toMatchObject({ status: "COMPLETED", mpesa_receipt: "SRC4RECON1" });
  });

  it("the status route: wrong token 404, malformed 400 Rejected, unknown query accepted; nothing changes", async () => {
    const { world, refundId, attemptId, sentAt } = await sentRefund();
    await cron(world, sentAt + RECONCILE_AFTER_MS + 60_000);
    const body = statusResult(attemptId, "Completed");
    expect((await new TestClient().post("/api/pay/b2c/status/result/wrong-token/", body)).status).toBe(404);
    const noResult = await new TestClient().post(STATUS_PATH, { Body: {} });
    expect(noResult.status).toBe(400);
    expect(noResult.body).toMatchObject({ ResultCode: 1, ResultDesc: "Rejected" });
    const noConversation = structuredClone(body) as { Result: Record<string, unknown> };
    delete noConversation.Result.ConversationID;
    expect((await new TestClient().post(STATUS_PATH, noConversation)).status).toBe(400);
    const stranger = structuredClone(body);
    stranger.Result.ConversationID = "AG_20260101_00000000000000000000";
    expect((await new TestClient().post(STATUS_PATH, stranger)).status).toBe(200);
    expect(await refundRow(refundId)).toMatchObject({ status: "SENT", mpesa_receipt: null });
  });
});
