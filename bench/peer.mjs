/**
 * `npm run bench:peer` (issue #15 part 5): the Django + DRF + PostgreSQL peer
 * (../shared/peers/django-seed) and our Worker side by side on this machine, interleaved
 * peer → us → peer → us, with the peer's parameters: 2,000 buyers, 500 seats, 64 in flight,
 * and the listing query of its bench.sh (`q=jazz&min_price=1000`) against 10,000 events of
 * the same shape (bench/listing-data.mjs `generatePeerShapedData`, a port of its seed.py).
 *
 *   1. the peer is started once (its run.sh: a private PostgreSQL cluster, migrate, seed,
 *      gunicorn with 5 sync workers) and stopped at the end (stop.sh), also on failure;
 *   2. each round, before each side: the same wait for a quiet machine (< 0.3 CPU busy for
 *      2 s, at most 2 minutes), `uptime` and the busiest processes (what else was running), then
 *      - peer: its bench.sh with WRK_SECONDS=0 (phases a flash sale, b listing, c health),
 *        whose raw JSON (from its loadgen.mjs) is read back;
 *      - us: bench/flash-sale.mjs --direct (the Worker in Miniflare directly: one workerd, no
 *        dev proxy, no inspector; see bench/direct-worker.mjs) and bench/listing.mjs --direct
 *        --data peer --query <the peer's>, each with `--json`;
 *   3. for every metric: our value and the peer's in each round, the ratio per round, and
 *      its spread (min–max over the rounds), against issue #15's targets; appended to
 *      bench/results/peer.md.
 *
 * Purchases per second over the sell-out window is the same on both sides: accepted (202)
 * answers divided by the time from the first request sent to the last 202 answered (the
 * peer's loadgen `last_2xx_at_s`; ours bench/flash-sale/summary.mjs `saleWindow`).
 *
 * Options
 *   --rounds N     peer/us pairs (default 2) [PEER_ROUNDS]
 *   --no-record    do not append to bench/results/peer.md
 *   --note TEXT    a note for the results file
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";
import { appendResults, describeMachine, fmt, log, parseOptions, sleep, step, verdict } from "./common.mjs";

const { number, record, note } = parseOptions(import.meta.url, { rounds: { type: "string" } });
const rounds = number("rounds", "PEER_ROUNDS", 2, 1);
const PEER = path.resolve(PROJECT_ROOT, "..", "shared", "peers", "django-seed");
const PEER_STATE = process.env.STATE || "/tmp/django-seed";
const WORK_DIR = path.join(PROJECT_ROOT, "bench", ".state", "peer");
const R = 2000;
const K = 64;
const SEATS = 500;
const EVENTS = 10_000;
const LIST_QUERY = "q=jazz&min_price=1000";
const TARGETS = { purchases: 2, listing: 5, p99: 300 };
const host = describeMachine();

/**
 * Runs a command, its output to `logFile` (progress lines, "▶ …", "✔ …", "==", "--", also
 * here); resolves with its output, rejects unless it exits 0.
 */
function run(command, args, { env = {}, cwd = PROJECT_ROOT, logFile }) {
  return new Promise((resolve, reject) => {
    writeFileSync(logFile, `$ ${command} ${args.join(" ")}\n`);
    const child = spawn(command, args, {
      cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let partial = "";
    const onData = (chunk) => {
      const text = chunk.toString("utf8");
      output += text;
      appendFileSync(logFile, text);
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) if (/^\s*(▶|✔|✖|!|==|--)/.test(line)) log(`    ${line.trim()}`);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (code === 0) resolve(output);
      else
        reject(
          new Error(
            `${command} ${args.join(" ")} exited ${code ?? signal}; see ${path.relative(PROJECT_ROOT, logFile)}:\n${output.slice(-2000)}`,
          ),
        );
    });
  });
}

/** `uptime` and the processes that used the most CPU over two seconds (`top -c`: with their command lines). */
async function machineNow(label) {
  const logFile = path.join(WORK_DIR, `${label}-top.log`);
  const uptime = (await run("uptime", [], { logFile })).trim();
  let busiest = [];
  try {
    const top = await run("top", ["-bn2", "-d2", "-c", "-w", "400"], { logFile });
    const second = top.slice(top.lastIndexOf("top - "));
    const cpuLine = /%Cpu\(s\):\s*(.*)/.exec(second)?.[1] ?? "";
    const rows = second
      .split("\n")
      .map((line) => line.trim().split(/\s+/))
      .filter((f) => f.length >= 12 && /^\d+$/.test(f[0]) && Number(f[8]) >= 5);
    busiest = rows.slice(0, 5).map(
      (f) =>
        `${f
          .slice(11)
          .join(" ")
          .replace(/^\/\S*\//, "")
          .slice(0, 90)} (pid ${f[0]}) ${f[8]}%`,
    );
    return { uptime, cpu: cpuLine, busiest };
  } catch {
    return { uptime, cpu: "", busiest };
  }
}

/** CPU seconds of the whole machine so far: busy and total (Linux /proc/stat). */
function machineTicks() {
  const [, ...fields] = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal = 0] = fields.map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/**
 * Before each side, the same wait: until the machine has used less than 0.3 CPU for two
 * seconds in a row (other sessions' tests), at most `maxMs`. The flash-sale bench waits
 * again on its own after its warm-up, as always.
 */
async function waitForQuietMachine(maxMs = 120_000) {
  const started = Date.now();
  let previous = machineTicks();
  let quiet = 0;
  let used = Number.NaN;
  while (Date.now() - started < maxMs) {
    await sleep(1000);
    const now = machineTicks();
    used = ((now.busy - previous.busy) / (now.total - previous.total)) * host.nproc;
    previous = now;
    quiet = used < 0.3 ? quiet + 1 : 0;
    if (quiet >= 2) return { seconds: (Date.now() - started) / 1000, quiet: true, used };
  }
  return { seconds: (Date.now() - started) / 1000, quiet: false, used };
}

const waitText = (w) =>
  w.quiet
    ? `quiet after ${fmt(w.seconds, 0)} s`
    : `still ${fmt(w.used, 2)} CPU busy after ${fmt(w.seconds, 0)} s`;

// ─── The peer ────────────────────────────────────────────────────────────────────────────

async function startPeer() {
  step("Starting the Django peer (run.sh)");
  const out = await run("bash", [path.join(PEER, "run.sh")], {
    cwd: PEER,
    env: { FLASH_CAPACITY: String(SEATS), EVENTS: String(EVENTS) },
    logFile: path.join(WORK_DIR, "peer-run.log"),
  });
  for (const line of out.trim().split("\n").slice(-3)) log(`  ${line}`);
  const env = readFileSync(path.join(PEER_STATE, "env"), "utf8");
  const port = /APP_PORT=(\d+)/.exec(env)?.[1];
  const workers = /WORKERS=(\d+)/.exec(env)?.[1];
  if (!port) throw new Error(`no APP_PORT in ${PEER_STATE}/env`);
  const base = `http://127.0.0.1:${port}`;
  const page = await (await fetch(`${base}/api/events/?${LIST_QUERY}`)).json();
  log(`✔ peer at ${base}, gunicorn ${workers} workers; /api/events/?${LIST_QUERY} matches ${page.count}`);
  return { base, workers: Number(workers), matches: page.count };
}

async function stopPeer() {
  step("Stopping the Django peer (stop.sh)");
  try {
    const out = await run("bash", [path.join(PEER, "stop.sh")], {
      cwd: PEER,
      logFile: path.join(WORK_DIR, "peer-stop.log"),
    });
    log(out.trim() ? `  ${out.trim().split("\n").join("\n  ")}` : "  (nothing was running)");
  } catch (error) {
    log(`! stop.sh failed: ${error.message}`);
  }
}

async function peerRound(round) {
  step(`Round ${round}: the peer (bench.sh, WRK_SECONDS=0)`);
  const out = await run("bash", [path.join(PEER, "bench.sh")], {
    cwd: PEER,
    env: {
      R: String(R),
      K: String(K),
      FLASH_CAPACITY: String(SEATS),
      LIST_QUERY,
      WRK_SECONDS: "0",
    },
    logFile: path.join(WORK_DIR, `round-${round}-peer.log`),
  });
  const file = /raw results: (\S+)/.exec(out)?.[1];
  if (!file || !existsSync(file)) throw new Error("bench.sh printed no raw results file");
  const raw = JSON.parse(readFileSync(file, "utf8"));
  const { flash, flash_db: db, listing, health } = raw;
  const accepted = flash.by_status["202"] ?? 0;
  const window = flash.last_2xx_at_s ?? flash.wall_s;
  const figures = {
    accepted,
    soldOut: flash.by_status["409"] ?? 0,
    errors: flash.requests - accepted - (flash.by_status["409"] ?? 0),
    saleWindowSeconds: window,
    purchasesPerSecond: accepted / window,
    saleP50: flash.p50_ms,
    saleP99: flash.p99_ms,
    oversold: db.oversold,
    consistent: accepted === db.orders && db.orders === db.sold,
    listingRps: listing.rps,
    listingP50: listing.p50_ms,
    listingP99: listing.p99_ms,
    listingErrors: listing.requests - (listing.by_status["200"] ?? 0),
    healthRps: health.rps,
    raw: file,
  };
  log(
    `  peer: ${fmt(figures.purchasesPerSecond)} purchases/s over ${fmt(window, 2)} s, oversold ${figures.oversold}; listing ${fmt(figures.listingRps)} req/s p99 ${fmt(figures.listingP99, 0)} ms; health ${fmt(figures.healthRps)} req/s`,
  );
  return figures;
}

// ─── Us ──────────────────────────────────────────────────────────────────────────────────

async function ourRound(round) {
  step(`Round ${round}: us, flash sale (bench/flash-sale.mjs --direct)`);
  const flashJson = path.join(WORK_DIR, `round-${round}-flash.json`);
  const listingJson = path.join(WORK_DIR, `round-${round}-listing.json`);
  rmSync(flashJson, { force: true });
  rmSync(listingJson, { force: true });
  // The flash-sale bench exits 1 if it oversold or a request failed, the listing bench if a
  // request failed: their figures are read from --json either way (errors are reported).
  await run(
    process.execPath,
    [
      "bench/flash-sale.mjs",
      "--direct",
      "--buyers",
      String(R),
      "--seats",
      String(SEATS),
      "--concurrency",
      String(K),
      "--capacity",
      "0",
      "--probes",
      "0",
      "--three-tier",
      "off",
      "--no-record",
      "--json",
      flashJson,
    ],
    { logFile: path.join(WORK_DIR, `round-${round}-flash.log`) },
  ).catch((error) => {
    if (!existsSync(flashJson)) throw error;
    log(`! the flash-sale bench reported a failure (figures kept): ${error.message.split("\n")[0]}`);
  });
  const flash = JSON.parse(readFileSync(flashJson, "utf8"));

  step(`Round ${round}: us, listing (bench/listing.mjs --direct --data peer --query ${LIST_QUERY})`);
  await run(
    process.execPath,
    [
      "bench/listing.mjs",
      "--direct",
      "--data",
      "peer",
      "--events",
      String(EVENTS),
      "--query",
      LIST_QUERY,
      "--requests",
      String(R),
      "--concurrency",
      String(K),
      // The first round seeds the data set; later rounds reuse it (same rows).
      ...(round > 1 ? ["--reuse"] : []),
      "--no-record",
      "--json",
      listingJson,
    ],
    { logFile: path.join(WORK_DIR, `round-${round}-listing.log`) },
  ).catch((error) => {
    if (!existsSync(listingJson)) throw error;
    log(`! the listing bench reported a failure (figures kept): ${error.message.split("\n")[0]}`);
  });
  const listing = JSON.parse(readFileSync(listingJson, "utf8"));
  const figures = {
    accepted: flash.accepted,
    soldOut: flash.soldOut,
    errors: flash.errors,
    errorKinds: flash.errorKinds,
    saleWindowSeconds: flash.saleWindowSeconds,
    purchasesPerSecond: flash.purchasesPerSecondWindow,
    saleP50: flash.p50,
    saleP99: flash.p99,
    oversold: Math.max(flash.oversold, flash.oversoldAccepted),
    consistent: flash.seatChecksOk,
    saleCpu: flash.saleCpu,
    saleCpuPerRequest: flash.saleCpuPerRequest,
    listingRps: listing.listing.rps,
    listingP50: listing.listing.p50,
    listingP99: listing.listing.p99,
    listingErrors: listing.listing.errors,
    listingErrorKinds: listing.listing.errorKinds,
    listingCpu: listing.listing.cpu,
    listingMatches: listing.matches,
    listingSqlMs: listing.sqlMs,
    healthRps: flash.healthRps,
    listingHealthRps: listing.health.rps,
  };
  log(
    `  us: ${fmt(figures.purchasesPerSecond)} purchases/s over ${fmt(figures.saleWindowSeconds, 2)} s, oversold ${figures.oversold}; listing ${fmt(figures.listingRps)} req/s p99 ${fmt(figures.listingP99, 0)} ms; health ${fmt(figures.healthRps)} req/s`,
  );
  return figures;
}

// ─── Report ──────────────────────────────────────────────────────────────────────────────

const list = (values, digits = 1) => values.map((v) => fmt(v, digits)).join(", ");
const spread = (values, digits = 2) => {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return "–";
  const lo = Math.min(...finite);
  const hi = Math.max(...finite);
  return lo === hi ? fmt(lo, digits) : `${fmt(lo, digits)}–${fmt(hi, digits)}`;
};
const cpuText = (cpu) =>
  cpu
    ? Object.entries(cpu)
        .sort((a, b) => b[1] - a[1])
        .map(([name, v]) => `${name} ${fmt(v, 2)}`)
        .join(", ")
    : "n/a";

function report({ host, peer, results, failures, started }) {
  const ours = results.map((r) => r.us);
  const theirs = results.map((r) => r.peer);
  const ratios = (key) => results.map((r) => r.us[key] / r.peer[key]);
  const purchases = ratios("purchasesPerSecond");
  const listing = ratios("listingRps");
  const p99 = ours.map((r) => r.listingP99);
  const oversoldUs = ours.map((r) => r.oversold);
  const oversoldPeer = theirs.map((r) => r.oversold);
  const row = (name, u, p, ratio, target) => `| ${name} | ${u} | ${p} | ${ratio} | ${target} |`;
  const lines = [
    `## ${started.toISOString()}${note ? ` (${note})` : ""}`,
    "",
    `- Machine: ${host.nproc} CPUs (\`nproc\`), ${host.cpu}, ${fmt(host.memoryGiB)} GiB RAM, ${host.platform}; Node ${host.node}, wrangler ${host.wrangler}; shared with other sessions (see "before each round")`,
    `- Load: ${R.toLocaleString("en")} buyers for ${SEATS} seats, ${K} in flight (both sides); listing \`/api/events/?${LIST_QUERY}\` ${R.toLocaleString("en")} requests, ${K} in flight; ${rounds} rounds interleaved peer → us`,
    `- Peer: ${PEER_STATE} (run.sh: PostgreSQL 15, gunicorn ${peer.workers} sync workers, ${EVENTS.toLocaleString("en")} events); its bench.sh, loadgen.mjs (node:http), WRK_SECONDS=0; the listing matches ${peer.matches} events`,
    `- Us: bench/flash-sale.mjs --direct (the built bundle in Miniflare directly: one workerd with the Worker, D1 simulator and Durable Objects; no dev proxy, no inspector; the real Daraja client against the fake Daraja in the load generator's process) and bench/listing.mjs --direct --data peer (${EVENTS.toLocaleString("en")} events in the shape of the peer's seed.py); the listing matches ${ours[0]?.listingMatches} events`,
    "",
    "Before each round:",
    "",
    ...results.flatMap((r) => [
      `- round ${r.round}, peer (${r.machine.peer.wait}): \`${r.machine.peer.uptime}\`; CPU ${r.machine.peer.cpu}; busiest: ${r.machine.peer.busiest.join(", ") || "none ≥ 5%"}`,
      `- round ${r.round}, us (${r.machine.us.wait}): \`${r.machine.us.uptime}\`; CPU ${r.machine.us.cpu}; busiest: ${r.machine.us.busiest.join(", ") || "none ≥ 5%"}`,
    ]),
    "",
    "| metric | us (per round) | peer (per round) | us / peer (min–max) | target |",
    "| --- | ---: | ---: | ---: | --- |",
    row(
      "**purchases/s over the sell-out window** (202s ÷ time to the last 202)",
      list(ours.map((r) => r.purchasesPerSecond)),
      list(theirs.map((r) => r.purchasesPerSecond)),
      `**${spread(purchases)}**`,
      `≥ ${TARGETS.purchases}×: ${verdict(Math.min(...purchases) >= TARGETS.purchases)}`,
    ),
    row(
      "sell-out window, s",
      list(
        ours.map((r) => r.saleWindowSeconds),
        2,
      ),
      list(
        theirs.map((r) => r.saleWindowSeconds),
        2,
      ),
      "",
      "",
    ),
    row(
      "202 / 409 / other",
      ours.map((r) => `${r.accepted}/${r.soldOut}/${r.errors}`).join(", "),
      theirs.map((r) => `${r.accepted}/${r.soldOut}/${r.errors}`).join(", "),
      "",
      "",
    ),
    row(
      "sale errors (neither 202 nor 409)",
      ours.map((r) => `${r.errors}${r.errors ? ` ${JSON.stringify(r.errorKinds)}` : ""}`).join(", "),
      theirs.map((r) => r.errors).join(", "),
      "",
      "",
    ),
    row(
      "sale latency p50 / p99, ms (all answers)",
      ours.map((r) => `${fmt(r.saleP50, 0)}/${fmt(r.saleP99, 0)}`).join(", "),
      theirs.map((r) => `${fmt(r.saleP50, 0)}/${fmt(r.saleP99, 0)}`).join(", "),
      "",
      "",
    ),
    row(
      "**oversold**",
      `**${oversoldUs.join(", ")}**`,
      `**${oversoldPeer.join(", ")}**`,
      "",
      `0 on both: ${verdict([...oversoldUs, ...oversoldPeer].every((n) => n === 0))}`,
    ),
    row(
      "listing errors (not 200)",
      ours
        .map((r) => `${r.listingErrors}${r.listingErrors ? ` ${JSON.stringify(r.listingErrorKinds)}` : ""}`)
        .join(", "),
      theirs.map((r) => r.listingErrors).join(", "),
      "",
      "",
    ),
    row(
      `**listing req/s** (\`${LIST_QUERY}\`)`,
      list(ours.map((r) => r.listingRps)),
      list(theirs.map((r) => r.listingRps)),
      `**${spread(listing)}**`,
      `≥ ${TARGETS.listing}×: ${verdict(Math.min(...listing) >= TARGETS.listing)}`,
    ),
    row(
      "**listing p99, ms**",
      `**${list(p99, 0)}**`,
      list(
        theirs.map((r) => r.listingP99),
        0,
      ),
      "",
      `ours ≤ ${TARGETS.p99} ms: ${verdict(Math.max(...p99) <= TARGETS.p99)}`,
    ),
    row(
      "listing p50, ms",
      list(
        ours.map((r) => r.listingP50),
        0,
      ),
      list(
        theirs.map((r) => r.listingP50),
        0,
      ),
      "",
      "",
    ),
    row(
      "health req/s (context: the framework ceiling)",
      list(ours.map((r) => r.healthRps)),
      list(theirs.map((r) => r.healthRps)),
      spread(ratios("healthRps")),
      "",
    ),
    "",
    "Where our CPU went (CPU seconds per wall second, 2 CPUs):",
    "",
    ...ours.flatMap((r, i) => [
      `- round ${i + 1}, sale: ${cpuText(r.saleCpu)}; server CPU per sale request ${fmt(r.saleCpuPerRequest?.total, 1)} ms`,
      `- round ${i + 1}, listing: ${cpuText(r.listingCpu)}; the listing SQL alone in the D1 simulator ${fmt(r.listingSqlMs, 1)} ms`,
    ]),
    "",
    ...(failures.length
      ? ["Rounds that failed (not in the table):", "", ...failures.map((f) => `- ${f}`), ""]
      : []),
    `Logs: bench/.state/peer/ (gitignored); the peer's raw JSON: ${theirs.map((r) => r.raw).join(", ")}`,
    "",
  ];
  return lines.join("\n");
}

async function main() {
  mkdirSync(WORK_DIR, { recursive: true });
  const started = new Date();
  log(
    `Side by side with the Django peer: ${rounds} round(s), ${R} buyers, ${SEATS} seats, ${K} in flight, listing ?${LIST_QUERY}; load average ${host.loadavg.map((n) => n.toFixed(2)).join(" ")}`,
  );
  if (!existsSync(path.join(PEER, "bench.sh"))) throw new Error(`no peer at ${PEER}`);
  const results = [];
  const failures = [];
  let peer;
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    peer = await startPeer();
    for (let round = 1; round <= rounds && !interrupted; round++) {
      try {
        const peerWait = await waitForQuietMachine();
        const machine = { peer: { ...(await machineNow(`round-${round}-peer`)), wait: waitText(peerWait) } };
        log(`  before the peer (${machine.peer.wait}): ${machine.peer.uptime}`);
        const peerFigures = await peerRound(round);
        const usWait = await waitForQuietMachine();
        machine.us = { ...(await machineNow(`round-${round}-us`)), wait: waitText(usWait) };
        log(`  before us (${machine.us.wait}): ${machine.us.uptime}`);
        const usFigures = await ourRound(round);
        results.push({ round, machine, peer: peerFigures, us: usFigures });
      } catch (error) {
        // A failed round is reported, and the other rounds still run.
        failures.push(`round ${round}: ${String(error?.message ?? error).split("\n")[0]}`);
        log(`✖ round ${round} failed: ${error?.stack ?? error}`);
      }
    }
  } finally {
    await stopPeer();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  if (results.length === 0) throw new Error("no round finished");
  const text = report({ host, peer, results, failures, started });
  log("");
  log(text);
  if (record) appendResults("peer", "Side by side with the Django peer", text);
}

main().catch((error) => {
  console.error(`\n✖ ${error?.stack ?? error}`);
  process.exitCode = 1;
});
