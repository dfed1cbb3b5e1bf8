/**
 * The refund sweep the cron runs (§13.3 rule 4, §13.4): stuck PENDING refunds re-queued,
 * the missing automatic refund of a PAID_UNFULFILLED order created (once), SENT for 24 h
 * flagged `stale` and never re-sent.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sweepRefunds } from "../src/services/refunds/sweep";
import { PAID_UNFULFILLED_REASON } from "../src/services/settlement";
import { TestClient } from "./helpers/client";
import {
  attemptsOf,
  b2cCallback,
  paidOrder,
  RESULT_PATH,
  refundOf,
  refundRow,
  refundWorld,
} from "./helpers/refunds";
import { servicesFor } from "./helpers/services";

const HOUR = 60 * 60 * 1000;

function sweep(world: ReturnType<typeof refundWorld>, at: number) {
  return sweepRefunds(servicesFor({ ...env, ...world.darajaVars } as Env), PAID_UNFULFILLED_REASON, at);
}

describe("refund sweep", () => {
  it("re-queues a PENDING refund whose message was lost, then the consumer sends it once", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 800 });
    const res = await refundOf(order.organizer, {}, order.orderId);
    expect(res.status, res.text).toBe(202);
    world.takeRefundJobs(); // the message is lost
    const early = await sweep(world, Date.now());
    expect(early.requeued).toBe(0);
    const late = await sweep(world, Date.now() + HOUR);
    expect(late.requeued).toBeGreaterThanOrEqual(1);
    expect(world.recording.sent.some((j) => j.type === "refund" && j.refundId === res.body.id)).toBe(true);
    await world.drain();
    expect(await refundRow(res.body.id)).toMatchObject({ status: "SENT", attempts: 1 });
    expect(await attemptsOf(res.body.id)).toHaveLength(1);
  });

  it("creates the missing automatic refund of a PAID_UNFULFILLED order, once", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1200 });
    await env.DB.prepare("UPDATE orders SET status = 'PAID_UNFULFILLED' WHERE id = ?")
      .bind(order.orderId)
      .run();
    const first = await sweep(world, Date.now());
    expect(first.created).toBeGreaterThanOrEqual(1);
    await sweep(world, Date.now());
    const rows = await env.DB.prepare(
      'SELECT amount, "trigger", reason, status FROM refunds WHERE order_id = ?',
    )
      .bind(order.orderId)
      .all<{ amount: number; trigger: string; reason: string; status: string }>();
    expect(rows.results).toEqual([
      { amount: 1200, trigger: "PAID_UNFULFILLED", reason: PAID_UNFULFILLED_REASON, status: "PENDING" },
    ]);
  });

  it("flags SENT > 24 h as stale and never re-sends it", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 600 });
    const res = await refundOf(order.organizer, {}, order.orderId);
    await world.drain();
    expect(await refundRow(res.body.id)).toMatchObject({ status: "SENT" });
    await sweep(world, Date.now() + 23 * HOUR);
    expect(await refundRow(res.body.id)).toMatchObject({ review_reason: null });
    await sweep(world, Date.now() + 25 * HOUR);
    expect(await refundRow(res.body.id)).toMatchObject({ status: "SENT", review_reason: "stale" });
    // Other tests' PENDING refunds may be re-queued; this one never is.
    expect(world.takeRefundJobs().filter((j) => j.type === "refund" && j.refundId === res.body.id)).toEqual(
      [],
    );
    expect(await attemptsOf(res.body.id)).toHaveLength(1);
  });

  it("the organizer order view carries amount_refunded, refundable and refund_status (§11.7, §13.1)", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1000 });
    const view = () =>
      order.organizer.get<{ amount_refunded: number; refundable: number; refund_status: string }>(
        `/api/organizer/orders/${order.orderId}/`,
      );
    expect((await view()).body).toMatchObject({
      amount_refunded: 0,
      refundable: 1000,
      refund_status: "NONE",
    });
    const res = await refundOf(order.organizer, { amount: 400 }, order.orderId);
    expect(res.status, res.text).toBe(202);
    // Reserved while in flight: not refundable again, not refunded yet.
    expect((await view()).body).toMatchObject({ amount_refunded: 0, refundable: 600, refund_status: "NONE" });
    await world.drain();
    const [attempt] = await attemptsOf(res.body.id);
    const result = await b2cCallback(attempt?.id ?? "");
    expect((await new TestClient().post(RESULT_PATH, result.body)).status).toBe(200);
    expect((await view()).body).toMatchObject({
      amount_refunded: 400,
      refundable: 600,
      refund_status: "PARTIAL",
    });
    const rest = await refundOf(order.organizer, {}, order.orderId);
    await world.drain();
    const [, second] = await attemptsOf(rest.body.id).then(async (a) => [null, a[0]]);
    await new TestClient().post(RESULT_PATH, (await b2cCallback(second?.id ?? "")).body);
    expect((await view()).body).toMatchObject({
      amount_refunded: 1000,
      refundable: 0,
      refund_status: "FULL",
    });
  });
});
