/**
 * The Worker as close to production as this machine allows: ONE workerd process running the
 * Worker with its D1, Durable Objects, R2 and Queues, started with Miniflare directly (the
 * library `wrangler dev` itself uses, from wrangler's own dependencies), from the bundle of
 * `wrangler deploy --dry-run --outdir` (a no_bundle config, as the flash-sale bench builds it).
 *
 * What `wrangler dev` adds and this leaves out: the dev proxy (a second workerd process every
 * request crosses before it reaches the Worker), the DevTools inspector (and its
 * per-subrequest Network events), the dev registry and file watching. What still differs from
 * production: Miniflare's entry worker in front of ours (in the same process), D1 as a local
 * SQLite simulator and the Durable Objects in the same process (no network between them), and
 * the load generator on the same 2 cores.
 *
 *   node bench/direct-worker.mjs '{"config":…,"port":…,"persist":…,"vars":{…},"envFile":…}'
 *
 * `config` is a wrangler config whose `main` is the built bundle; `vars` override its [vars];
 * `envFile` holds the secrets (so a developer's .dev.vars is not read). Prints READY once the
 * Worker listens, and stops cleanly on SIGINT / SIGTERM.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";

const options = JSON.parse(process.argv[2] ?? "{}");
const require = createRequire(path.join(PROJECT_ROOT, "package.json"));
const { unstable_getMiniflareWorkerOptions } = require("wrangler");
const { Log, LogLevel, Miniflare } = createRequire(require.resolve("wrangler"))("miniflare");

const config = path.resolve(PROJECT_ROOT, options.config);
const { workerOptions, main, externalWorkers } = unstable_getMiniflareWorkerOptions(config, undefined, {
  envFiles: options.envFile ? [options.envFile] : [],
});
if (!main) throw new Error(`${config} names no main module`);
const levels = { debug: LogLevel.DEBUG, info: LogLevel.INFO, log: LogLevel.INFO, warn: LogLevel.WARN };

const mf = new Miniflare({
  host: "127.0.0.1",
  port: options.port,
  log: new Log(levels[options.logLevel] ?? LogLevel.WARN),
  logRequests: false,
  // The same layout as `wrangler dev --persist-to <persist>`, so `wrangler d1 execute --local
  // --persist-to <persist>` and the benches' read-back see the same data.
  defaultPersistRoot: path.join(options.persist, "v3"),
  workers: [
    {
      ...workerOptions,
      name: "ticketsafi-api",
      modules: true,
      scriptPath: path.resolve(path.dirname(config), main),
      bindings: { ...workerOptions.bindings, ...(options.vars ?? {}) },
    },
    ...externalWorkers,
  ],
});
await mf.ready;
console.log("READY");

const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
