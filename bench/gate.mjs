/**
 * `npm run bench:gate`: the gate on event day (issue 6, "Performance").
 *
 *   1. a throwaway local state (bench/.state/gate, gitignored; the dev database is never
 *      touched): migrations, then one organizer, one event with two tiers and 10,000 issued
 *      tickets (2,000 orders of 5) whose QR codes are signed here with a bench-only Ed25519 key
 *      by the real signer (src/lib/ticket-signing.ts bundled for Node), sold a day ago; then
 *      --revocations of them transferred as the transfer's batch writes them
 *      (src/services/ticket-transfer.ts `transferStatements`: the recipient's shadow user, the
 *      ticket_transfers row, the ticket re-issued at token version 2 — signed by the real
 *      signer — and the old token's `ticket_revocations` row on the ticket's change cursor);
 *   2. `wrangler dev` on a free port with that state and that key, until `/api/health/`
 *      answers; the organizer logs in and uses the Bearer token, as the scanner app does;
 *   3. full sync: `attendees/?since=0&page_size=100` followed to the end (and, for comparison,
 *      the page-numbered list); its first page must carry every revocation (`revoked`, §14.4)
 *      and the later pages none; then 100 check-ins, then the incremental `?since=<token>` sync,
 *      which must return exactly those 100; then 100 transfers through the real route
 *      (`POST /api/tickets/{id}/transfer/`, as their holder), then the incremental sync again,
 *      whose changed tickets and `revoked` entries must be exactly those 100; one old token
 *      offered to `verify/` must be refused as revoked; the same statements in the local D1
 *      simulator give the rows each one reads;
 *   4. verify throughput: `POST /api/scanner/verify/` with a bounded number in flight, a share
 *      of the scans being repeats of tickets already in (answered 409);
 *   5. one offline upload of 5,000 scans (2,500 tickets from two devices);
 *   6. the server is stopped and the figures are appended to bench/results/gate.md.
 *
 * Targets (issue 6, issue #14): a 10,000-ticket full sync, `revoked` list included, under 5 s
 * locally; an incremental sync reads only what changed (transfers included).
 *
 * Options (flags, or the environment variable in brackets):
 *   --tickets N       tickets to seed [BENCH_TICKETS]                          default 10000
 *   --scans N         verify requests in the throughput phase [BENCH_SCANS]    default 2000
 *   --concurrency N   verify requests in flight [BENCH_CONCURRENCY]            default 16
 *   --duplicates F    share of verify scans that repeat a scanned ticket        default 0.2
 *   --revocations N   tickets seeded as already transferred [BENCH_REVOCATIONS]  default 2000
 *   --no-record       do not append to bench/results/gate.md
 *   --note TEXT       a note for the results file
 */
import crypto from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { hashPassword, sqlValue as q } from "../scripts/seed-data.mjs";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";
import { appendResults, d1File, describeMachine, log, parseOptions, step, wrangler } from "./common.mjs";
import { startDevServer, stopDevServer } from "./dev-server.mjs";
import { keepAliveAgent, pool, requestJson } from "./http-json.mjs";
import { stats } from "./load.mjs";
import { benchKey } from "./ticket-key.mjs";

const STATE_DIR = path.join(PROJECT_ROOT, "bench", ".state", "gate");
const WORK_DIR = path.join(PROJECT_ROOT, "bench", ".state", "gate-work");
const PASSWORD = "Bench-Gate-Password-2026";
const FULL_SYNC_TARGET_S = 5;
const CHANGES = 100;
const PAGE_SIZE = 100;
const TRANSFERS = 100;
const HOLDER = "bench_gate_holder";

function options() {
  const { values, number, record, note } = parseOptions(import.meta.url, {
    tickets: { type: "string" },
    scans: { type: "string" },
    concurrency: { type: "string" },
    duplicates: { type: "string" },
    revocations: { type: "string" },
  });
  const duplicates = Number(values.duplicates ?? "0.2");
  if (!(duplicates >= 0 && duplicates < 1)) throw new Error("--duplicates must be in [0, 1)");
  const tickets = Math.ceil(number("tickets", "BENCH_TICKETS", 10_000, 1000) / 5) * 5;
  // The last quarter of the tickets is used by neither the verify nor the offline phase:
  // the route transfers take its first TRANSFERS, the seeded ones come from its end.
  const revocations = number("revocations", "BENCH_REVOCATIONS", 2000, 0);
  if (revocations > tickets / 4 - TRANSFERS)
    throw new Error(`--revocations must be at most ${tickets / 4 - TRANSFERS} for ${tickets} tickets`);
  return {
    tickets,
    revocations,
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

async function generateData(opts, key) {
  const now = Date.now();
  const soldAt = now - 24 * 60 * 60 * 1000;
  const organizerId = crypto.randomUUID();
  const holderId = crypto.randomUUID();
  const eventId = crypto.randomUUID();
  const tierIds = [crypto.randomUUID(), crypto.randomUUID()];
  const half = opts.tickets / 2;
  // The route transfers' tickets: the first TRANSFERS of the last quarter, all held by one
  // buyer who can log in (TRANSFERS / 5 orders of 5); the seeded transfers: the last ones.
  const firstTransferred = (opts.tickets * 3) / 4;
  const holderOrders = new Set(Array.from({ length: TRANSFERS / 5 }, (_, i) => firstTransferred / 5 + i));
  const statements = [
    `INSERT INTO users (id, username, email, password_hash, role, is_verified) VALUES (${q(organizerId)}, 'bench_gate_organizer', 'gate-organizer@bench.local', ${q(hashPassword(PASSWORD))}, 'ORGANIZER', 1), (${q(holderId)}, ${q(HOLDER)}, 'gate-holder@bench.local', ${q(hashPassword(PASSWORD))}, 'ATTENDEE', 1)`,
    // Starts in 6 h: after the transfer cutoff (TRANSFER_CUTOFF_HOURS, 3 h), so transfers are open.
    `INSERT INTO events (id, organizer_id, title, category, location_name, start_datetime, end_datetime, is_published, lowest_price, highest_price) VALUES (${q(eventId)}, ${q(organizerId)}, 'Bench Gate Night', 'CONCERT', 'KICC, Nairobi', ${now + 6 * 3_600_000}, ${now + 11 * 3_600_000}, 1, 1500, 3500)`,
    `INSERT INTO tiers (id, event_id, name, price, quantity_allocated, quantity_sold, position) VALUES (${q(tierIds[0])}, ${q(eventId)}, 'Regular', 1500, ${half}, ${half}, 0), (${q(tierIds[1])}, ${q(eventId)}, 'VIP', 3500, ${half}, ${half}, 1)`,
  ];
  const tickets = [];
  const orders = opts.tickets / 5;
  const users = [];
  const orderRows = [];
  const ticketRows = [];
  for (let o = 0; o < orders; o++) {
    const holder = holderOrders.has(o);
    const userId = holder ? holderId : crypto.randomUUID();
    const orderId = crypto.randomUUID();
    const tierId = tierIds[o < orders / 2 ? 0 : 1];
    const price = o < orders / 2 ? 1500 : 3500;
    const email = holder ? "gate-holder@bench.local" : `fan${o}@bench.local`;
    if (!holder) users.push(`(${q(userId)}, ${q(`fan${o}`)}, ${q(email)}, 1)`);
    orderRows.push(
      `(${q(orderId)}, ${q(`TS-${o.toString(36).toUpperCase().padStart(8, "0")}`)}, ${q(userId)}, ${q(eventId)}, ${q(tierId)}, 5, ${price}, ${price * 5}, ${q(`Fan ${o}`)}, ${q(email)}, '2547${String(10_000_000 + o).slice(-8)}', 'COMPLETED', ${soldAt}, ${soldAt})`,
    );
    for (let seat = 0; seat < 5; seat++) {
      const id = crypto.randomUUID();
      const qr = await key.sign({ ticketId: id, eventId, tierId }, soldAt);
      const hash = await key.hash(qr);
      tickets.push({ id, qr, hash, tierId });
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
  const seeded = tickets.slice(opts.tickets - opts.revocations);
  await seededTransfers(statements, seeded, { key, eventId, now, slices });
  return {
    eventId,
    tickets,
    holderTickets: tickets.slice(firstTransferred, firstTransferred + TRANSFERS),
    seededRevoked: seeded.map((t) => t.hash),
    statements,
  };
}

/**
 * Tickets already transferred once, as the transfer's batch leaves them (transferStatements in
 * src/services/ticket-transfer.ts): a shadow user per recipient, the ticket_transfers row (its
 * delivery done), the ticket re-issued to the recipient with the token of version 2 (signed by
 * the real signer; the update takes the ticket's next change number through the triggers of
 * migrations/0010), then the old token's revocation on that change number. A scratch table
 * carries the per-ticket values so each step is one statement, as in the real batch.
 */
async function seededTransfers(statements, seeded, { key, eventId, now, slices }) {
  if (seeded.length === 0) return;
  const rows = [];
  for (let i = 0; i < seeded.length; i++) {
    const t = seeded[i];
    const qr = await key.sign({ ticketId: t.id, eventId, tierId: t.tierId, version: 2 }, now - 3_600_000);
    const at = now - 2 * 3_600_000 + i * 1000;
    rows.push(
      `(${[
        q(t.id),
        q(t.hash),
        q(qr),
        q(await key.hash(qr)),
        q(crypto.randomUUID()),
        q(`guest-${crypto.randomUUID().slice(0, 12)}`),
        q(`gate-friend${i}@bench.local`),
        q(`Friend ${i}`),
        q(crypto.randomUUID()),
        at,
      ].join(", ")})`,
    );
  }
  statements.push(
    "CREATE TABLE bench_transfers (ticket_id TEXT PRIMARY KEY, old_hash TEXT, new_qr TEXT, new_hash TEXT, user_id TEXT, username TEXT, email TEXT, name TEXT, transfer_id TEXT, at INTEGER)",
  );
  slices(
    rows,
    100,
    "INSERT INTO bench_transfers (ticket_id, old_hash, new_qr, new_hash, user_id, username, email, name, transfer_id, at)",
  );
  statements.push(
    `INSERT INTO users (id, username, email, password_hash, role, first_name, last_name, is_verified, is_guest, is_active, phone_number, created_at, updated_at)
     SELECT user_id, username, email, NULL, 'ATTENDEE', 'Friend', substr(name, 8), 0, 1, 1, NULL, at, at FROM bench_transfers`,
    `INSERT INTO ticket_transfers (id, ticket_id, event_id, from_user_id, to_user_id, recipient_email, recipient_name, from_version, to_version, transferred_at, delivery_attempts, delivered_at)
     SELECT b.transfer_id, t.id, t.event_id, t.owner_id, b.user_id, b.email, b.name, 1, 2, b.at, 1, b.at + 5000
     FROM bench_transfers b JOIN tickets t ON t.id = b.ticket_id ORDER BY b.at`,
    `UPDATE tickets SET owner_id = b.user_id, attendee_name = b.name, attendee_email = b.email,
       qr_code_hash = b.new_qr, ticket_hash = b.new_hash, signing_key_id = ${q(key.kid)}, token_version = 2,
       transfer_count = transfer_count + 1, png_key = NULL, updated_at = b.at
     FROM bench_transfers b WHERE tickets.id = b.ticket_id AND tickets.token_version = 1`,
    `INSERT INTO ticket_revocations (ticket_hash, ticket_id, event_id, reason, token_version, revoked_at, change_seq)
     SELECT b.old_hash, t.id, t.event_id, 'transferred', 1, b.at, t.change_seq
     FROM bench_transfers b JOIN tickets t ON t.id = b.ticket_id AND t.ticket_hash = b.new_hash`,
    "DROP TABLE bench_transfers",
  );
}

async function prepareState(opts, key) {
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  const started = performance.now();
  step(`Applying migrations to ${path.relative(PROJECT_ROOT, STATE_DIR)}`);
  await wrangler(["d1", "migrations", "apply", "DB", ...target()]);
  step(
    `Seeding one event with ${opts.tickets.toLocaleString("en")} signed tickets, ${opts.revocations.toLocaleString("en")} of them transferred`,
  );
  const data = await generateData(opts, key);
  const perFile = 40;
  for (let i = 0; i < data.statements.length; i += perFile) {
    await d1Statements(`seed-${i}.sql`, data.statements.slice(i, i + perFile));
  }
  const [check] = await d1Statements("count.sql", [
    `SELECT COUNT(*) AS n, SUM(token_version = 2 AND transfer_count = 1) AS transferred,
       (SELECT COUNT(*) FROM ticket_revocations WHERE event_id = ${q(data.eventId)} AND reason = 'transferred') AS revoked,
       (SELECT COUNT(*) FROM ticket_transfers WHERE event_id = ${q(data.eventId)}) AS transfers
     FROM tickets WHERE event_id = ${q(data.eventId)}`,
  ]);
  const counts = check?.results?.[0] ?? {};
  if (
    counts.n !== opts.tickets ||
    counts.transferred !== opts.revocations ||
    counts.revoked !== opts.revocations ||
    counts.transfers !== opts.revocations
  ) {
    throw new Error(
      `seeding left ${JSON.stringify(counts)}, expected ${opts.tickets} tickets, ${opts.revocations} transferred`,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  log(`✔ ${counts.n} tickets (${counts.revoked} transferred, old tokens revoked) in ${seconds.toFixed(1)} s`);
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
    // A private dev registry and no config watching: another `wrangler dev` of this Worker on
    // the (shared) machine must not reload ours mid-run (see bench/flash-sale/server.mjs).
    env: {
      WRANGLER_REGISTRY_PATH: path.join(WORK_DIR, "registry"),
      WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
    },
    args: (baseUrl) => [
      "--var",
      `PUBLIC_BASE_URL:${baseUrl}`,
      "--var",
      `TICKET_SIGNING_KEY:${key.pkcs8}`,
      "--var",
      `JWT_SECRET:${jwtSecret}`,
      "--log-level",
      process.env.BENCH_LOG_LEVEL ?? "warn",
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

/**
 * Follow `next` from `first`; the pages, the rows, the first page's `revoked` (and how many
 * later pages carried one: none should), the last sync token and the wall time.
 */
async function sync(server, token, first) {
  const started = performance.now();
  let url = first;
  let pages = 0;
  let last;
  let revoked;
  let laterRevoked = 0;
  const results = [];
  const pageMs = [];
  while (url) {
    const res = await request(server, "GET", url.replace(server.baseUrl, ""), { token });
    if (res.status !== 200) throw new Error(`GET ${url} → ${res.status} ${res.text.slice(0, 300)}`);
    pageMs.push(res.ms);
    if (pages === 0) revoked = res.json.revoked;
    else if (res.json.revoked !== undefined) laterRevoked++;
    pages++;
    for (const row of res.json.results) results.push(row);
    last = res.json;
    url = res.json.next;
  }
  return {
    seconds: (performance.now() - started) / 1000,
    pages,
    rows: results.length,
    results,
    revoked,
    laterRevoked,
    /** The first page (the one with `revoked`) and the median of the others, ms. */
    firstPageMs: pageMs[0],
    otherPagesMs: pageMs.length > 1 ? stats(pageMs.slice(1)).p50 : Number.NaN,
    syncToken: last.sync_token,
  };
}

/** Waits until every transfer of the event has its delivery done (at most 3 min); the seconds waited. */
async function transfersDelivered(eventId) {
  const started = performance.now();
  while (performance.now() - started < 180_000) {
    const [result] = await d1Statements("delivered.sql", [
      `SELECT COUNT(*) AS n FROM ticket_transfers WHERE event_id = ${q(eventId)} AND delivered_at IS NULL`,
    ]).catch(() => [undefined]);
    if (result?.results?.[0]?.n === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return (performance.now() - started) / 1000;
}

/** The attendee list's masked ticket reference (src/lib/masking.ts `maskTicketRef`). */
const maskRef = (id) =>
  `••••${id
    .replace(/[^0-9a-f]/gi, "")
    .slice(-10)
    .toUpperCase()}`;

/** The sync's first page carries exactly `expected` as revoked tokens, its later pages none. */
function checkRevoked(what, result, expected) {
  const listed = result.revoked ?? [];
  const hashes = new Set(listed.map((r) => r.ticket_hash));
  const ok =
    result.revoked !== undefined &&
    listed.length === expected.length &&
    hashes.size === expected.length &&
    expected.every((hash) => hashes.has(hash)) &&
    listed.every((r) => r.reason === "transferred" && typeof r.revoked_at === "string") &&
    result.laterRevoked === 0;
  if (!ok) {
    throw new Error(
      `${what}: revoked ${result.revoked === undefined ? "missing" : `${listed.length} entries`} on page 1 (expected ${expected.length}), on ${result.laterRevoked} later page(s)`,
    );
  }
}

/**
 * TRANSFERS transfers through the real route, as their holder (who logs in like a fan), each
 * to a distinct new recipient (ticket mail to one inbox is rate-limited), 8 in flight.
 */
async function transferLoad(server, data) {
  const login = await request(server, "POST", "/api/auth/login/", {
    json: { username: HOLDER, password: PASSWORD },
  });
  if (login.status !== 200) throw new Error(`holder login → ${login.status} ${login.text}`);
  const token = login.json.access;
  let retried = 0;
  const transfer = (i) =>
    requestJson(agent, {
      method: "POST",
      url: `${server.baseUrl}/api/tickets/${data.holderTickets[i].id}/transfer/`,
      body: { email: `gate-recipient${i}@bench.local`, name: `Recipient ${i}` },
      headers: { authorization: `Bearer ${token}` },
      timeoutMs: 60_000,
    });
  const { results, seconds } = await pool(data.holderTickets.length, 8, async (i) => {
    let res = await transfer(i);
    // `wrangler dev` answers 503 "Your worker restarted mid-request" when its runtime reloads
    // (seen on this shared machine): the client retries, as a phone would. A transfer that
    // committed before the restart answers 404 on the retry (no longer the sender's ticket);
    // the sync below checks what really happened.
    for (let attempt = 1; attempt < 4 && (res.status === 503 || res.status === 0); attempt++) {
      retried++;
      await new Promise((resolve) => setTimeout(resolve, 500));
      const again = await transfer(i);
      res = again.status === 404 ? { ...again, status: 200, ms: res.ms + again.ms } : again;
    }
    return res;
  });
  const failed = results.filter((r) => r.status !== 200);
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} transfers failed, e.g. ${failed[0].status} ${failed[0].error ?? failed[0].text.slice(0, 300)}`,
    );
  }
  const { p50, p99 } = stats(results.map((r) => r.ms));
  return { seconds, rps: results.length / seconds, p50, p99, retried };
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
    "revoked since the token": `SELECT ticket_hash, revoked_at, reason FROM ticket_revocations WHERE event_id = ${q(eventId)} AND change_seq > ${Number(position)} ORDER BY change_seq`,
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
  const key = await benchKey("gate");
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
    checkRevoked("the full sync", report.full, data.seededRevoked);
    log(
      `  since=0: ${report.full.rows} tickets, ${report.full.pages} pages, ${report.full.revoked.length} revoked on page 1, ${report.full.seconds.toFixed(2)} s`,
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
    checkRevoked("the incremental sync after check-ins", report.incremental, []);

    step(`${TRANSFERS} transfers through POST /api/tickets/{id}/transfer/, then the incremental sync`);
    report.transfers = await transferLoad(server, data);
    log(
      `  ${report.transfers.seconds.toFixed(2)} s, ${report.transfers.rps.toFixed(1)} transfers/s, p50 ${report.transfers.p50.toFixed(0)} ms, p99 ${report.transfers.p99.toFixed(0)} ms`,
    );
    report.afterTransfers = await sync(
      server,
      token,
      `${list}?since=${report.incremental.syncToken}&page_size=${PAGE_SIZE}`,
    );
    const transferred = data.holderTickets;
    const expectedRefs = new Set(transferred.map((t) => maskRef(t.id)));
    const changedRefs = new Set(report.afterTransfers.results.map((row) => row.id));
    const reissued = report.afterTransfers.results.filter(
      (row) => !transferred.some((t) => t.hash === row.ticket_hash),
    ).length;
    if (
      report.afterTransfers.rows !== TRANSFERS ||
      changedRefs.size !== TRANSFERS ||
      [...expectedRefs].some((ref) => !changedRefs.has(ref)) ||
      reissued !== TRANSFERS
    ) {
      throw new Error(
        `the incremental sync after ${TRANSFERS} transfers returned ${report.afterTransfers.rows} rows (${reissued} with a new hash), not exactly the transferred tickets`,
      );
    }
    checkRevoked(
      `the incremental sync after ${TRANSFERS} transfers`,
      report.afterTransfers,
      transferred.map((t) => t.hash),
    );
    log(
      `  since=<token>: ${report.afterTransfers.rows} tickets (exactly the transferred ones, new hashes), ${report.afterTransfers.revoked.length} revoked (exactly their old tokens), ${report.afterTransfers.pages} page(s), ${(report.afterTransfers.seconds * 1000).toFixed(0)} ms`,
    );
    // The same sync once the transfers' deliveries (PNG render, two emails each, on the queue)
    // are done: what a scanner gets when the server is not also rendering.
    report.deliveredSeconds = await transfersDelivered(data.eventId);
    report.quietAfterTransfers = await sync(
      server,
      token,
      `${list}?since=${report.incremental.syncToken}&page_size=${PAGE_SIZE}`,
    );
    checkRevoked(
      "the same sync once delivered",
      report.quietAfterTransfers,
      transferred.map((t) => t.hash),
    );
    if (report.quietAfterTransfers.rows !== TRANSFERS)
      throw new Error(`the same sync once delivered returned ${report.quietAfterTransfers.rows} rows`);
    log(
      `  deliveries done ${report.deliveredSeconds.toFixed(1)} s later; the same sync again: ${report.quietAfterTransfers.rows} tickets, ${report.quietAfterTransfers.revoked.length} revoked, ${(report.quietAfterTransfers.seconds * 1000).toFixed(0)} ms`,
    );
    // An old token online: refused as revoked (§14.4), whatever its signature says.
    const old = await request(server, "POST", "/api/scanner/verify/", {
      token,
      json: { qr_hash: transferred[0].qr },
    });
    report.oldToken = `${old.status} ${old.json?.code}`;
    if (old.status !== 409 || old.json?.code !== "revoked") {
      throw new Error(
        `verify/ of a transferred ticket's old token → ${old.status} ${old.text.slice(0, 200)}`,
      );
    }
    log(`  verify/ of an old token: ${report.oldToken}`);

    // What the page after the transfers read: its tickets, counts and revocations.
    report.evidence = await incrementalEvidence(data.eventId, report.incremental.syncToken);
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
    `- Data: one event, ${opts.tickets.toLocaleString("en")} tickets in 2 tiers, sold a day before, ${opts.revocations.toLocaleString("en")} of them transferred since (seeded as the transfer's batch writes them: old tokens revoked) (seeding ${report.seedSeconds.toFixed(1)} s)`,
    `- Full sync, \`?since=0&page_size=${PAGE_SIZE}\`: **${full.toFixed(2)} s** for ${report.full.rows} tickets in ${report.full.pages} pages, **the first page carrying all ${report.full.revoked.length} revoked tokens** (later pages none) (target < ${FULL_SYNC_TARGET_S} s: ${full < FULL_SYNC_TARGET_S ? "met" : "**missed**"}); that first page ${report.full.firstPageMs.toFixed(0)} ms, the others ${report.full.otherPagesMs.toFixed(0)} ms each (median); the page-numbered list: ${report.paged.seconds.toFixed(2)} s (its first page, also with every revocation, ${report.paged.firstPageMs.toFixed(0)} ms)`,
    `- Incremental sync after ${CHANGES} check-ins: ${report.incremental.rows} tickets in ${report.incremental.pages} page(s), ${(report.incremental.seconds * 1000).toFixed(0)} ms`,
    `- ${TRANSFERS} transfers through \`POST /api/tickets/{id}/transfer/\` (8 in flight): ${report.transfers.seconds.toFixed(2)} s, ${report.transfers.rps.toFixed(1)} transfers/s, p50 ${report.transfers.p50.toFixed(0)} ms, p99 ${report.transfers.p99.toFixed(0)} ms${report.transfers.retried ? ` (${report.transfers.retried} retried after a 503 "worker restarted mid-request" from wrangler dev)` : ""}; **the incremental sync after them: ${report.afterTransfers.rows} tickets and ${report.afterTransfers.revoked.length} revoked, exactly the transferred tickets (new hashes) and their old tokens**, ${report.afterTransfers.pages} page(s), ${(report.afterTransfers.seconds * 1000).toFixed(0)} ms while the queue renders and mails their deliveries, ${(report.quietAfterTransfers.seconds * 1000).toFixed(0)} ms once those are done (${report.deliveredSeconds.toFixed(0)} s later); an old token at \`verify/\`: ${report.oldToken}`,
    `- What the incremental page after the transfers runs, alone in the local D1 (best of 3, 1 ms resolution), and how SQLite reads it:`,
    ...report.evidence.map((e) => `  - ${e.name}: ${e.ms} ms, ${e.rows} row(s); \`${e.plan}\``),
    `- Verify: ${report.verify.scans} scans, ${opts.concurrency} in flight, ${report.verify.scans - report.verify.fresh} repeats: **${report.verify.rps.toFixed(1)} scans/s**, p50 ${report.verify.p50.toFixed(1)} ms, p90 ${report.verify.p90.toFixed(1)} ms, p99 ${report.verify.p99.toFixed(1)} ms; answers ${JSON.stringify(report.verify.statuses)}`,
    `- Offline upload of 5,000 scans (2,500 tickets × 2 devices): ${report.batch.seconds.toFixed(2)} s, ${JSON.stringify(report.batch.counts)}`,
    "- The machine is shared with other helpers' work: figures are noisy",
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
