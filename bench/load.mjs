/**
 * A small closed-loop HTTP load generator: `concurrency` workers, each sending its next GET
 * as soon as the previous one answered, over keep-alive connections (node:http, no
 * dependencies), until `total` requests have been sent. Latency is measured per request,
 * from just before the request is written to the last byte of the body. `percentile()` and
 * `stats()` summarise latencies (also those the scripts measure with bench/http-json.mjs).
 */
import http from "node:http";
import { performance } from "node:perf_hooks";

/** GET `url` with `agent`; resolves with the status and body, rejects on a network error or timeout. */
function get(url, agent, timeoutMs) {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { agent, timeout: timeoutMs }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve({ status: response.statusCode, body: Buffer.concat(chunks) }));
      response.on("error", reject);
    });
    request.on("timeout", () => request.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    request.on("error", reject);
  });
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Count, min, p50, p90, p99, max and mean of `values` (any order; NaN where there are none). */
export function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? sorted.reduce((a, b) => a + b, 0) / sorted.length : Number.NaN,
  };
}

/**
 * Runs one phase.
 * @param {{
 *   baseUrl: string,
 *   path: (i: number) => string,
 *   total: number,
 *   concurrency: number,
 *   check?: (status: number, body: Buffer, i: number) => string | undefined,
 *   timeoutMs?: number,
 * }} options `check` returns an error description for a bad answer (default: status ≠ 200).
 */
export async function runLoad({ baseUrl, path, total, concurrency, check, timeoutMs = 30_000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const latencies = [];
  const errors = new Map();
  const countError = (reason) => errors.set(reason, (errors.get(reason) ?? 0) + 1);
  const verify = check ?? ((status) => (status === 200 ? undefined : `HTTP ${status}`));
  let next = 0;

  const worker = async () => {
    for (let i = next++; i < total; i = next++) {
      const started = performance.now();
      try {
        const { status, body } = await get(`${baseUrl}${path(i)}`, agent, timeoutMs);
        latencies.push(performance.now() - started);
        const problem = verify(status, body, i);
        if (problem) countError(problem);
      } catch (error) {
        latencies.push(performance.now() - started);
        countError(error?.code ?? error?.message ?? String(error));
      }
    }
  };

  const started = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();

  const { mean, p50, p90, p99, max } = stats(latencies);
  const errorCount = [...errors.values()].reduce((a, b) => a + b, 0);
  return {
    requests: total,
    errors: errorCount,
    errorKinds: Object.fromEntries(errors),
    seconds,
    rps: total / seconds,
    mean,
    p50,
    p90,
    p99,
    max,
  };
}
