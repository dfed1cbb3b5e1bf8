/**
 * The run as Markdown, as appended to bench/results/flash-sale.md: the setting, the figures
 * against issue 4's targets, the seats read back, where the time goes, and error samples.
 */
import { fmt, verdict } from "../common.mjs";
import { HOLD_SECONDS } from "./server.mjs";

const TARGET_LATENCY_RATIO = 2;
const TARGET_THROUGHPUT_RATIO = 1 / 5;

function cpuText(cpu) {
  if (!cpu) return "n/a";
  return Object.entries(cpu.perSecond)
    .filter(([, v]) => v >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${fmt(v, 2)}`)
    .join(", ");
}

function cpuPerRequestText(c) {
  if (!c) return "n/a";
  const parts = Object.entries(c.byName)
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1])
    .map(([name, v]) => `${name} ${fmt(v)}`);
  return `${fmt(c.total)} ms (${parts.join(", ")})`;
}

function timingText(name, t, outside) {
  if (!t) return `  - ${name}: n/a`;
  const steps = t.steps.map((step) => `${step.name} ${fmt(step.ms, 1)}`).join("; ");
  return `  - ${name} (${t.statuses.join("/")}): ${t.d1Trips} D1 round trips ${fmt(t.d1, 1)} ms, Durable Object ${fmt(t.object, 1)} ms, Daraja ${fmt(t.daraja, 1)} ms; I/O total ${fmt(t.total, 1)} ms${
    Number.isFinite(outside) ? ` of ${fmt(outside, 2)} ms end to end (one at a time, above)` : ""
  }. Steps: ${steps}`;
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

export function report(ctx, s) {
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
      opts.direct
        ? "**not `wrangler dev`**: the built bundle in Miniflare directly, one workerd with the Worker and its bindings, no dev proxy, no inspector, `--direct`"
        : opts.inspector === "off"
          ? "**not `wrangler dev`**: the same runtime through wrangler's programmatic API with the inspector off, `--inspector off`"
          : "`wrangler dev`"
    }, local D1 simulator, log level ${opts.logLevel}, ready in ${fmt(server.readyMs / 1000)} s); load generator and fake Daraja in one Node process on the same machine`,
    `- Sale: ONE tier, ${opts.seats} seats at ${opts.price} KES; ${opts.buyers.toLocaleString("en")} distinct guest buyers, quantity 1, ${opts.concurrency} in flight (keep-alive); callbacks and verifies ${opts.callbackConcurrency} in flight; HOLD_SECONDS ${opts.holdSeconds ?? HOLD_SECONDS}; real Daraja client against a local fake Daraja; ${
      opts.shards === null
        ? "tier layout by wrangler.toml's rule (20,000 seats or more sharded)"
        : opts.shards === 1
          ? "every tier one object (`--shards 1`)"
          : `the tier sharded over ${opts.shards} objects (\`--shards ${opts.shards}\`: ${Object.entries(
              opts.shardVars,
            )
              .map(([k, v]) => `${k} ${v}`)
              .join(", ")})`
    }`,
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
    `- The tier's Durable Object storage${s.saleObject?.objects > 1 ? ` (${s.saleObject.objects} shard objects, summed)` : ""}: ${
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
