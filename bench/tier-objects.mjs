/**
 * `npm run bench:tier-objects` (issue #15 part 6): the seat authority alone, one object
 * against a sharded tier, inside workerd.
 *
 *   1. bench/tier-objects/worker.ts is started with `wrangler dev` on a free port (its own
 *      throwaway state under bench/.state/tier-objects, a private dev registry);
 *   2. a warm-up run of each layout;
 *   3. ROUNDS rounds, each one run of a tier as ONE object and one of the same tier as N
 *      SHARDS (the order alternating between rounds, so drift on a shared machine hits both):
 *      each run is a fresh tier of SEATS seats, HOLDS reserve calls of one seat by HOLDS
 *      different buyers (email + phone keys, max_per_buyer 4, as a guest checkout reserves),
 *      CONCURRENCY in flight, made inside the Worker through src/inventory/client.ts;
 *   4. per run: admitted holds/s (admitted holds ÷ the host's wall time of the run's request),
 *      and the workerd process's CPU seconds per 1,000 admitted holds; per round the ratio
 *      sharded ÷ one object; over the rounds the median and the spread (min–max) of each;
 *      oversold (held + sold above the allocation, for the tier and for any shard) must be 0
 *      and the tier's held count must equal the holds admitted;
 *   5. the calls the Worker made per admitted hold, in all and on the busiest object, and from
 *      them a modelled ratio for Cloudflare (one object's calls per hold ÷ the busiest shard's);
 *   6. the figures are printed and appended to bench/results/tier-objects.md.
 *
 * Target (issue #15): sharded ≥ 4 × one object. Local workerd runs every object of the
 * process on one thread, so what this measures on one machine is the sharded path's cost per
 * hold next to one object's, not the parallelism that shards get on Cloudflare, where each
 * object has its own thread; the report says so beside the verdict.
 *
 * Options (flags, or the environment variable in brackets):
 *   --shards N        shards of the sharded tier [BENCH_SHARDS]            default 4
 *   --holds N         reserve calls per run [BENCH_HOLDS]                  default 2000
 *   --seats N         seats of each run's tier [BENCH_SEATS]               default = holds
 *   --concurrency N   reserve calls in flight [BENCH_CONCURRENCY]          default 100
 *   --rounds N        one-object/sharded pairs [BENCH_ROUNDS]              default 5
 *   --no-record       do not append to bench/results/tier-objects.md
 *   --note TEXT       a note for the results file
 */
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";
import { appendResults, describeMachine, fmt, log, parseOptions, step, verdict } from "./common.mjs";
import { cpuSnapshot, startDevServer, stopDevServer } from "./dev-server.mjs";
import { stats } from "./load.mjs";

const TARGET_RATIO = 4;
const ROOT_DIR = path.join(PROJECT_ROOT, "bench", ".state", "tier-objects");

function options() {
  const { number, record, note } = parseOptions(import.meta.url, {
    shards: { type: "string" },
    holds: { type: "string" },
    seats: { type: "string" },
    concurrency: { type: "string" },
    rounds: { type: "string" },
  });
  const holds = number("holds", "BENCH_HOLDS", 2000, 1);
  return {
    shards: number("shards", "BENCH_SHARDS", 4, 2),
    holds,
    seats: number("seats", "BENCH_SEATS", holds, 1),
    concurrency: number("concurrency", "BENCH_CONCURRENCY", 100, 1),
    rounds: number("rounds", "BENCH_ROUNDS", 5, 1),
    record,
    note,
  };
}

/** Workerd's CPU seconds so far (the process running the Worker and its objects). */
function workerdCpu(server) {
  const snapshot = cpuSnapshot(server, { workerdByRole: true });
  return snapshot?.byName["workerd (the Worker, D1, DOs)"] ?? Number.NaN;
}

/** One run: a fresh tier laid out as `shards` objects, `holds` reserve calls. */
async function runOnce(server, opts, shards, holds = opts.holds, seats = opts.seats) {
  const query = new URLSearchParams({
    shards: String(shards),
    holds: String(holds),
    seats: String(seats),
    conc: String(opts.concurrency),
  });
  const cpuBefore = workerdCpu(server);
  const started = performance.now();
  const response = await fetch(`${server.baseUrl}/run?${query}`, { signal: AbortSignal.timeout(600_000) });
  const body = await response.json();
  const seconds = (performance.now() - started) / 1000;
  const cpu = workerdCpu(server) - cpuBefore;
  if (response.status !== 200) throw new Error(`/run answered ${response.status}: ${JSON.stringify(body)}`);
  if (body.shards !== shards) throw new Error(`asked for ${shards} shards, the tier has ${body.shards}`);
  return {
    ...body,
    seconds,
    perSec: body.admitted / seconds,
    cpuPerThousand: (cpu / Math.max(1, body.admitted)) * 1000,
  };
}

const describeRun = (r) =>
  `${r.shards === 1 ? "one object " : `${r.shards} shards   `}  admitted ${r.admitted}/${r.holds}` +
  ` in ${fmt(r.seconds, 2)} s = ${fmt(r.perSec, 0)} holds/s, workerd CPU ${fmt(r.cpuPerThousand, 2)} s/1000,` +
  ` reserve p50/p99/max ${r.latencyMs.p50}/${r.latencyMs.p99}/${r.latencyMs.max} ms, sold out ${r.soldOut}, errors ${Object.keys(r.errors).length ? JSON.stringify(r.errors) : 0},` +
  ` calls/hold ${fmt(r.callsPerHold, 2)} (busiest object ${fmt(r.busiestCallsPerHold, 2)}),` +
  ` oversold ${r.oversold}${r.heldMatchesAdmitted ? "" : " (HELD ≠ ADMITTED)"}`;

async function main() {
  const opts = options();
  const machine = describeMachine();
  rmSync(ROOT_DIR, { recursive: true, force: true });
  mkdirSync(ROOT_DIR, { recursive: true });
  step("Starting bench/tier-objects/worker.ts with wrangler dev");
  const server = await startDevServer({
    persistTo: path.join(ROOT_DIR, "state"),
    logFile: path.join(ROOT_DIR, "wrangler.log"),
    args: ["-c", path.join("bench", "tier-objects", "wrangler.toml"), "--log-level", "warn"],
    env: {
      WRANGLER_REGISTRY_PATH: path.join(ROOT_DIR, "registry"),
      WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
    },
    readyPath: "/health",
  });
  const runs = [];
  try {
    step("Warm-up (not counted)");
    for (const shards of [1, opts.shards]) {
      log(
        `  ${describeRun(await runOnce(server, opts, shards, Math.min(opts.holds, 300), Math.min(opts.seats, 300)))}`,
      );
    }
    for (let round = 1; round <= opts.rounds; round++) {
      step(`Round ${round}/${opts.rounds}`);
      const order = round % 2 ? [1, opts.shards] : [opts.shards, 1];
      const pair = {};
      for (const shards of order) {
        const r = await runOnce(server, opts, shards);
        log(`  ${describeRun(r)}`);
        pair[shards === 1 ? "one" : "sharded"] = r;
      }
      runs.push({
        round,
        ...pair,
        ratio: pair.sharded.perSec / pair.one.perSec,
        modelled: pair.one.busiestCallsPerHold / pair.sharded.busiestCallsPerHold,
      });
    }
  } finally {
    await stopDevServer(server);
  }

  const one = stats(runs.map((r) => r.one.perSec));
  const sharded = stats(runs.map((r) => r.sharded.perSec));
  const ratio = stats(runs.map((r) => r.ratio));
  const modelled = stats(runs.map((r) => r.modelled));
  const oneCpu = stats(runs.map((r) => r.one.cpuPerThousand));
  const shardedCpu = stats(runs.map((r) => r.sharded.cpuPerThousand));
  const all = runs.flatMap((r) => [r.one, r.sharded]);
  const oversold = all.reduce((n, r) => n + r.oversold, 0);
  const mismatched = all.filter((r) => !r.heldMatchesAdmitted).length;
  const errors = all.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
  const spread = (s, d = 0) => `${fmt(s.p50, d)} (${fmt(s.min, d)}–${fmt(s.max, d)})`;

  step("Summary (median, min–max over the rounds)");
  log(`  one object : ${spread(one)} admitted holds/s, workerd CPU ${spread(oneCpu, 2)} s per 1000`);
  log(
    `  ${opts.shards} shards   : ${spread(sharded)} admitted holds/s, workerd CPU ${spread(shardedCpu, 2)} s per 1000`,
  );
  log(
    `  ratio      : ${spread(ratio, 2)} × (target ≥ ${TARGET_RATIO} ×: ${verdict(ratio.p50 >= TARGET_RATIO)})`,
  );
  log(
    `  modelled   : ${spread(modelled, 2)} × on Cloudflare (one object's calls per hold ÷ the busiest shard's; ${fmt(stats(runs.map((r) => r.sharded.callsPerHold)).p50, 2)} calls per hold in all)`,
  );
  log(`  oversold   : ${oversold}; runs whose held ≠ admitted: ${mismatched}; errors: ${errors}`);
  log(
    `  machine    : ${machine.nproc} CPUs, load ${machine.loadavg.map((l) => fmt(l, 2)).join(" ")} (shared)`,
  );

  if (!opts.record) return;
  const lines = [
    `## ${new Date().toISOString()}`,
    "",
    `${opts.rounds} rounds (one object and ${opts.shards} shards alternating), ${opts.holds} reserve calls of one seat per run on a fresh tier of ${opts.seats} seats, ${opts.concurrency} in flight, each call a new buyer (email + phone keys, max_per_buyer 4), through src/inventory/client.ts inside workerd (\`wrangler dev\`, wrangler ${machine.wrangler}, Node ${machine.node}).`,
    `Machine: ${machine.nproc} CPUs (${machine.cpu}), ${fmt(machine.memoryGiB, 1)} GiB, load average at the end ${machine.loadavg.map((l) => fmt(l, 2)).join(" / ")}; shared with other work, so the figures are noisy.${opts.note ? ` Note: ${opts.note}` : ""}`,
    "",
    "| round | one object holds/s | sharded holds/s | ratio | one object CPU s/1000 | sharded CPU s/1000 | sharded calls/hold (busiest object) |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ...runs.map(
      (r) =>
        `| ${r.round} | ${fmt(r.one.perSec, 0)} | ${fmt(r.sharded.perSec, 0)} | ${fmt(r.ratio, 2)} | ${fmt(r.one.cpuPerThousand, 2)} | ${fmt(r.sharded.cpuPerThousand, 2)} | ${fmt(r.sharded.callsPerHold, 2)} (${fmt(r.sharded.busiestCallsPerHold, 2)}) |`,
    ),
    "",
    `- One object: **${spread(one)}** admitted holds/s (median, min–max).`,
    `- ${opts.shards} shards: **${spread(sharded)}** admitted holds/s.`,
    `- Ratio sharded ÷ one object: **${spread(ratio, 2)} ×**; target ≥ ${TARGET_RATIO} ×: ${verdict(ratio.p50 >= TARGET_RATIO)}. Local workerd runs all objects of the process on one thread: this is the sharded path's cost per hold (two-phase buyer locks: prepare and commit on each key's owner) beside one object's, not the parallelism shards get on Cloudflare, where each object has its own thread.`,
    `- Modelled for Cloudflare (each object its own thread, a call costing about the same everywhere, as the CPU per call above suggests): one object takes 1 call per hold, the busiest shard ${fmt(stats(runs.map((r) => r.sharded.busiestCallsPerHold)).p50, 2)}, so the tier's capacity is about **${spread(modelled, 2)} ×** one object's. A model, not a measurement.`,
    `- Oversold: **${oversold}**; runs whose held count ≠ holds admitted: ${mismatched}; errors: ${errors}.`,
    "",
  ];
  appendResults("tier-objects", "Tier objects", lines.join("\n"));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
