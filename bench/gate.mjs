/**
 * `npm run bench:gate`: the gate on event day (issue 6, "Performance").
 *
 *   1. a throwaway local state (bench/.state/gate, gitignored; the dev database is never
 *      touched): migrations, then one organizer, one event with two tiers and 10,000 issued
 *      tickets (2,000 orders of 5) whose QR codes are signed here with a bench-only Ed25519 key
 *      by the real signer (src/lib/ticket-signing.ts bundled for Node), sold a day ago;
 *   2. `wrangler dev` on a free port with that state and that key, until `/api/health/`
 *      answers; the organizer logs in and uses the Bearer token, as the scanner app does;
 *   3. full sync: `attendees/?since=0&page_size=100` followed to the end (and, for comparison,
 *      the page-numbered list); then 100 check-ins, then the incremental `?since=<token>` sync,
 *      which must return exactly those 100; the same statements in the local D1 simulator
 *      give the rows each one reads;
 *   4. verify throughput: `POST /api/scanner/verify/` with a bounded number in flight, a share
 *      of the scans being repeats of tickets already in (answered 409);
 *   5. one offline upload of 5,000 scans (2,500 tickets from two devices);
 *   6. the server is stopped and the figures are appended to bench/results/gate.md.
 *
 * Targets (issue 6): a 10,000-ticket full sync under 5 s locally; an incremental sync reads
 * only what changed.
 *
 * Options (flags, or the environment variable in brackets):
 *   --tickets N       tickets to seed [BENCH_TICKETS]                          default 10000
 *   --scans N         verify requests in the throughput phase [BENCH_SCANS]    default 2000
 *   --concurrency N   verify requests in flight [BENCH_CONCURRENCY]            default 16
 *   --duplicates F    share of verify scans that repeat a scanned ticket        default 0.2
 *   --no-record       do not append to bench/results/gate.md
 *   --note TEXT       a note for the results file
 */
import crypto from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { hashPassword, sqlValue as q } from "../scripts/seed-data.mjs";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";
import {
  appendResults,
  bundleSource,
  d1File,
  describeMachine,
  log,
  parseOptions,
  step,
  wrangler,
} from "./common.mjs";
import { startDevServer, stopDevServer } from "./dev-server.mjs";
import { keepAliveAgent, pool, requestJson } from "./http-json.mjs";
import { stats } from "./load.mjs";

const STATE_DIR = path.join(PROJECT_ROOT, "bench", ".state", "gate");
const WORK_DIR = path.join(PROJECT_ROOT, "bench", ".state", "gate-work");
const PASSWORD = "Bench-Gate-Password-2026";
const FULL_SYNC_TARGET_S = 5;
const CHANGES = 100;
const PAGE_SIZE = 100;

function options() {
  const { values, number, record, note } = parseOptions(import.meta.url, {
    tickets: { type: "string" },
    scans: { type: "string" },
    concurrency: { type: "string" },
    duplicates: { type: "string" },
  });
  const duplicates = Number(values.duplicates ?? "0.2");
  if (!(duplicates >= 0 && duplicates < 1)) throw new Error("--duplicates must be in [0, 1)");
  const tickets = number("tickets", "BENCH_TICKETS", 10_000, 1000);
  return {
    tickets: Math.ceil(tickets / 5) * 5,
    scans: number("scans", "BENCH_SCANS", 2000, 10),
    concurrency: number("concurrency", "BENCH_CONCURRENCY", 16, 1),
    duplicates,
    record,
    note,
  };
}

const target = () => ["--local", "--persist-to", STATE_DIR];

/** `wrangler d1 execute --json --file` of several statements: each result with its meta. */
const d1Statements = (name, statements) =>
  d1File(target(), path.join(WORK_DIR, name), `${statements.map((s) => `${s};`).join("\n")}\n`, {
    json: true,
  });

// ─── Data ─────────────────────────────────────────────────────────────────────────────────

/**
 * The signing key of this run (PKCS#8 base64 for the Worker) and the real ticket signer of
 * src/lib/ticket-signing.ts, bundled for Node: the seeded QR codes are exactly what checkout
 * issues, whatever the token format becomes.
 */
async function benchKey() {
  const { privateKey } = crypto.generateKeyPairSync("ed25519");
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" }).toString("base64");
  const signing = await bundleSource(
    'export { loadTicketKey, signTicket, ticketHash } from "./src/lib/ticket-signing.ts";',
    path.join(PROJECT_ROOT, "bench", ".state", "gate-signing", "signing.bundle.mjs"),
  );
  const ticketKey = await signing.loadTicketKey(pkcs8);
  return {
    pkcs8,
    kid: ticketKey.kid,
    sign: (claims, nowMs) => signing.signTicket(ticketKey, claims, nowMs),
    hash: (token) => signing.ticketHash(token),
  };
}

async function generateData(opts, key) {
  const now = Date.now();
  const soldAt = now - 24 * 60 * 60 * 1000;
  const organizerId = crypto.randomUUID();
  const eventId = crypto.randomUUID();
  const tierIds = [crypto.randomUUID(), crypto.randomUUID()];
  const half = opts.tickets / 2;
  const statements = [
    `INSERT INTO users (id, username, email, password_hash, role, is_verified) VALUES (${q(organizerId)}, 'bench_gate_organizer', 'gate-organizer@bench.local', ${q(hashPassword(PASSWORD))}, 'ORGANIZER', 1)`,
    `INSERT INTO events (id, organizer_id, title, category, location_name, start_datetime, end_datetime, is_published, lowest_price, highest_price) VALUES (${q(eventId)}, ${q(organizerId)}, 'Bench Gate Night', 'CONCERT', 'KICC, Nairobi', ${now + 3_600_000}, ${now + 6 * 3_600_000}, 1, 1500, 3500)`,
    `INSERT INTO tiers (id, event_id, name, price, quantity_allocated, quantity_sold, position) VALUES (${q(tierIds[0])}, ${q(eventId)}, 'Regular', 1500, ${half}, ${half}, 0), (${q(tierIds[1])}, ${q(eventId)}, 'VIP', 3500, ${half}, ${half}, 1)`,
  ];
  const tickets = [];
  const orders = opts.tickets / 5;
  const users = [];
  const orderRows = [];
  const ticketRows = [];
  for (let o = 0; o < orders; o++) {
    const userId = crypto.randomUUID();
    const orderId = crypto.randomUUID();
    const tierId = tierIds[o < orders / 2 ? 0 : 1];
    const price = o < orders / 2 ? 1500 : 3500;
    const email = `fan${o}@bench.local`;
    users.push(`(${q(userId)}, ${q(`fan${o}`)}, ${q(email)}, 1)`);
    orderRows.push(
      `(${q(orderId)}, ${q(`TS-${o.toString(36).toUpperCase().padStart(8, "0")}`)}, ${q(userId)}, ${q(eventId)}, ${q(tierId)}, 5, ${price}, ${price * 5}, ${q(`Fan ${o}`)}, ${q(email)}, '2547${String(10_000_000 + o).slice(-8)}', 'COMPLETED', ${soldAt}, ${soldAt})`,
    );
    for (let seat = 0; seat < 5; seat++) {
      const id = crypto.randomUUID();
      const qr = await key.sign({ ticketId: id, eventId, tierId }, soldAt);
      const hash = await key.hash(qr);
      tickets.push({ id, qr, hash });
      ticketRows.push(
        `(${q(id)}, ${q(orderId)}, ${q(eventId)}, ${q(tierId)}, ${q(userId)}, ${seat}, ${q(`Fan ${o}`)}, ${q(email)}, ${q(qr)}, ${q(hash)}, ${q(key.kid)}, 'ACTIVE', ${soldAt}, ${soldAt})`,
      );
    }
  }
  // D1 refuses statements over 100 KB: multi-row inserts in slices.
  const slices = (rows, size, head) => {
    for (let i = 0; i < rows.length; i += size)
      statements.push(`${head} VALUES ${rows.slice(i, i + size).join(", ")}`);
  };
  slices(users, 500, "INSERT INTO users (id, username, email, is_guest)");
  slices(
    orderRows,
    200,
    "INSERT INTO orders (id, reference, user_id, event_id, tier_id, quantity, unit_price, amount, buyer_name, buyer_email, phone_number, status, created_at, updated_at)",
  );
  slices(
    ticketRows,
    100,
    "INSERT INTO tickets (id, order_id, event_id, tier_id, owner_id, seat_index, attendee_name, attendee_email, qr_code_hash, ticket_hash, signing_key_id, status, created_at, updated_at)",
  );
  return { eventId, tickets, statements };
}

async function prepareState(opts, key) {
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  const started = performance.now();
  step(`Applying migrations to ${path.relative(PROJECT_ROOT, STATE_DIR)}`);
  await wrangler(["d1", "migrations", "apply", "DB", ...target()]);
  step(`Seeding one event with ${opts.tickets.toLocaleString("en")} signed tickets`);
  const data = await generateData(opts, key);
  const perFile = 40;
  for (let i = 0; i < data.statements.length; i += perFile) {
    await d1Statements(`seed-${i}.sql`, data.statements.slice(i, i + perFile));
  }
  const [check] = await d1Statements("count.sql", [
    `SELECT COUNT(*) AS n FROM tickets WHERE event_id = ${q(data.eventId)}`,
  ]);
  const n = check?.results?.[0]?.n;
  if (n !== opts.tickets) throw new Error(`seeding left ${n} tickets, expected ${opts.tickets}`);
  const seconds = (performance.now() - started) / 1000;
  log(`✔ ${n} tickets in ${seconds.toFixed(1)} s`);
  return { ...data, seedSeconds: seconds };
}

// ─── Server ───────────────────────────────────────────────────────────────────────────────

async function startServer(key) {
  const logFile = path.join(WORK_DIR, "wrangler-dev.log");
  const jwtSecret = `bench-gate-${crypto.randomBytes(24).toString("hex")}`;
  const server = await startDevServer({
    persistTo: STATE_DIR,
    logFile,
    redact: [key.pkcs8, jwtSecret],
    args: (baseUrl) => [
      "--var",
      `PUBLIC_BASE_URL:${baseUrl}`,
      "--var",
      `TICKET_SIGNING_KEY:${key.pkcs8}`,
      "--var",
      `JWT_SECRET:${jwtSecret}`,
      "--log-level",
      "warn",
    ],
    announce: (_command, baseUrl) =>
      step(`Starting wrangler dev on ${baseUrl} (output in ${path.relative(PROJECT_ROOT, logFile)})`),
  });
  log(`✔ ${server.baseUrl}/api/health/ answered 200`);
  return server;
}

async function stopServer(server) {
  log(
    (await stopDevServer(server)) ? "✔ wrangler dev stopped" : "! some wrangler dev processes did not exit",
  );
}

// ─── HTTP ─────────────────────────────────────────────────────────────────────────────────

const agent = keepAliveAgent(64);

/** A JSON request to the API, as the organizer (`token`) when given; throws on a network error. */
async function request(server, method, urlPath, { token, json } = {}) {
  const response = await requestJson(agent, {
    method,
    url: `${server.baseUrl}${urlPath}`,
    body: json,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    timeoutMs: 60_000,
  });
  if (response.status === 0) throw new Error(`${method} ${urlPath}: ${response.error}`);
  return response;
}

/** Follow `next` from `first`; the pages, the rows, the last sync token and the wall time. */
async function sync(server, token, first) {
  const started = performance.now();
  let url = first;
  let pages = 0;
  let rows = 0;
  let last;
  while (url) {
    const res = await request(server, "GET", url.replace(server.baseUrl, ""), { token });
    if (res.status !== 200) throw new Error(`GET ${url} → ${res.status} ${res.text.slice(0, 300)}`);
    pages++;
    rows += res.json.results.length;
    last = res.json;
    url = res.json.next;
  }
  return { seconds: (performance.now() - started) / 1000, pages, rows, syncToken: last.sync_token };
}

// ─── Phases ───────────────────────────────────────────────────────────────────────────────

/**
 * The statements behind one incremental page, run alone in the local D1: their query plans
 * (what each one reads) and their own time. The local simulator reports no `rows_read`.
 */
async function incrementalEvidence(eventId, syncToken) {
  const [, position] = Buffer.from(syncToken, "base64url").toString("utf8").split(".");
  const bound = `t.change_seq > ${Number(position)}`;
  const statements = {
    "changed tickets": `SELECT t.id, t.ticket_hash, t.status, tiers.name, orders.phone_number FROM tickets AS t JOIN tiers ON tiers.id = t.tier_id JOIN orders ON orders.id = t.order_id WHERE t.event_id = ${q(eventId)} AND ${bound} ORDER BY t.change_seq LIMIT ${PAGE_SIZE + 1}`,
    "their count": `SELECT COUNT(*) AS n FROM tickets AS t WHERE t.event_id = ${q(eventId)} AND ${bound}`,
    "summary by tier (whole event)": `SELECT tiers.id, SUM(CASE WHEN t.status <> 'CANCELLED' THEN 1 ELSE 0 END), SUM(CASE WHEN t.status IN ('CHECKED_IN', 'USED') THEN 1 ELSE 0 END) FROM tiers LEFT JOIN tickets AS t ON t.tier_id = tiers.id AND t.event_id = ${q(eventId)} WHERE tiers.event_id = ${q(eventId)} GROUP BY tiers.id`,
    "event's change position": `SELECT MAX(change_seq) FROM tickets WHERE event_id = ${q(eventId)}`,
  };
  const sqls = Object.values(statements);
  const results = await d1Statements("evidence.sql", [
    ...sqls.map((sql) => `EXPLAIN QUERY PLAN ${sql}`),
    ...sqls,
    ...sqls,
    ...sqls,
  ]);
  return Object.keys(statements).map((name, i) => ({
    name,
    plan: (results[i]?.results ?? []).map((row) => row.detail).join("; "),
    ms: Math.min(...[1, 2, 3].map((k) => Number(results[k * sqls.length + i]?.meta?.duration ?? Number.NaN))),
    rows:
      name === "their count"
        ? results[sqls.length + i]?.results?.[0]?.n
        : results[sqls.length + i]?.results?.length,
  }));
}

async function verifyLoad(server, token, codes, opts) {
  // Fresh tickets, plus a share of repeats of tickets scanned earlier in this phase.
  const plan = [];
  let fresh = 0;
  for (let i = 0; i < opts.scans; i++) {
    const repeat = i > 0 && fresh > 0 && (i * 7919) % 1000 < opts.duplicates * 1000;
    plan.push(repeat ? codes[(i * 31) % fresh] : codes[fresh++]);
  }
  if (fresh > codes.length) throw new Error("not enough fresh tickets for the verify phase");
  const { results, seconds } = await pool(plan.length, opts.concurrency, (i) =>
    requestJson(agent, {
      method: "POST",
      url: `${server.baseUrl}/api/scanner/verify/`,
      body: { qr_hash: plan[i] },
      headers: { authorization: `Bearer ${token}` },
      timeoutMs: 60_000,
    }),
  );
  const statuses = {};
  for (const r of results) {
    const answer = r.status === 0 ? r.error : r.status;
    statuses[answer] = (statuses[answer] ?? 0) + 1;
  }
  const { p50, p90, p99 } = stats(results.map((r) => r.ms));
  return { scans: plan.length, fresh, seconds, rps: plan.length / seconds, p50, p90, p99, statuses };
}

async function main() {
  const opts = options();
  const key = await benchKey();
  const data = await prepareState(opts, key);
  const server = await startServer(key);
  const host = describeMachine();
  const report = { opts, seedSeconds: data.seedSeconds };
  try {
    const login = await request(server, "POST", "/api/auth/login/", {
      json: { username: "bench_gate_organizer", password: PASSWORD },
    });
    if (login.status !== 200) throw new Error(`login → ${login.status} ${login.text}`);
    const token = login.json.access;
    const list = `/api/organizer/events/${data.eventId}/attendees/`;

    step("Full sync (since=0, page_size=100), then the page-numbered list");
    await request(server, "GET", `${list}?page_size=1`, { token }); // warm-up
    report.full = await sync(server, token, `${list}?since=0&page_size=${PAGE_SIZE}`);
    if (report.full.rows !== opts.tickets) throw new Error(`full sync returned ${report.full.rows} rows`);
    log(
      `  since=0: ${report.full.rows} tickets, ${report.full.pages} pages, ${report.full.seconds.toFixed(2)} s`,
    );
    report.paged = await sync(server, token, `${list}?page_size=${PAGE_SIZE}`);
    log(
      `  paged:   ${report.paged.rows} tickets, ${report.paged.pages} pages, ${report.paged.seconds.toFixed(2)} s`,
    );

    step(`${CHANGES} check-ins, then the incremental sync`);
    const scans = data.tickets.slice(0, CHANGES).map((t, i) => ({
      qr_hash: t.qr,
      scanned_at: new Date(Date.now() - 1000 + i).toISOString(),
      device_id: "bench-gate-1",
    }));
    const upload = await request(server, "POST", `/api/organizer/events/${data.eventId}/checkin/`, {
      token,
      json: { scans },
    });
    if (upload.status !== 200 || upload.json.counts.ok !== CHANGES) {
      throw new Error(`check-ins → ${upload.status} ${upload.text.slice(0, 300)}`);
    }
    report.incremental = await sync(
      server,
      token,
      `${list}?since=${report.full.syncToken}&page_size=${PAGE_SIZE}`,
    );
    log(
      `  since=<token>: ${report.incremental.rows} tickets, ${report.incremental.pages} page(s), ${(report.incremental.seconds * 1000).toFixed(0)} ms`,
    );
    if (report.incremental.rows !== CHANGES) {
      throw new Error(`the incremental sync returned ${report.incremental.rows} rows, expected ${CHANGES}`);
    }
    report.evidence = await incrementalEvidence(data.eventId, report.full.syncToken);
    for (const e of report.evidence) log(`  ${e.name}: ${e.ms} ms, ${e.rows} row(s): ${e.plan}`);

    step(
      `Verify: ${opts.scans} scans, ${opts.concurrency} in flight, ${Math.round(opts.duplicates * 100)}% repeats`,
    );
    const codes = data.tickets.slice(CHANGES, opts.tickets / 2).map((t) => t.qr);
    report.verify = await verifyLoad(server, token, codes, opts);
    log(
      `  ${report.verify.rps.toFixed(1)} scans/s   p50 ${report.verify.p50.toFixed(1)} ms   p99 ${report.verify.p99.toFixed(1)} ms   ${JSON.stringify(report.verify.statuses)}`,
    );
    const expected409 = report.verify.scans - report.verify.fresh;
    if (report.verify.statuses[200] !== report.verify.fresh || report.verify.statuses[409] !== expected409) {
      throw new Error(
        `verify answers ${JSON.stringify(report.verify.statuses)}; expected ${report.verify.fresh} × 200, ${expected409} × 409`,
      );
    }

    step("One offline upload: 5,000 scans of 2,500 tickets from two devices");
    const offline = data.tickets.slice(opts.tickets / 2, opts.tickets / 2 + 2500).flatMap((t, i) => [
      { qr_hash: t.qr, scanned_at: Date.now() - 600_000 + i, device_id: "bench-gate-2" },
      { qr_hash: t.qr, scanned_at: Date.now() - 300_000 + i, device_id: "bench-gate-3" },
    ]);
    const t0 = performance.now();
    const batch = await request(server, "POST", `/api/organizer/events/${data.eventId}/checkin/`, {
      token,
      json: { scans: offline },
    });
    report.batch = {
      seconds: (performance.now() - t0) / 1000,
      status: batch.status,
      counts: batch.json?.counts,
    };
    log(`  ${batch.status} in ${report.batch.seconds.toFixed(2)} s ${JSON.stringify(report.batch.counts)}`);
  } finally {
    await stopServer(server);
    agent.destroy();
  }

  const full = report.full.seconds;
  const lines = [
    `## ${new Date().toISOString()}`,
    "",
    `- Machine: ${host.nproc} CPUs, ${host.cpu}; load average before the run ${host.loadavg.map((n) => n.toFixed(2)).join(" / ")}; Node ${host.node}, wrangler ${host.wrangler} (\`wrangler dev\`, local D1); the client runs on the same machine`,
    `- Data: one event, ${opts.tickets.toLocaleString("en")} tickets in 2 tiers, sold a day before (seeding ${report.seedSeconds.toFixed(1)} s)`,
    `- Full sync, \`?since=0&page_size=${PAGE_SIZE}\`: **${full.toFixed(2)} s** for ${report.full.rows} tickets in ${report.full.pages} pages (target < ${FULL_SYNC_TARGET_S} s: ${full < FULL_SYNC_TARGET_S ? "met" : "**missed**"}); the page-numbered list: ${report.paged.seconds.toFixed(2)} s`,
    `- Incremental sync after ${CHANGES} check-ins: ${report.incremental.rows} tickets in ${report.incremental.pages} page(s), ${(report.incremental.seconds * 1000).toFixed(0)} ms`,
    "- What an incremental page runs, alone in the local D1 (best of 3, 1 ms resolution), and how SQLite reads it:",
    ...report.evidence.map((e) => `  - ${e.name}: ${e.ms} ms, ${e.rows} row(s); \`${e.plan}\``),
    `- Verify: ${report.verify.scans} scans, ${opts.concurrency} in flight, ${report.verify.scans - report.verify.fresh} repeats: **${report.verify.rps.toFixed(1)} scans/s**, p50 ${report.verify.p50.toFixed(1)} ms, p90 ${report.verify.p90.toFixed(1)} ms, p99 ${report.verify.p99.toFixed(1)} ms; answers ${JSON.stringify(report.verify.statuses)}`,
    `- Offline upload of 5,000 scans (2,500 tickets × 2 devices): ${report.batch.seconds.toFixed(2)} s, ${JSON.stringify(report.batch.counts)}`,
    ...(opts.note ? [`- Note: ${opts.note}`] : []),
    "",
  ];
  log(`\n${lines.join("\n")}`);
  if (opts.record) appendResults("gate", "Gate", lines.join("\n"));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
