/**
 * Purchase capacity: purchases that are all accepted (the probe tier has plenty of seats), at
 * the same concurrency as the sale, for purchase throughput without sold-out answers.
 */
import { fmt, log, step } from "../common.mjs";
import { buyer } from "../flash-sale-data.mjs";
import { pool } from "../http-json.mjs";
import { stats } from "../load.mjs";
import { classify, initiate } from "./checkout-api.mjs";
import { waitForQuiet, withServerCpu } from "./cpu.mjs";

export async function capacityPhase(server, agent, opts, data) {
  step(
    `Purchase capacity: ${opts.capacity} purchases on the probe tier, all accepted, ${opts.concurrency} in flight`,
  );
  await waitForQuiet(server, { maxMs: 60_000 });
  const { results, seconds, cpu, cpuPerRequest } = await withServerCpu(
    server,
    () =>
      pool(opts.capacity, opts.concurrency, (i) =>
        initiate(agent, server, data.probeTier.id, buyer(10_000 + i, "probe")),
      ),
    (r) => r.results.length,
  );
  const accepted = results.filter((r) => classify(r) === "accepted");
  const capacity = {
    failures: results.filter((r) => classify(r) !== "accepted"),
    requests: results.length,
    accepted: accepted.length,
    errors: results.length - accepted.length,
    seconds,
    rps: accepted.length / seconds,
    latency: stats(accepted.map((r) => r.ms)),
    cpu,
    cpuPerRequest,
  };
  log(
    `  ${capacity.accepted} accepted, ${capacity.errors} errors: ${fmt(capacity.rps)}/s, p50 ${fmt(capacity.latency.p50)} ms`,
  );
  return capacity;
}
