/**
 * §13.3 rule 3: refunds' B2C requests go out at most 5 a second however far behind the queue
 * is. A backlog of due refunds (a mass cancellation the consumer reaches late) sends 5 in the
 * second, and each of the others is put back on the queue for later, unsent and unclaimed.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sendRefund } from "../src/services/refunds/send";
import { networkFakes } from "./helpers/checkout";
import { paidOrder, refundOf, refundRow, refundWorld } from "./helpers/refunds";
import { servicesFor } from "./helpers/services";

describe("B2C pacing", () => {
  it("sends 5 in one second and puts the rest back on the queue", async () => {
    const world = refundWorld();
    const first = await paidOrder(world);
    const orders = [first];
    for (let i = 0; i < 6; i++) {
      orders.push(await paidOrder(world, { organizer: { client: first.organizer, id: first.organizerId } }));
    }
    const refundIds: string[] = [];
    for (const order of orders) {
      const res = await refundOf(order.organizer, { reason: "Rain" }, order.orderId);
      expect(res.status, res.text).toBe(202);
      refundIds.push(res.body.id);
    }
    world.takeRefundJobs();

    const deps = servicesFor({ ...env, ...world.darajaVars, B2C_REQUESTS_PER_SECOND: "5" } as Env);
    const now = Date.now() + 10_000; // one second of its own, after the setup's
    const outcomes: string[] = [];
    for (const id of refundIds) outcomes.push(await sendRefund(deps, id, now));
    expect(outcomes.filter((o) => o === "sent")).toHaveLength(5);
    expect(outcomes.filter((o) => o === "not_due")).toHaveLength(2);
    expect(networkFakes.daraja.b2cRequests).toHaveLength(5);

    const deferred = refundIds.filter((_, i) => outcomes[i] === "not_due");
    for (const id of deferred) expect(await refundRow(id)).toMatchObject({ status: "PENDING", attempts: 0 });
    const requeued = world.takeRefundJobs();
    expect(requeued.map((j) => (j.type === "refund" ? j.refundId : "")).sort()).toEqual([...deferred].sort());

    // The next second has room again.
    for (const id of deferred) expect(await sendRefund(deps, id, now + 1_001)).toBe("sent");
    expect(networkFakes.daraja.b2cRequests).toHaveLength(7);
  });
});
