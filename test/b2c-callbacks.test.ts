/**
 * Daraja's B2C callbacks (contract v3 §13.5): the secret path token, both body shapes parsed
 * strictly, matching on our OriginatorConversationID, and idempotence — a repeat, a failure
 * after a success, or a stranger's ConversationID changes nothing.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TestClient } from "./helpers/client";
import {
  attemptsOf,
  b2cCallback,
  mailsOf,
  paidOrder,
  RESULT_PATH,
  refundOf,
  refundRow,
  refundWorld,
  TIMEOUT_PATH,
} from "./helpers/refunds";

const ACCEPTED = { ResultCode: 0, ResultDesc: "Accepted" };

/** A refund sent to the fake Daraja (SENT), with its one attempt. */
async function sentRefund() {
  const world = refundWorld();
  const order = await paidOrder(world, { price: 1500 });
  const res = await refundOf(order.organizer, { reason: "Double booking" }, order.orderId);
  expect(res.status, res.text).toBe(202);
  await world.drain();
  const [attempt] = await attemptsOf(res.body.id);
  expect(attempt?.status).toBe("ACCEPTED");
  expect(await refundRow(res.body.id)).toMatchObject({ status: "SENT", attempts: 1 });
  return { world, order, refundId: res.body.id, attemptId: attempt?.id ?? "" };
}

function post(path: string, body: unknown, raw?: string) {
  const client = new TestClient();
  return raw === undefined
    ? client.post(path, body)
    : client.request("POST", path, { rawBody: raw, headers: { "content-type": "application/json" } });
}

describe("B2C callbacks", () => {
  it("a wrong token is 404 and changes nothing", async () => {
    const { refundId, attemptId } = await sentRefund();
    const { body } = await b2cCallback(attemptId);
    for (const path of ["/api/pay/b2c/result/wrong-token/", "/api/pay/b2c/timeout/wrong-token/"]) {
      const res = await post(path, body);
      expect(res.status).toBe(404);
    }
    const almost = `${RESULT_PATH.slice(0, -2)}X/`;
    expect((await post(almost, body)).status).toBe(404);
    expect(await refundRow(refundId)).toMatchObject({ status: "SENT", mpesa_receipt: null });
  });

  it("malformed JSON or a body without Result is 400 Rejected and changes nothing", async () => {
    const { refundId, attemptId } = await sentRefund();
    const { body } = await b2cCallback(attemptId);
    const result = (body as { Result: Record<string, unknown> }).Result;
    const bad: Array<[string, unknown, string?]> = [
      [RESULT_PATH, undefined, "{not json"],
      [RESULT_PATH, { Body: {} }],
      [RESULT_PATH, { Result: { ...result, OriginatorConversationID: undefined } }],
      [RESULT_PATH, { Result: { ...result, ResultCode: { nested: true } } }],
      [RESULT_PATH, { Result: "yes" }],
      [TIMEOUT_PATH, { Result: {} }],
      [TIMEOUT_PATH, [1, 2, 3]],
    ];
    for (const [path, json, raw] of bad) {
      const res = await post(path, json, raw);
      expect(res.status, res.text).toBe(400);
      expect(res.body).toMatchObject({ ResultCode: 1, ResultDesc: "Rejected" });
    }
    expect(await refundRow(refundId)).toMatchObject({ status: "SENT", mpesa_receipt: null });
  });

  it("an unknown OriginatorConversationID is accepted and changes nothing", async () => {
    const { refundId, attemptId } = await sentRefund();
    const { body } = await b2cCallback(attemptId);
    const forged = {
      Result: { ...(body as { Result: object }).Result, OriginatorConversationID: crypto.randomUUID() },
    };
    const res = await post(RESULT_PATH, forged);
    expect(res.status).toBe(200);
    expect(res.body).toEqual(ACCEPTED);
    expect(await refundRow(refundId)).toMatchObject({ status: "SENT", mpesa_receipt: null });
  });

  it("a Result naming another ConversationID than Daraja gave us is ignored", async () => {
    const { refundId, attemptId } = await sentRefund();
    const { body } = await b2cCallback(attemptId);
    const foreign = {
      Result: { ...(body as { Result: object }).Result, ConversationID: "AG_20260101_ffffffffffffffffffff" },
    };
    expect((await post(RESULT_PATH, foreign)).body).toEqual(ACCEPTED);
    expect(await refundRow(refundId)).toMatchObject({ status: "SENT" });
  });

  it("Result 0 completes the refund once: a duplicate and a failure after it change nothing", async () => {
    const { refundId, attemptId, order } = await sentRefund();
    const success = await b2cCallback(attemptId, "success");
    const first = await post(RESULT_PATH, success.body);
    expect(first.body).toEqual(ACCEPTED);
    const done = await refundRow(refundId);
    const receipt = (success.body as { Result: { TransactionID: string } }).Result.TransactionID;
    expect(done).toMatchObject({ status: "COMPLETED", mpesa_receipt: receipt, review_reason: null });

    const again = await post(RESULT_PATH, success.body);
    expect(again.body).toEqual(ACCEPTED);
    const failure = await b2cCallback(attemptId, "failure");
    expect((await post(RESULT_PATH, failure.body)).body).toEqual(ACCEPTED);
    const timeout = await b2cCallback(attemptId, "timeout");
    expect((await post(TIMEOUT_PATH, timeout.body)).body).toEqual(ACCEPTED);

    expect(await refundRow(refundId)).toEqual(done);
    expect(await mailsOf(order.orderId, "refund_completed")).toBe(1);
    const [attempt] = await attemptsOf(refundId);
    expect(attempt?.status).toBe("COMPLETED");
    const paid = await env.DB.prepare("SELECT refund_status FROM orders WHERE id = ?")
      .bind(order.orderId)
      .first<{ refund_status: string }>();
    expect(paid?.refund_status).toBe("REFUNDED");
  });

  it("a queue timeout fails it as `timeout` (never re-sent); a late Result 0 still completes it", async () => {
    const { refundId, attemptId, world } = await sentRefund();
    const timeout = await b2cCallback(attemptId, "timeout");
    expect((await post(TIMEOUT_PATH, timeout.body)).body).toEqual(ACCEPTED);
    expect(await refundRow(refundId)).toMatchObject({
      status: "FAILED",
      failure_code: "timeout",
      retryable: 1,
      next_retry_at: null,
    });
    expect(world.takeRefundJobs()).toEqual([]);

    const late = await b2cCallback(attemptId, "success");
    expect((await post(RESULT_PATH, late.body)).body).toEqual(ACCEPTED);
    expect(await refundRow(refundId)).toMatchObject({ status: "COMPLETED", attempts: 1 });
  });

  it("a Result ≠ 0 fails it with Daraja's code", async () => {
    const { refundId, attemptId } = await sentRefund();
    const failure = await b2cCallback(attemptId, "failure");
    expect((await post(RESULT_PATH, failure.body)).body).toEqual(ACCEPTED);
    expect(await refundRow(refundId)).toMatchObject({
      status: "FAILED",
      failure_code: "2001",
      failure_reason: "The initiator information is invalid.",
      retryable: 0,
    });
  });
});
