/** The yardstick: `/api/health/` at the sale's concurrency and request count. */
import { fmt, log, step } from "../common.mjs";
import { runLoad } from "../load.mjs";
import { withServerCpu } from "./cpu.mjs";

export async function healthPhase(server, opts) {
  step(`Health: ${opts.healthRequests} requests, ${opts.concurrency} in flight`);
  const health = await withServerCpu(
    server,
    () =>
      runLoad({
        baseUrl: server.baseUrl,
        path: () => "/api/health/",
        total: opts.healthRequests,
        concurrency: opts.concurrency,
      }),
    (r) => r.requests,
  );
  log(
    `  ${fmt(health.rps)} req/s, p50 ${fmt(health.p50)} ms, p99 ${fmt(health.p99)} ms, errors ${health.errors}${health.errors ? ` ${JSON.stringify(health.errorKinds)}` : ""}`,
  );
  return health;
}
