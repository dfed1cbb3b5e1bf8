/**
 * For every accepted order, Daraja's success callback to the CallBackURL of its STK push
 * (`--callback-concurrency` in flight); the URL must be the one the run configured, naming
 * the order.
 */
import { fmt, log, step } from "../common.mjs";
import { pool } from "../http-json.mjs";
import { sendCallback } from "./checkout-api.mjs";
import { withServerCpu } from "./cpu.mjs";

export async function callbackPhase(server, agent, opts, accepted, daraja, callbackToken) {
  step(`Callbacks: ${accepted.length} success callbacks, ${opts.callbackConcurrency} in flight`);
  const salt = Math.floor(Math.random() * 70_000);
  // The push names its order: `…/callback/<token>/<order id>/` (#15 part 3).
  const expectedUrl = (orderId) => `${server.baseUrl}/api/pay/callback/${callbackToken}/${orderId}/`;
  const { results, seconds, cpu, cpuPerRequest } = await withServerCpu(
    server,
    () =>
      pool(accepted.length, opts.callbackConcurrency, async (k) => {
        const order = accepted[k];
        const push = daraja.state.pushesById.get(order.json.checkout_request_id);
        if (!push) return { status: 0, ms: 0, problem: "no STK push recorded for this order" };
        if (push.callbackUrl !== expectedUrl(order.json.order_id))
          return { status: 0, ms: 0, problem: `CallBackURL ${push.callbackUrl}` };
        const r = await sendCallback(agent, push, k, salt);
        const ok = r.status === 200 && r.json?.ResultCode === 0 && r.json?.ResultDesc === "Accepted";
        return { ...r, problem: ok ? undefined : `HTTP ${r.status} ${r.text.slice(0, 200)}` };
      }),
    (r) => r.results.length,
  );
  log(`  done in ${fmt(seconds, 2)} s; ${results.filter((r) => r.problem).length} not answered 200 Accepted`);
  return { results, seconds, cpu, cpuPerRequest };
}
