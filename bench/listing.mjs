/**
 * `npm run bench:listing`: search-listing throughput against the health endpoint (issue 3,
 * "Performance").
 *
 *   1. a throwaway local state (bench/.state/listing, gitignored; the dev database under
 *      .wrangler/state is never touched): migrations, then 10,000 published, public,
 *      upcoming events with 3 tiers each (bench/listing-data.mjs), applied as SQL files with
 *      `wrangler d1 execute DB --local --persist-to … --file`;
 *   2. `wrangler dev` on a free port with that state, until `/api/health/` answers;
 *   3. a warm-up, then a fixed number of requests with a bounded number in flight at
 *      `/api/health/` and at `/api/events/?q=<word>&min_price=<n>`, in the same run;
 *   4. req/s, p50, p99 and errors for both, their ratio against the targets, and where the
 *      time went: CPU seconds per process during each phase, and the listing SQL's own time
 *      in the local D1 simulator;
 *   5. the server is stopped, and the figures are appended to bench/results/listing.md.
 *
 * Options (flags, or the environment variable in brackets):
 *   --requests N      measured requests per endpoint [BENCH_REQUESTS]       default 2000
 *   --concurrency N   requests in flight [BENCH_CONCURRENCY]                default 32
 *   --warmup N        warm-up requests per endpoint [BENCH_WARMUP]          default 200
 *   --events N        events to seed [BENCH_EVENTS]                         default 10000
 *   --reuse           keep an already seeded bench state instead of rebuilding it
 *   --data ours|peer  ours: the data set above; peer: the Django peer's seed (seed.py) in our
 *                     schema, the same number and shape of events (bench/peer.mjs)  default ours
 *   --query TEXT      every listing request asks this one query string (e.g. the peer's
 *                     `q=jazz&min_price=1000`) instead of 16 words × 5 prices
 *   --direct          the Worker in Miniflare directly (bench/direct-worker.mjs: one workerd, no
 *                     dev proxy, no inspector) from a built snapshot of the source, not `wrangler dev`
 *   --json FILE       also write the headline figures as JSON to FILE (bench/peer.mjs reads them)
 *   --no-record       do not append to bench/results/listing.md
 *   --note TEXT       a note for the results file
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { d1Query, PROJECT_ROOT } from "../scripts/wrangler.mjs";
import { captureListingStatements, inlineParams, loadCatalogue } from "./catalogue-sql.mjs";
import {
  appendResults,
  d1File,
  describeMachine,
  fmt,
  log,
  parseOptions,
  step,
  verdict,
  wrangler,
} from "./common.mjs";
import { cpuDelta, cpuSnapshot, startDevServer, stopDevServer } from "./dev-server.mjs";
import {
  buildListingSqlFiles,
  generateListingData,
  generatePeerShapedData,
  MIN_PRICES,
  SEARCH_WORDS,
} from "./listing-data.mjs";
import { runLoad } from "./load.mjs";

const BENCH_DIR = path.join(PROJECT_ROOT, "bench");
const STATE_DIR = path.join(BENCH_DIR, ".state", "listing");
/** Scratch files of this benchmark (SQL, the bundled listing code, wrangler dev's output). */
const WORK_DIR = path.join(BENCH_DIR, ".state", "listing-work");
const TARGET_RATIO = 1 / 5;
const TARGET_P99_MS = 500;

function options() {
  const { values, number, record, note } = parseOptions(import.meta.url, {
    requests: { type: "string" },
    concurrency: { type: "string" },
    warmup: { type: "string" },
    events: { type: "string" },
    reuse: { type: "boolean", default: false },
    data: { type: "string", default: "ours" },
    query: { type: "string" },
    direct: { type: "boolean", default: false },
    json: { type: "string" },
  });
  if (values.data !== "ours" && values.data !== "peer") throw new Error("--data must be ours or peer");
  return {
    requests: number("requests", "BENCH_REQUESTS", 2000, 1),
    concurrency: number("concurrency", "BENCH_CONCURRENCY", 32, 1),
    warmup: number("warmup", "BENCH_WARMUP", 200, 0),
    events: number("events", "BENCH_EVENTS", 10_000, 1),
    reuse: values.reuse,
    data: values.data,
    query: values.query?.replace(/^\?/, ""),
    direct: values.direct,
    json: values.json,
    record,
    note,
  };
}

/** Fresh state, migrations, data. Returns how long seeding took and the seeding time `now`. */
async function prepareState(opts) {
  const target = ["--local", "--persist-to", STATE_DIR];
  const marker = path.join(STATE_DIR, "bench-seed.json");
  if (opts.reuse && existsSync(marker)) {
    const seeded = JSON.parse(readFileSync(marker, "utf8"));
    if (seeded.events === opts.events && (seeded.data ?? "ours") === opts.data) {
      log(
        `✔ Reusing the seeded state in ${path.relative(PROJECT_ROOT, STATE_DIR)} (${seeded.events} events).`,
      );
      return { ...seeded, reused: true };
    }
  }
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  const started = Date.now();

  step(`Applying migrations to ${path.relative(PROJECT_ROOT, STATE_DIR)}`);
  await wrangler(["d1", "migrations", "apply", "DB", ...target]);

  step(
    `Seeding ${opts.events.toLocaleString("en")} events with 3 tiers each${opts.data === "peer" ? " (the Django peer's data set)" : ""}`,
  );
  const now = Date.now();
  const generate = opts.data === "peer" ? generatePeerShapedData : generateListingData;
  const data = generate({ events: opts.events, now });
  const files = buildListingSqlFiles(data);
  for (const [i, sql] of files.entries()) {
    await d1File(target, path.join(WORK_DIR, `seed-${i}.sql`), sql);
    log(`  ${i + 1}/${files.length} ${(sql.length / 1e6).toFixed(1)} MB applied`);
  }
  const [row] = await d1Query(
    target,
    "SELECT (SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM tiers) AS tiers, (SELECT COUNT(*) FROM events_fts) AS fts",
  );
  if (row.events !== opts.events || row.tiers !== opts.events * 3 || row.fts !== opts.events) {
    throw new Error(
      `Seeding left ${JSON.stringify(row)}; expected ${opts.events} events, ×3 tiers, FTS rows.`,
    );
  }
  const seeded = { events: opts.events, data: opts.data, now, seedSeconds: (Date.now() - started) / 1000 };
  writeFileSync(marker, JSON.stringify(seeded), "utf8");
  log(
    `✔ ${row.events} events, ${row.tiers} tiers, ${row.fts} FTS rows in ${seeded.seedSeconds.toFixed(1)} s`,
  );
  return { ...seeded, reused: false };
}

/**
 * `wrangler dev` in its own process group (so the whole tree, workerd included, can be
 * stopped); with `--direct`, the source snapshotted and built once (as the flash-sale bench
 * does, in bench/.state/listing-build) and run in Miniflare directly.
 */
async function startServer(opts) {
  const logFile = path.join(WORK_DIR, "wrangler-dev.log");
  let programmatic;
  if (opts.direct) {
    step("Building a snapshot of the source (wrangler deploy --dry-run)");
    process.env.TICKETSAFI_BENCH_RUN ||= "listing-build";
    const { prepareSource } = await import("./flash-sale/source-snapshot.mjs");
    const { builtConfig } = await prepareSource();
    programmatic = (baseUrl) => ({
      runtime: "direct",
      config: builtConfig,
      vars: { PUBLIC_BASE_URL: baseUrl },
      logLevel: "warn",
    });
  }
  const server = await startDevServer({
    persistTo: STATE_DIR,
    logFile,
    args: (baseUrl) => ["--var", `PUBLIC_BASE_URL:${baseUrl}`, "--log-level", "warn"],
    programmatic,
    announce: (command) => step(`Starting ${command} (output in ${path.relative(PROJECT_ROOT, logFile)})`),
  });
  log(`✔ ${server.baseUrl}/api/health/ answered 200`);
  return server;
}

async function stopServer(server) {
  log((await stopDevServer(server)) ? "✔ server stopped" : "! some server processes did not exit");
}

// ─── CPU accounting (Linux /proc; skipped elsewhere) ────────────────────────────────────────

/**
 * CPU seconds used so far by the server's process tree (by process name, the two workerd as
 * one), by this process, and the machine's idle and steal time.
 */
const cpuNow = (server) => cpuSnapshot(server, { selfLabel: "load generator (node)", workerdByRole: false });

// ─── The phases ───────────────────────────────────────────────────────────────────────────

const mixedListingPath = (i) =>
  `/api/events/?q=${encodeURIComponent(SEARCH_WORDS[i % SEARCH_WORDS.length])}&min_price=${
    MIN_PRICES[Math.floor(i / SEARCH_WORDS.length) % MIN_PRICES.length]
  }`;

/** A listing answer must be a page with results (an empty search would flatter the figures). */
function listingChecker(matches) {
  return (status, body) => {
    if (status !== 200) return `HTTP ${status}`;
    try {
      const page = JSON.parse(body.toString("utf8"));
      if (!Array.isArray(page.results) || typeof page.count !== "number") return "not a page";
      if (page.results.length === 0) return "empty result";
      matches.push(page.count);
      return undefined;
    } catch {
      return "invalid JSON";
    }
  };
}

async function measure(server, name, opts, load) {
  const before = cpuNow(server);
  const result = await runLoad({ baseUrl: server.baseUrl, concurrency: opts.concurrency, ...load });
  result.cpu = cpuDelta(before, cpuNow(server), { seconds: result.seconds, machineIdle: true })?.perSecond;
  log(
    `  ${name.padEnd(8)} ${result.rps.toFixed(1).padStart(8)} req/s   p50 ${result.p50.toFixed(1)} ms   p99 ${result.p99.toFixed(
      1,
    )} ms   max ${result.max.toFixed(1)} ms   errors ${result.errors}${
      result.errors ? ` ${JSON.stringify(result.errorKinds)}` : ""
    }`,
  );
  return result;
}

/** One-letter and very common prefixes: not part of the load, timed to show the worst case. */
const STRESS_WORDS = ["a", "th"];

/**
 * Statements per listing request, and the listing SQL's own time in the local D1 simulator:
 * every word × price of the load (and the stress words, min_price=0) run 5 times each in one
 * `wrangler d1 execute --local --file`, timed by D1's `meta.duration`.
 */
async function sqlEvidence(query) {
  const catalogue = await loadCatalogue(path.join(WORK_DIR, "catalogue"));
  const perRequest = [];
  const statements = [];
  const now = Date.now();
  const fixed = query ? new URLSearchParams(query) : undefined;
  const cases = [
    ...(fixed
      ? [{ word: fixed.get("q") ?? "", minPrice: Number(fixed.get("min_price") ?? 0), stress: false }]
      : []),
    ...(fixed ? [] : SEARCH_WORDS).flatMap((word) =>
      MIN_PRICES.map((minPrice) => ({ word, minPrice, stress: false })),
    ),
    ...STRESS_WORDS.map((word) => ({ word, minPrice: 0, stress: true })),
  ];
  for (const c of cases) {
    const captured = await captureListingStatements(catalogue, { word: c.word, minPrice: c.minPrice, now });
    perRequest.push(captured.length);
    statements.push({ ...c, sql: inlineParams(captured[0].sql, captured[0].params) });
  }
  const repeats = 5;
  const lines = [];
  for (const st of statements) for (let r = 0; r < repeats; r++) lines.push(`${st.sql};`);
  lines.push("SELECT 1;");
  const json = await d1File(
    ["--local", "--persist-to", STATE_DIR],
    path.join(WORK_DIR, "listing-timing.sql"),
    `${lines.join("\n")}\n`,
    { json: true },
  );
  const durations = json.map((r) => Number(r.meta?.duration ?? Number.NaN));
  const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
  const byWord = new Map();
  const loadTimes = [];
  statements.forEach((st, i) => {
    const times = durations.slice(i * repeats, (i + 1) * repeats);
    if (!st.stress) loadTimes.push(...times);
    const entry = byWord.get(st.word) ?? { word: st.word, stress: st.stress, medians: [], matches: 0 };
    entry.medians.push(median(times));
    // The total column: `page_total` since the listing picks its page first (before: the
    // window count's own text).
    const first = json[i * repeats].results?.[0];
    entry.matches = Math.max(entry.matches, Number(first?.page_total ?? first?.["COUNT(*) OVER ()"] ?? 0));
    byWord.set(st.word, entry);
  });
  const words = [...byWord.values()].map((e) => ({
    word: e.word,
    stress: e.stress,
    matches: e.matches,
    medianMs: e.medians.reduce((a, b) => a + b, 0) / e.medians.length,
  }));
  return {
    statementsPerRequest: [...new Set(perRequest)],
    selectOneMs: durations.at(-1),
    meanMs: loadTimes.reduce((a, b) => a + b, 0) / loadTimes.length,
    byWord: words.filter((w) => !w.stress),
    stress: words.filter((w) => w.stress),
  };
}

const pick = ({ requests, errors, errorKinds, seconds, rps, p50, p90, p99, max, cpu }) => ({
  requests,
  errors,
  errorKinds,
  seconds,
  rps,
  p50,
  p90,
  p99,
  max,
  cpu,
});

// ─── Report ───────────────────────────────────────────────────────────────────────────────

function report({ opts, seeded, host, health, listing, matches, evidence }) {
  const ratio = listing.rps / health.rps;
  const meanMatches = matches.length ? matches.reduce((a, b) => a + b, 0) / matches.length : 0;
  const cpuRow = (r) =>
    r.cpu
      ? Object.entries(r.cpu)
          .sort((a, b) => b[1] - a[1])
          .map(([name, v]) => `${name} ${fmt(v, 2)}`)
          .join(", ")
      : "n/a";
  const lines = [
    `## ${new Date().toISOString()}${opts.note ? ` (${opts.note})` : ""}`,
    "",
    `- Machine: ${host.nproc} CPUs (\`nproc\`), ${host.cpu}, ${fmt(host.memoryGiB)} GiB RAM, ${host.platform}`,
    `- Load average before the run (1/5/15 min): ${host.loadavg.map((n) => fmt(n, 2)).join(" / ")} (other work on the machine skews the figures)`,
    `- Node ${host.node}, wrangler ${host.wrangler} (${opts.direct ? "Miniflare directly, `--direct`" : "`wrangler dev`"}, local D1 simulator, \`--log-level warn\`); the load generator runs on the same machine`,
    `- Data: ${opts.events.toLocaleString("en")} published, public, upcoming events × 3 tiers (seeding ${
      seeded.reused ? "reused" : `${fmt(seeded.seedSeconds)} s`
    })`,
    `- Load: ${opts.requests.toLocaleString("en")} requests per endpoint after ${opts.warmup} warm-up each, ${opts.concurrency} in flight, keep-alive; health measured first, then the listing`,
    opts.query
      ? `- Listing: every request \`/api/events/?${opts.query}\`, first page of 20; ${fmt(meanMatches, 0)} matching events`
      : `- Listing: \`/api/events/?q=<word>&min_price=<n>\`, ${SEARCH_WORDS.length} words × ${MIN_PRICES.length} prices (${MIN_PRICES.join(
          ", ",
        )} KES), first page of 20; ${fmt(meanMatches, 0)} matching events per search on average`,
    `- Data set: ${opts.data === "peer" ? "the Django peer's seed (seed.py) in our schema (`--data peer`)" : "bench/listing-data.mjs"}`,
    "",
    "| Endpoint | Requests | Errors | req/s | p50 ms | p90 ms | p99 ms | max ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...[
      ["`/api/health/`", health],
      ["`/api/events/?q=…&min_price=…`", listing],
    ].map(
      ([name, r]) =>
        `| ${name} | ${r.requests} | ${r.errors} | ${fmt(r.rps)} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} | ${fmt(r.max)} |`,
    ),
    "",
    `- Listing / health throughput: **${fmt(ratio, 3)}** (target ≥ ${fmt(TARGET_RATIO, 2)}: ${verdict(ratio >= TARGET_RATIO)})`,
    `- Listing p99: **${fmt(listing.p99)} ms** (target < ${TARGET_P99_MS} ms: ${verdict(listing.p99 < TARGET_P99_MS)})`,
    `- D1 statements per listing request: ${evidence.statementsPerRequest.join("/")} (captured from \`listPublicEvents\` for every word × price)`,
    `- CPU seconds per wall-clock second (${host.nproc} CPUs) during health: ${cpuRow(health)}`,
    `- CPU seconds per wall-clock second during listing: ${cpuRow(listing)}`,
    `- The listing SQL alone in the local D1 simulator (\`wrangler d1 execute --local\`, \`meta.duration\`, median of 5 per word × price, 1 ms resolution): mean ${fmt(
      evidence.meanMs,
    )} ms; \`SELECT 1\` ${fmt(evidence.selectOneMs, 0)} ms. By word: ${evidence.byWord
      .map((w) => `${w.word} ${fmt(w.medianMs)}`)
      .join(", ")}`,
    `- Not in the load, the same SQL for one- and two-letter prefixes (min_price=0): ${evidence.stress
      .map((w) => `\`q=${w.word}\` ${fmt(w.medianMs)} ms (${w.matches.toLocaleString("en")} matches)`)
      .join(", ")}`,
    "",
  ];
  return { text: lines.join("\n"), ratio };
}

async function main() {
  const opts = options();
  const listingPath = opts.query ? () => `/api/events/?${opts.query}` : mixedListingPath;
  const host = describeMachine();
  log(
    `Listing benchmark: ${opts.requests} requests per endpoint, ${opts.concurrency} in flight, ${opts.events} events; ${host.nproc} CPUs, Node ${host.node}`,
  );
  const seeded = await prepareState(opts);

  const server = await startServer(opts);
  const stop = async () => {
    await stopServer(server);
    process.exit(130);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let health;
  let listing;
  const matches = [];
  try {
    step(`Warming up (${opts.warmup} requests per endpoint)`);
    if (opts.warmup > 0) {
      await measure(server, "health", opts, { path: () => "/api/health/", total: opts.warmup });
      await measure(server, "listing", opts, {
        path: listingPath,
        total: opts.warmup,
        check: listingChecker([]),
      });
    }
    step(`Measuring (${opts.requests} requests per endpoint, ${opts.concurrency} in flight)`);
    health = await measure(server, "health", opts, { path: () => "/api/health/", total: opts.requests });
    listing = await measure(server, "listing", opts, {
      path: listingPath,
      total: opts.requests,
      check: listingChecker(matches),
    });
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await stopServer(server);
  }

  step("Where the time goes: the listing SQL in the local D1 simulator");
  const evidence = await sqlEvidence(opts.query);
  const { text, ratio } = report({ opts, seeded, host, health, listing, matches, evidence });
  if (opts.json) {
    const figures = {
      runtime: opts.direct ? "direct" : "wrangler-dev",
      data: opts.data,
      events: opts.events,
      query: opts.query ?? "mixed",
      requests: opts.requests,
      concurrency: opts.concurrency,
      matches: matches.length ? Math.max(...matches) : 0,
      listing: pick(listing),
      health: pick(health),
      sqlMs: evidence.meanMs,
    };
    writeFileSync(opts.json, `${JSON.stringify(figures, null, 1)}\n`, "utf8");
  }
  log("");
  log(text);
  if (opts.record) appendResults("listing", "Listing", text);
  if (ratio < TARGET_RATIO || listing.p99 >= TARGET_P99_MS) log("! A target was missed (see above).");
  if (health.errors > 0 || listing.errors > 0) process.exitCode = 1;
}

main().catch((error) => {
  console.error(`\n✖ ${error?.stack ?? error}`);
  process.exitCode = 1;
});
