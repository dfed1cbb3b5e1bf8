/**
 * Following orders to the outbox: issue 5's end-to-end target, the tickets email in the dev
 * outbox within 5 s of the M-Pesa callback.
 */
import { performance } from "node:perf_hooks";
import { sleep } from "../common.mjs";
import { buyer } from "../flash-sale-data.mjs";
import { requestJson } from "../http-json.mjs";
import { stats } from "../load.mjs";
import { purchaseWithPush, sendCallback } from "./checkout-api.mjs";

/** How many orders the end-to-end delivery probe follows (each waits for its email). */
const DELIVERY_PROBES = 20;

/**
 * Issue 5's end-to-end target: the tickets email is in the outbox within 5 s of the M-Pesa
 * callback. One order at a time: buy, send Daraja's success callback, then poll the dev outbox
 * (`/__dev/outbox/?to=…&kind=tickets`, every 25 ms) until the email is there. The time runs
 * from sending the callback; it includes the queue's batch wait (max_batch_timeout) and the
 * consumer rendering the PNGs and writing the email.
 */
export async function deliveryProbes(server, agent, opts, data, daraja, problems) {
  const latencies = [];
  const count = Math.min(opts.probes, DELIVERY_PROBES);
  for (let k = 0; k < count; k++) {
    const b = buyer(20_000 + k, "probe");
    const { r, push } = await purchaseWithPush(agent, server, data.probeTier.id, daraja, b);
    if (!push) {
      problems.push(`delivery probe purchase HTTP ${r.status} ${r.text.slice(0, 120)}`);
      continue;
    }
    const sentAt = performance.now();
    const callback = await sendCallback(agent, push, k, 9);
    if (callback.status !== 200) {
      problems.push(`delivery probe callback HTTP ${callback.status}`);
      continue;
    }
    const outbox = `${server.baseUrl}/__dev/outbox/?to=${encodeURIComponent(b.email)}&kind=tickets`;
    let found = false;
    while (!found && performance.now() - sentAt < 30_000) {
      const answer = await requestJson(agent, { url: outbox });
      found = answer.status === 200 && (answer.json?.count ?? 0) > 0;
      if (!found) await sleep(25);
    }
    if (found) latencies.push(performance.now() - sentAt);
    else problems.push("delivery probe: no tickets email in the outbox 30 s after the callback");
  }
  return { ...stats(latencies), attempted: count };
}
