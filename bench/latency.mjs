/**
 * `npm run bench:latency`: the latency model (issue 15, part 1). What a fan in Nairobi waits
 * for on each hot endpoint when D1's primary, the Durable Objects and R2 live far away, which
 * the other benchmarks cannot see (locally every binding is on this machine).
 *
 *   1. a throwaway local state (bench/.state/latency), a snapshot of the source, the demo data
 *      (scripts/seed-data.mjs: demo_organizer, demo_fan, demo_scanner, the nairobi-nights
 *      store and its events) plus one 1-seat tier that the setup sells out;
 *   2. the fake Daraja (bench/fake-daraja.mjs) and the API built with a bench-only entry
 *      (bench/latency/worker.mjs) whose bindings pass through a delay layer
 *      (bench/latency/far-env.mjs): every D1, Durable Object, R2, Queue and Daraja call waits
 *      its modelled round trip first; the runtime without the inspector (closest to
 *      production this machine has);
 *   3. one request at a time, `--iterations` rounds of every hot endpoint (after `--warmup`
 *      rounds not counted): event list, event detail, store page, initiate accepted (the
 *      signed-in fan), initiate sold out, Daraja's callback, verify, wallet, ticket PNG,
 *      attendee sync, scanner verify;
 *   4. per endpoint: the far round trips its answer waited for (the longest chain of calls
 *      that did not overlap, by kind, from the `X-Bench-Far` header), the calls left to
 *      `waitUntil`, and the modelled p50: the request's local wall time (which includes the
 *      injected round trips and this machine's CPU) plus one fan ↔ edge round trip (Daraja ↔
 *      edge for the callback);
 *   5. the table is printed and appended to bench/results/latency.md.
 *
 * Options (flags, or the environment variable in brackets):
 *   --iterations N        measured rounds of every endpoint [LATENCY_ITERATIONS]   default 15
 *   --warmup N            rounds before measuring [LATENCY_WARMUP]                  default 2
 *   --fan-ms N            fan ↔ edge round trip [LATENCY_FAN_MS]                    default 20
 *   --d1-primary-ms N     edge ↔ D1 primary [LATENCY_D1_PRIMARY_MS]                 default 150
 *   --d1-replica-ms N     edge ↔ D1 read replica [LATENCY_D1_REPLICA_MS]            default 15
 *   --do-ms N             edge ↔ a Durable Object [LATENCY_DO_MS]                   default 60
 *   --daraja-ms N         edge ↔ Daraja [LATENCY_DARAJA_MS]                         default 40
 *   --r2-ms N             edge ↔ R2 [LATENCY_R2_MS]                                 default 60
 *   --queue-ms N          edge ↔ a Queue (send) [LATENCY_QUEUE_MS]                  default 20
 *   --keep-state          keep bench/.state/latency
 *   --no-record           do not append to bench/results/latency.md
 *   --note TEXT           a note for the results file
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { buildSeedSql, DEMO_PASSWORD, DEMO_STORE_SLUG } from "../scripts/seed-data.mjs";
import { d1Query } from "../scripts/wrangler.mjs";
import { appendResults, d1File, describeMachine, fmt, log, parseOptions, step, wrangler } from "./common.mjs";
import { receiptNumber, startFakeDaraja, successCallback } from "./fake-daraja.mjs";
import {
  ROOT_DIR,
  removeStateKeepingLogs,
  resetState,
  SNAPSHOT_CONFIG,
  SNAPSHOT_DIR,
  TARGET,
} from "./flash-sale/layout.mjs";
import {
  catchInterrupts,
  DARAJA,
  releaseInterrupts,
  startServer,
  stopServer,
  writeSecrets,
} from "./flash-sale/server.mjs";
import { buildWorker, snapshotSource } from "./flash-sale/source-snapshot.mjs";
import { keepAliveAgent, requestJson } from "./http-json.mjs";
import { stats } from "./load.mjs";

if (process.env.TICKETSAFI_BENCH_RUN !== "latency") {
  throw new Error(
    "run through `npm run bench:latency` (it sets TICKETSAFI_BENCH_RUN=latency for its own state)",
  );
}

function options() {
  const { values, number, record, note } = parseOptions(import.meta.url, {
    iterations: { type: "string" },
    warmup: { type: "string" },
    "fan-ms": { type: "string" },
    "d1-primary-ms": { type: "string" },
    "d1-replica-ms": { type: "string" },
    "do-ms": { type: "string" },
    "daraja-ms": { type: "string" },
    "r2-ms": { type: "string" },
    "queue-ms": { type: "string" },
    "keep-state": { type: "boolean", default: false },
  });
  return {
    iterations: number("iterations", "LATENCY_ITERATIONS", 15, 1),
    warmup: number("warmup", "LATENCY_WARMUP", 2, 0),
    rtt: {
      fan: number("fan-ms", "LATENCY_FAN_MS", 20, 0),
      d1Primary: number("d1-primary-ms", "LATENCY_D1_PRIMARY_MS", 150, 0),
      d1Replica: number("d1-replica-ms", "LATENCY_D1_REPLICA_MS", 15, 0),
      durableObject: number("do-ms", "LATENCY_DO_MS", 60, 0),
      daraja: number("daraja-ms", "LATENCY_DARAJA_MS", 40, 0),
      r2: number("r2-ms", "LATENCY_R2_MS", 60, 0),
      queue: number("queue-ms", "LATENCY_QUEUE_MS", 20, 0),
    },
    keepState: values["keep-state"],
    record,
    note,
  };
}

/** The Worker's vars that set the delay layer's round trips (read by far-env.mjs). */
const rttVars = (rtt) => ({
  BENCH_RTT_D1_PRIMARY_MS: String(rtt.d1Primary),
  BENCH_RTT_D1_REPLICA_MS: String(rtt.d1Replica),
  BENCH_RTT_DO_MS: String(rtt.durableObject),
  BENCH_RTT_DARAJA_MS: String(rtt.daraja),
  BENCH_RTT_R2_MS: String(rtt.r2),
  BENCH_RTT_QUEUE_MS: String(rtt.queue),
});

/** The snapshot's wrangler.toml with bench/latency/worker.mjs as its entry, built once. */
async function buildLatencyWorker() {
  const text = readFileSync(SNAPSHOT_CONFIG, "utf8");
  const file = path.join(SNAPSHOT_DIR, "wrangler.latency.toml");
  writeFileSync(file, text.replace(/^main\s*=.*$/m, 'main = "bench/latency/worker.mjs"'), "utf8");
  return buildWorker(file, "latency");
}

/** Migrations, the demo data, and a 1-seat tier on the demo store's first event (sold out in setup). */
async function seed() {
  await wrangler(["d1", "migrations", "apply", "DB", ...TARGET]);
  const soldOut = `INSERT INTO tiers (id, event_id, name, description, price, quantity_allocated, quantity_sold, quantity_held, max_per_order, position, created_at, updated_at)
SELECT lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2) || '-a' || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6))),
  e.id, 'Last seat', 'One seat, sold before the measurements.', 1000, 1, 0, 0, 1, 9, e.created_at, e.created_at
FROM events e JOIN stores s ON s.id = e.store_id WHERE s.slug = '${DEMO_STORE_SLUG}' ORDER BY e.start_datetime LIMIT 1;`;
  await d1File(TARGET, path.join(ROOT_DIR, "seed.sql"), `${buildSeedSql()}\n${soldOut}\n`);
  const [row] = await d1Query(
    TARGET,
    `SELECT e.id AS event_id, t.id AS tier_id FROM tiers t JOIN events e ON e.id = t.event_id WHERE t.name = 'Last seat'`,
  );
  if (!row?.tier_id) throw new Error("seeding failed: no 'Last seat' tier");
  return { eventId: row.event_id, soldOutTierId: row.tier_id };
}

/** What one request of the model answered: its local time and the far calls it waited for. */
function farOf(result) {
  const header = result.headers?.["x-bench-far"];
  return header ? JSON.parse(String(header)) : undefined;
}

/** The API as the three demo accounts and an anonymous fan, over one keep-alive connection. */
async function clients(baseUrl, agent) {
  const call = (token) => (method, pathname, body) =>
    requestJson(agent, {
      method,
      url: `${baseUrl}${pathname}`,
      body,
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  const login = async (email) => {
    const r = await call()("POST", "/api/auth/login/", { email, password: DEMO_PASSWORD });
    if (r.status !== 200 || !r.json?.access)
      throw new Error(`login ${email} → ${r.status} ${r.text.slice(0, 200)}`);
    return call(r.json.access);
  };
  return {
    anonymous: call(),
    fan: await login("fan@ticketsafi.local"),
    organizer: await login("organizer@ticketsafi.local"),
    scanner: await login("scanner@ticketsafi.local"),
  };
}

/** Daraja's success callback for the push the fake Daraja took for `phone`. */
function pay(ctx, phone, receipt) {
  const push = ctx.daraja.state.pushesByPhone.get(phone);
  if (!push) throw new Error(`no STK push reached the fake Daraja for ${phone}`);
  return requestJson(ctx.agent, {
    method: "POST",
    url: push.callbackUrl,
    body: successCallback(push, receipt),
  });
}

const expect = (r, status, what) => {
  if (r.status !== status)
    throw new Error(`${what}: expected ${status}, got ${r.status} ${r.text.slice(0, 300)}`);
  return r;
};

/**
 * One round of every endpoint, in the order a sale lives them; `record(name, result, front)`
 * keeps each answer with the round trip in front of the Worker (`fan` or `daraja`).
 */
async function round(i, api, ctx, record) {
  const { eventId, tierId, soldOutTierId } = ctx;
  record("event list", expect(await api.anonymous("GET", "/api/events/"), 200, "event list"));
  record("event detail", expect(await api.anonymous("GET", `/api/events/${eventId}/`), 200, "event detail"));
  record(
    "store page",
    expect(await api.anonymous("GET", `/api/stores/${DEMO_STORE_SLUG}/`), 200, "store page"),
  );

  const phone = `2547${String(10_000_000 + ctx.phoneSeq++).padStart(8, "0")}`;
  const buy = {
    tier_id: tierId,
    quantity: 1,
    phone_number: phone,
    email: "fan@ticketsafi.local",
    name: "Demo Fan",
  };
  const accepted = expect(await api.fan("POST", "/api/pay/initiate/", buy), 202, "initiate accepted");
  record("initiate accepted", accepted);
  const soldOut = await api.fan("POST", "/api/pay/initiate/", { ...buy, tier_id: soldOutTierId });
  if (soldOut.status !== 409 || soldOut.json?.code !== "sold_out") expect(soldOut, 409, "initiate sold out");
  record("initiate sold out", soldOut);

  const callback = await pay(ctx, phone, receiptNumber(i, 7));
  record("callback", expect(callback, 200, "callback"), "daraja");

  // A guest (not signed in), as most flash-sale fans are: a new phone and email each round.
  const guestPhone = `2547${String(10_000_000 + ctx.phoneSeq++).padStart(8, "0")}`;
  const guest = {
    ...buy,
    phone_number: guestPhone,
    email: `guest-${guestPhone}@bench.local`,
    name: "Guest Fan",
  };
  record(
    "initiate accepted (guest)",
    expect(await api.anonymous("POST", "/api/pay/initiate/", guest), 202, "guest initiate"),
  );
  const guestSoldOut = await api.anonymous("POST", "/api/pay/initiate/", {
    ...guest,
    tier_id: soldOutTierId,
  });
  if (guestSoldOut.status !== 409 || guestSoldOut.json?.code !== "sold_out")
    expect(guestSoldOut, 409, "guest sold out");
  record("initiate sold out (guest)", guestSoldOut);
  expect(await pay(ctx, guestPhone, receiptNumber(i, 9)), 200, "guest callback");
  const verify = expect(await api.fan("GET", `/api/pay/verify/${accepted.json.order_id}/`), 200, "verify");
  record("verify", verify);

  const wallet = expect(await api.fan("GET", "/api/tickets/"), 200, "wallet");
  record("wallet", wallet);
  const tickets = Array.isArray(wallet.json) ? wallet.json : (wallet.json?.results ?? []);
  const ticket = tickets.find((t) => verify.json?.ticket_ids?.includes(t.id)) ?? tickets[0];
  if (!ticket)
    throw new Error(
      `the fan's wallet is empty after a paid order: verify ${verify.text.slice(0, 300)} wallet ${wallet.text.slice(0, 300)}`,
    );
  record("ticket PNG", expect(await api.fan("GET", `/api/tickets/${ticket.id}/png/`), 200, "ticket PNG"));
  record(
    "attendee sync",
    expect(
      await api.organizer("GET", `/api/organizer/events/${ctx.eventId}/attendees/`),
      200,
      "attendee sync",
    ),
  );
  record(
    "scanner verify",
    expect(
      await api.scanner("POST", "/api/scanner/verify/", {
        qr_hash: ticket.qr_code_hash,
        device_id: "bench-gate-1",
      }),
      200,
      "scanner verify",
    ),
  );
}

const KINDS = [
  ["d1-primary", "D1 primary"],
  ["d1-replica", "D1 replica"],
  ["durable-object", "DO"],
  ["daraja", "Daraja"],
  ["r2", "R2"],
  ["queue", "Queue"],
];

/** The most frequent value of a list of JSON-able values (the typical path of an endpoint). */
function mode(values) {
  const counts = new Map();
  for (const v of values) {
    const key = JSON.stringify(v);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const [key] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? ["null"];
  return JSON.parse(key);
}

function report(opts, host, source, samples) {
  const lines = [];
  const r = opts.rtt;
  lines.push(
    `## ${new Date().toISOString()} — commit ${source.commit}${source.changed ? ` (+${source.changed} uncommitted)` : ""}`,
    "",
    `${host.nproc} CPUs, Node ${host.node}, wrangler ${host.wrangler}; ${opts.iterations} rounds one request at a time after ${opts.warmup} warm-up rounds.`,
    `Round trips modelled: fan ↔ edge ${r.fan} ms, edge ↔ D1 primary ${r.d1Primary} ms, D1 replica ${r.d1Replica} ms, Durable Object ${r.durableObject} ms, Daraja ${r.daraja} ms, R2 ${r.r2} ms, Queue ${r.queue} ms.${opts.note ? ` ${opts.note}` : ""}`,
    "",
    `| endpoint | far round trips waited for | ${KINDS.map(([, label]) => label).join(" | ")} | left to waitUntil | local p50 ms | modelled p50 ms |`,
    `|---|---:|${KINDS.map(() => "---:").join("|")}|---:|---:|---:|`,
  );
  for (const [name, list] of samples) {
    const paths = list.map((s) => s.far).filter(Boolean);
    const typical = mode(paths.map((p) => ({ trips: p.trips, chain: p.chain, background: p.background })));
    const local = stats(list.map((s) => s.ms)).p50;
    const front = list[0].front === "daraja" ? r.daraja : r.fan;
    lines.push(
      `| ${name} | ${typical?.trips ?? "–"} | ${KINDS.map(([kind]) => typical?.chain?.[kind] ?? 0).join(" | ")} | ${typical?.background ?? "–"} | ${fmt(local, 0)} | ${fmt(local + front, 0)} |`,
    );
  }
  lines.push("", "The typical critical path of each endpoint, far call by far call:", "");
  for (const [name, list] of samples) {
    const steps = mode(list.map((s) => s.far?.steps ?? []));
    lines.push(`- ${name}: ${steps.length ? steps.join(" → ") : "none"}`);
  }
  lines.push(
    "",
    "Far round trips: the longest chain of non-overlapping far calls that ended before the answer (calls side by side count once); the kind columns split that chain. Modelled p50 = local wall time with the modelled round trips injected, plus one front round trip (fan ↔ edge; Daraja ↔ edge for the callback).",
    "",
  );
  return lines.join("\n");
}

async function main() {
  const opts = options();
  const host = describeMachine();
  log(
    `Latency model: ${opts.iterations} rounds of every hot endpoint, one request at a time; ${host.nproc} CPUs`,
  );
  resetState();
  step("Snapshot of the source, the latency Worker built, the demo data seeded");
  const source = snapshotSource();
  const config = await buildLatencyWorker();
  const seeded = await seed();
  const secrets = writeSecrets();
  catchInterrupts();
  const daraja = await startFakeDaraja(DARAJA);
  let server;
  const agent = keepAliveAgent(4);
  /** @type {Map<string, Array<{ ms: number, far: any, front: string }>>} */
  const samples = new Map();
  try {
    step("Starting the API behind the delay layer (no inspector)");
    server = await startServer({
      config,
      daraja,
      secrets,
      opts: { inspector: "off", logLevel: "warn" },
      logName: "worker.log",
      extraVars: rttVars(opts.rtt),
    });
    const api = await clients(server.baseUrl, agent);
    const detail = expect(await api.anonymous("GET", `/api/events/${seeded.eventId}/`), 200, "event detail");
    const tier = detail.json.tiers.find((t) => t.id !== seeded.soldOutTierId && Number(t.price) > 0);
    const ctx = { ...seeded, tierId: tier.id, daraja, agent, phoneSeq: 0 };

    step("Selling out the 1-seat tier");
    const last = expect(
      await api.anonymous("POST", "/api/pay/initiate/", {
        tier_id: seeded.soldOutTierId,
        quantity: 1,
        phone_number: "254799999999",
        email: "last-seat@bench.local",
        name: "Last Seat",
      }),
      202,
      "the last seat",
    );
    expect(await pay(ctx, "254799999999", receiptNumber(0, 8)), 200, "the last seat's callback");
    log(`✔ order ${last.json.order_id} took the last seat`);

    step(`${opts.warmup} warm-up round(s), then ${opts.iterations} measured`);
    const ignore = () => {};
    for (let i = 0; i < opts.warmup; i++) await round(i, api, ctx, ignore);
    for (let i = 0; i < opts.iterations; i++) {
      await round(opts.warmup + i, api, ctx, (name, result, front = "fan") => {
        if (!samples.has(name)) samples.set(name, []);
        samples.get(name).push({ ms: result.ms, far: farOf(result), front });
      });
    }
  } finally {
    agent.destroy();
    if (server) await stopServer(server);
    await daraja.close();
    rmSync(secrets.file, { force: true });
    releaseInterrupts();
  }
  const text = report(opts, host, source, samples);
  log("");
  log(text);
  if (opts.record) appendResults("latency", "Latency model", text);
  if (!opts.keepState) removeStateKeepingLogs();
}

main().catch((error) => {
  console.error(`\n✖ ${error?.stack ?? error}`);
  process.exitCode = 1;
});
