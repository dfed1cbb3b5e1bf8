/**
 * `npm run bench:refunds`: money out at scale (issue #13 "Performance"; contract v3 §13, §17).
 *
 *   1. a throwaway local state (bench/.state/refunds, gitignored; the dev database is never
 *      touched): migrations, then the rows settlement writes for paid orders (orders COMPLETED
 *      with their Daraja fields, order lines, tickets signed here by the real signer with a
 *      bench-only key, the tier's sold count, and the organizer's SALE entries written by the
 *      same INSERT … SELECT as src/inventory/ledger-store.ts): one upcoming event with
 *      --orders paid orders of 1–4 seats, and a second organizer whose past event's proceeds
 *      are available; that organizer is verified by the real operator script
 *      (`scripts/organizer-wallet.mjs verify --persist-to …`, i.e. `npm run organizer:verify`);
 *   2. `wrangler dev` on a free port with the built-in M-Pesa simulator (no consumer key,
 *      MPESA_SIMULATOR_DELAY_MS small), so B2C requests are answered and their Results posted
 *      in Daraja's format; the queue consumer sends them, as deployed;
 *   3. refunds: the organizer cancels the event through the real route
 *      (`DELETE /api/organizer/events/{id}/edit/`), then the bench polls the refund list until
 *      every refund is COMPLETED, calling the scheduled handler (/cdn-cgi/handler/scheduled)
 *      every --cron-seconds like the deployed cron (refund sweep, B2C reconciliation); then it
 *      reads the state back: time to all COMPLETED, refunds/s, refunds per order, Σ refunded
 *      per order against what was paid (over-refunds must be 0), the money the B2C attempts
 *      carried, the organizer's ledger, and any refund not COMPLETED (stuck);
 *   4. withdrawals: the second organizer activates the wallet (real route), then
 *      --withdrawals concurrent `POST /api/organizer/wallet/` race one available balance;
 *      accepted, refused (by code) and overdraft (Σ payouts > available, or a balance < 0:
 *      must be 0), then the payouts' B2C results are awaited;
 *   5. the server is stopped and the figures are appended to bench/results/refunds.md.
 *
 * Target (issue #13): every refund of a 5,000-order event COMPLETED in under 5 minutes, no
 * over-refund, no overdraft. Note: §13.3 rule 3 spreads an event cancellation's B2C requests
 * to at most 5 a second (src/services/refunds/queue.ts), so N orders take at least N / 5 s.
 *
 * Options (flags, or the environment variable in brackets):
 *   --orders N               paid orders of the cancelled event [BENCH_REFUND_ORDERS]    default 5000
 *   --delay-ms N             MPESA_SIMULATOR_DELAY_MS [BENCH_SIMULATOR_DELAY_MS]         default 50
 *   --cron-seconds N         call the scheduled handler every N s, 0 = never [BENCH_CRON_SECONDS]  default 60
 *   --timeout-minutes N      give up waiting for the refunds after N min [BENCH_REFUND_TIMEOUT_MINUTES]  default 40
 *   --withdrawals N          concurrent withdrawals [BENCH_WITHDRAWALS]                  default 200
 *   --withdrawal-amount N    KES per withdrawal [BENCH_WITHDRAWAL_AMOUNT]                default 1500
 *   --payee-orders N         paid orders (KES 2,000 each) behind the available balance [BENCH_PAYEE_ORDERS]  default 100
 *   --no-record              do not append to bench/results/refunds.md
 *   --note TEXT              a note for the results file
 */
import crypto from "node:crypto";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { hashPassword, sqlValue as q } from "../scripts/seed-data.mjs";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";
import {
  appendResults,
  d1File,
  describeMachine,
  fmt,
  log,
  NON_INTERACTIVE,
  parseOptions,
  sleep,
  step,
  verdict,
  wrangler,
} from "./common.mjs";
import { startDevServer, stopDevServer } from "./dev-server.mjs";
import { keepAliveAgent, pool, requestJson } from "./http-json.mjs";
import { stats } from "./load.mjs";
import { benchKey } from "./ticket-key.mjs";

const STATE_DIR = path.join(PROJECT_ROOT, "bench", ".state", "refunds");
const WORK_DIR = path.join(PROJECT_ROOT, "bench", ".state", "refunds-work");
const PASSWORD = "Bench-Refunds-Password-2026";
const ORGANIZER = "bench_refunds_organizer";
const PAYEE = "bench_refunds_payee";
const PAYEE_PHONE = "0712345678";
const TARGET_S = 5 * 60;
const TIER_PRICE = 1500;
const PAYEE_PRICE = 2000;
const DAY = 24 * 60 * 60 * 1000;

function options() {
  const { number, record, note } = parseOptions(import.meta.url, {
    orders: { type: "string" },
    "delay-ms": { type: "string" },
    "cron-seconds": { type: "string" },
    "timeout-minutes": { type: "string" },
    withdrawals: { type: "string" },
    "withdrawal-amount": { type: "string" },
    "payee-orders": { type: "string" },
  });
  return {
    orders: number("orders", "BENCH_REFUND_ORDERS", 5000, 1),
    delayMs: number("delay-ms", "BENCH_SIMULATOR_DELAY_MS", 50, 0),
    cronSeconds: number("cron-seconds", "BENCH_CRON_SECONDS", 60, 0),
    timeoutMinutes: number("timeout-minutes", "BENCH_REFUND_TIMEOUT_MINUTES", 40, 1),
    withdrawals: number("withdrawals", "BENCH_WITHDRAWALS", 200, 1),
    withdrawalAmount: number("withdrawal-amount", "BENCH_WITHDRAWAL_AMOUNT", 1500, 100),
    payeeOrders: number("payee-orders", "BENCH_PAYEE_ORDERS", 100, 1),
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

/**
 * One statement's rows. The server writes the same SQLite file meanwhile: a read that finds it
 * locked (SQLITE_BUSY) is tried again.
 */
async function d1Rows(name, sql) {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await d1Statements(name, [sql]))[0]?.results ?? [];
    } catch (error) {
      if (attempt >= 5 || !String(error?.message).includes("SQLITE_BUSY")) throw error;
      await sleep(2000 * attempt);
    }
  }
}

// ─── Data: the rows settlement writes ─────────────────────────────────────────────────────

const RECEIPT_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const receipt = () =>
  Array.from(crypto.randomBytes(10), (b) => RECEIPT_ALPHABET[b % RECEIPT_ALPHABET.length]).join("");
/** Daraja's TransactionDate, yyyymmddHHMMSS (Nairobi). */
const transactionDate = (ms) => new Date(ms + 3 * 3_600_000).toISOString().replace(/[-:T]/g, "").slice(0, 14);

/**
 * Paid orders of one event as settlement leaves them (src/services/settlement.ts `settleOrder`:
 * COMPLETED, the callback's fields, tickets with `price_paid`, delivered), pushed as
 * multi-row INSERTs into `statements`. `phone(o)` is the number that paid.
 */
async function paidOrders({ key, eventId, tierId, price, count, quantity, paidAt, prefix, statements }) {
  const users = [];
  const orderRows = [];
  const itemRows = [];
  const ticketRows = [];
  let seats = 0;
  let paid = 0;
  for (let o = 0; o < count; o++) {
    const userId = crypto.randomUUID();
    const orderId = crypto.randomUUID();
    const n = quantity(o);
    const amount = price * n;
    const email = `${prefix}${o}@bench.local`;
    const phone = `2547${String(10_000_000 + o).slice(-8)}`;
    const created = paidAt - 60_000;
    users.push(`(${q(userId)}, ${q(`${prefix}${o}`)}, ${q(email)}, 1, ${created}, ${created})`);
    orderRows.push(
      `(${[
        q(orderId),
        q(`TS-${prefix.slice(0, 1).toUpperCase()}${o.toString(36).toUpperCase().padStart(7, "0")}`),
        q(userId),
        q(eventId),
        q(tierId),
        n,
        price,
        amount,
        q(`Fan ${prefix}${o}`),
        q(email),
        q(phone),
        "'COMPLETED'",
        created + 300_000,
        q(`bench-mr-${orderId}`),
        q(`ws_CO_bench_${orderId}`),
        q(receipt()),
        0,
        q("The service request is processed successfully."),
        amount,
        q(phone),
        q(transactionDate(paidAt)),
        paidAt,
        "'SENT'",
        1,
        paidAt + 5_000,
        created,
        paidAt,
      ].join(", ")})`,
    );
    itemRows.push(`(${q(orderId)}, ${q(tierId)}, 0, ${n}, ${price}, 0, 0)`);
    for (let seat = 0; seat < n; seat++) {
      const id = crypto.randomUUID();
      const qr = await key.sign({ ticketId: id, eventId, tierId }, paidAt);
      ticketRows.push(
        `(${[
          q(id),
          q(orderId),
          q(eventId),
          q(tierId),
          q(userId),
          seat,
          q(`Fan ${prefix}${o}`),
          q(email),
          q(qr),
          q(await key.hash(qr)),
          q(key.kid),
          "'ACTIVE'",
          price,
          paidAt,
          paidAt,
        ].join(", ")})`,
      );
    }
    seats += n;
    paid += amount;
  }
  // D1 refuses statements over 100 KB: multi-row inserts in slices.
  const slices = (rows, size, head) => {
    for (let i = 0; i < rows.length; i += size)
      statements.push(`${head} VALUES ${rows.slice(i, i + size).join(", ")}`);
  };
  slices(users, 500, "INSERT INTO users (id, username, email, is_guest, created_at, updated_at)");
  slices(
    orderRows,
    150,
    "INSERT INTO orders (id, reference, user_id, event_id, tier_id, quantity, unit_price, amount, buyer_name, buyer_email, phone_number, status, hold_expires_at, merchant_request_id, checkout_request_id, mpesa_receipt_number, result_code, result_desc, paid_amount, paid_phone, transaction_date, paid_at, delivery_status, delivery_attempts, delivered_at, created_at, updated_at)",
  );
  slices(
    itemRows,
    500,
    "INSERT INTO order_items (order_id, tier_id, position, quantity, unit_price, discount, discounted_seats)",
  );
  slices(
    ticketRows,
    100,
    "INSERT INTO tickets (id, order_id, event_id, tier_id, owner_id, seat_index, attendee_name, attendee_email, qr_code_hash, ticket_hash, signing_key_id, status, price_paid, created_at, updated_at)",
  );
  return { seats, paid };
}

/** A random v4 UUID in SQL, as src/services/refunds/record.ts writes bulk rows' ids. */
const SQL_UUID =
  "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";

/**
 * The SALE entries of an event's COMPLETED orders, by the statement settlement runs per order
 * (saleEntryStatements in src/inventory/ledger-store.ts; PLATFORM_FEE_PERCENT is 0, so no FEE),
 * for all of them at once.
 */
function saleEntries(eventId, holdMs) {
  return `INSERT INTO ledger_entries (id, organizer_id, type, amount, status, reference, dedupe_key, event_id, order_id, available_at, created_at)
    SELECT ${SQL_UUID}, e.organizer_id, 'SALE', o.amount, 'COMPLETED', o.reference, 'sale:' || o.id, o.event_id, o.id, e.end_datetime + ${holdMs}, o.paid_at
    FROM orders o JOIN events e ON e.id = o.event_id
    WHERE o.event_id = ${q(eventId)} AND o.status = 'COMPLETED' AND o.amount > 0
    ON CONFLICT (dedupe_key) DO NOTHING`;
}

async function generateData(opts, key) {
  const now = Date.now();
  const holdMs = 2 * DAY; // PAYOUT_HOLD_DAYS (wrangler.toml)
  const organizerId = crypto.randomUUID();
  const payeeId = crypto.randomUUID();
  const eventId = crypto.randomUUID();
  const tierId = crypto.randomUUID();
  const pastEventId = crypto.randomUUID();
  const pastTierId = crypto.randomUUID();
  const statements = [
    `INSERT INTO users (id, username, email, password_hash, role, is_verified) VALUES (${q(organizerId)}, ${q(ORGANIZER)}, 'refunds-organizer@bench.local', ${q(hashPassword(PASSWORD))}, 'ORGANIZER', 1), (${q(payeeId)}, ${q(PAYEE)}, 'refunds-payee@bench.local', ${q(hashPassword(PASSWORD))}, 'ORGANIZER', 1)`,
    `INSERT INTO events (id, organizer_id, title, category, location_name, start_datetime, end_datetime, is_published, lowest_price, highest_price) VALUES (${q(eventId)}, ${q(organizerId)}, 'Bench Refunds Festival', 'CONCERT', 'Uhuru Gardens, Nairobi', ${now + 7 * DAY}, ${now + 7 * DAY + 8 * 3_600_000}, 1, ${TIER_PRICE}, ${TIER_PRICE}), (${q(pastEventId)}, ${q(payeeId)}, 'Bench Payouts Night', 'CONCERT', 'KICC, Nairobi', ${now - 4 * DAY}, ${now - 4 * DAY + 5 * 3_600_000}, 1, ${PAYEE_PRICE}, ${PAYEE_PRICE})`,
  ];
  const paidAt = now - DAY;
  const sale = await paidOrders({
    key,
    eventId,
    tierId,
    price: TIER_PRICE,
    count: opts.orders,
    quantity: (o) => 1 + (o % 4),
    paidAt,
    prefix: "fan",
    statements,
  });
  const payee = await paidOrders({
    key,
    eventId: pastEventId,
    tierId: pastTierId,
    price: PAYEE_PRICE,
    count: opts.payeeOrders,
    quantity: () => 1,
    paidAt: now - 5 * DAY,
    prefix: "guest",
    statements,
  });
  // The tiers before the orders that reference them; the tier copy of the sold count.
  statements.splice(
    2,
    0,
    `INSERT INTO tiers (id, event_id, name, price, quantity_allocated, quantity_sold, position) VALUES (${q(tierId)}, ${q(eventId)}, 'Regular', ${TIER_PRICE}, ${sale.seats}, ${sale.seats}, 0), (${q(pastTierId)}, ${q(pastEventId)}, 'Regular', ${PAYEE_PRICE}, ${payee.seats}, ${payee.seats}, 0)`,
  );
  statements.push(saleEntries(eventId, holdMs), saleEntries(pastEventId, holdMs));
  return { eventId, pastEventId, organizerId, payeeId, statements, sale, payee };
}

async function prepareState(opts, key) {
  rmSync(STATE_DIR, { recursive: true, force: true });
  mkdirSync(STATE_DIR, { recursive: true });
  const started = performance.now();
  step(`Applying migrations to ${path.relative(PROJECT_ROOT, STATE_DIR)}`);
  await wrangler(["d1", "migrations", "apply", "DB", ...target()]);
  step(`Seeding ${opts.orders.toLocaleString("en")} paid orders (+ ${opts.payeeOrders} for the payee)`);
  const data = await generateData(opts, key);
  const perFile = 30;
  for (let i = 0; i < data.statements.length; i += perFile) {
    await d1Statements(`seed-${i}.sql`, data.statements.slice(i, i + perFile));
  }
  const [check] = await d1Rows(
    "count.sql",
    `SELECT (SELECT COUNT(*) FROM orders WHERE event_id = ${q(data.eventId)} AND status = 'COMPLETED') AS orders,
      (SELECT COUNT(*) FROM tickets WHERE event_id = ${q(data.eventId)} AND status = 'ACTIVE') AS tickets,
      (SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE organizer_id = ${q(data.organizerId)} AND type = 'SALE') AS sales,
      (SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE organizer_id = ${q(data.payeeId)} AND type = 'SALE') AS payee_sales`,
  );
  if (
    check?.orders !== opts.orders ||
    check.tickets !== data.sale.seats ||
    check.sales !== data.sale.paid ||
    check.payee_sales !== data.payee.paid
  ) {
    throw new Error(`seeding left ${JSON.stringify(check)}; expected ${JSON.stringify(data.sale)}`);
  }
  step(`Verifying ${PAYEE}'s payout number with the operator script (npm run organizer:verify)`);
  await verifyPayee();
  const seconds = (performance.now() - started) / 1000;
  log(
    `✔ ${check.orders} orders, ${check.tickets} tickets, KES ${check.sales.toLocaleString("en")} of sales; payee KES ${check.payee_sales.toLocaleString("en")}; ${seconds.toFixed(1)} s`,
  );
  return { ...data, seedSeconds: seconds };
}

/** `node scripts/organizer-wallet.mjs verify …` against the bench's state, as the operator runs it. */
async function verifyPayee() {
  const { spawn } = await import("node:child_process");
  const args = [
    path.join(PROJECT_ROOT, "scripts", "organizer-wallet.mjs"),
    "verify",
    "--username",
    PAYEE,
    "--payout-phone",
    PAYEE_PHONE,
    "--local",
    "--persist-to",
    STATE_DIR,
  ];
  const output = [];
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...NON_INTERACTIVE },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (c) => output.push(c));
    child.stderr.on("data", (c) => output.push(c));
    child.on("exit", resolve);
  });
  const text = Buffer.concat(output).toString("utf8").trim();
  if (code !== 0) throw new Error(`organizer:verify failed (${code}):\n${text}`);
  log(`  ${text.split("\n")[0]}`);
}

// ─── Server ───────────────────────────────────────────────────────────────────────────────

async function startServer(key, opts) {
  const logFile = path.join(WORK_DIR, "wrangler-dev.log");
  const secrets = {
    JWT_SECRET: `bench-refunds-${crypto.randomBytes(24).toString("hex")}`,
    TICKET_SIGNING_KEY: key.pkcs8,
    MPESA_CALLBACK_TOKEN: crypto.randomBytes(24).toString("base64url"),
    MPESA_RESULT_TOKEN: crypto.randomBytes(24).toString("base64url"),
    // No consumer key: the built-in simulator answers STK and B2C in Daraja's format.
    MPESA_CONSUMER_KEY: "",
    MPESA_CONSUMER_SECRET: "",
    BREVO_API_KEY: "",
  };
  // An env file keeps a developer's .dev.vars out of the run.
  const envFile = path.join(WORK_DIR, "bench.env");
  mkdirSync(WORK_DIR, { recursive: true });
  writeFileSync(
    envFile,
    `${Object.entries(secrets)
      .map(([k, v]) => `${k}="${v}"`)
      .join("\n")}\n`,
    { encoding: "utf8", mode: 0o600 },
  );
  const server = await startDevServer({
    persistTo: STATE_DIR,
    logFile,
    // A private dev registry and no config watching: another `wrangler dev` of this Worker on
    // the (shared) machine must not reload ours mid-run (see bench/flash-sale/server.mjs).
    env: {
      WRANGLER_REGISTRY_PATH: path.join(WORK_DIR, "registry"),
      WRANGLER_CI_DISABLE_CONFIG_WATCHING: "true",
    },
    args: (baseUrl) => [
      "--env-file",
      envFile,
      "--var",
      `PUBLIC_BASE_URL:${baseUrl}`,
      "--var",
      `MPESA_SIMULATOR_DELAY_MS:${opts.delayMs}`,
      "--log-level",
      "warn",
    ],
    announce: (_command, baseUrl) =>
      step(`Starting wrangler dev on ${baseUrl} (output in ${path.relative(PROJECT_ROOT, logFile)})`),
  });
  log(`✔ ${server.baseUrl}/api/health/ answered 200 after ${(server.readyMs / 1000).toFixed(1)} s`);
  return server;
}

// ─── HTTP ─────────────────────────────────────────────────────────────────────────────────

const agent = keepAliveAgent(256);

/**
 * One request. A GET that finds its kept-alive connection closed by the server meanwhile (the
 * polls idle about as long as Node's keep-alive timeout: ECONNRESET) is sent once more on a
 * new one, and so is a login (`retry`); no other POST is.
 */
async function request(
  server,
  method,
  urlPath,
  { token, json, timeoutMs = 60_000, via = agent, retry = method === "GET" } = {},
) {
  const send = () =>
    requestJson(via, {
      method,
      url: `${server.baseUrl}${urlPath}`,
      body: json,
      headers: token ? { authorization: `Bearer ${token}` } : {},
      timeoutMs,
    });
  const res = await send();
  if (retry && res.status === 0 && /ECONNRESET|socket hang up/i.test(res.error ?? "")) return send();
  return res;
}

/** An organizer's Bearer token, renewed by logging in again before the 15-minute access TTL. */
function session(server, username) {
  let token;
  let at = 0;
  return async () => {
    if (token && Date.now() - at < 10 * 60_000) return token;
    const res = await request(server, "POST", "/api/auth/login/", {
      json: { username, password: PASSWORD },
      retry: true,
    });
    if (res.status !== 200) throw new Error(`login ${username} → ${res.status} ${res.text.slice(0, 300)}`);
    token = res.json.access;
    at = Date.now();
    return token;
  };
}

/** The scheduled handler, as the deployed cron calls it every minute. */
async function runCron(server) {
  const res = await request(server, "GET", "/cdn-cgi/handler/scheduled", { timeoutMs: 120_000 });
  return res.status;
}

// ─── Phase 1: an event cancelled, every paid order refunded ───────────────────────────────

async function refundCount(server, token, eventId, status) {
  const res = await request(
    server,
    "GET",
    `/api/organizer/events/${eventId}/refunds/?page_size=1${status ? `&status=${status}` : ""}`,
    { token },
  );
  if (res.status !== 200) {
    // A busy or reloading `wrangler dev` (shared machine): asked again at the next poll.
    log(`  ! refund list → ${res.status} ${res.error ?? res.text.slice(0, 200)}`);
    return null;
  }
  return res.json.count;
}

async function refundPhase(server, data, opts) {
  const token = session(server, ORGANIZER);
  await token();
  step(`Cancelling the event (${opts.orders.toLocaleString("en")} paid orders) through DELETE …/edit/`);
  const cancelStartedAt = Date.now();
  const cancel = await request(server, "DELETE", `/api/organizer/events/${data.eventId}/edit/`, {
    token: await token(),
    timeoutMs: 900_000,
  });
  const cancelSeconds = (Date.now() - cancelStartedAt) / 1000;
  if (cancel.status !== 200) throw new Error(`DELETE → ${cancel.status} ${cancel.text.slice(0, 500)}`);
  log(
    `  200 in ${cancelSeconds.toFixed(1)} s: ${cancel.json.tickets_cancelled} tickets cancelled, ${cancel.json.orders_to_refund.length} orders to refund`,
  );

  step("Waiting for every refund to be COMPLETED");
  const deadline = cancelStartedAt + opts.timeoutMinutes * 60_000;
  const progress = [];
  let completed = 0;
  let lastCron = Date.now();
  let crons = 0;
  let lastLog = 0;
  let total = 0;
  let pollErrors = 0;
  while (Date.now() < deadline) {
    if (opts.cronSeconds > 0 && Date.now() - lastCron >= opts.cronSeconds * 1000) {
      lastCron = Date.now();
      const status = await runCron(server);
      if (status === 200) crons++;
      if (status !== 200) log(`  ! scheduled handler → ${status}`);
    }
    const t = await token();
    const [nowCompleted, nowTotal] = await Promise.all([
      refundCount(server, t, data.eventId, "COMPLETED"),
      refundCount(server, t, data.eventId),
    ]);
    pollErrors += nowCompleted === null || nowTotal === null ? 1 : 0;
    completed = nowCompleted ?? completed;
    total = nowTotal ?? total;
    const elapsed = (Date.now() - cancelStartedAt) / 1000;
    progress.push({ elapsed, completed });
    if (completed >= total && total >= opts.orders) break;
    if (elapsed - lastLog >= 60) {
      lastLog = elapsed;
      log(`  ${elapsed.toFixed(0)} s: ${completed} / ${total} COMPLETED`);
    }
    await sleep(5000);
  }
  const waitedSeconds = (Date.now() - cancelStartedAt) / 1000;
  log(`  ${completed} / ${total} COMPLETED after ${waitedSeconds.toFixed(0)} s (${crons} cron runs)`);
  // The queue may still hold the mails the completions queued: give it a moment.
  await sleep(5000);
  return {
    cancelStartedAt,
    cancelSeconds,
    cancel: cancel.json,
    waitedSeconds,
    crons,
    completed,
    total,
    pollErrors,
  };
}

async function refundEvidence(data, started) {
  const e = q(data.eventId);
  const [money] = await d1Rows(
    "refund-money.sql",
    `WITH per_order AS (
       SELECT o.id, o.paid_amount AS paid,
         (SELECT COUNT(*) FROM refunds r WHERE r.order_id = o.id) AS refunds,
         (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.order_id = o.id AND r.status = 'COMPLETED') AS refunded,
         (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.order_id = o.id AND (r.resolution IS NULL OR r.resolution <> 'ABANDONED')) AS reserved,
         (SELECT COALESCE(SUM(b.amount), 0) FROM b2c_requests b JOIN refunds r ON r.id = b.subject_id
            WHERE b.purpose = 'REFUND' AND r.order_id = o.id AND b.status = 'COMPLETED') AS sent
       FROM orders o WHERE o.event_id = ${e})
     SELECT COUNT(*) AS orders, SUM(paid) AS paid, SUM(refunded) AS refunded, SUM(sent) AS sent,
       SUM(refunded > paid) AS over_refunded, SUM(sent > paid) AS over_sent, SUM(reserved > paid) AS over_reserved,
       SUM(refunds = 0) AS without_refund, SUM(refunds > 1) AS several_refunds, SUM(refunded < paid) AS short
     FROM per_order`,
  );
  const byStatus = await d1Rows(
    "refund-status.sql",
    `SELECT status, COUNT(*) AS n, SUM(attempts) AS attempts, SUM(review_reason IS NOT NULL) AS reviews,
       MIN(completed_at) AS first_done, MAX(completed_at) AS last_done
     FROM refunds WHERE event_id = ${e} GROUP BY status`,
  );
  const [attempts] = await d1Rows(
    "refund-attempts.sql",
    `SELECT COUNT(*) AS n, SUM(b.status = 'COMPLETED') AS completed, MIN(b.created_at) AS first_sent, MAX(b.created_at) AS last_sent
     FROM b2c_requests b JOIN refunds r ON r.id = b.subject_id WHERE b.purpose = 'REFUND' AND r.event_id = ${e}`,
  );
  // §13.3 rule 3 says at most 5 B2C requests a second: the busiest seconds as sent.
  const [burst] = await d1Rows(
    "refund-burst.sql",
    `WITH per_second AS (
       SELECT b.created_at / 1000 AS second, COUNT(*) AS n
       FROM b2c_requests b JOIN refunds r ON r.id = b.subject_id
       WHERE b.purpose = 'REFUND' AND r.event_id = ${e} GROUP BY second)
     SELECT MAX(n) AS peak, SUM(n > 5) AS seconds_over, COUNT(*) AS seconds, SUM(CASE WHEN n > 5 THEN n ELSE 0 END) AS sent_in_them
     FROM per_second`,
  );
  const [ledger] = await d1Rows(
    "refund-ledger.sql",
    `SELECT SUM(CASE WHEN type = 'SALE' THEN amount ELSE 0 END) AS sales,
       SUM(CASE WHEN type = 'REFUND' THEN amount ELSE 0 END) AS refunds,
       SUM(type = 'REFUND') AS refund_entries, SUM(amount) AS net
     FROM ledger_entries WHERE organizer_id = ${q(data.organizerId)}`,
  );
  const [ticketRows] = await d1Rows(
    "refund-tickets.sql",
    `SELECT COUNT(*) AS n, SUM(status = 'CANCELLED') AS cancelled,
       (SELECT COUNT(*) FROM ticket_revocations WHERE event_id = ${e}) AS revoked
     FROM tickets WHERE event_id = ${e}`,
  );
  const mail = await d1Rows(
    "refund-mail.sql",
    `SELECT kind, COUNT(*) AS n, MIN(sent_at) AS first_sent, MAX(sent_at) AS last_sent FROM mail_log GROUP BY kind ORDER BY kind`,
  );
  const done = byStatus.find((s) => s.status === "COMPLETED");
  const lastDone = Number(done?.last_done ?? Number.NaN);
  const firstDone = Number(done?.first_done ?? Number.NaN);
  return {
    money,
    byStatus,
    attempts,
    burst,
    ledger,
    tickets: ticketRows,
    mail,
    stuck: byStatus.filter((s) => s.status !== "COMPLETED").reduce((sum, s) => sum + s.n, 0),
    firstSeconds: (firstDone - started) / 1000,
    allSeconds: (lastDone - started) / 1000,
    sendSpanSeconds: (Number(attempts?.last_sent) - Number(attempts?.first_sent)) / 1000,
    firstSentSeconds: (Number(attempts?.first_sent) - started) / 1000,
  };
}

// ─── Phase 2: withdrawals racing one balance ──────────────────────────────────────────────

async function withdrawalPhase(server, data, opts) {
  const token = session(server, PAYEE);
  step(`Withdrawals: ${PAYEE} activates the wallet, then ${opts.withdrawals} concurrent withdrawals`);
  const activate = await request(server, "POST", "/api/organizer/wallet/activate/", { token: await token() });
  if (activate.status !== 201 && activate.status !== 200)
    throw new Error(`activate → ${activate.status} ${activate.text.slice(0, 300)}`);
  const before = await request(server, "GET", "/api/organizer/wallet/", { token: await token() });
  if (before.status !== 200 || !before.json.is_kyc_verified)
    throw new Error(`wallet → ${before.status} ${before.text.slice(0, 300)}`);
  const available = before.json.balance;
  log(
    `  available KES ${available.toLocaleString("en")}, ${opts.withdrawals} × KES ${opts.withdrawalAmount.toLocaleString("en")} racing it`,
  );
  const t = await token();
  // Fresh connections for the burst: none of them can be one the server closed while idle.
  const burst = keepAliveAgent(opts.withdrawals);
  const { results, seconds } = await pool(opts.withdrawals, opts.withdrawals, () =>
    request(server, "POST", "/api/organizer/wallet/", {
      token: t,
      json: { amount: String(opts.withdrawalAmount) },
      timeoutMs: 120_000,
      via: burst,
    }),
  );
  burst.destroy();
  const answers = {};
  let accepted = 0;
  for (const r of results) {
    const label =
      r.status === 200 ? "200" : r.status === 0 ? `error ${r.error}` : `${r.status} ${r.json?.code}`;
    answers[label] = (answers[label] ?? 0) + 1;
    if (r.status === 200) accepted++;
  }
  const latency = stats(results.map((r) => r.ms));
  log(
    `  ${seconds.toFixed(2)} s: ${JSON.stringify(answers)}; p50 ${latency.p50.toFixed(0)} ms, p99 ${latency.p99.toFixed(0)} ms`,
  );

  // The payouts leave by B2C from the queue; the simulator's Results complete them.
  const payoutDeadline = Date.now() + 10 * 60_000;
  let after;
  while (Date.now() < payoutDeadline) {
    after = await request(server, "GET", "/api/organizer/wallet/", { token: await token() });
    if (after.status === 200 && after.json.pending_payouts === 0) break;
    await sleep(2000);
  }
  const p = q(data.payeeId);
  const payouts = await d1Rows(
    "payouts.sql",
    `SELECT status, COUNT(*) AS n, SUM(amount) AS amount, MIN(created_at) AS first, MAX(completed_at) AS last_done FROM payouts WHERE organizer_id = ${p} GROUP BY status`,
  );
  const [ledger] = await d1Rows(
    "payout-ledger.sql",
    `SELECT SUM(amount) AS net, SUM(CASE WHEN type = 'PAYOUT' THEN -amount ELSE 0 END) AS paid_out,
       SUM(type = 'PAYOUT') AS payout_entries, SUM(type = 'PAYOUT_REVERSED') AS reversed_entries
     FROM ledger_entries WHERE organizer_id = ${p}`,
  );
  const [sent] = await d1Rows(
    "payout-b2c.sql",
    `SELECT COUNT(*) AS n, SUM(b.status = 'COMPLETED') AS completed, COALESCE(SUM(CASE WHEN b.status = 'COMPLETED' THEN b.amount END), 0) AS amount
     FROM b2c_requests b JOIN payouts p ON p.id = b.subject_id WHERE b.purpose = 'PAYOUT' AND p.organizer_id = ${p}`,
  );
  const acceptedAmount = accepted * opts.withdrawalAmount;
  const recorded = payouts.reduce((sum, row) => sum + Number(row.amount), 0);
  const completedPayouts = payouts.find((row) => row.status === "COMPLETED");
  return {
    available,
    seconds,
    answers,
    accepted,
    refused: opts.withdrawals - accepted,
    latency,
    acceptedAmount,
    expectedAccepted: Math.floor(available / opts.withdrawalAmount),
    payouts,
    recorded,
    ledger,
    sent,
    balanceAfter: after?.json?.balance,
    pendingAfter: after?.json?.pending_payouts,
    settledSeconds:
      completedPayouts?.last_done && completedPayouts?.first
        ? (Number(completedPayouts.last_done) - Number(completedPayouts.first)) / 1000
        : Number.NaN,
    overdraft:
      (acceptedAmount > available ? 1 : 0) +
      (recorded > available ? 1 : 0) +
      (Number(ledger?.net) < 0 ? 1 : 0) +
      ((after?.json?.balance ?? 0) < 0 ? 1 : 0),
  };
}

// ─── Main ─────────────────────────────────────────────────────────────────────────────────

async function main() {
  const opts = options();
  const host = describeMachine();
  const startedAt = new Date();
  const key = await benchKey("refunds");
  const data = await prepareState(opts, key);
  const server = await startServer(key, opts);
  const report = { opts };
  try {
    report.refunds = await refundPhase(server, data, opts);
    report.evidence = await refundEvidence(data, report.refunds.cancelStartedAt);
    const ev = report.evidence;
    log(
      `  statuses ${JSON.stringify(ev.byStatus.map(({ status, n, attempts }) => ({ status, n, attempts })))}`,
    );
    log(`  money ${JSON.stringify(ev.money)}`);
    log(`  ledger ${JSON.stringify(ev.ledger)}; tickets ${JSON.stringify(ev.tickets)}`);
    report.withdrawals = await withdrawalPhase(server, data, opts);
    log(
      `  payouts ${JSON.stringify(report.withdrawals.payouts)}; ledger ${JSON.stringify(report.withdrawals.ledger)}`,
    );
  } finally {
    log(
      (await stopDevServer(server)) ? "✔ wrangler dev stopped" : "! some wrangler dev processes did not exit",
    );
    agent.destroy();
  }

  const { refunds: r, evidence: ev, withdrawals: w } = report;
  const all = ev.allSeconds;
  const rate = ev.money.refunded > 0 ? r.completed / all : Number.NaN;
  const statusText = ev.byStatus
    .map((s) => `${s.status} ${s.n} (${s.attempts} B2C attempts${s.reviews ? `, ${s.reviews} flagged` : ""})`)
    .join(", ");
  const kes = (n) => `KES ${Number(n).toLocaleString("en")}`;
  const lines = [
    `## ${startedAt.toISOString()}`,
    "",
    `- Machine: ${host.nproc} CPUs, ${host.cpu}; load average before the run ${host.loadavg.map((n) => n.toFixed(2)).join(" / ")}; Node ${host.node}, wrangler ${host.wrangler} (\`wrangler dev\`, local D1, queue consumer and M-Pesa simulator in-process, MPESA_SIMULATOR_DELAY_MS ${opts.delayMs}); the client runs on the same machine`,
    `- Data: one upcoming event, ${opts.orders.toLocaleString("en")} paid orders of 1–4 seats (${ev.tickets.n.toLocaleString("en")} tickets, ${kes(ev.money.paid)} paid), seeded as settlement writes them (seeding ${data.seedSeconds.toFixed(1)} s)`,
    `- Cancellation, \`DELETE /api/organizer/events/{id}/edit/\`: 200 in ${r.cancelSeconds.toFixed(1)} s, ${r.cancel.tickets_cancelled.toLocaleString("en")} tickets cancelled (${ev.tickets.revoked.toLocaleString("en")} tokens revoked), ${r.total.toLocaleString("en")} refunds recorded; scheduled handler called ${r.crons} times (every ${opts.cronSeconds} s, as the cron, once the DELETE had answered)${r.pollErrors ? `; ${r.pollErrors} polls of the refund list failed (retried)` : ""}`,
    `- **All refunds COMPLETED ${fmt(all, 0)} s after the cancellation started** (target < ${TARGET_S} s: ${verdict(all < TARGET_S && ev.stuck === 0)}); first after ${fmt(ev.firstSeconds, 1)} s; **${fmt(rate, 2)} refunds/s**; the first B2C request left ${fmt(ev.firstSentSeconds, 1)} s after the cancellation started, and they were sent over ${fmt(ev.sendSpanSeconds, 0)} s, at most ${ev.burst.peak} in one second (${ev.burst.seconds_over} of ${ev.burst.seconds} seconds above 5, carrying ${ev.burst.sent_in_them} requests) (§13.3 rule 3 spreads them to ≤ 5/s: ${opts.orders.toLocaleString("en")} orders need ≥ ${fmt(opts.orders / 5, 0)} s)`,
    `- Refunds by status: ${statusText}; **stuck (not COMPLETED): ${ev.stuck}**`,
    `- Money: ${kes(ev.money.refunded)} refunded of ${kes(ev.money.paid)} paid (B2C Results carried ${kes(ev.money.sent)}); **over-refunded orders: ${ev.money.over_refunded}** (Σ COMPLETED refunds > paid), over-sent ${ev.money.over_sent}, over-reserved ${ev.money.over_reserved}; orders without a refund ${ev.money.without_refund}, with more than one ${ev.money.several_refunds}, refunded short ${ev.money.short}`,
    `- Organizer ledger: SALE ${kes(ev.ledger.sales)}, REFUND ${kes(ev.ledger.refunds)} (${ev.ledger.refund_entries} entries), net ${kes(ev.ledger.net)}; mail (all on the delivery queue the refund sends use, sent seconds after the cancellation started): ${ev.mail.map((m) => `${m.kind} ${m.n} (${fmt((m.first_sent - r.cancelStartedAt) / 1000, 0)}–${fmt((m.last_sent - r.cancelStartedAt) / 1000, 0)} s)`).join(", ")}`,
    `- Withdrawals: ${opts.withdrawals} concurrent \`POST /api/organizer/wallet/\` of ${kes(opts.withdrawalAmount)} against ${kes(w.available)} available, in ${w.seconds.toFixed(2)} s (p50 ${w.latency.p50.toFixed(0)} ms, p99 ${w.latency.p99.toFixed(0)} ms): **${w.accepted} accepted** (at most ${w.expectedAccepted} fit), **${w.refused} refused** ${JSON.stringify(w.answers)}; **overdraft: ${w.overdraft}** (payouts recorded ${kes(w.recorded)}, ledger net after ${kes(w.ledger?.net)}, wallet balance ${kes(w.balanceAfter)}, pending payouts ${kes(w.pendingAfter)})`,
    `- Payouts: ${w.payouts.map((p) => `${p.status} ${p.n} (${kes(p.amount)})`).join(", ")}; B2C Results completed ${w.sent?.completed ?? 0} of ${w.sent?.n ?? 0} attempts (${kes(w.sent?.amount ?? 0)}), the last ${fmt(w.settledSeconds, 1)} s after the first withdrawal was recorded`,
    "- The machine is shared with other helpers' work: figures are noisy",
    ...(opts.note ? [`- Note: ${opts.note}`] : []),
    "",
  ];
  log(`\n${lines.join("\n")}`);
  if (opts.record) appendResults("refunds", "Refunds", lines.join("\n"));
  if (ev.money.over_refunded > 0 || w.overdraft > 0) process.exitCode = 2;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
