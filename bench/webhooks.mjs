/**
 * `npm run bench:webhooks`: organizer webhooks under load (issue #14, "Performance";
 * contract v3 §16).
 *
 *   1. a throwaway local state (bench/.state/webhooks, gitignored; the dev database is never
 *      touched): the source is snapshotted and bundled once (bench/flash-sale/source-snapshot.mjs),
 *      migrations, one organizer with a password, one published upcoming event with several
 *      FREE tiers (enough seats for every booking);
 *   2. three local receivers (bench/webhooks/receiver.mjs), each on its own port and path: every
 *      signature verified (HMAC-SHA256 of "<t>.<raw body>" keyed by the whole `whsec_` secret,
 *      timingSafeEqual), 500 to `--fail-rate` of the requests at random and 200 otherwise, every
 *      request recorded (event id, delivery id, arrival time, status answered);
 *   3. `wrangler dev` on that state with `WEBHOOK_RETRY_BASE_SECONDS=1` (the retry waits are
 *      1, 5, 30, 120, 360 and 5 × 720 SECONDS instead of minutes, so retries happen within the
 *      run), `MPESA_SIMULATOR_DELAY_MS=0`, a private dev registry; the organizer logs in and
 *      creates three endpoints (`order.completed` only), one per receiver;
 *   4. `--events` guest bookings of ONE free seat each (`POST /api/pay/initiate/` → 201, the real
 *      checkout path: each commits its order, tickets and the outbox event in one D1 batch and
 *      enqueues `webhook_event`), `--concurrency` in flight, every buyer a distinct email and
 *      phone (BOOKINGS_PER_RECIPIENT_PER_HOUR is per address), the bookings spread over the tiers;
 *   5. wait until no delivery is PENDING (the deliveries route's `count`, per endpoint), calling
 *      `/cdn-cgi/handler/scheduled` every `--sweep-every` seconds, as the missing cron would
 *      (the sweep re-sends overdue PENDING deliveries), with `--timeout` minutes at most;
 *   6. the server is stopped; D1 (webhook_events, webhook_deliveries) is read back and matched
 *      against what the receivers recorded: DELIVERED / FAILED / PENDING, deliveries per second,
 *      p50 / p99 from the event's created_at to its first 2xx at each receiver, lost events,
 *      duplicates, bad signatures; appended to bench/results/webhooks.md.
 *
 * Why free bookings: one request makes one order.completed, with no STK push or callback; a
 * paid checkout through the simulator takes two requests and the simulator's delay for the
 * same event, and the webhook side (outbox rows, fan-out, delivery) is the same.
 *
 * Options (flags, or the environment variable in brackets):
 *   --events N         free bookings, i.e. order.completed events [WEBHOOK_BENCH_EVENTS]    default 10000
 *   --concurrency N    bookings in flight [WEBHOOK_BENCH_CONCURRENCY]                       default 32
 *   --tiers N          free tiers the bookings are spread over [WEBHOOK_BENCH_TIERS]        default 4
 *   --fail-rate F      share of requests each receiver answers 500                          default 0.3
 *   --timeout N        minutes to wait for every delivery to be final [WEBHOOK_BENCH_TIMEOUT] default 75
 *   --sweep-every N    seconds between calls of the scheduled handler [WEBHOOK_BENCH_SWEEP] default 30
 *   --keep-state       keep bench/.state/webhooks (the D1 state, snapshot and builds)
 *   --no-record        do not append to bench/results/webhooks.md
 *   --note TEXT        a note for the results file
 */
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { hashPassword } from "../scripts/seed-data.mjs";
import { d1Query, PROJECT_ROOT } from "../scripts/wrangler.mjs";
import {
  appendResults,
  d1File,
  describeMachine,
  fmt,
  log,
  parseOptions,
  sleep,
  step,
  wrangler,
} from "./common.mjs";
import { cpuDelta, cpuSnapshot, startDevServer, stopDevServer } from "./dev-server.mjs";
import { buyer } from "./flash-sale-data.mjs";
import { keepAliveAgent, pool, requestJson } from "./http-json.mjs";
import { stats } from "./load.mjs";
import { insertMany, organizerRow } from "./seed-rows.mjs";
import { startReceivers, stopReceivers } from "./webhooks/receiver.mjs";

// The flash-sale modules keep their files under bench/.state/$TICKETSAFI_BENCH_RUN.
process.env.TICKETSAFI_BENCH_RUN ||= "webhooks";
const { ROOT_DIR, STATE_DIR, TARGET, resetState, removeStateKeepingLogs } = await import(
  "./flash-sale/layout.mjs"
);
const { prepareSource } = await import("./flash-sale/source-snapshot.mjs");
const { DEV_ENV, writeSecrets } = await import("./flash-sale/server.mjs");

const PASSWORD = "Bench-Webhooks-Password-2026";
const USERNAME = "bench_webhooks_organizer";
const RECEIVERS = 3;
const RETRY_BASE_SECONDS = 1;
const DAY = 24 * 3_600_000;

function options() {
  const { values, number, record, note } = parseOptions(import.meta.url, {
    events: { type: "string" },
    concurrency: { type: "string" },
    tiers: { type: "string" },
    "fail-rate": { type: "string" },
    timeout: { type: "string" },
    "sweep-every": { type: "string" },
    "keep-state": { type: "boolean", default: false },
  });
  const failRate = Number(values["fail-rate"] ?? "0.3");
  if (!(failRate >= 0 && failRate < 1)) throw new Error("--fail-rate must be in [0, 1)");
  return {
    events: number("events", "WEBHOOK_BENCH_EVENTS", 10_000, 1),
    concurrency: number("concurrency", "WEBHOOK_BENCH_CONCURRENCY", 32, 1),
    tiers: number("tiers", "WEBHOOK_BENCH_TIERS", 4, 1),
    failRate,
    timeoutMinutes: number("timeout", "WEBHOOK_BENCH_TIMEOUT", 75, 1),
    sweepEverySeconds: number("sweep-every", "WEBHOOK_BENCH_SWEEP", 30, 5),
    keepState: values["keep-state"],
    record,
    note,
  };
}

// ─── Data ─────────────────────────────────────────────────────────────────────────────────

/** One organizer (with a password), one published upcoming event, `opts.tiers` free tiers. */
function buildData(opts, now = Date.now()) {
  const organizer = {
    ...organizerRow({
      id: crypto.randomUUID(),
      username: USERNAME,
      email: "webhooks-organizer@ticketsafi.local",
      firstName: "Webhook",
      lastName: "Organizer",
      now,
    }),
    password_hash: hashPassword(PASSWORD),
  };
  const start = Math.floor((now + 30 * DAY) / 3_600_000) * 3_600_000;
  const event = {
    id: crypto.randomUUID(),
    organizer_id: organizer.id,
    store_id: null,
    title: "Webhooks Bench Free Night",
    description: "The webhook benchmark's event: free tiers, one booking per buyer.",
    category: "CONCERT",
    location_name: "Uhuru Gardens, Nairobi",
    start_datetime: start,
    end_datetime: start + 6 * 3_600_000,
    poster_key: null,
    is_published: true,
    is_private: false,
    status: "ACTIVE",
    lowest_price: 0,
    highest_price: 0,
    created_at: now,
    updated_at: now,
  };
  // Each tier alone holds more than its share, so no booking is refused for seats.
  const seats = Math.ceil(opts.events / opts.tiers) + 100;
  const tiers = Array.from({ length: opts.tiers }, (_, position) => ({
    id: crypto.randomUUID(),
    event_id: event.id,
    name: `Free ${position + 1}`,
    description: "Free entry.",
    price: 0,
    quantity_allocated: seats,
    quantity_sold: 0,
    quantity_held: 0,
    max_per_order: 4,
    max_per_buyer: null,
    sales_start: now - 3_600_000,
    sales_end: null,
    position,
    created_at: now,
    updated_at: now,
  }));
  const sql = [
    `-- webhooks benchmark data, ${new Date(now).toISOString()}`,
    insertMany("users", [organizer]),
    insertMany("events", [event]),
    insertMany("tiers", tiers),
    "",
  ].join("\n");
  return { organizer, event, tiers, seats, sql };
}

async function seed(opts) {
  step(`Applying migrations to ${path.relative(PROJECT_ROOT, STATE_DIR)}`);
  await wrangler(["d1", "migrations", "apply", "DB", ...TARGET]);
  const data = buildData(opts);
  await d1File(TARGET, path.join(ROOT_DIR, "seed.sql"), data.sql);
  const [row] = await d1Query(TARGET, `SELECT count(*) AS n FROM tiers WHERE event_id = '${data.event.id}'`);
  if (row?.n !== opts.tiers) throw new Error(`Seeding failed: ${JSON.stringify(row)}`);
  log(`✔ Event "${data.event.title}": ${opts.tiers} free tiers of ${data.seats} seats`);
  return data;
}

// ─── Server ───────────────────────────────────────────────────────────────────────────────

async function startServer(builtConfig) {
  const secrets = writeSecrets();
  // The endpoints' secrets are sealed with this key (a throwaway, like the others).
  appendFileSync(secrets.file, `WEBHOOK_SECRET_KEY="${crypto.randomUUID()}${crypto.randomUUID()}"\n`);
  const logFile = path.join(ROOT_DIR, "wrangler-dev.log");
  const vars = {
    WEBHOOK_RETRY_BASE_SECONDS: String(RETRY_BASE_SECONDS),
    MPESA_SIMULATOR_DELAY_MS: "0",
    MPESA_CALLBACK_TOKEN: secrets.callbackToken,
  };
  const server = await startDevServer({
    persistTo: STATE_DIR,
    logFile,
    env: DEV_ENV,
    redact: [secrets.callbackToken],
    args: (baseUrl) => [
      "-c",
      builtConfig,
      "--env-file",
      secrets.file,
      ...Object.entries({ ...vars, PUBLIC_BASE_URL: baseUrl }).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
      "--log-level",
      "warn",
    ],
    announce: (_command, baseUrl) =>
      step(`Starting wrangler dev on ${baseUrl} (output in ${path.relative(PROJECT_ROOT, logFile)})`),
  });
  server.secretsFile = secrets.file;
  log(`✔ /api/health/ answered 200 after ${(server.readyMs / 1000).toFixed(1)} s`);
  return server;
}

// ─── HTTP ─────────────────────────────────────────────────────────────────────────────────

let agent;

async function api(server, method, urlPath, { token, json, timeoutMs = 60_000 } = {}) {
  const response = await requestJson(agent, {
    method,
    url: `${server.baseUrl}${urlPath}`,
    body: json,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    timeoutMs,
  });
  if (response.status === 0) throw new Error(`${method} ${urlPath}: ${response.error}`);
  return response;
}

async function createEndpoints(server, token, receivers) {
  const endpoints = [];
  for (const receiver of receivers) {
    const r = await api(server, "POST", "/api/organizer/webhooks/", {
      token,
      json: {
        url: receiver.url,
        events: ["order.completed"],
        description: `bench receiver ${receiver.name}`,
      },
    });
    if (r.status !== 201 || !r.json?.secret?.startsWith("whsec_")) {
      throw new Error(`POST /api/organizer/webhooks/ → ${r.status} ${r.text.slice(0, 300)}`);
    }
    receiver.secret = r.json.secret;
    receiver.endpointId = r.json.id;
    endpoints.push(r.json);
  }
  return endpoints;
}

/** The bookings: `opts.events` guests, one free seat each, tiers in turn. */
async function produce(server, opts, data) {
  step(`${opts.events} free bookings (order.completed events), ${opts.concurrency} in flight`);
  let done = 0;
  const progress = setInterval(() => log(`  … ${done} bookings`), 30_000);
  try {
    const run = await pool(opts.events, opts.concurrency, async (i) => {
      const b = buyer(i, "webhook");
      const r = await requestJson(agent, {
        method: "POST",
        url: `${server.baseUrl}/api/pay/initiate/`,
        body: {
          tier_id: data.tiers[i % data.tiers.length].id,
          quantity: 1,
          email: b.email,
          name: b.name,
          phone_number: b.phone,
        },
        timeoutMs: 120_000,
      });
      done++;
      return {
        status: r.status,
        ms: r.ms,
        error: r.status === 201 ? undefined : (r.error ?? r.text.slice(0, 200)),
      };
    });
    const statuses = {};
    for (const r of run.results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const errors = run.results.filter((r) => r.status !== 201);
    const latency = stats(run.results.map((r) => r.ms));
    log(
      `  ${statuses[201] ?? 0} booked (201) in ${fmt(run.seconds, 1)} s = ${fmt((statuses[201] ?? 0) / run.seconds, 1)}/s; p50 / p99 ${fmt(latency.p50)} / ${fmt(latency.p99)} ms; other answers: ${JSON.stringify(Object.fromEntries(Object.entries(statuses).filter(([s]) => s !== "201")))}`,
    );
    for (const e of errors.slice(0, 5)) log(`  ! ${e.status} ${e.error}`);
    return {
      seconds: run.seconds,
      statuses,
      booked: statuses[201] ?? 0,
      restarted: run.results.filter((r) => /restarted mid-request/.test(r.error ?? "")).length,
      latency,
      errorSamples: errors.slice(0, 5),
    };
  } finally {
    clearInterval(progress);
  }
}

/** The organizer's session: an access token, logged in again when it has expired (15 min). */
function organizerSession(server) {
  const session = {
    token: "",
    async login() {
      const r = await api(server, "POST", "/api/auth/login/", {
        json: { username: USERNAME, password: PASSWORD },
      });
      if (r.status !== 200) throw new Error(`login → ${r.status} ${r.text}`);
      session.token = r.json.access;
      return session.token;
    },
  };
  return session;
}

/**
 * `count` of an endpoint's deliveries (with `status`), from the deliveries route; undefined
 * when the server could not answer this time (a restarting `wrangler dev`).
 */
async function deliveryCount(server, session, endpointId, status) {
  const query = `page_size=1${status ? `&status=${status}` : ""}`;
  const url = `/api/organizer/webhooks/${endpointId}/deliveries/?${query}`;
  let r = await api(server, "GET", url, { token: session.token }).catch((e) => ({
    status: 0,
    text: e.message,
  }));
  if (r.status === 401) r = await api(server, "GET", url, { token: await session.login() });
  if (r.status !== 200) {
    log(`  ! deliveries/?${query} → ${r.status} ${r.text.slice(0, 120)}`);
    return undefined;
  }
  return r.json.count;
}

async function triggerScheduled(server) {
  const r = await api(server, "GET", "/cdn-cgi/handler/scheduled", { timeoutMs: 120_000 });
  return r.status;
}

/**
 * Until no delivery is PENDING (and every event's deliveries exist), or the timeout: the
 * deliveries route's counts per endpoint, the scheduled handler every `sweepEverySeconds`.
 */
async function waitForFinal(server, session, opts, receivers, expected, since) {
  step(
    `Waiting for every delivery to be final (≤ ${opts.timeoutMinutes} min; scheduled handler every ${opts.sweepEverySeconds} s)`,
  );
  const deadline = since + opts.timeoutMinutes * 60_000;
  let lastSweep = 0;
  let lastLog = 0;
  const sweeps = { calls: 0, statuses: {} };
  let counts;
  for (;;) {
    const now = Date.now();
    if (now - lastSweep >= opts.sweepEverySeconds * 1000) {
      lastSweep = now;
      const status = await triggerScheduled(server).catch((e) => `error ${e.message}`);
      sweeps.calls++;
      sweeps.statuses[status] = (sweeps.statuses[status] ?? 0) + 1;
    }
    counts = { total: 0, PENDING: 0 };
    for (const r of receivers) {
      counts.total += (await deliveryCount(server, session, r.endpointId)) ?? Number.NaN;
      counts.PENDING += (await deliveryCount(server, session, r.endpointId, "PENDING")) ?? Number.NaN;
    }
    const received = receivers.reduce((n, r) => n + r.requests.length, 0);
    // A booking answered 503 by a restarting proxy may have committed too: at least `expected`.
    const final = counts.total >= expected && counts.PENDING === 0;
    if (final || now - lastLog >= 60_000) {
      lastLog = now;
      log(
        `  ${((now - since) / 1000).toFixed(0)} s: ${counts.total} deliveries, ${counts.PENDING} PENDING; ${received} requests received`,
      );
    }
    if (final) return { final: true, seconds: (Date.now() - since) / 1000, sweeps, counts };
    if (Date.now() > deadline) return { final: false, seconds: (Date.now() - since) / 1000, sweeps, counts };
    await sleep(10_000);
  }
}

// ─── Read-back and analysis ───────────────────────────────────────────────────────────────

async function readBack(data) {
  step("Reading webhook_events and webhook_deliveries back from D1");
  const events = await d1Query(
    TARGET,
    `SELECT id, created_at FROM webhook_events WHERE organizer_id = '${data.organizer.id}' AND type = 'order.completed'`,
  );
  const deliveries = await d1Query(
    TARGET,
    "SELECT id, event_id, endpoint_id, status, attempts, last_response_code, last_error FROM webhook_deliveries",
  );
  const [orders] = await d1Query(
    TARGET,
    `SELECT count(*) AS n FROM orders WHERE event_id = '${data.event.id}' AND status = 'COMPLETED'`,
  );
  log(`  ${events.length} events, ${deliveries.length} deliveries, ${orders?.n} completed orders`);
  return { events, deliveries, completedOrders: orders?.n ?? 0 };
}

function analyse(receivers, back) {
  const createdAt = new Map(back.events.map((e) => [e.id, e.created_at]));
  const byStatus = {};
  for (const d of back.deliveries) byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
  const perReceiver = [];
  const allLatency = [];
  const firstArrival = [];
  let firstOkMax = 0;
  let lost = 0;
  let lostWhileDelivered = 0;
  let lostFailed = 0;
  let lostPending = 0;
  let duplicates = 0;
  const duplicateSamples = [];
  let attemptsMismatch = 0;
  let unknownEvents = 0;
  for (const r of receivers) {
    const mine = back.deliveries.filter((d) => d.endpoint_id === r.endpointId);
    const deliveryOf = new Map(mine.map((d) => [d.event_id, d]));
    const okCount = new Map();
    const firstOk = new Map();
    const firstAny = new Map();
    const requestsPerDelivery = new Map();
    for (const q of r.requests) {
      if (!q.eventId || !createdAt.has(q.eventId)) {
        unknownEvents++;
        continue;
      }
      requestsPerDelivery.set(q.deliveryId, (requestsPerDelivery.get(q.deliveryId) ?? 0) + 1);
      if (!firstAny.has(q.eventId)) firstAny.set(q.eventId, q.arrivedAt);
      if (q.status >= 200 && q.status < 300) {
        okCount.set(q.eventId, (okCount.get(q.eventId) ?? 0) + 1);
        if (!firstOk.has(q.eventId)) firstOk.set(q.eventId, q.arrivedAt);
      }
    }
    const latency = [];
    for (const [eventId, at] of firstOk) {
      latency.push(at - createdAt.get(eventId));
      if (at > firstOkMax) firstOkMax = at;
    }
    for (const [eventId, at] of firstAny) firstArrival.push(at - createdAt.get(eventId));
    allLatency.push(...latency);
    let mineLost = 0;
    for (const eventId of createdAt.keys()) {
      if (firstOk.has(eventId)) continue;
      mineLost++;
      const status = deliveryOf.get(eventId)?.status;
      if (status === "DELIVERED") lostWhileDelivered++;
      else if (status === "FAILED") lostFailed++;
      else if (status === "PENDING") lostPending++;
    }
    lost += mineLost;
    for (const [eventId, n] of okCount) {
      if (n > 1) {
        duplicates += n - 1;
        if (duplicateSamples.length < 5) {
          const ids = r.requests
            .filter((q) => q.eventId === eventId && q.status === 200)
            .map((q) => q.deliveryId);
          duplicateSamples.push({ receiver: r.name, eventId, deliveryIds: ids });
        }
      }
    }
    for (const d of mine) if ((requestsPerDelivery.get(d.id) ?? 0) !== d.attempts) attemptsMismatch++;
    perReceiver.push({
      name: r.name,
      deliveries: mine.length,
      delivered: mine.filter((d) => d.status === "DELIVERED").length,
      requests: r.requests.length,
      answered: r.answered,
      latency: stats(latency),
      lost: mineLost,
      badSignatures: r.badSignatures.length,
    });
  }
  const firstCreated = Math.min(...back.events.map((e) => e.created_at));
  const lastCreated = Math.max(...back.events.map((e) => e.created_at));
  const requests = receivers.reduce((n, r) => n + r.requests.length, 0);
  const okFirsts = allLatency.length;
  const windowS = (firstOkMax - firstCreated) / 1000;
  const attempts = stats(back.deliveries.map((d) => d.attempts));
  const attemptsHistogram = {};
  for (const d of back.deliveries) attemptsHistogram[d.attempts] = (attemptsHistogram[d.attempts] ?? 0) + 1;
  return {
    byStatus,
    perReceiver,
    latency: stats(allLatency),
    firstArrival: stats(firstArrival),
    lost,
    lostWhileDelivered,
    lostFailed,
    lostPending,
    duplicates,
    duplicateSamples,
    attemptsMismatch,
    unknownEvents,
    badSignatures: receivers.reduce((n, r) => n + r.badSignatures.length, 0),
    badSignatureSamples: receivers.flatMap((r) => r.badSignatures).slice(0, 5),
    requests,
    okFirsts,
    windowS,
    deliveriesPerSecond: okFirsts / windowS,
    requestsPerSecond: requests / windowS,
    productionSpanS: (lastCreated - firstCreated) / 1000,
    attempts,
    attemptsHistogram,
  };
}

/** Lines of the Worker's log that say something went wrong (a 500, a failed job). */
function workerProblems(logFile, readFile) {
  const text = readFile(logFile);
  const lines = text.split("\n");
  const pick = (re) => lines.filter((l) => re.test(l));
  return {
    http500: pick(/"status":\s*500|\b500 Internal|unhandled/i).length,
    failedJobs: pick(/delivery job failed/).length,
    samples: pick(/"level":"error"|delivery job failed|\b500\b/).slice(0, 5),
  };
}

// ─── Report ───────────────────────────────────────────────────────────────────────────────

function reportText(ctx) {
  const { opts, host, source, production, wait, a, back, cpu, problems } = ctx;
  const expected = back.events.length * RECEIVERS;
  const now = new Date();
  const ms = (n) => `${fmt(n / 1000, 2)} s`;
  const lines = [
    `## ${now.toISOString().slice(0, 16).replace("T", " ")} UTC — ${opts.events} events × ${RECEIVERS} endpoints`,
    "",
    `Commit ${source.commit}${source.changed ? ` + ${source.changed} uncommitted change(s)` : ""} (src/ sha256 ${source.srcHash}); ${host.nproc} CPUs (${host.cpu}), ${fmt(host.memoryGiB, 1)} GiB, Node ${host.node}, wrangler ${host.wrangler}, load average at start ${host.loadavg.map((n) => n.toFixed(2)).join(" ")}. **Shared machine**: other helpers' processes ran too (CPU below).`,
    "",
    `\`wrangler dev\` (local D1, Queues), \`WEBHOOK_RETRY_BASE_SECONDS=${RETRY_BASE_SECONDS}\`: the retry waits are 1, 5, 30, 120, 360, then 5 × 720 **seconds** (not minutes), so retries happen within the run. Events are **free bookings** (\`POST /api/pay/initiate/\` → 201, one seat each, ${opts.tiers} free tiers, ${opts.concurrency} in flight, distinct buyers), not paid checkouts. 3 local receivers answer 500 to ${fmt(opts.failRate * 100, 0)} % of requests at random and 200 otherwise, after verifying the signature. \`/cdn-cgi/handler/scheduled\` every ${opts.sweepEverySeconds} s (${wait.sweeps.calls} calls, answers ${JSON.stringify(wait.sweeps.statuses)}).${opts.note ? ` Note: ${opts.note}` : ""}`,
    "",
    "| | |",
    "|---|---|",
    `| Bookings | ${production.booked} × 201 in ${fmt(production.seconds, 1)} s (${fmt(production.booked / production.seconds, 1)}/s), p50 / p99 ${fmt(production.latency.p50, 0)} / ${fmt(production.latency.p99, 0)} ms; other answers ${JSON.stringify(Object.fromEntries(Object.entries(production.statuses).filter(([s]) => s !== "201")))}; ${production.restarted} of them "Your worker restarted mid-request" (wrangler dev's proxy: the runtime was restarted under the run); ${back.completedOrders} COMPLETED orders in D1 |`,
    `| order.completed events (webhook_events) | ${back.events.length} |`,
    `| Deliveries expected / in D1 | ${expected} / ${back.deliveries.length} |`,
    `| DELIVERED / FAILED / PENDING / CANCELLED | ${a.byStatus.DELIVERED ?? 0} / ${a.byStatus.FAILED ?? 0} / ${a.byStatus.PENDING ?? 0} / ${a.byStatus.CANCELLED ?? 0} ${wait.final ? `(all final ${fmt(wait.seconds / 60, 1)} min after the first booking)` : `(**timeout** after ${fmt(wait.seconds / 60, 1)} min)`} |`,
    `| Deliveries/s (first 2xx per delivery over first event → last first 2xx, ${fmt(a.windowS, 0)} s) | ${fmt(a.deliveriesPerSecond, 1)}/s; all requests ${a.requests} (${fmt(a.requestsPerSecond, 1)}/s) |`,
    `| created_at → first 2xx, all receivers (p50 / p90 / p99 / max) | ${ms(a.latency.p50)} / ${ms(a.latency.p90)} / ${ms(a.latency.p99)} / ${ms(a.latency.max)} |`,
    ...a.perReceiver.map(
      (r) =>
        `| receiver ${r.name}: created_at → first 2xx p50 / p99 | ${ms(r.latency.p50)} / ${ms(r.latency.p99)} (${r.latency.n} events; ${r.requests} requests answered ${JSON.stringify(r.answered)}) |`,
    ),
    `| created_at → first arrival (any answer) p50 / p99 | ${ms(a.firstArrival.p50)} / ${ms(a.firstArrival.p99)} (queue lag before attempt 1) |`,
    `| Attempts per delivery (p50 / p99 / max) | ${a.attempts.p50} / ${a.attempts.p99} / ${a.attempts.max}; histogram ${JSON.stringify(a.attemptsHistogram)} |`,
    `| Lost events (no 2xx at an endpoint) | **${a.lost}** (of which DELIVERED in D1: ${a.lostWhileDelivered}, FAILED after 11 × 500: ${a.lostFailed}, still PENDING: ${a.lostPending}) |`,
    `| Duplicates beyond retry (2xx more than once for one event at one endpoint) | **${a.duplicates}**${a.duplicateSamples.length ? ` e.g. ${JSON.stringify(a.duplicateSamples[0])}` : ""} |`,
    `| Bad signatures | **${a.badSignatures}** |`,
    `| Attempts in D1 ≠ requests received (deliveries) | ${a.attemptsMismatch} |`,
    `| Worker log: 500s / failed queue jobs | ${problems.http500} / ${problems.failedJobs} |`,
  ];
  if (cpu) {
    lines.push(
      `| CPU (cores) during the run | ${Object.entries(cpu.perSecond)
        .map(([k, v]) => `${k} ${fmt(v, 2)}`)
        .join(", ")} |`,
    );
  }
  lines.push("");
  return lines.join("\n");
}

// ─── Main ─────────────────────────────────────────────────────────────────────────────────

async function main() {
  const opts = options();
  const host = describeMachine();
  log(
    `Webhooks benchmark: ${opts.events} order.completed events × ${RECEIVERS} endpoints; ${host.nproc} CPUs, load average ${host.loadavg.map((n) => n.toFixed(2)).join(" ")}`,
  );
  resetState();
  const { source, builtConfig } = await prepareSource();
  const data = await seed(opts);
  agent = keepAliveAgent(opts.concurrency + 4);
  const receivers = await startReceivers({ count: RECEIVERS, failRate: opts.failRate });
  log(`✔ Receivers: ${receivers.map((r) => r.url).join(", ")}`);
  const server = await startServer(builtConfig);
  const stop = async () => {
    await stopDevServer(server);
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  const ctx = { opts, host, source };
  try {
    const session = organizerSession(server);
    await createEndpoints(server, await session.login(), receivers);
    log(`✔ 3 endpoints (order.completed): ${receivers.map((r) => r.endpointId).join(", ")}`);
    const scheduled = await triggerScheduled(server);
    if (scheduled !== 200) throw new Error(`/cdn-cgi/handler/scheduled → ${scheduled}`);
    const before = cpuSnapshot(server);
    const startedAt = Date.now();
    ctx.production = await produce(server, opts, data);
    ctx.wait = await waitForFinal(
      server,
      session,
      opts,
      receivers,
      ctx.production.booked * RECEIVERS,
      startedAt,
    );
    ctx.cpu = cpuDelta(before, cpuSnapshot(server));
    // Late requests (an attempt in flight when the counts said final) land before the read-back.
    await sleep(2_000);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    agent.destroy();
    step("Stopping the server and the receivers");
    log((await stopDevServer(server)) ? "✔ wrangler dev stopped" : "! some server processes did not exit");
    await stopReceivers(receivers);
  }
  // What each receiver recorded, for a closer look (kept like the server log).
  writeFileSync(
    path.join(ROOT_DIR, "receivers.log.json"),
    JSON.stringify(receivers.map((r) => ({ name: r.name, endpointId: r.endpointId, requests: r.requests }))),
  );
  ctx.back = await readBack(data);
  ctx.a = analyse(receivers, ctx.back);
  ctx.problems = workerProblems(path.join(ROOT_DIR, "wrangler-dev.log"), (f) => readFileSync(f, "utf8"));
  const text = reportText(ctx);
  log("");
  log(text);
  if (opts.record) appendResults("webhooks", "Webhooks", text);
  if (!opts.keepState) removeStateKeepingLogs();
  const a = ctx.a;
  if (a.badSignatures > 0 || a.duplicates > 0 || a.lostWhileDelivered > 0 || a.attemptsMismatch > 0) {
    log("✖ A delivery invariant failed (see above).");
    process.exitCode = 1;
  } else if (!ctx.wait.final) {
    log("! Not every delivery was final at the timeout (see PENDING above).");
  }
}

main().catch((error) => {
  console.error(`\n✖ ${error?.stack ?? error}`);
  process.exitCode = 1;
});
