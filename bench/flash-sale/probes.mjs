/**
 * One request at a time on the idle server, once the delivery queue has drained: what each
 * kind of request (health, a sold-out answer, an accepted purchase on the probe tier, its
 * callback) costs, then the end-to-end delivery probe (delivery.mjs).
 */
import { fmt, log, step } from "../common.mjs";
import { buyer } from "../flash-sale-data.mjs";
import { requestJson } from "../http-json.mjs";
import { stats } from "../load.mjs";
import { classify, initiate, purchaseWithPush, sendCallback } from "./checkout-api.mjs";
import { waitForQuiet, withServerCpu } from "./cpu.mjs";
import { deliveryProbes } from "./delivery.mjs";

/** @returns the wait for a quiet server (`quiet`) and the probes' figures (`probes`) */
export async function probePhase(server, agent, opts, data, daraja) {
  step(`One-at-a-time probes (${opts.probes} of each kind)`);
  const quiet = await waitForQuiet(server, { maxMs: 300_000 });
  log(`  the server went quiet ${fmt(quiet.seconds)} s after the verify phase (delivery queue)`);
  const probes = await probeKinds(server, agent, opts, data, daraja);
  log(
    `  health ${fmt(probes.health.p50, 2)} ms, sold out ${fmt(probes.soldOut.p50, 2)} ms, accepted ${fmt(probes.accepted.p50, 2)} ms, callback ${fmt(probes.callbacks.p50, 2)} ms (p50)`,
  );
  return { quiet, probes };
}

/** One request at a time: what each kind of request costs on an otherwise idle server. */
async function probeKinds(server, agent, opts, data, daraja) {
  const n = opts.probes;
  const problems = [];
  const split = { before: [], daraja: [], after: [] };
  const orders = [];
  /** Runs `n` requests one at a time; latency of the good ones, and server CPU per request. */
  const kind = async (make) => {
    const latencies = [];
    const { cpuPerRequest } = await withServerCpu(
      server,
      async () => {
        for (let k = 0; k < n; k++) {
          const ms = await make(k);
          if (ms !== undefined) latencies.push(ms);
        }
      },
      () => n,
    );
    return { ...stats(latencies), cpu: cpuPerRequest };
  };
  const health = await kind(async () => {
    const r = await requestJson(agent, { url: `${server.baseUrl}/api/health/` });
    if (r.status === 200) return r.ms;
    problems.push(`health HTTP ${r.status}`);
  });
  const soldOut = await kind(async (k) => {
    const r = await initiate(agent, server, data.saleTier.id, buyer(opts.buyers + k, "sale"));
    if (classify(r) === "soldOut") return r.ms;
    problems.push(`sold-out probe HTTP ${r.status} ${r.text.slice(0, 120)}`);
  });
  const accepted = await kind(async (k) => {
    const { r, push } = await purchaseWithPush(
      agent,
      server,
      data.probeTier.id,
      daraja,
      buyer(1000 + k, "probe"),
    );
    if (push) {
      split.before.push(push.receivedAt - r.startedAt);
      split.daraja.push(push.answeredAt - push.receivedAt);
      split.after.push(r.endedAt - push.answeredAt);
      orders.push(push);
      return r.ms;
    }
    problems.push(`accepted probe HTTP ${r.status} ${r.text.slice(0, 120)}`);
  });
  const callbacks = await kind(async (k) => {
    const push = orders[k];
    if (!push) return undefined;
    const r = await sendCallback(agent, push, k, 7);
    if (r.status === 200) return r.ms;
    problems.push(`callback probe HTTP ${r.status}`);
  });
  const delivery = await deliveryProbes(server, agent, opts, data, daraja, problems);
  return {
    health,
    soldOut,
    accepted,
    split: { before: stats(split.before), daraja: stats(split.daraja), after: stats(split.after) },
    callbacks,
    delivery,
    problems,
  };
}
