/**
 * `npm run bench:render`: the ticket renderer inside workerd (issue 5, "Performance").
 *
 *   1. bench/render/worker.ts — the production renderer (src/render/render-ticket.ts:
 *      qrcode-svg → SVG → @resvg/resvg-wasm → palette PNG) behind a few routes — is bundled
 *      and started in workerd by wrangler's `unstable_startWorker` (bench/render/wrangler.toml:
 *      the wasm as a CompiledWasm module, the fonts as Data modules, as in a deploy);
 *   2. a photo-like 1080×1350 JPEG poster (smooth colour fields plus grain, the hard case for
 *      a PNG; scripts/photo-jpeg.mjs, the same one the tests use) is drawn and posted once;
 *   3. warm-up, then tickets one at a time: without the poster, of one event and its two
 *      tiers as a sale delivers them (the renderer reuses the event's shared pixels: "warm"),
 *      and each of a new event, title, date, venue and tier ("cold"); then the same two with
 *      the poster (a new event's head, poster included, is quantised before its first ticket).
 *      Time per ticket as the host sees it (workerd's clock does not move during a render, so
 *      it cannot time itself), minus nothing — the `/noop` round trip is printed beside it —
 *      and the CPU the workerd process used per ticket (/proc, 10 ms ticks, summed over the run);
 *   4. PNG size (min / median / max), and memory: the workerd process's resident set before,
 *      after the single renders, and its peak (VmHWM) over batches of 10 tickets in one request
 *      (one order of 10, as the queue consumer renders it);
 *   5. the figures are printed and appended to bench/results/render.md.
 *
 * Options (flags, or the environment variable in brackets):
 *   --tickets N         tickets rendered one by one per mode [BENCH_TICKETS]   default 200
 *   --warmup N          warm-up renders [BENCH_WARMUP]                         default 20
 *   --batches N         batches of 10 tickets with the poster [BENCH_BATCHES]  default 5
 *   --no-record         do not append to bench/results/render.md
 *   --note TEXT         a note for the results file
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { unstable_startWorker } from "wrangler";
import { photoJpeg } from "../scripts/photo-jpeg.mjs";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";
import { appendResults, fmt, log, parseOptions, verdict } from "./common.mjs";
import { stats } from "./load.mjs";

const TARGET_MS = 15;
const TARGET_BYTES = 60 * 1024;
const ISOLATE_LIMIT_MB = 128;

function options() {
  const { number, record, note } = parseOptions(import.meta.url, {
    tickets: { type: "string" },
    warmup: { type: "string" },
    batches: { type: "string" },
  });
  return {
    tickets: number("tickets", "BENCH_TICKETS", 200, 1),
    warmup: number("warmup", "BENCH_WARMUP", 20, 1),
    batches: number("batches", "BENCH_BATCHES", 5, 1),
    record,
    note,
  };
}

// --- the workerd process ------------------------------------------------------------------

function childrenOf(pid) {
  const out = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}

function workerdPids() {
  const found = [];
  const queue = [process.pid];
  while (queue.length) {
    const pid = queue.shift();
    for (const child of childrenOf(pid)) {
      queue.push(child);
      try {
        if (readFileSync(`/proc/${child}/comm`, "utf8").trim() === "workerd") found.push(child);
      } catch {
        // Gone.
      }
    }
  }
  return found;
}

function memoryMb(pids) {
  let rss = 0;
  let hwm = 0;
  for (const pid of pids) {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    hwm += Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  }
  return { rss, hwm };
}

const TICKS = 100; // USER_HZ on Linux
function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]); // utime + stime
  }
  return ticks / TICKS;
}

// --- measurement --------------------------------------------------------------------------

async function timed(worker, url, init) {
  const started = performance.now();
  const response = await worker.fetch(url, init);
  const body = await response.json();
  const ms = performance.now() - started;
  if (!response.ok) throw new Error(`${url} answered ${response.status}: ${JSON.stringify(body)}`);
  return { ms, body };
}

async function series(worker, base, pathAndQuery, count, pids) {
  const times = [];
  const sizes = [];
  let withPoster = 0;
  const cpuBefore = cpuSeconds(pids);
  for (let i = 0; i < count; i++) {
    const { ms, body } = await timed(worker, `${base}${pathAndQuery}`);
    times.push(ms);
    if (typeof body.bytes === "number") sizes.push(body.bytes);
    if (body.with_poster) withPoster++;
  }
  const cpu = cpuSeconds(pids) - cpuBefore;
  return {
    time: stats(times),
    size: stats(sizes),
    cpuMsPerRequest: (cpu * 1000) / count,
    withPoster,
  };
}

const kb = (bytes) => `${fmt(bytes / 1024, 1)} KB`;

async function main() {
  const opts = options();
  const resvgVersion = JSON.parse(
    readFileSync(path.join(PROJECT_ROOT, "node_modules/@resvg/resvg-wasm/package.json"), "utf8"),
  ).version;
  const wranglerVersion = JSON.parse(
    readFileSync(path.join(PROJECT_ROOT, "node_modules/wrangler/package.json"), "utf8"),
  ).version;
  const load = os.loadavg();

  log("▶ Drawing the poster (1080×1350 photo-like JPEG, quality 85)");
  const poster = photoJpeg(1080, 1350);
  log(`  ${kb(poster.byteLength)}`);

  log("▶ Starting the bench Worker in workerd (wrangler unstable_startWorker)");
  const worker = await unstable_startWorker({
    config: path.join(PROJECT_ROOT, "bench", "render", "wrangler.toml"),
    dev: { server: { hostname: "127.0.0.1", port: 0 }, inspector: false, logLevel: "warn", persist: false },
  });
  try {
    await worker.ready;
    const base = (await worker.url).toString().replace(/\/$/, "");
    await timed(worker, `${base}/noop`);
    // wrangler runs more than one workerd (a proxy and the Worker's own). Every stage takes a
    // snapshot of all of them; the Worker's process is the one whose CPU time the warm-up
    // renders moved, and its memory is what is reported.
    const snapshot = () =>
      new Map(workerdPids().map((pid) => [pid, { ...memoryMb([pid]), cpu: cpuSeconds([pid]) }]));
    const idleSnap = snapshot();
    if (idleSnap.size === 0) throw new Error("could not find the workerd process");
    const init = await timed(worker, `${base}/init`);
    const initSnap = snapshot();
    const first = await timed(worker, `${base}/render?poster=0`);
    const firstSnap = snapshot();

    log(`▶ Warm-up: ${opts.warmup} renders`);
    for (let i = 1; i < opts.warmup; i++) await timed(worker, `${base}/render?poster=0`);
    const warmSnap = snapshot();
    const renderer = [...warmSnap.entries()]
      .map(([pid, now]) => ({ pid, used: now.cpu - (idleSnap.get(pid)?.cpu ?? 0) }))
      .sort((a, b) => b.used - a.used)[0]?.pid;
    const rendererPids = () => (renderer && existsSync(`/proc/${renderer}`) ? [renderer] : workerdPids());
    const at = (snap) => snap.get(renderer) ?? { rss: Number.NaN, hwm: Number.NaN };
    const idle = at(idleSnap);
    const initialised = at(initSnap);
    const afterFirst = at(firstSnap);
    const warm = at(warmSnap);

    log(`▶ Round trip of an empty request (${opts.tickets})`);
    const noop = await series(worker, base, "/noop", opts.tickets, rendererPids());

    log(`▶ ${opts.tickets} tickets without a poster, one event, one per request`);
    const plain = await series(worker, base, "/render?poster=0", opts.tickets, rendererPids());
    const afterPlain = memoryMb(rendererPids());

    log(`▶ ${opts.tickets} tickets without a poster, each of a new event, one per request`);
    const cold = await series(worker, base, "/render?poster=0&event=new", opts.tickets, rendererPids());

    log("▶ Preparing the poster (decoded once, as the consumer does per order)");
    const prepared = await timed(worker, `${base}/poster`, { method: "POST", body: poster });
    if (!prepared.body.ok) throw new Error("the Worker could not use the poster");
    for (let i = 0; i < Math.min(5, opts.warmup); i++) await timed(worker, `${base}/render?poster=1`);

    log(`▶ ${opts.tickets} tickets with the poster, one event, one per request`);
    const withPoster = await series(worker, base, "/render?poster=1", opts.tickets, rendererPids());
    log(`▶ ${opts.tickets} tickets with the poster, each of a new event, one per request`);
    const posterCold = await series(worker, base, "/render?poster=1&event=new", opts.tickets, rendererPids());
    const afterPoster = memoryMb(rendererPids());

    log(`▶ ${opts.batches} batches of 10 tickets with the poster, one request each`);
    const batchTimes = [];
    for (let i = 0; i < opts.batches; i++) {
      const { ms, body } = await timed(worker, `${base}/batch?n=10&poster=1`);
      if (body.sizes?.length !== 10) throw new Error("a batch did not render 10 tickets");
      batchTimes.push(ms);
    }
    const afterBatches = memoryMb(rendererPids());
    const wasmMb = ((await timed(worker, `${base}/memory`)).body.wasm_bytes ?? Number.NaN) / 2 ** 20;

    const lines = [];
    const out = (line = "") => {
      lines.push(line);
      log(line);
    };
    const when = new Date().toISOString();
    out(`## ${when}`);
    out("");
    out(
      `- Machine: ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? "?"}), ${fmt(os.totalmem() / 2 ** 30)} GiB RAM, ${os.type()} ${os.release()} ${os.arch()}`,
    );
    out(
      `- Load average before the run (1/5/15 min): ${load.map((l) => fmt(l, 2)).join(" / ")} (other work on the machine skews the figures)`,
    );
    out(
      `- Node ${process.version}, wrangler ${wranglerVersion} (\`unstable_startWorker\`, local workerd), @resvg/resvg-wasm ${resvgVersion}, Roboto 400/700 TTF`,
    );
    out(
      `- Ticket: 600 px wide, QR of a real qr_code_hash (EdDSA JWS, error correction M); the poster is a ${kb(poster.byteLength)} 1080×1350 photo-like JPEG`,
    );
    out(
      `- Time per ticket is one request per ticket as the host sees it (sequential, loopback); the empty round trip is shown for reference. CPU is the workerd process's, per ticket, over the whole series. "One event": the bench event's two tiers, names and ticket numbers varying, so the renderer draws only each ticket's own parts and reuses the rest (per-isolate cache); "a new event each": every ticket is of an event not seen before (title, date, venue and tier all new), so all but the brand band, the perforation and the footer is drawn`,
    );
    if (opts.note) out(`- Note: ${opts.note}`);
    out("");
    out(
      "| Series | Tickets | p50 ms | p90 ms | p99 ms | max ms | CPU ms/ticket | PNG min | PNG median | PNG max |",
    );
    out("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    out(
      `| empty request (\`/noop\`) | ${noop.time.n} | ${fmt(noop.time.p50)} | ${fmt(noop.time.p90)} | ${fmt(noop.time.p99)} | ${fmt(noop.time.max)} | ${fmt(noop.cpuMsPerRequest)} | – | – | – |`,
    );
    for (const [name, s] of [
      ["without poster, one event (warm)", plain],
      ["without poster, a new event each (cold)", cold],
      ["with poster, one event", withPoster],
      ["with poster, a new event each (cold)", posterCold],
    ]) {
      out(
        `| ${name} | ${s.time.n} | ${fmt(s.time.p50)} | ${fmt(s.time.p90)} | ${fmt(s.time.p99)} | ${fmt(s.time.max)} | ${fmt(s.cpuMsPerRequest)} | ${kb(s.size.min)} | ${kb(s.size.p50)} | ${kb(s.size.max)} |`,
      );
    }
    out("");
    const batch = stats(batchTimes);
    out(
      `- Instantiating resvg's wasm in a fresh isolate: ${fmt(init.ms)} ms; the first render after it (font parsing, code warming up): ${fmt(first.ms)} ms. Poster preparation (decode 1080×1350 JPEG, scale, re-encode): ${fmt(prepared.ms)} ms, once per poster per isolate`,
    );
    out(
      `- Tickets of the poster series that kept the poster: ${withPoster.withPoster} of ${withPoster.time.n} (one event), ${posterCold.withPoster} of ${posterCold.time.n} (a new event each)`,
    );
    out(
      `- A batch of 10 tickets with the poster in one request: p50 ${fmt(batch.p50)} ms, max ${fmt(batch.max)} ms (${fmt(batch.p50 / 10)} ms per ticket)`,
    );
    out(
      `- resvg's wasm linear memory after all of it: **${fmt(wasmMb)} MB** (it grows to the largest render and never shrinks; per isolate)`,
    );
    out(
      `- workerd resident memory: ${fmt(idle.rss)} MB idle, ${fmt(initialised.rss)} MB once resvg is instantiated, ${fmt(afterFirst.rss)} MB after the first render, ${fmt(warm.rss)} MB after warm-up, ${fmt(afterPlain.rss)} MB after ${opts.tickets} plain renders of one event, ${fmt(afterPoster.rss)} MB after the poster series, ${fmt(afterBatches.rss)} MB after the batches; peak ${fmt(afterBatches.hwm)} MB. growth over idle at the peak ${fmt(afterBatches.hwm - idle.rss)} MB. That is the whole process, runtime included, with V8 collecting garbage lazily because nothing limits it locally (the 128 MB isolate limit is not enforced by local workerd)`,
    );
    const overNoop = (s) => s.cpuMsPerRequest - noop.cpuMsPerRequest;
    const largest = Math.max(plain.size.max, cold.size.max, withPoster.size.max, posterCold.size.max);
    out(
      `- Targets: ≤ ${TARGET_MS} ms per ticket without poster, judged on the warm series (a sale delivers many tickets of one event to the same isolates) — p50 ${fmt(plain.time.p50)} ms (${verdict(plain.time.p50 <= TARGET_MS)}), CPU ${fmt(overNoop(plain))} ms over an empty request (${verdict(overNoop(plain) <= TARGET_MS)}); the cold series for comparison — p50 ${fmt(cold.time.p50)} ms (${verdict(cold.time.p50 <= TARGET_MS)}), CPU ${fmt(overNoop(cold))} ms (${verdict(overNoop(cold) <= TARGET_MS)}); PNG ≤ 60 KB — largest ${kb(largest)} (${verdict(largest <= TARGET_BYTES)}); a batch of 10 well inside ${ISOLATE_LIMIT_MB} MB — wasm heap ${fmt(wasmMb)} MB plus one ticket's buffers (~2 MB each, released between tickets) and the renderer's caches (32 tiles, under 8 MB; 8 quantised poster heads, about 1.2 MB) (${wasmMb < ISOLATE_LIMIT_MB / 4 ? "met" : "**check**"})`,
    );
    out("");

    if (opts.record) appendResults("render", "Render", lines.join("\n"));
  } finally {
    await worker.dispose();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
