/**
 * Automatic refunds and the §13.4 retry rules, end to end through the delivery queue's real
 * consumer and the built-in M-Pesa simulator (§13.8 test numbers): a cancelled event refunds
 * every paid order; a queue timeout is never re-sent; a transient refusal (Result 1) is.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { B2C_TEST_PHONES } from "../src/integrations/mpesa/simulator";
import { attemptsOf, mailsOf, paidOrder, refundOf, refundRow, refundWorld } from "./helpers/refunds";

describe("automatic refunds and retries", () => {
  it("cancelling an event refunds every paid order through the queue and the simulator, once", async () => {
    const world = refundWorld();
    const first = await paidOrder(world, { price: 1200, quantity: 2 });
    const organizer = { client: first.organizer, id: first.organizerId };
    const cancelled = await first.organizer.request("DELETE", `/api/organizer/events/${first.eventId}/edit/`);
    expect(cancelled.status, cancelled.text).toBe(200);
    const rows = await env.DB.prepare("SELECT * FROM refunds WHERE event_id = ?")
      .bind(first.eventId)
      .all<Record<string, unknown>>();
    expect(rows.results).toHaveLength(1);
    expect(rows.results[0]).toMatchObject({
      trigger: "EVENT_CANCELLED",
      amount: 2400,
      full: 1,
      status: "PENDING",
    });
    expect(organizer.id).toBeTruthy();

    expect(await world.drain(world.simulatorVars)).toBe(1);
    const refund = await refundRow(String(rows.results[0]?.id));
    expect(refund).toMatchObject({ status: "COMPLETED", attempts: 1 });
    expect(String(refund?.mpesa_receipt)).toMatch(/^[A-Z][A-Z0-9]{9}$/);
    expect(await mailsOf(first.orderId, "refund_completed")).toBe(1);

    // A redelivered message sends nothing more.
    world.recording.sent.push({ type: "refund", refundId: String(rows.results[0]?.id) });
    await world.drain(world.simulatorVars);
    expect(await attemptsOf(String(rows.results[0]?.id))).toHaveLength(1);
  });

  it("a queue timeout (254708000006) fails as timeout and is never re-sent; retry waits an hour", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 500, phone: B2C_TEST_PHONES.queueTimeout });
    const res = await refundOf(order.organizer, {}, order.orderId);
    expect(res.status, res.text).toBe(202);
    await world.drain(world.simulatorVars);
    expect(await refundRow(res.body.id)).toMatchObject({
      status: "FAILED",
      failure_code: "timeout",
      retryable: 1,
    });
    expect(world.takeRefundJobs()).toEqual([]);
    const retry = await order.organizer.post(`/api/organizer/refunds/${res.body.id}/retry/`);
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({ code: "retry_too_soon" });
    expect(await attemptsOf(res.body.id)).toHaveLength(1);
  });

  it("Result 1 (254708000004, odd requests) is retried automatically and then completes", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 500, phone: B2C_TEST_PHONES.alternating });
    const res = await refundOf(order.organizer, {}, order.orderId);
    await world.drain(world.simulatorVars);
    const failed = await refundRow(res.body.id);
    expect(failed).toMatchObject({ status: "FAILED", failure_code: "1", retryable: 1, auto_retries: 1 });
    expect(Number(failed?.next_retry_at)).toBeGreaterThan(Date.now());
    const jobs = world.recording.sent.filter((j) => j.type === "refund");
    expect(jobs).toHaveLength(1);
    // As if the 10 minutes had passed.
    await env.DB.prepare("UPDATE refunds SET next_retry_at = ? WHERE id = ?")
      .bind(Date.now() - 1, res.body.id)
      .run();
    await world.drain(world.simulatorVars);
    expect(await refundRow(res.body.id)).toMatchObject({ status: "COMPLETED", attempts: 2 });
    expect(await attemptsOf(res.body.id)).toHaveLength(2);
  });

  it("Result 2001 and a synchronous 400 fail without an automatic retry", async () => {
    const world = refundWorld();
    for (const phone of [B2C_TEST_PHONES.initiatorInvalid, B2C_TEST_PHONES.rejected]) {
      const order = await paidOrder(world, { price: 500, phone });
      const res = await refundOf(order.organizer, {}, order.orderId);
      await world.drain(world.simulatorVars);
      const row = await refundRow(res.body.id);
      expect(row).toMatchObject({ status: "FAILED", retryable: 0, next_retry_at: null });
      expect(row?.failure_code).toBe(phone === B2C_TEST_PHONES.rejected ? "400.002.02" : "2001");
      expect(world.takeRefundJobs()).toEqual([]);
    }
  });
});
