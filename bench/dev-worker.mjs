/**
 * The same local runtime as `wrangler dev` (Miniflare, workerd, the dev proxy), started
 * through wrangler's programmatic API so that one thing can differ: the DevTools inspector.
 * `wrangler dev` always attaches its inspector proxy to the Worker and enables the Network
 * domain, so every subrequest (each D1 query, each Durable Object call, each fetch) sends
 * events through the proxy to wrangler's Node process. With `inspector: false` none of that
 * happens, which is how the flash-sale benchmark (`--inspector off`) shows what that costs.
 *
 *   node bench/dev-worker.mjs '{"config":…,"port":…,"persist":…,"vars":{…},"envFile":…,"inspector":false}'
 *
 * Prints READY once the Worker answers, and stops cleanly on SIGINT / SIGTERM.
 */
import { createRequire } from "node:module";
import path from "node:path";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";

const options = JSON.parse(process.argv[2] ?? "{}");
const require = createRequire(path.join(PROJECT_ROOT, "package.json"));
const { unstable_startWorker } = require("wrangler");

const worker = await unstable_startWorker({
  config: options.config,
  envFiles: options.envFile ? [options.envFile] : undefined,
  bindings: Object.fromEntries(
    Object.entries(options.vars ?? {}).map(([name, value]) => [name, { type: "plain_text", value }]),
  ),
  dev: {
    server: { hostname: "127.0.0.1", port: options.port },
    persist: options.persist,
    inspector: options.inspector === false ? false : { hostname: "127.0.0.1", port: options.inspectorPort },
    logLevel: options.logLevel ?? "warn",
    watch: false,
  },
});
await worker.ready;
console.log("READY");

const stop = async () => {
  await worker.dispose();
  process.exit(0);
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
