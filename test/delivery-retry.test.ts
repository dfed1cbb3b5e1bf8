/**
 * Issue #11 item 17: a ticket delivery that Brevo refuses with a 5xx is retried within
 * seconds the first time, then backs off as before, so two transient 500s delay the tickets
 * by seconds, not minutes. The delays asked of the queue (`message.retry({delaySeconds})`)
 * are asserted, never the time taken.
 */
import { describe, expect, it } from "vitest";
import { orderRetryDelaySeconds } from "../src/delivery/consumer";
import { MAX_DELIVERY_ATTEMPTS } from "../src/delivery/jobs";
import { networkFakes } from "./fakes/network";
import { brevoEnv, deliver, freeOrder, orderDelivery } from "./helpers/tickets";

describe("ticket delivery retries after a transient Brevo 5xx", () => {
  it("two 500s then 202: retried after seconds both times, sent once on the third delivery", async () => {
    const order = await freeOrder();
    networkFakes.brevo.failures = [500, 500];

    const first = await deliver(brevoEnv(), order.jobs, 1);
    expect(first.retried).toEqual(first.ids);
    const second = await deliver(brevoEnv(), order.jobs, 2);
    expect(second.retried).toEqual(second.ids);
    const [firstDelay = Number.NaN] = first.retryDelays;
    const [secondDelay = Number.NaN] = second.retryDelays;
    expect(firstDelay).toBeGreaterThan(0);
    expect(firstDelay).toBeLessThanOrEqual(10);
    // Both waits together stay under a minute.
    expect(firstDelay + secondDelay).toBeLessThan(60);
    expect(networkFakes.brevo.sent).toHaveLength(0);

    const third = await deliver(brevoEnv(), order.jobs, 3);
    expect(third.acked).toEqual(third.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    expect(await orderDelivery(order.orderId)).toMatchObject({
      delivery_status: "SENT",
      delivery_attempts: 3,
    });
  });

  it("after the quick first retry it backs off as before, and the retries still outlast an hour-long outage", () => {
    const retries = Array.from({ length: MAX_DELIVERY_ATTEMPTS - 1 }, (_, i) =>
      orderRetryDelaySeconds(i + 1),
    );
    expect(retries).toEqual([5, 30, 120, 480, 1920, 3600]);
    expect(retries.reduce((a, b) => a + b, 0)).toBeGreaterThan(3600);
  });
});
