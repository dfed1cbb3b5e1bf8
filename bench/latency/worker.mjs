/**
 * Bench-only Worker for `npm run bench:latency` (issue 15, part 1): the API itself
 * (src/index.ts, unchanged) with its bindings behind the delay layer of far-env.mjs and its
 * Daraja calls delayed too. Every answer carries `X-Bench-Far`: the far round trips the
 * request waited for (see criticalPath in far-env.mjs) as JSON.
 *
 * Each request gets its own trace through AsyncLocalStorage, so a Daraja fetch is charged
 * to the request that made it. Queue batches and cron ticks run on the plain bindings: they
 * are nobody's critical path.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import api from "../../src/index";
import { criticalPath, delaysFrom, farCall, farEnv } from "./far-env.mjs";

export * from "../../src/index";

const traces = new AsyncLocalStorage();
const realFetch = globalThis.fetch;

/** Daraja is the only upstream on a request's path (Brevo and webhooks go through the queue). */
globalThis.fetch = function benchFetch(input, init) {
  const trace = traces.getStore();
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  if (trace?.darajaBase && url.startsWith(trace.darajaBase)) {
    const name = `Daraja ${new URL(url).pathname}`;
    return farCall(trace, "daraja", trace.delays.daraja, () => realFetch(input, init), name);
  }
  return realFetch(input, init);
};

export default {
  ...api,
  async fetch(request, env, ctx) {
    const delays = delaysFrom(env);
    const trace = { calls: [], delays, darajaBase: env.MPESA_BASE_URL || undefined };
    const response = await traces.run(trace, () => api.fetch(request, farEnv(env, trace, delays), ctx));
    const path = criticalPath(trace.calls, performance.now());
    const answer = new Response(response.body, response);
    // Header values are Latin-1: escape the rest (statement names use ⋈) so JSON.parse restores them.
    const ascii = JSON.stringify(path).replace(
      /[\u007f-\uffff]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
    answer.headers.set("X-Bench-Far", ascii);
    return answer;
  },
};
