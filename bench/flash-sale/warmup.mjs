/**
 * Warm-up: health requests and a tenth as many purchases on the probe tier (isolate, Daraja
 * token), then a wait for other processes on the (possibly shared) machine to leave the CPUs.
 */
import { fmt, log, step } from "../common.mjs";
import { buyer } from "../flash-sale-data.mjs";
import { pool } from "../http-json.mjs";
import { runLoad } from "../load.mjs";
import { initiate } from "./checkout-api.mjs";
import { waitForQuiet } from "./cpu.mjs";

/** @returns the wait for a quiet machine (`waitForQuiet`), for the report */
export async function warmUp(server, agent, opts, data, daraja) {
  step(
    `Warming up: ${opts.warmup} health requests, ${Math.ceil(opts.warmup / 10)} purchases on the probe tier`,
  );
  if (opts.warmup > 0) {
    await runLoad({
      baseUrl: server.baseUrl,
      path: () => "/api/health/",
      total: opts.warmup,
      concurrency: opts.concurrency,
    });
    const warm = await pool(Math.ceil(opts.warmup / 10), 8, (k) =>
      initiate(agent, server, data.probeTier.id, buyer(k, "probe")),
    );
    const bad = warm.results.filter((r) => r.status !== 202);
    if (bad.length > 0) {
      throw new Error(
        `Warm-up purchases failed (${bad.length}): HTTP ${bad[0].status} ${bad[0].text.slice(0, 300)}; see ${server.logFile}`,
      );
    }
    log(`✔ warm-up done; the fake Daraja has seen ${daraja.state.oauthCalls} OAuth call(s)`);
  }
  const machineWait = await waitForQuiet(server, { maxMs: 180_000, machine: true });
  log(
    machineWait.quiet
      ? `✔ quiet after ${fmt(machineWait.seconds)} s`
      : `! other processes still use ${fmt(machineWait.others, 2)} CPU after ${fmt(machineWait.seconds)} s; measuring anyway`,
  );
  return machineWait;
}
