/**
 * Where the time goes, while the server runs: CPU of the server's processes during a phase
 * and per request, and waiting for the server (and the machine) to go quiet between phases.
 */
import { performance } from "node:perf_hooks";
import { sleep } from "../common.mjs";
import { cpuDelta, cpuSnapshot, LOAD_GENERATOR } from "../dev-server.mjs";

/** CPU milliseconds of the server's processes (wrangler and workerd) per request, by process. */
export function serverCpuPerRequest(before, after, requests) {
  if (!before || !after || requests === 0) return undefined;
  const byName = {};
  let total = 0;
  for (const name of Object.keys(after.byName)) {
    if (name === LOAD_GENERATOR) continue;
    const ms = ((after.byName[name] - (before.byName[name] ?? 0)) * 1000) / requests;
    byName[name] = ms;
    total += ms;
  }
  return { total, byName };
}

/**
 * Runs a phase and adds the CPU it cost: `cpu`, CPU seconds per second by process, and
 * `cpuPerRequest`, the server's CPU milliseconds per request (`requests(result)` of them).
 */
export async function withServerCpu(server, run, requests) {
  const before = cpuSnapshot(server);
  const result = await run();
  const after = cpuSnapshot(server);
  return {
    ...result,
    cpu: cpuDelta(before, after),
    cpuPerRequest: serverCpuPerRequest(before, after, requests(result)),
  };
}

/**
 * Waits (up to `maxMs`) until the server's processes are nearly idle (e.g. the delivery
 * queue has drained after the callbacks) and, with `machine`, until other processes on this
 * (possibly shared) machine leave the CPUs alone too. Two quiet seconds in a row count.
 */
export async function waitForQuiet(server, { maxMs = 30_000, machine = false } = {}) {
  const started = performance.now();
  let previous = cpuSnapshot(server);
  if (!previous) return { seconds: 0, quiet: true };
  let quietSamples = 0;
  let last = { server: Number.NaN, others: Number.NaN };
  while (performance.now() - started < maxMs) {
    await sleep(1000);
    const now = cpuSnapshot(server);
    const delta = cpuDelta(previous, now);
    previous = now;
    last = {
      server: Object.entries(delta.perSecond)
        .filter(([name]) => name.startsWith("workerd") || name.startsWith("wrangler"))
        .reduce((sum, [, v]) => sum + v, 0),
      others: delta.perSecond["other processes on the machine"],
    };
    const quiet = last.server < 0.15 && (!machine || last.others < 0.3);
    quietSamples = quiet ? quietSamples + 1 : 0;
    if (quietSamples >= 2) return { seconds: (performance.now() - started) / 1000, quiet: true, ...last };
  }
  return { seconds: (performance.now() - started) / 1000, quiet: false, ...last };
}
