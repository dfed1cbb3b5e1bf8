/**
 * The checkout code with timers: the real checkout code runs once more, after the sale, in a
 * bench-only Worker (bench/checkout-timing) with every D1, Durable Object and Daraja call
 * timed, one request at a time; the timelines are summarised per kind of request.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { stats } from "../load.mjs";
import { SNAPSHOT_CONFIG, SNAPSHOT_DIR } from "./layout.mjs";
import { startServer, stopServer } from "./server.mjs";
import { buildWorker } from "./source-snapshot.mjs";

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
export async function checkoutTiming(data, daraja, secrets, opts) {
  const config = await buildWorker(timingConfig(), "timing");
  const server = await startServer({
    config,
    daraja,
    secrets,
    opts: { ...opts, logLevel: "warn" },
    logName: "wrangler-timing.log",
    readyPath: "/ready",
  });
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
    await stopServer(server);
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
