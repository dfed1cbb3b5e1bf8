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
 *   6. GET /api/pay/verify/<order_id>/ for every accepted order (ticket ids); then, unless
 *      `--three-tier off`, issue #12's bench (b): the same number of buyers ordering one seat
 *      of each of three tiers in ONE initiate (bench/flash-sale/three-tier.mjs); with
 *      `--promo`, bench (a): the same buyers count on a fresh tier, every buyer applying one
 *      code of max_uses 100 (bench/flash-sale/promo.mjs); with `--buyer-limit`, bench (c):
 *      500 buyers on 50 phones against max_per_buyer 2 (bench/flash-sale/buyer-limit.mjs);
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
 * Each phase is a module of bench/flash-sale/ (see its header); this file runs them in order.
 * The command-line options are in bench/flash-sale/options.mjs (`--help` prints them).
 */
import { rmSync, writeFileSync } from "node:fs";
import { appendResults, describeMachine, fmt, log, step } from "./common.mjs";
import { cpuSnapshot } from "./dev-server.mjs";
import { startFakeDaraja } from "./fake-daraja.mjs";
import { buyerLimitPhase, buyerLimitReadBack, buyerLimitText } from "./flash-sale/buyer-limit.mjs";
import { callbackPhase } from "./flash-sale/callbacks.mjs";
import { capacityPhase } from "./flash-sale/capacity.mjs";
import { checkoutTiming } from "./flash-sale/checkout-timing.mjs";
import { healthPhase } from "./flash-sale/health.mjs";
import { removeStateKeepingLogs, resetState } from "./flash-sale/layout.mjs";
import { options } from "./flash-sale/options.mjs";
import { probePhase } from "./flash-sale/probes.mjs";
import { promoPhase, promoReadBack, promoText } from "./flash-sale/promo.mjs";
import { readBack } from "./flash-sale/read-back.mjs";
import { report } from "./flash-sale/report.mjs";
import { acceptedOf, salePhase } from "./flash-sale/sale.mjs";
import { seedSale } from "./flash-sale/seed.mjs";
import {
  catchInterrupts,
  DARAJA,
  releaseInterrupts,
  startServer,
  stopServer,
  writeSecrets,
} from "./flash-sale/server.mjs";
import { simulatorTiming } from "./flash-sale/simulator.mjs";
import { prepareSource } from "./flash-sale/source-snapshot.mjs";
import { summarize } from "./flash-sale/summary.mjs";
import { threeTierPhase, threeTierText } from "./flash-sale/three-tier.mjs";
import { verifyPhase } from "./flash-sale/verify.mjs";
import { warmUp } from "./flash-sale/warmup.mjs";
import { keepAliveAgent } from "./http-json.mjs";
import { stats } from "./load.mjs";

/** wrangler dev from warm-up to the probes; always stopped at the end. */
async function salePhases(ctx) {
  const { opts, data, daraja, secrets } = ctx;
  step(
    opts.direct
      ? "Starting the Worker in Miniflare directly (one workerd, no dev proxy, no inspector)"
      : opts.inspector === "off"
        ? "Starting the runtime without the inspector"
        : "Starting wrangler dev",
  );
  const server = await startServer({
    config: data.builtConfig,
    daraja,
    secrets,
    opts,
    logName: "wrangler-dev.log",
    extraVars: { ...opts.shardVars, HOLD_SECONDS: String(opts.holdSeconds) },
  });
  ctx.server = server;
  log(`✔ ${server.baseUrl}/api/health/ answered 200 after ${(server.readyMs / 1000).toFixed(1)} s`);
  const agent = keepAliveAgent(Math.max(opts.concurrency, opts.callbackConcurrency));
  const first = cpuSnapshot(server);
  ctx.pidsAtStart = first?.pids;
  ctx.rssAtStart = first?.rssMiB;
  try {
    ctx.machineWait = await warmUp(server, agent, opts, data, daraja);
    ctx.health = await healthPhase(server, opts);
    if (opts.capacity > 0) ctx.capacity = await capacityPhase(server, agent, opts, data);
    ctx.sale = await salePhase(server, agent, opts, data);
    const accepted = acceptedOf(ctx.sale);
    ctx.callbacks = await callbackPhase(server, agent, opts, accepted, daraja, secrets.callbackToken);
    ctx.verify = await verifyPhase(server, agent, opts, accepted);
    if (opts.threeTier) {
      try {
        ctx.threeTier = await threeTierPhase(server, agent, opts, data, daraja);
      } catch (error) {
        ctx.threeTier = { failed: String(error?.message ?? error).split("\n")[0] };
        log(`! three-tier phase failed: ${error?.stack ?? error}`);
      }
    }
    // Issue #12 benches (a) and (c), each on its own event and after the others have settled.
    for (const [wanted, key, phase] of [
      [opts.promo, "promo", promoPhase],
      [opts.buyerLimit, "buyerLimit", buyerLimitPhase],
    ]) {
      if (!wanted) continue;
      try {
        ctx[key] = await phase(server, agent, opts, data, daraja);
      } catch (error) {
        ctx[key] = { failed: String(error?.message ?? error).split("\n")[0] };
        log(`! ${key} phase failed: ${error?.stack ?? error}`);
      }
    }
    if (opts.probes > 0) Object.assign(ctx, await probePhase(server, agent, opts, data, daraja));
  } finally {
    const last = cpuSnapshot(server);
    ctx.pidsAtEnd = last?.pids;
    ctx.rssAtEnd = last?.rssMiB;
    agent.destroy();
    step("Stopping the server");
    log((await stopServer(server)) ? "✔ stopped" : "! some server processes did not exit");
  }
}

/**
 * The headline figures for `--json` (bench/peer.mjs): counts, the sale window (first request
 * sent to the last 202 answered, as the Django peer's bench.sh computes it), latencies, oversold.
 */
function headline(ctx, s) {
  const { opts, sale, health } = ctx;
  const all = stats(sale.results.map((r) => r.ms));
  return {
    runtime: opts.direct ? "direct" : opts.inspector === "off" ? "no-inspector" : "wrangler-dev",
    buyers: opts.buyers,
    seats: opts.seats,
    concurrency: opts.concurrency,
    accepted: s.accepted.length,
    soldOut: s.soldOut.length,
    errors: s.errors.length,
    errorKinds: Object.fromEntries(
      [...new Set(s.errors.map((r) => r.error ?? `HTTP ${r.status}`))].map((kind) => [
        kind,
        s.errors.filter((r) => (r.error ?? `HTTP ${r.status}`) === kind).length,
      ]),
    ),
    // When the failed requests were sent and answered, seconds from the start of the sale.
    errorsSentAt: stats(s.errors.map((r) => (r.startedAt - sale.startedAt) / 1000)),
    errorsEndedAt: stats(s.errors.map((r) => (r.endedAt - sale.startedAt) / 1000)),
    wallSeconds: sale.seconds,
    saleWindowSeconds: s.saleWindow,
    purchasesPerSecondWindow: s.accepted.length / s.saleWindow,
    purchasesPerSecondWall: s.purchasesPerSecond,
    p50: all.p50,
    p99: all.p99,
    acceptedP50: s.acc.p50,
    acceptedP99: s.acc.p99,
    ticketsIssued: s.ticketsIssued,
    oversold: s.oversold,
    oversoldAccepted: Math.max(0, s.accepted.length - opts.seats),
    seatChecksOk: s.seatChecks.every(([, v]) => v !== false),
    healthRps: health?.rps,
    saleCpu: sale.cpu?.perSecond,
    saleCpuPerRequest: sale.cpuPerRequest,
  };
}

async function main() {
  const opts = options();
  const host = describeMachine();
  log(
    `Flash-sale benchmark: ${opts.buyers} buyers for ${opts.seats} seats, ${opts.concurrency} in flight; ${host.nproc} CPUs, Node ${host.node}, load average ${host.loadavg.map((n) => n.toFixed(2)).join(" ")}`,
  );
  resetState();
  const source = await prepareSource();
  const data = { ...(await seedSale(opts)), ...source };
  const secrets = writeSecrets();
  catchInterrupts();

  step("Starting the fake Daraja");
  const daraja = await startFakeDaraja(DARAJA);
  log(`✔ Fake Daraja at ${daraja.baseUrl}`);
  const ctx = { opts, host, data, daraja, secrets };
  try {
    await salePhases(ctx);
    step("Reading the results back (D1 and the tier's Durable Object storage)");
    ctx.back = { ...(await readBack(data)), simulator: await simulatorTiming(data) };
    if (ctx.promo && !ctx.promo.failed) ctx.promoBack = await promoReadBack(data);
    if (ctx.buyerLimit && !ctx.buyerLimit.failed) ctx.buyerLimitBack = await buyerLimitReadBack(data);
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
    releaseInterrupts();
    log("✔ fake Daraja stopped; no process left running");
  }

  const s = summarize(ctx);
  const reported = report(ctx, s);
  const { ok, latencyOk, throughputOk } = reported;
  const text =
    reported.text +
    threeTierText(ctx.threeTier, ctx.sale) +
    promoText(ctx.promo, ctx.sale, ctx.promoBack, data.promoCode.max_uses) +
    buyerLimitText(ctx.buyerLimit, ctx.buyerLimitBack);
  log("");
  log(text);
  if (opts.record) appendResults("flash-sale", "Flash-sale", text);
  if (opts.json) writeFileSync(opts.json, `${JSON.stringify(headline(ctx, s), null, 1)}\n`, "utf8");
  if (!opts.keepState) removeStateKeepingLogs();
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
