/**
 * `npm run bench:flash-sale`: a flash sale against `wrangler dev` (issue 4, "Performance").
 *
 *   1. a throwaway local state (bench/.state/flash-sale, gitignored; the dev database under
 *      .wrangler/state is never touched): the source (src/, migrations/, wrangler.toml) is
 *      copied and bundled once, so that edits made while the benchmark runs cannot make
 *      `wrangler dev` rebuild and restart the Worker mid-run; migrations; one organizer, one
 *      published upcoming event with ONE paid tier (500 seats at 1,000 KES) and a separate
 *      probe event (bench/flash-sale-data.mjs);
 *   2. a local fake Daraja (bench/fake-daraja.mjs, Daraja's wire format) and `wrangler dev`
 *      on free ports with that state, the real Daraja client pointed at the fake
 *      (`--var MPESA_BASE_URL:… MPESA_CONSUMER_KEY:…`), `HOLD_SECONDS` 600, throwaway
 *      secrets (`--env-file`, so a developer's .dev.vars is not read), and a private dev
 *      registry (another `wrangler dev` of this Worker on the machine cannot reload ours);
 *   3. warm-up, a wait for other processes to leave the CPUs, then `/api/health/` at the
 *      same concurrency and request count as the sale, and a "capacity" phase (purchases on
 *      the probe tier, all accepted);
 *   4. the sale: 2,000 distinct guest buyers POST /api/pay/initiate/ (quantity 1), 64 in
 *      flight; 202 = accepted, 409 `sold_out` = sold out, anything else = error;
 *   5. for every accepted order, Daraja's success callback to the CallBackURL of its push;
 *   6. GET /api/pay/verify/<order_id>/ for every accepted order (ticket ids);
 *   7. one-at-a-time probes (health, a sold-out answer, an accepted purchase on the probe
 *      tier, its callback) showing what each kind of request costs on an idle server; then up
 *      to 20 orders one at a time from callback to the tickets email in the dev outbox (issue
 *      5's end-to-end target: within 5 s);
 *   8. the server is stopped; D1 (`wrangler d1 execute --local --persist-to …`) and the tier's
 *      Durable Object storage (sqlite3, when installed) are read back: tickets issued, orders,
 *      sold + held against the allocation; single statements are timed in the D1 simulator,
 *      and the real checkout code runs once more in a bench-only Worker with every D1, Durable
 *      Object and Daraja call timed (bench/checkout-timing);
 *   9. the figures are printed and appended to bench/results/flash-sale.md.
 *
 * Where the time goes: CPU seconds per process during each phase (the machine may be shared:
 * other processes' CPU is shown too) and per request, and for every accepted purchase the fake
 * Daraja's clock splits it into "before the STK push", "at Daraja" and "after the push".
 * `--inspector off` runs the same runtime without wrangler's DevTools inspector (not `wrangler
 * dev` then), which shows how much of a local request is the inspector's per-subrequest cost.
 *
 * Options (flags, or the environment variable in brackets):
 *   --buyers N                  distinct buyers [FLASH_BUYERS]                       default 2000
 *   --seats N                   seats in the tier [FLASH_SEATS]                      default 500
 *   --concurrency N             purchases in flight [FLASH_CONCURRENCY]              default 64
 *   --callback-concurrency N    callbacks / verifies in flight [FLASH_CALLBACK_CONCURRENCY]  default = concurrency
 *   --health-requests N         measured health requests [FLASH_HEALTH_REQUESTS]     default = buyers
 *   --warmup N                  warm-up health requests (and N/10 purchases on the probe tier) [FLASH_WARMUP]  default 200
 *   --capacity N                purchases on the probe tier (plenty of seats: all accepted) at the same
 *                               concurrency, for purchase throughput without sold-out answers [FLASH_CAPACITY]  default 500
 *   --probes N                  one-at-a-time probes of each kind [FLASH_PROBES]     default 50
 *   --price N                   tier price, KES [FLASH_PRICE]                        default 1000
 *   --inspector on|off          off: start the same runtime through wrangler's programmatic API without the
 *                               DevTools inspector (bench/dev-worker.mjs) to show what it costs [FLASH_INSPECTOR]  default on
 *   --log-level LEVEL           wrangler dev's --log-level (worker logs go to bench/.state/flash-sale/wrangler-dev.log) default warn
 *   --keep-state                keep the state, source snapshot and builds in bench/.state/flash-sale (rebuilt each run)
 *   --no-record                 do not append to bench/results/flash-sale.md
 *   --note TEXT                 a note for the results file
 */
import { execFileSync } from "node:child_process";
import { createHash, generateKeyPairSync, randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { d1Query, PROJECT_ROOT, parseWranglerJson } from "../scripts/wrangler.mjs";
import {
  appendResults,
  describeMachine,
  fmt,
  log,
  parseOptions,
  step,
  verdict,
  wrangler,
} from "./common.mjs";
import { cpuDelta, cpuSnapshot, startDevServer, stopDevServer } from "./dev-server.mjs";
import { receiptNumber, startFakeDaraja, successCallback } from "./fake-daraja.mjs";
import { buildFlashSaleData, buyer } from "./flash-sale-data.mjs";
import { keepAliveAgent, pool, requestJson } from "./http-json.mjs";
import { runLoad, stats } from "./load.mjs";

const BENCH_DIR = path.join(PROJECT_ROOT, "bench");
const ROOT_DIR = path.join(BENCH_DIR, ".state", "flash-sale");
const STATE_DIR = path.join(ROOT_DIR, "state");
/**
 * The code under test, copied and built once at the start, then served without bundling:
 * `wrangler dev` rebuilds and restarts the Worker whenever a file of its build changes (src/,
 * but also package.json or node_modules), failing every POST in flight with "Your worker
 * restarted mid-request", and other people edit this tree while the benchmark runs.
 */
const SNAPSHOT_DIR = path.join(ROOT_DIR, "snapshot");
const SNAPSHOT_CONFIG = path.join(SNAPSHOT_DIR, "wrangler.toml");
/**
 * For the bench's own `wrangler dev`: a private dev registry (every `wrangler dev` on the
 * machine shares ~/.config/.wrangler/registry, and another instance of this Worker starting
 * or stopping there reloads ours, failing the POSTs in flight with "Your worker restarted
 * mid-request"), and no config-file watching (the source is a snapshot anyway).
 */
const DEV_ENV = {
  WRANGLER_REGISTRY_PATH: path.join(ROOT_DIR, "registry"),
  WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
};
const HOLD_SECONDS = 600;
const TARGET_LATENCY_RATIO = 2;
const TARGET_THROUGHPUT_RATIO = 1 / 5;
const DARAJA = { shortcode: "174379", consumerKey: "bench", consumerSecret: "bench", passkey: "bench" };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function options() {
  const { values, number, record, note } = parseOptions(import.meta.url, {
    buyers: { type: "string" },
    seats: { type: "string" },
    concurrency: { type: "string" },
    "callback-concurrency": { type: "string" },
    "health-requests": { type: "string" },
    warmup: { type: "string" },
    probes: { type: "string" },
    capacity: { type: "string" },
    price: { type: "string" },
    "keep-state": { type: "boolean", default: false },
    "log-level": { type: "string", default: "warn" },
    inspector: { type: "string" },
  });
  const buyers = number("buyers", "FLASH_BUYERS", 2000, 1);
  const concurrency = number("concurrency", "FLASH_CONCURRENCY", 64, 1);
  return {
    buyers,
    seats: number("seats", "FLASH_SEATS", 500, 1),
    concurrency,
    callbackConcurrency: number("callback-concurrency", "FLASH_CALLBACK_CONCURRENCY", concurrency, 1),
    healthRequests: number("health-requests", "FLASH_HEALTH_REQUESTS", buyers, 1),
    warmup: number("warmup", "FLASH_WARMUP", 200, 0),
    probes: number("probes", "FLASH_PROBES", 50, 0),
    capacity: number("capacity", "FLASH_CAPACITY", 500, 0),
    price: number("price", "FLASH_PRICE", 1000, 1),
    keepState: values["keep-state"],
    logLevel: values["log-level"],
    inspector: (() => {
      const value = values.inspector ?? process.env.FLASH_INSPECTOR ?? "on";
      if (value !== "on" && value !== "off") throw new Error("--inspector must be on or off");
      return value;
    })(),
    record,
    note,
  };
}

const TARGET = ["-c", SNAPSHOT_CONFIG, "--local", "--persist-to", STATE_DIR];

/**
 * Copies what wrangler builds (src/, migrations/, wrangler.toml, and the timing Worker) into
 * the state folder: `wrangler dev` watches its sources and restarts the Worker when a file
 * changes, which would fail every request in flight when someone edits src/ during a run.
 * Node modules still resolve from the project (the copy lives inside it).
 */
function snapshotSource() {
  rmSync(SNAPSHOT_DIR, { recursive: true, force: true });
  for (const entry of ["src", "migrations", "wrangler.toml", "tsconfig.json"]) {
    cpSync(path.join(PROJECT_ROOT, entry), path.join(SNAPSHOT_DIR, entry), { recursive: true });
  }
  cpSync(path.join(BENCH_DIR, "checkout-timing"), path.join(SNAPSHOT_DIR, "bench", "checkout-timing"), {
    recursive: true,
  });
  const hash = createHash("sha256");
  const walk = (dir) => {
    for (const name of readdirSync(dir).sort()) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) walk(file);
      else hash.update(path.relative(SNAPSHOT_DIR, file)).update("\0").update(readFileSync(file));
    }
  };
  walk(path.join(SNAPSHOT_DIR, "src"));
  const git = (...args) => {
    try {
      return execFileSync("git", args, {
        cwd: PROJECT_ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "ignore"],
      }).trim();
    } catch {
      return "";
    }
  };
  const changed = git("status", "--porcelain", "--", "src", "migrations", "wrangler.toml")
    .split("\n")
    .filter(Boolean).length;
  return {
    commit: git("rev-parse", "--short", "HEAD") || "unknown",
    changed,
    srcHash: hash.digest("hex").slice(0, 12),
  };
}

/**
 * Bundles the Worker of `config` once (`wrangler deploy --dry-run --outdir`) and returns a
 * config that serves that bundle as is (`no_bundle`, its wasm and font modules found next to
 * it), so nothing the dev server watches can change during the run.
 */
async function buildWorker(config, name) {
  const outDir = path.join(ROOT_DIR, `build-${name}`);
  rmSync(outDir, { recursive: true, force: true });
  await wrangler(["deploy", "--dry-run", "--outdir", outDir, "-c", config]);
  const text = readFileSync(config, "utf8");
  // The bundle is named after the entry module: src/index.ts → index.js.
  const main = /^main\s*=\s*"([^"]+)"/m.exec(text)?.[1] ?? "index.js";
  const entry = path.join(outDir, `${path.basename(main).replace(/\.[^.]+$/, "")}.js`);
  if (!existsSync(entry)) throw new Error(`wrangler deploy --dry-run wrote no ${entry}`);
  const built = path.join(SNAPSHOT_DIR, `wrangler.${name}.built.toml`);
  writeFileSync(
    built,
    text.replace(
      /^main\s*=.*$/m,
      [
        `main = ${JSON.stringify(entry)}`,
        "no_bundle = true",
        "find_additional_modules = true",
        `base_dir = ${JSON.stringify(outDir)}`,
      ].join("\n"),
    ),
    "utf8",
  );
  return built;
}

/** Fresh state: migrations and the sale's data. */
async function prepareState(opts) {
  rmSync(ROOT_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  const source = snapshotSource();
  const builtConfig = await buildWorker(SNAPSHOT_CONFIG, "api");
  log(
    `✔ Source snapshot: commit ${source.commit}${source.changed ? ` + ${source.changed} uncommitted change(s) in src/, migrations/, wrangler.toml` : ""}, src/ sha256 ${source.srcHash}`,
  );
  const started = performance.now();
  step(`Applying migrations to ${path.relative(PROJECT_ROOT, STATE_DIR)}`);
  await wrangler(["d1", "migrations", "apply", "DB", ...TARGET]);
  const data = buildFlashSaleData({ seats: opts.seats, price: opts.price, maxPerOrder: 4 });
  const file = path.join(ROOT_DIR, "seed.sql");
  writeFileSync(file, data.sql, "utf8");
  await wrangler(["d1", "execute", "DB", ...TARGET, "--yes", "--file", file]);
  rmSync(file, { force: true });
  const [row] = await d1Query(
    TARGET,
    `SELECT quantity_allocated AS seats, price, max_per_order FROM tiers WHERE id = '${data.saleTier.id}'`,
  );
  if (row?.seats !== opts.seats) throw new Error(`Seeding failed: ${JSON.stringify(row)}`);
  log(
    `✔ Event "${data.saleEvent.title}", tier ${data.saleTier.id}: ${row.seats} seats at ${row.price} KES (max ${row.max_per_order} per order), in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return { ...data, source, builtConfig };
}

/** Throwaway secrets for this run, in an env file (which also keeps .dev.vars out of the run). */
function writeSecrets() {
  const { privateKey } = generateKeyPairSync("ed25519");
  const secrets = {
    JWT_SECRET: randomBytes(32).toString("hex"),
    TICKET_SIGNING_KEY: privateKey.export({ type: "pkcs8", format: "der" }).toString("base64"),
    BREVO_API_KEY: "",
  };
  const file = path.join(ROOT_DIR, "bench.env");
  writeFileSync(
    file,
    `${Object.entries(secrets)
      .map(([k, v]) => `${k}="${v}"`)
      .join("\n")}\n`,
    { encoding: "utf8", mode: 0o600 },
  );
  return { file, callbackToken: randomBytes(24).toString("base64url") };
}

/** The Worker's vars for the run: the real Daraja client pointed at the fake. */
function devVars(baseUrl, daraja, secrets) {
  return {
    PUBLIC_BASE_URL: baseUrl,
    MPESA_BASE_URL: daraja.baseUrl,
    MPESA_SHORTCODE: DARAJA.shortcode,
    MPESA_CONSUMER_KEY: DARAJA.consumerKey,
    MPESA_CONSUMER_SECRET: DARAJA.consumerSecret,
    MPESA_PASSKEY: DARAJA.passkey,
    MPESA_CALLBACK_TOKEN: secrets.callbackToken,
    HOLD_SECONDS: String(HOLD_SECONDS),
  };
}

/**
 * How to start the server: `wrangler dev -c <built config> --env-file … --var NAME:VALUE …`,
 * or (`--inspector off`) the same through wrangler's programmatic API without the inspector.
 */
function serverOptions(config, daraja, secrets, opts) {
  if (opts.inspector === "off") {
    return {
      programmatic: (baseUrl) => ({
        config,
        envFile: secrets.file,
        vars: devVars(baseUrl, daraja, secrets),
        inspector: false,
        logLevel: opts.logLevel,
      }),
    };
  }
  return {
    args: (baseUrl) => [
      "-c",
      config,
      "--env-file",
      secrets.file,
      ...Object.entries(devVars(baseUrl, daraja, secrets)).flatMap(([name, value]) => [
        "--var",
        `${name}:${value}`,
      ]),
      "--log-level",
      opts.logLevel,
    ],
  };
}

// ─── Formatting ───────────────────────────────────────────────────────────────────────────

function cpuText(cpu) {
  if (!cpu) return "n/a";
  return Object.entries(cpu.perSecond)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${fmt(v, 2)}`)
    .join(", ");
}

const SELF = "load generator + fake Daraja (node)";

/** CPU milliseconds of the server's processes (wrangler and workerd) per request, by process. */
function serverCpuPerRequest(before, after, requests) {
  if (!before || !after || requests === 0) return undefined;
  const byName = {};
  let total = 0;
  for (const name of Object.keys(after.byName)) {
    if (name === SELF) continue;
    const ms = ((after.byName[name] - (before.byName[name] ?? 0)) * 1000) / requests;
    byName[name] = ms;
    total += ms;
  }
  return { total, byName };
}

function cpuPerRequestText(c) {
  if (!c) return "n/a";
  const parts = Object.entries(c.byName)
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${fmt(v)}`);
  return `${fmt(c.total)} ms (${parts.join(", ")})`;
}

/**
 * Waits (up to `maxMs`) until the server's processes are nearly idle (e.g. the delivery
 * queue has drained after the callbacks) and, with `machine`, until other processes on this
 * (possibly shared) machine leave the CPUs alone too. Two quiet seconds in a row count.
 */
async function waitForQuiet(server, { maxMs = 30_000, machine = false } = {}) {
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

// ─── The phases ───────────────────────────────────────────────────────────────────────────

function initiateBody(tierId, b) {
  return { tier_id: tierId, phone_number: b.phone, quantity: 1, email: b.email, name: b.name };
}

function classify(result) {
  if (result.status === 202 && result.json?.order_id && result.json?.checkout_request_id) return "accepted";
  if (result.status === 409 && result.json?.code === "sold_out") return "soldOut";
  return "error";
}

async function purchasePhase(server, agent, opts, tierId) {
  const before = cpuSnapshot(server);
  const { results, seconds, startedAt } = await pool(opts.buyers, opts.concurrency, async (i) => {
    const b = buyer(i, "sale");
    const r = await requestJson(agent, {
      method: "POST",
      url: `${server.baseUrl}/api/pay/initiate/`,
      body: initiateBody(tierId, b),
    });
    return { ...r, i, buyer: b, kind: classify(r) };
  });
  const after = cpuSnapshot(server);
  return {
    results,
    seconds,
    startedAt,
    cpu: cpuDelta(before, after),
    cpuPerRequest: serverCpuPerRequest(before, after, results.length),
  };
}

async function callbackPhase(server, agent, opts, accepted, daraja, callbackToken, salt) {
  const expectedUrl = `${server.baseUrl}/api/pay/callback/${callbackToken}/`;
  const before = cpuSnapshot(server);
  const { results, seconds } = await pool(accepted.length, opts.callbackConcurrency, async (k) => {
    const order = accepted[k];
    const push = daraja.state.pushesById.get(order.json.checkout_request_id);
    if (!push) return { status: 0, ms: 0, problem: "no STK push recorded for this order" };
    if (push.callbackUrl !== expectedUrl)
      return { status: 0, ms: 0, problem: `CallBackURL ${push.callbackUrl}` };
    const r = await requestJson(agent, {
      method: "POST",
      url: push.callbackUrl,
      body: successCallback(push, receiptNumber(k, salt)),
    });
    const ok = r.status === 200 && r.json?.ResultCode === 0 && r.json?.ResultDesc === "Accepted";
    return { ...r, problem: ok ? undefined : `HTTP ${r.status} ${r.text.slice(0, 200)}` };
  });
  const after = cpuSnapshot(server);
  return {
    results,
    seconds,
    cpu: cpuDelta(before, after),
    cpuPerRequest: serverCpuPerRequest(before, after, results.length),
  };
}

async function verifyPhase(server, agent, opts, accepted) {
  const { results, seconds } = await pool(accepted.length, opts.callbackConcurrency, async (k) => {
    const r = await requestJson(agent, {
      url: `${server.baseUrl}/api/pay/verify/${accepted[k].json.order_id}/`,
    });
    const ok = r.status === 200 && r.json?.status === "COMPLETED";
    return { ...r, ok, tickets: Array.isArray(r.json?.ticket_ids) ? r.json.ticket_ids : [] };
  });
  return { results, seconds };
}

/** Purchases that are all accepted (the probe tier has plenty of seats), same concurrency as the sale. */
async function capacityPhase(server, agent, opts, data) {
  const before = cpuSnapshot(server);
  const { results, seconds } = await pool(opts.capacity, opts.concurrency, (i) =>
    requestJson(agent, {
      method: "POST",
      url: `${server.baseUrl}/api/pay/initiate/`,
      body: initiateBody(data.probeTier.id, buyer(10_000 + i, "probe")),
    }),
  );
  const after = cpuSnapshot(server);
  const accepted = results.filter((r) => classify(r) === "accepted");
  return {
    failures: results.filter((r) => classify(r) !== "accepted"),
    requests: results.length,
    accepted: accepted.length,
    errors: results.length - accepted.length,
    seconds,
    rps: accepted.length / seconds,
    latency: stats(accepted.map((r) => r.ms)),
    cpu: cpuDelta(before, after),
    cpuPerRequest: serverCpuPerRequest(before, after, results.length),
  };
}

/** One request at a time: what each kind of request costs on an otherwise idle server. */
async function probePhase(server, agent, opts, data, daraja) {
  const n = opts.probes;
  const problems = [];
  const split = { before: [], daraja: [], after: [] };
  const orders = [];
  /** Runs `n` requests one at a time; latency of the good ones, and server CPU per request. */
  const kind = async (make) => {
    const latencies = [];
    const before = cpuSnapshot(server);
    for (let k = 0; k < n; k++) {
      const ms = await make(k);
      if (ms !== undefined) latencies.push(ms);
    }
    return { ...stats(latencies), cpu: serverCpuPerRequest(before, cpuSnapshot(server), n) };
  };
  const health = await kind(async () => {
    const r = await requestJson(agent, { url: `${server.baseUrl}/api/health/` });
    if (r.status === 200) return r.ms;
    problems.push(`health HTTP ${r.status}`);
  });
  const soldOut = await kind(async (k) => {
    const r = await requestJson(agent, {
      method: "POST",
      url: `${server.baseUrl}/api/pay/initiate/`,
      body: initiateBody(data.saleTier.id, buyer(opts.buyers + k, "sale")),
    });
    if (classify(r) === "soldOut") return r.ms;
    problems.push(`sold-out probe HTTP ${r.status} ${r.text.slice(0, 120)}`);
  });
  const accepted = await kind(async (k) => {
    const { r, push } = await probePurchase(server, agent, data, daraja, buyer(1000 + k, "probe"));
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
    const r = await requestJson(agent, {
      method: "POST",
      url: push.callbackUrl,
      body: successCallback(push, receiptNumber(k, 7)),
    });
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

/** One purchase on the probe tier, and the STK push it made at the fake Daraja when accepted. */
async function probePurchase(server, agent, data, daraja, b) {
  const r = await requestJson(agent, {
    method: "POST",
    url: `${server.baseUrl}/api/pay/initiate/`,
    body: initiateBody(data.probeTier.id, b),
  });
  const push = classify(r) === "accepted" ? daraja.state.pushesByPhone.get(b.normalizedPhone) : undefined;
  return { r, push };
}

/** How many orders the end-to-end delivery probe follows (each waits for its email). */
const DELIVERY_PROBES = 20;

/**
 * Issue 5's end-to-end target: the tickets email is in the outbox within 5 s of the M-Pesa
 * callback. One order at a time: buy, send Daraja's success callback, then poll the dev outbox
 * (`/__dev/outbox/?to=…&kind=tickets`, every 25 ms) until the email is there. The time runs
 * from sending the callback; it includes the queue's batch wait (max_batch_timeout) and the
 * consumer rendering the PNGs and writing the email.
 */
async function deliveryProbes(server, agent, opts, data, daraja, problems) {
  const latencies = [];
  const count = Math.min(opts.probes, DELIVERY_PROBES);
  for (let k = 0; k < count; k++) {
    const b = buyer(20_000 + k, "probe");
    const { r, push } = await probePurchase(server, agent, data, daraja, b);
    if (!push) {
      problems.push(`delivery probe purchase HTTP ${r.status} ${r.text.slice(0, 120)}`);
      continue;
    }
    const sentAt = performance.now();
    const callback = await requestJson(agent, {
      method: "POST",
      url: push.callbackUrl,
      body: successCallback(push, receiptNumber(k, 9)),
    });
    if (callback.status !== 200) {
      problems.push(`delivery probe callback HTTP ${callback.status}`);
      continue;
    }
    const outbox = `${server.baseUrl}/__dev/outbox/?to=${encodeURIComponent(b.email)}&kind=tickets`;
    let found = false;
    while (!found && performance.now() - sentAt < 30_000) {
      const answer = await requestJson(agent, { url: outbox });
      found = answer.status === 200 && (answer.json?.count ?? 0) > 0;
      if (!found) await new Promise((resolve) => setTimeout(resolve, 25));
    }
    if (found) latencies.push(performance.now() - sentAt);
    else problems.push("delivery probe: no tickets email in the outbox 30 s after the callback");
  }
  return { ...stats(latencies), attempted: count };
}

// ─── Reading the results back ─────────────────────────────────────────────────────────────

async function readBack(data) {
  const t = data.saleTier.id;
  const [tier] = await d1Query(
    TARGET,
    `SELECT quantity_allocated AS allocated, quantity_sold AS sold, quantity_held AS held, inventory_version AS version FROM tiers WHERE id = '${t}'`,
  );
  const orders = await d1Query(
    TARGET,
    `SELECT status, COUNT(*) AS orders, SUM(quantity) AS seats, SUM(amount) AS amount FROM orders WHERE tier_id = '${t}' GROUP BY status ORDER BY status`,
  );
  const [tickets] = await d1Query(
    TARGET,
    `SELECT COUNT(*) AS tickets, COUNT(DISTINCT order_id) AS orders, COUNT(DISTINCT owner_id) AS owners,
       (SELECT COUNT(*) FROM (SELECT o.id FROM orders o LEFT JOIN tickets k ON k.order_id = o.id
          WHERE o.tier_id = '${t}' AND o.status = 'COMPLETED' GROUP BY o.id HAVING COUNT(k.id) <> o.quantity)) AS mismatched,
       (SELECT COUNT(*) FROM orders WHERE tier_id = '${t}' AND status = 'COMPLETED' AND mpesa_receipt_number IS NULL) AS without_receipt
     FROM tickets WHERE tier_id = '${t}'`,
  );
  const [pending] = await d1Query(
    TARGET,
    `SELECT COUNT(*) AS n FROM orders WHERE tier_id = '${t}' AND status = 'PENDING' AND checkout_request_id IS NULL`,
  );
  const [users] = await d1Query(
    TARGET,
    `SELECT COUNT(*) AS sale_guests FROM users WHERE is_guest = 1 AND email LIKE '%.sale%@flash-sale.bench'`,
  );
  // Single statements timed inside the local D1 simulator (meta.duration, 1 ms resolution).
  const lines = [];
  for (let k = 0; k < 5; k++) {
    lines.push("SELECT 1;");
    lines.push(
      `INSERT INTO idempotency_keys (scope, key, request_hash, expires_at) VALUES ('bench', 'k${k}', 'h', 0);`,
    );
    lines.push(
      `UPDATE tiers SET quantity_held = quantity_held, inventory_version = inventory_version WHERE id = '${data.probeTier.id}';`,
    );
    lines.push(`SELECT * FROM orders WHERE checkout_request_id = 'none-${k}';`);
  }
  lines.push("DELETE FROM idempotency_keys WHERE scope = 'bench';");
  const file = path.join(ROOT_DIR, "timing.sql");
  writeFileSync(file, `${lines.join("\n")}\n`, "utf8");
  const started = performance.now();
  const timed = await wrangler(["d1", "execute", "DB", ...TARGET, "--json", "--file", file]);
  const commandMs = performance.now() - started;
  rmSync(file, { force: true });
  const json = parseWranglerJson(timed.stdout) ?? [];
  const durations = json.map((r) => Number(r.meta?.duration ?? Number.NaN));
  const pick = (offset) => durations.filter((_, i) => i < 20 && i % 4 === offset);
  const simulator = {
    select1: stats(pick(0)),
    insert: stats(pick(1)),
    update: stats(pick(2)),
    lookup: stats(pick(3)),
    commandMs,
  };

  return {
    tier,
    orders,
    tickets,
    users,
    pendingWithoutPush: Number(pending?.n ?? 0),
    simulator,
    objects: readObjects(),
  };
}

/** The tier objects' own storage (SQLite files of the Durable Objects), when sqlite3 is installed. */
function readObjects() {
  const doDir = path.join(STATE_DIR, "v3", "do");
  if (!existsSync(doDir)) return { note: "no Durable Object storage found" };
  const dirs = readdirSync(doDir).filter((d) => d.includes("TierInventory"));
  const files = dirs.flatMap((d) =>
    readdirSync(path.join(doDir, d))
      .filter((f) => f.endsWith(".sqlite"))
      .map((f) => path.join(doDir, d, f)),
  );
  const rows = [];
  const problems = [];
  for (const file of files) {
    try {
      const tables = execFileSync("sqlite3", ["-readonly", file, ".tables"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      if (!/\binventory\b/.test(tables)) continue; // the namespace's metadata.sqlite
      const out = execFileSync(
        "sqlite3",
        [
          "-readonly",
          "-json",
          file,
          "SELECT tier_id, allocation, sold, version, (SELECT COUNT(*) FROM holds) AS holds, (SELECT COALESCE(SUM(quantity), 0) FROM holds) AS held, (SELECT COUNT(*) FROM confirmed) AS confirmed, (SELECT COALESCE(SUM(quantity), 0) FROM confirmed) AS confirmed_seats FROM inventory",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      rows.push(...JSON.parse(out || "[]"));
    } catch (error) {
      problems.push(
        error.code === "ENOENT" ? "sqlite3 is not installed" : String(error.stderr ?? error.message).trim(),
      );
    }
  }
  if (rows.length === 0) return { note: problems[0] ?? "no tier object storage found" };
  return { rows };
}

// ─── The checkout code with timers (bench/checkout-timing) ────────────────────────────────

/**
 * The timing Worker's config: the API's own wrangler.toml (from the snapshot, so bindings,
 * build rules and the Worker name are the same, and with them the local Durable Object
 * storage) with `main` pointing at bench/checkout-timing/worker.mjs.
 */
function timingConfig() {
  const text = readFileSync(SNAPSHOT_CONFIG, "utf8");
  if (!/^main\s*=.*$/m.test(text)) throw new Error(`no main = … in ${SNAPSHOT_CONFIG}`);
  const file = path.join(SNAPSHOT_DIR, "wrangler.checkout-timing.toml");
  writeFileSync(file, text.replace(/^main\s*=.*$/m, 'main = "bench/checkout-timing/worker.mjs"'), "utf8");
  return file;
}

/** Runs the real checkout code in a bench-only Worker with D1, the seat object and Daraja timed. */
async function checkoutTiming(data, daraja, secrets, opts) {
  const config = await buildWorker(timingConfig(), "timing");
  const server = await startDevServer({
    persistTo: STATE_DIR,
    logFile: path.join(ROOT_DIR, "wrangler-timing.log"),
    env: DEV_ENV,
    redact: [secrets.callbackToken],
    readyPath: "/ready",
    ...serverOptions(config, daraja, secrets, { ...opts, logLevel: "warn" }),
  });
  running.add(server);
  try {
    const response = await fetch(`${server.baseUrl}/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        saleTierId: data.saleTier.id,
        probeTierId: data.probeTier.id,
        n: opts.probes,
        price: opts.price,
      }),
      signal: AbortSignal.timeout(300_000),
    });
    const text = await response.text();
    if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text.slice(0, 500)}`);
    const runs = JSON.parse(text);
    return Object.fromEntries(Object.entries(runs).map(([kind, list]) => [kind, summarizeTimeline(list)]));
  } finally {
    await stopDevServer(server);
    running.delete(server);
  }
}

/** Per request: I/O time by kind (D1, Durable Object, Daraja) and per operation, as medians. */
function summarizeTimeline(list) {
  const median = (values) => stats(values).p50;
  const sums = list.map((run) => {
    const by = { D1: 0, "Durable Object": 0, Daraja: 0 };
    for (const op of run.timeline) by[op.kind] = (by[op.kind] ?? 0) + op.ms;
    return { by, d1Trips: run.timeline.filter((op) => op.kind === "D1").length, ops: run.timeline };
  });
  // The usual sequence of operations (the most common shape), with the median of each step.
  const shapes = new Map();
  for (const s of sums) {
    const key = s.ops.map((op) => `${op.kind}: ${op.name}`).join("|");
    shapes.set(key, [...(shapes.get(key) ?? []), s]);
  }
  const [shape, same] = [...shapes.entries()].sort((a, b) => b[1].length - a[1].length)[0] ?? ["", []];
  const steps = shape
    ? shape.split("|").map((name, i) => ({ name, ms: median(same.map((s) => s.ops[i].ms)) }))
    : [];
  const statuses = [...new Set(list.map((r) => r.status ?? r.outcome))];
  return {
    n: list.length,
    statuses,
    d1Trips: median(sums.map((s) => s.d1Trips)),
    d1: median(sums.map((s) => s.by.D1)),
    object: median(sums.map((s) => s.by["Durable Object"])),
    daraja: median(sums.map((s) => s.by.Daraja)),
    total: median(sums.map((s) => s.by.D1 + s.by["Durable Object"] + s.by.Daraja)),
    steps,
  };
}

function timingText(name, t, outside) {
  if (!t) return `  - ${name}: n/a`;
  const steps = t.steps.map((step) => `${step.name} ${fmt(step.ms, 1)}`).join("; ");
  return `  - ${name} (${t.statuses.join("/")}): ${t.d1Trips} D1 round trips ${fmt(t.d1, 1)} ms, Durable Object ${fmt(t.object, 1)} ms, Daraja ${fmt(t.daraja, 1)} ms; I/O total ${fmt(t.total, 1)} ms${
    Number.isFinite(outside) ? ` of ${fmt(outside, 2)} ms end to end (one at a time, above)` : ""
  }. Steps: ${steps}`;
}

// ─── Report ───────────────────────────────────────────────────────────────────────────────

function summarize({ opts, sale, callbacks, verify, health, back, daraja }) {
  const accepted = sale.results.filter((r) => r.kind === "accepted");
  const soldOut = sale.results.filter((r) => r.kind === "soldOut");
  const errors = sale.results.filter((r) => r.kind === "error");
  const lastAcceptedAt = Math.max(...accepted.map((r) => r.endedAt));
  const saleWindow = accepted.length ? (lastAcceptedAt - sale.startedAt) / 1000 : Number.NaN;
  const ticketsViaVerify = verify.results.reduce((sum, r) => sum + r.tickets.length, 0);
  const completedViaVerify = verify.results.filter((r) => r.json?.status === "COMPLETED").length;
  const ticketsInD1 = Number(back.tickets?.tickets ?? Number.NaN);
  const ticketsIssued = Math.max(ticketsViaVerify, Number.isFinite(ticketsInD1) ? ticketsInD1 : 0);
  const committedByStatus = Object.fromEntries(back.orders.map((o) => [o.status, Number(o.seats)]));
  const ordersSeats = ["PENDING", "COMPLETED", "PAID_UNFULFILLED"].reduce(
    (sum, s) => sum + (committedByStatus[s] ?? 0),
    0,
  );
  const saleObject = back.objects.rows?.find((r) => r.tier_id === sale.tierId);
  const pushesForSale = daraja.state.pushes.filter((p) => p.phoneNumber.startsWith("254711"));
  const splitOf = (pick) =>
    stats(
      accepted
        .map((r) => {
          const push = daraja.state.pushesByPhone.get(r.buyer.normalizedPhone);
          return push ? pick(r, push) : undefined;
        })
        .filter((v) => v !== undefined),
    );
  const split = {
    before: splitOf((r, p) => p.receivedAt - r.startedAt),
    daraja: splitOf((_r, p) => p.answeredAt - p.receivedAt),
    after: splitOf((r, p) => r.endedAt - p.answeredAt),
  };
  const acc = stats(accepted.map((r) => r.ms));
  const so = stats(soldOut.map((r) => r.ms));
  const cb = stats(callbacks.results.filter((r) => r.ms).map((r) => r.ms));
  const purchasesPerSecond = accepted.length / sale.seconds;
  const throughputRatio = purchasesPerSecond / health.rps;
  const latencyRatio = so.p50 / health.p50;
  const oversold = Math.max(0, ticketsIssued - opts.seats);
  const seatChecks = [
    ["accepted ≤ seats (every 202 holds a seat for 600 s)", accepted.length <= opts.seats],
    ["D1 tiers: sold + held ≤ allocated", back.tier.sold + back.tier.held <= back.tier.allocated],
    ["D1 orders: seats of PENDING + COMPLETED + PAID_UNFULFILLED ≤ seats", ordersSeats <= opts.seats],
    ["tickets issued ≤ seats", ticketsIssued <= opts.seats],
    [
      "Durable Object: sold + held ≤ allocation",
      saleObject ? saleObject.sold + saleObject.held <= saleObject.allocation : undefined,
    ],
  ];
  const consistencyChecks = [
    [
      `STK pushes for the sale (${pushesForSale.length}) = accepted orders (an extra push means a request failed after its push went out)`,
      pushesForSale.length === accepted.length,
    ],
    [
      `sold-out buyers wrote nothing to D1 (guest users ${back.users?.sale_guests} = accepted buyers)`,
      Number(back.users?.sale_guests) === accepted.length,
    ],
    ["every COMPLETED order has exactly its quantity of tickets", Number(back.tickets?.mismatched) === 0],
    [
      `no PENDING order without a CheckoutRequestID (${back.pendingWithoutPush} found: its payment could not be matched)`,
      Number(back.pendingWithoutPush) === 0,
    ],
  ];
  return {
    accepted,
    soldOut,
    errors,
    saleWindow,
    ticketsViaVerify,
    completedViaVerify,
    ticketsInD1,
    ticketsIssued,
    oversold,
    ordersSeats,
    saleObject,
    split,
    acc,
    so,
    cb,
    purchasesPerSecond,
    throughputRatio,
    latencyRatio,
    seatChecks,
    consistencyChecks,
    callbackProblems: callbacks.results.filter((r) => r.problem),
  };
}

/** A titled list of failed requests by status, up to 3 answers each; nothing when none failed. */
function errorSampleLines(title, errors) {
  if (errors.length === 0) return [];
  const byStatus = new Map();
  for (const e of errors) {
    const key = e.status === 0 ? `network: ${e.error}` : `HTTP ${e.status}`;
    const entry = byStatus.get(key) ?? { count: 0, samples: [] };
    entry.count++;
    if (entry.samples.length < 3) entry.samples.push(e.text.slice(0, 300));
    byStatus.set(key, entry);
  }
  return [
    title,
    "",
    ...[...byStatus.entries()].map(
      ([key, entry]) =>
        `- ${key} × ${entry.count}: ${entry.samples.map((t) => `\`${t.replaceAll("`", "'")}\``).join(" ")}`,
    ),
    "",
  ];
}

function report(ctx, s) {
  const { opts, host, data, sale, callbacks, verify, health, probes, back, daraja, server, quiet } = ctx;
  const ok = s.oversold === 0 && s.seatChecks.every(([, v]) => v !== false);
  const latencyOk = s.latencyRatio <= TARGET_LATENCY_RATIO;
  const throughputOk = s.throughputRatio >= TARGET_THROUGHPUT_RATIO;
  const row = (name, value, target = "") => `| ${name} | ${value} | ${target} |`;
  const lines = [
    `## ${new Date().toISOString()}${opts.note ? ` (${opts.note})` : ""}`,
    "",
    `- Machine: ${host.nproc} CPUs (\`nproc\`), ${host.cpu}, ${fmt(host.memoryGiB)} GiB RAM, ${host.platform}; load average before the run ${host.loadavg.map((n) => fmt(n, 2)).join(" / ")}`,
    `- Code: commit ${data.source.commit}${data.source.changed ? ` + ${data.source.changed} uncommitted change(s) in src/, migrations/, wrangler.toml` : ""} (src/ sha256 ${data.source.srcHash}), copied and built once before the run so that edits made meanwhile cannot restart the server`,
    `- Node ${host.node}, wrangler ${host.wrangler} (${
      opts.inspector === "off"
        ? "**not `wrangler dev`**: the same runtime through wrangler's programmatic API with the inspector off, `--inspector off`"
        : "`wrangler dev`"
    }, local D1 simulator, log level ${opts.logLevel}, ready in ${fmt(server.readyMs / 1000)} s); load generator and fake Daraja in one Node process on the same machine`,
    `- Sale: ONE tier, ${opts.seats} seats at ${opts.price} KES; ${opts.buyers.toLocaleString("en")} distinct guest buyers, quantity 1, ${opts.concurrency} in flight (keep-alive); callbacks and verifies ${opts.callbackConcurrency} in flight; HOLD_SECONDS ${HOLD_SECONDS}; real Daraja client against a local fake Daraja`,
    `- Order: warm-up (${opts.warmup} health requests, ${Math.ceil(opts.warmup / 10)} purchases on a separate probe tier); a wait for other processes to leave the CPUs (${ctx.machineWait ? `${fmt(ctx.machineWait.seconds)} s, ${ctx.machineWait.quiet ? "quiet" : `not quiet: others at ${fmt(ctx.machineWait.others, 2)} CPU`}` : "n/a"}); health (${opts.healthRequests.toLocaleString("en")} requests, ${opts.concurrency} in flight); capacity (${opts.capacity} purchases on the probe tier); the sale; callbacks; verify; one-at-a-time probes`,
    "",
    "| Figure | Value | Target |",
    "| --- | ---: | --- |",
    row("Accepted (202)", s.accepted.length),
    row("Sold out (409 `sold_out`)", s.soldOut.length),
    row("Errors (anything else)", s.errors.length),
    row("Tickets issued", `${s.ticketsIssued} (verify: ${s.ticketsViaVerify}; D1: ${fmt(s.ticketsInD1, 0)})`),
    row("**Oversold**", `**${s.oversold}**`, `0: ${verdict(ok)}`),
    row("Purchase phase wall time", `${fmt(sale.seconds, 2)} s (last 202 at ${fmt(s.saleWindow, 2)} s)`),
    row(
      "Purchases per second (accepted / purchase phase)",
      `${fmt(s.purchasesPerSecond)} (${fmt(s.accepted.length / s.saleWindow)} over the sale window)`,
    ),
    row("Accepted latency p50 / p99", `${fmt(s.acc.p50)} / ${fmt(s.acc.p99)} ms`),
    row("Sold-out latency p50 / p99", `${fmt(s.so.p50)} / ${fmt(s.so.p99)} ms`),
    row("`/api/health/` req/s, p50 / p99", `${fmt(health.rps)}, ${fmt(health.p50)} / ${fmt(health.p99)} ms`),
    row(
      "Purchases per second / health req/s",
      `**${fmt(s.throughputRatio, 3)}** (over the sale window: ${fmt(s.accepted.length / s.saleWindow / health.rps, 3)})`,
      `≥ ${fmt(TARGET_THROUGHPUT_RATIO, 2)}: ${verdict(throughputOk)}`,
    ),
    row(
      "Sold-out p50 / health p50",
      `**${fmt(s.latencyRatio, 2)}**`,
      `≤ ${TARGET_LATENCY_RATIO}: ${verdict(latencyOk)}`,
    ),
    row(
      "Callbacks",
      `${callbacks.results.length} in ${fmt(callbacks.seconds, 2)} s (${fmt(callbacks.results.length / callbacks.seconds)}/s), p50 / p99 ${fmt(s.cb.p50)} / ${fmt(s.cb.p99)} ms, ${s.callbackProblems.length} not answered 200 Accepted`,
    ),
    row(
      "Verify",
      `${s.completedViaVerify} COMPLETED of ${verify.results.length} in ${fmt(verify.seconds, 2)} s`,
    ),
    ...(ctx.capacity
      ? [
          row(
            `Capacity: ${ctx.capacity.requests} purchases, all with seats (probe tier)`,
            `${fmt(ctx.capacity.rps)}/s = **${fmt(ctx.capacity.rps / health.rps, 3)}** × health; p50 / p99 ${fmt(ctx.capacity.latency.p50)} / ${fmt(ctx.capacity.latency.p99)} ms; ${ctx.capacity.errors} errors`,
            "not the target's definition; for comparison",
          ),
        ]
      : []),
    "",
    "Seats, read back after the run:",
    "",
    `- D1 \`tiers\`: allocated ${back.tier.allocated}, sold ${back.tier.sold}, held ${back.tier.held} (version ${back.tier.version})`,
    `- D1 \`orders\` of the tier: ${back.orders.map((o) => `${o.status} ${o.orders} (${o.seats} seats, ${o.amount} KES)`).join(", ") || "none"}`,
    `- D1 \`tickets\` of the tier: ${back.tickets.tickets} for ${back.tickets.orders} orders and ${back.tickets.owners} owners; completed orders without a receipt: ${back.tickets.without_receipt}`,
    `- The tier's Durable Object storage: ${
      s.saleObject
        ? `allocation ${s.saleObject.allocation}, sold ${s.saleObject.sold}, holds ${s.saleObject.holds} (${s.saleObject.held} seats), confirmed orders ${s.saleObject.confirmed} (${s.saleObject.confirmed_seats} seats), version ${s.saleObject.version}`
        : (back.objects.note ?? "not found")
    }`,
    `- Fake Daraja: ${daraja.state.pushes.length} STK pushes in all (${daraja.state.pushes.filter((p) => p.phoneNumber.startsWith("254711")).length} for the sale), ${daraja.state.oauthCalls} OAuth calls, ${daraja.state.rejected.length} pushes refused as malformed`,
    ...[...s.seatChecks, ...s.consistencyChecks].map(
      ([name, value]) => `- ${value === undefined ? "n/a" : value ? "✔" : "✖ **FAILED**"} ${name}`,
    ),
    `- Server processes (pids by kind) at the start ${JSON.stringify(ctx.pidsAtStart ?? {})} and at the end ${JSON.stringify(ctx.pidsAtEnd ?? {})}${
      JSON.stringify(ctx.pidsAtStart) === JSON.stringify(ctx.pidsAtEnd)
        ? ": unchanged"
        : ": **changed: a runtime was restarted during the run**"
    }; resident memory from start to end: ${Object.keys(ctx.rssAtEnd ?? {})
      .filter((name) => name.startsWith("workerd") || name.startsWith("wrangler"))
      .map((name) => `${name} ${fmt(ctx.rssAtStart?.[name], 0)} → ${fmt(ctx.rssAtEnd[name], 0)} MiB`)
      .join(", ")}`,
    "",
    "Where the time goes:",
    "",
    `- CPU seconds per second (${host.nproc} CPUs) during health: ${cpuText(health.cpu)}`,
    `- … during the sale: ${cpuText(sale.cpu)}`,
    `- … during the callbacks: ${cpuText(callbacks.cpu)}`,
    `- Server CPU (wrangler + workerd) per request: health ${cpuPerRequestText(health.cpuPerRequest)}; sale, all answers ${cpuPerRequestText(sale.cpuPerRequest)}; callback ${cpuPerRequestText(callbacks.cpuPerRequest)}${ctx.capacity ? `; capacity purchase ${cpuPerRequestText(ctx.capacity.cpuPerRequest)}` : ""}`,
    `- Accepted purchases under load, split by the fake Daraja's clock (p50 / p99 ms): before the STK push arrives ${fmt(s.split.before.p50)} / ${fmt(s.split.before.p99)} (request, tier and event facts (cached per isolate for 2 s), seat hold on the Durable Object, one batch recording buyer, order and counts); at Daraja ${fmt(s.split.daraja.p50, 2)} / ${fmt(s.split.daraja.p99, 2)}; after Daraja answered ${fmt(s.split.after.p50)} / ${fmt(s.split.after.p99)} (CheckoutRequestID saved, response)`,
    ...(opts.probes > 0
      ? [
          `- One request at a time on the idle server (${opts.probes} of each, after waiting ${fmt(quiet?.seconds, 1)} s for the server to go quiet${quiet?.quiet ? "" : ", in vain"}), p50 latency and server CPU per request:`,
          `  - health ${fmt(probes.health.p50, 2)} ms, CPU ${cpuPerRequestText(probes.health.cpu)}`,
          `  - sold-out answer ${fmt(probes.soldOut.p50, 2)} ms, CPU ${cpuPerRequestText(probes.soldOut.cpu)}`,
          `  - accepted purchase ${fmt(probes.accepted.p50, 2)} ms (before the push ${fmt(probes.split.before.p50, 2)}, at Daraja ${fmt(probes.split.daraja.p50, 2)}, after ${fmt(probes.split.after.p50, 2)}), CPU ${cpuPerRequestText(probes.accepted.cpu)}`,
          `  - success callback ${fmt(probes.callbacks.p50, 2)} ms, CPU ${cpuPerRequestText(probes.callbacks.cpu)} (the CPU includes the ticket delivery each callback queues: the queue consumer renders the ticket PNGs in the same Worker)${probes.problems.length ? `; problems: ${probes.problems.slice(0, 3).join("; ")}` : ""}`,
          `- Ticket delivery end to end (issue 5: tickets email in the outbox within 5 s of the callback), ${probes.delivery.n} of ${probes.delivery.attempted} orders one at a time: callback sent → email in \`/__dev/outbox/\` p50 ${fmt(probes.delivery.p50)} ms, max ${fmt(probes.delivery.max)} ms (${probes.delivery.n === probes.delivery.attempted && probes.delivery.max <= 5000 ? "met" : "**missed**"}; the queue's max_batch_timeout is 1 s)`,
        ]
      : ["- One-at-a-time probes: skipped (`--probes 0`)"]),
    ...(ctx.timing?.error
      ? [`- The checkout code with timers: failed (${ctx.timing.error})`]
      : ctx.timing
        ? [
            `- The checkout code from src/ with every I/O call timed inside workerd (bench/checkout-timing, ${opts.probes} one at a time after the sale, medians per request):`,
            timingText("health's `SELECT 1`", ctx.timing.health, probes?.health.p50),
            timingText("accepted purchase", ctx.timing.accepted, probes?.accepted.p50),
            timingText("sold-out answer", ctx.timing.soldOut, probes?.soldOut.p50),
            timingText("success callback", ctx.timing.callback, probes?.callbacks.p50),
          ]
        : []),
    `- Single statements inside the local D1 simulator (\`wrangler d1 execute --local --file\`, \`meta.duration\`, median of 5, 1 ms resolution): \`SELECT 1\` ${fmt(back.simulator.select1.p50, 0)} ms, an \`INSERT\` ${fmt(back.simulator.insert.p50, 0)} ms, an \`UPDATE tiers\` ${fmt(back.simulator.update.p50, 0)} ms, an indexed lookup ${fmt(back.simulator.lookup.p50, 0)} ms (the whole wrangler command: ${fmt(back.simulator.commandMs / 1000, 1)} s)`,
    "",
  ];
  lines.push(
    ...errorSampleLines(
      "Verify phase error samples (not 200 COMPLETED):",
      verify.results.filter((r) => !r.ok),
    ),
    ...errorSampleLines("Capacity phase error samples:", ctx.capacity?.failures ?? []),
    ...errorSampleLines("Error samples:", s.errors),
  );
  return { text: lines.join("\n"), ok, latencyOk, throughputOk };
}

// ─── Main ─────────────────────────────────────────────────────────────────────────────────

/** Servers to stop if the run is interrupted (Ctrl-C). */
const running = new Set();

async function interrupted() {
  for (const server of running) await stopDevServer(server);
  process.exit(130);
}

/** wrangler dev from warm-up to the probes; always stopped at the end. */
async function salePhases(ctx) {
  const { opts, data, daraja, secrets } = ctx;
  step(opts.inspector === "off" ? "Starting the runtime without the inspector" : "Starting wrangler dev");
  const server = await startDevServer({
    persistTo: STATE_DIR,
    logFile: path.join(ROOT_DIR, "wrangler-dev.log"),
    env: DEV_ENV,
    redact: [secrets.callbackToken],
    ...serverOptions(data.builtConfig, daraja, secrets, opts),
  });
  running.add(server);
  ctx.server = server;
  log(`✔ ${server.baseUrl}/api/health/ answered 200 after ${(server.readyMs / 1000).toFixed(1)} s`);
  const agent = keepAliveAgent(Math.max(opts.concurrency, opts.callbackConcurrency));
  const first = cpuSnapshot(server);
  ctx.pidsAtStart = first?.pids;
  ctx.rssAtStart = first?.rssMiB;
  try {
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
        requestJson(agent, {
          method: "POST",
          url: `${server.baseUrl}/api/pay/initiate/`,
          body: initiateBody(data.probeTier.id, buyer(k, "probe")),
        }),
      );
      const bad = warm.results.filter((r) => r.status !== 202);
      if (bad.length > 0) {
        throw new Error(
          `Warm-up purchases failed (${bad.length}): HTTP ${bad[0].status} ${bad[0].text.slice(0, 300)}; see ${server.logFile}`,
        );
      }
      log(`✔ warm-up done; the fake Daraja has seen ${daraja.state.oauthCalls} OAuth call(s)`);
    }
    ctx.machineWait = await waitForQuiet(server, { maxMs: 180_000, machine: true });
    log(
      ctx.machineWait.quiet
        ? `✔ quiet after ${fmt(ctx.machineWait.seconds)} s`
        : `! other processes still use ${fmt(ctx.machineWait.others, 2)} CPU after ${fmt(ctx.machineWait.seconds)} s; measuring anyway`,
    );

    step(`Health: ${opts.healthRequests} requests, ${opts.concurrency} in flight`);
    const beforeHealth = cpuSnapshot(server);
    const health = await runLoad({
      baseUrl: server.baseUrl,
      path: () => "/api/health/",
      total: opts.healthRequests,
      concurrency: opts.concurrency,
    });
    const afterHealth = cpuSnapshot(server);
    health.cpu = cpuDelta(beforeHealth, afterHealth);
    health.cpuPerRequest = serverCpuPerRequest(beforeHealth, afterHealth, health.requests);
    log(
      `  ${fmt(health.rps)} req/s, p50 ${fmt(health.p50)} ms, p99 ${fmt(health.p99)} ms, errors ${health.errors}${health.errors ? ` ${JSON.stringify(health.errorKinds)}` : ""}`,
    );
    ctx.health = health;

    if (opts.capacity > 0) {
      step(
        `Purchase capacity: ${opts.capacity} purchases on the probe tier, all accepted, ${opts.concurrency} in flight`,
      );
      await waitForQuiet(server, { maxMs: 60_000 });
      ctx.capacity = await capacityPhase(server, agent, opts, data);
      log(
        `  ${ctx.capacity.accepted} accepted, ${ctx.capacity.errors} errors: ${fmt(ctx.capacity.rps)}/s, p50 ${fmt(ctx.capacity.latency.p50)} ms`,
      );
    }

    await waitForQuiet(server, { maxMs: 60_000 });

    step(`The sale: ${opts.buyers} buyers, ${opts.seats} seats, ${opts.concurrency} in flight`);
    const sale = await purchasePhase(server, agent, opts, data.saleTier.id);
    sale.tierId = data.saleTier.id;
    ctx.sale = sale;
    const accepted = sale.results.filter((r) => r.kind === "accepted");
    const counts = { accepted: accepted.length, soldOut: 0, error: 0 };
    for (const r of sale.results) if (r.kind !== "accepted") counts[r.kind]++;
    log(
      `  ${counts.accepted} accepted, ${counts.soldOut} sold out, ${counts.error} errors in ${fmt(sale.seconds, 2)} s`,
    );

    step(`Callbacks: ${accepted.length} success callbacks, ${opts.callbackConcurrency} in flight`);
    ctx.callbacks = await callbackPhase(
      server,
      agent,
      opts,
      accepted,
      daraja,
      secrets.callbackToken,
      Math.floor(Math.random() * 70_000),
    );
    log(
      `  done in ${fmt(ctx.callbacks.seconds, 2)} s; ${ctx.callbacks.results.filter((r) => r.problem).length} not answered 200 Accepted`,
    );

    step(`Verify: GET /api/pay/verify/<order_id>/ for ${accepted.length} orders`);
    ctx.verify = await verifyPhase(server, agent, opts, accepted);
    log(
      `  ${ctx.verify.results.reduce((sum, r) => sum + r.tickets.length, 0)} ticket ids in ${fmt(ctx.verify.seconds, 2)} s`,
    );

    if (opts.probes > 0) {
      step(`One-at-a-time probes (${opts.probes} of each kind)`);
      ctx.quiet = await waitForQuiet(server, { maxMs: 300_000 });
      log(`  the server went quiet ${fmt(ctx.quiet.seconds)} s after the verify phase (delivery queue)`);
      ctx.probes = await probePhase(server, agent, opts, data, daraja);
      log(
        `  health ${fmt(ctx.probes.health.p50, 2)} ms, sold out ${fmt(ctx.probes.soldOut.p50, 2)} ms, accepted ${fmt(ctx.probes.accepted.p50, 2)} ms, callback ${fmt(ctx.probes.callbacks.p50, 2)} ms (p50)`,
      );
    }
  } finally {
    const last = cpuSnapshot(server);
    ctx.pidsAtEnd = last?.pids;
    ctx.rssAtEnd = last?.rssMiB;
    agent.destroy();
    step("Stopping the server");
    const stopped = await stopDevServer(server);
    running.delete(server);
    log(stopped ? "✔ stopped" : "! some server processes did not exit");
  }
}

async function main() {
  const opts = options();
  const host = describeMachine();
  log(
    `Flash-sale benchmark: ${opts.buyers} buyers for ${opts.seats} seats, ${opts.concurrency} in flight; ${host.nproc} CPUs, Node ${host.node}, load average ${host.loadavg.map((n) => n.toFixed(2)).join(" ")}`,
  );
  const data = await prepareState(opts);
  const secrets = writeSecrets();
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);

  step("Starting the fake Daraja");
  const daraja = await startFakeDaraja(DARAJA);
  log(`✔ Fake Daraja at ${daraja.baseUrl}`);
  const ctx = { opts, host, data, daraja, secrets };
  try {
    await salePhases(ctx);
    step("Reading the results back (D1 and the tier's Durable Object storage)");
    ctx.back = await readBack(data);
    if (opts.probes > 0) {
      step(`The checkout code with timers (bench/checkout-timing), ${opts.probes} of each, one at a time`);
      try {
        ctx.timing = await checkoutTiming(data, daraja, secrets, opts);
        log(
          `  accepted purchase: ${ctx.timing.accepted.d1Trips} D1 round trips ${fmt(ctx.timing.accepted.d1, 2)} ms, object ${fmt(ctx.timing.accepted.object, 2)} ms, Daraja ${fmt(ctx.timing.accepted.daraja, 2)} ms (p50)`,
        );
      } catch (error) {
        ctx.timing = { error: String(error?.message ?? error).split("\n")[0] };
        log(`! checkout timing failed: ${error?.stack ?? error}`);
      }
    }
  } finally {
    await daraja.close();
    rmSync(secrets.file, { force: true });
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    log("✔ fake Daraja stopped; no process left running");
  }

  const s = summarize(ctx);
  const { text, ok, latencyOk, throughputOk } = report(ctx, s);
  log("");
  log(text);
  if (opts.record) appendResults("flash-sale", "Flash-sale", text);
  if (!opts.keepState) {
    // Keep only the server logs; the state, the source snapshot and its builds go.
    for (const name of readdirSync(ROOT_DIR)) {
      if (!name.endsWith(".log")) rmSync(path.join(ROOT_DIR, name), { recursive: true, force: true });
    }
  }
  if (!ok) {
    log("✖ OVERSOLD or a seat invariant failed (see above).");
    process.exitCode = 1;
  } else if (
    s.errors.length > 0 ||
    s.callbackProblems.length > 0 ||
    s.consistencyChecks.some(([, v]) => v === false)
  ) {
    log("✖ Some requests failed (see the error samples above).");
    process.exitCode = 1;
  }
  if (!latencyOk || !throughputOk) log("! A performance target was missed (see above).");
}

main().catch((error) => {
  console.error(`\n✖ ${error?.stack ?? error}`);
  process.exitCode = 1;
});
