/**
 * `npm run dev`: local development in one command (contract §10).
 *
 *   1. creates .dev.vars from .dev.vars.example when it is missing;
 *   2. applies the D1 migrations to the local database;
 *   3. seeds the demo data (scripts/seed-data.mjs) when the local database has no users,
 *      with poster and logo images (scripts/demo-images.mjs) put into the local R2 bucket;
 *   4. runs `wrangler dev` with every extra argument passed through, forwarding signals and
 *      the exit code: `npm run dev -- --port 9000 --var NAME:VALUE`.
 *
 * Steps 2-3 use the same `--env`, `--config` and `--persist-to` as wrangler dev, so the
 * database prepared is the one the dev server opens. With `--remote` they are skipped.
 */

import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { renderLogo, renderPoster } from "./demo-images.mjs";
import {
  buildSeedSql,
  DEMO_ACCOUNTS,
  DEMO_INVITATION_CODE,
  DEMO_PASSWORD,
  DEMO_STORE_SLUG,
  demoEventSummaries,
  demoWalletSummary,
} from "./seed-data.mjs";
import {
  d1Query,
  describeCommand,
  failureDetails,
  mediaBucketName,
  PROJECT_ROOT,
  runWrangler,
  WranglerError,
  wranglerBin,
  wranglerVar,
} from "./wrangler.mjs";

const DEFAULT_PORT = 8787; // wrangler dev's own default
const NON_INTERACTIVE = { CI: "true" }; // wrangler never prompts with CI set

const log = (message = "") => console.log(message);
const step = (message) => console.log(`\n▶ ${message}`);

/** The value of `--name value` / `--name=value` (last one wins, as in yargs), or undefined. */
function optionValue(args, ...names) {
  let value;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    for (const name of names) {
      if (arg === name && i + 1 < args.length) value = args[i + 1];
      else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1);
    }
  }
  return value;
}

/** Every `--var` value, whether given as `--var A:1 B:2`, `--var A:1 --var B:2` or `--var=A:1`. */
function varValues(args) {
  const values = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i].startsWith("--var=")) values.push(args[i].slice(6));
    else if (args[i] === "--var") {
      while (i + 1 < args.length && !args[i + 1].startsWith("-")) values.push(args[++i]);
    }
  }
  return values;
}

/** `NAME=value` / `NAME="value"` of a .dev.vars text, or undefined. */
function devVarsValue(text, name) {
  const match = new RegExp(`^\\s*${name}\\s*=\\s*(?:"([^"]*)"|(\\S*))`, "m").exec(text);
  return match ? (match[1] ?? match[2]) : undefined;
}

/**
 * What the dev server will run with that the demo ledger depends on: the ticket key (tickets
 * must verify) and PLATFORM_FEE_PERCENT / PAYOUT_HOLD_DAYS (the ledger must be what
 * settlement would write). `--var` wins over .dev.vars, which wins over wrangler.toml.
 */
function seedSettings(args) {
  const devVars = path.join(PROJECT_ROOT, ".dev.vars");
  const text = existsSync(devVars) ? readFileSync(devVars, "utf8") : "";
  const value = (name) => {
    const fromArgs = varValues(args)
      .filter((v) => v.startsWith(`${name}:`))
      .at(-1);
    if (fromArgs !== undefined) return fromArgs.slice(name.length + 1);
    return (
      devVarsValue(text, name) ??
      wranglerVar(optionValue(args, "--config", "-c"), optionValue(args, "--env", "-e"), name)
    );
  };
  // As src/config.ts reads them: a bad or missing value is the default.
  const fee = (value("PLATFORM_FEE_PERCENT") ?? "").trim();
  const hold = (value("PAYOUT_HOLD_DAYS") ?? "").trim();
  return {
    ticketSigningKey: value("TICKET_SIGNING_KEY") || undefined,
    feeBasisPoints: /^\d{1,3}(\.\d{1,2})?$/.test(fee) ? Math.min(10_000, Math.round(Number(fee) * 100)) : 0,
    holdDays: /^\d+$/.test(hold) && Number(hold) <= 365 ? Number(hold) : 2,
  };
}

function ensureDevVars() {
  const devVars = path.join(PROJECT_ROOT, ".dev.vars");
  const example = path.join(PROJECT_ROOT, ".dev.vars.example");
  if (existsSync(devVars)) {
    // A .dev.vars made before B2C existed: the simulator's Results would answer 404.
    if (devVarsValue(readFileSync(devVars, "utf8"), "MPESA_RESULT_TOKEN") === undefined) {
      log(
        "! .dev.vars has no MPESA_RESULT_TOKEN: refunds and payouts never complete locally. Copy its line from .dev.vars.example.",
      );
    }
    return;
  }
  if (!existsSync(example)) {
    log("! No .dev.vars and no .dev.vars.example: secrets fall back to development defaults.");
    return;
  }
  copyFileSync(example, devVars);
  log("✔ Created .dev.vars from .dev.vars.example (local secrets; never commit it).");
}

async function applyMigrations(target) {
  step("Applying D1 migrations to the local database");
  const args = ["d1", "migrations", "apply", "DB", ...target];
  const result = await runWrangler(args, { env: NON_INTERACTIVE });
  if (result.code !== 0) {
    throw new WranglerError(
      `Applying migrations failed (exit code ${result.code}). See wrangler's output above.\n` +
        `Command: ${describeCommand(args)}\n` +
        "If the local state is corrupt, delete .wrangler/state (it only holds local data) and run again.",
    );
  }
}

/** Number of users and whether the demo organizer is one of them. */
async function inspectDatabase(target) {
  const rows = await d1Query(
    target,
    "SELECT COUNT(*) AS n, COALESCE(SUM(lower(username) = 'demo_organizer'), 0) AS demo FROM users",
  );
  const row = rows[0] ?? {};
  return { users: Number(row.n ?? 0), hasDemo: Number(row.demo ?? 0) > 0 };
}

/**
 * Draws a poster per demo event and the store logo, and puts them into the local R2 bucket in
 * one `wrangler r2 bulk put` (one wrangler start instead of one per image). Returns their keys.
 */
async function uploadDemoImages(target, bucket, dir) {
  const posters = {};
  const objects = [];
  demoEventSummaries().forEach(({ title, category }, i) => {
    const key = `posters/${randomUUID()}.png`;
    const file = path.join(dir, `poster-${i + 1}.png`);
    writeFileSync(file, renderPoster(category, i + 1));
    posters[title] = key;
    objects.push({ key, file });
  });
  const storeLogo = `logos/${randomUUID()}.png`;
  const logoFile = path.join(dir, "logo.png");
  writeFileSync(logoFile, renderLogo());
  objects.push({ key: storeLogo, file: logoFile });

  const listFile = path.join(dir, "images.json");
  writeFileSync(listFile, JSON.stringify(objects), "utf8");
  const args = [
    "r2",
    "bulk",
    "put",
    bucket,
    "--filename",
    listFile,
    "--content-type",
    "image/png",
    ...target,
  ];
  const result = await runWrangler(args, { capture: true, env: NON_INTERACTIVE });
  if (result.code !== 0) {
    throw new WranglerError(
      `Uploading the demo images failed (exit code ${result.code}).\nCommand: ${describeCommand(args)}\n${failureDetails(result)}`,
    );
  }
  log(`✔ ${objects.length} demo images (PNG) put into the local R2 bucket ${bucket}.`);
  return { posters, storeLogo };
}

async function seed(target, bucket, settings) {
  step("Seeding demo data (the local database has no users)");
  const dir = mkdtempSync(path.join(os.tmpdir(), "ticketsafi-seed-"));
  try {
    // Images first: a row never points at an object that is not there.
    const images = await uploadDemoImages(target, bucket, dir);
    const file = path.join(dir, "seed.sql");
    writeFileSync(file, buildSeedSql({ images, ...settings }), "utf8");
    const args = ["d1", "execute", "DB", ...target, "--yes", "--file", file];
    const result = await runWrangler(args, { capture: true, env: NON_INTERACTIVE });
    if (result.code !== 0) {
      throw new WranglerError(
        `Seeding the demo data failed (exit code ${result.code}).\nCommand: ${describeCommand(args)}\n${failureDetails(result)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const wallet = demoWalletSummary(settings);
  log(
    "✔ Demo data seeded: accounts, an invitation code, a store with a logo, events with tiers and posters,",
  );
  log(
    `  and demo_organizer's wallet: KES ${wallet.sales} of sales${wallet.fees ? ` − ${wallet.fees} fees` : ""} − ${wallet.payouts} paid out = KES ${wallet.available} available.`,
  );
}

function printBanner(baseUrl, hasDemo) {
  log("");
  log("──────────────────────────────────────────────────────────────────────");
  log(` TicketSafi API  →  ${baseUrl}/`);
  log(`   health   ${baseUrl}/api/health/`);
  log(`   docs     ${baseUrl}/api/docs/   (OpenAPI: ${baseUrl}/api/schema/)`);
  log(`   outbox   ${baseUrl}/__dev/outbox/   (mail kept locally while BREVO_API_KEY is empty)`);
  if (hasDemo) {
    log("");
    log(` Demo logins (password for all: ${DEMO_PASSWORD})`);
    for (const account of DEMO_ACCOUNTS) {
      log(`   ${account.role.padEnd(9)} ${account.username.padEnd(15)} ${account.email}`);
    }
    log(`   store slug: ${DEMO_STORE_SLUG}   organizer invitation code: ${DEMO_INVITATION_CODE}`);
  }
  log("──────────────────────────────────────────────────────────────────────");
  log("");
}

/** Runs wrangler dev in the foreground; resolves with the exit code (or re-raises its signal). */
function runDevServer(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [wranglerBin(), "dev", ...args], {
      cwd: PROJECT_ROOT,
      stdio: "inherit",
      env: process.env,
    });
    const forward = (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    const signals = ["SIGINT", "SIGTERM", "SIGHUP"];
    for (const signal of signals) process.on(signal, forward);
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      for (const s of signals) process.off(s, forward);
      if (signal) {
        // Die the same way, so callers (shells, CI) see what happened.
        process.kill(process.pid, signal);
        return;
      }
      resolve(code ?? 1);
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    process.exitCode = await runDevServer(args);
    return;
  }

  // Where the database lives: the same wrangler config, environment and persistence dir as wrangler dev.
  const target = ["--local"];
  for (const [names, flag] of [
    [["--env", "-e"], "--env"],
    [["--config", "-c"], "--config"],
    [["--persist-to"], "--persist-to"],
  ]) {
    const value = optionValue(args, ...names);
    if (value !== undefined) target.push(flag, value);
  }

  ensureDevVars();

  const remote = args.includes("--remote") || args.includes("-r");
  let hasDemo = false;
  if (remote) {
    log("! --remote: skipping local migrations and seeding (the dev session uses remote resources).");
  } else {
    await applyMigrations(target);
    const before = await inspectDatabase(target);
    if (before.users === 0) {
      await seed(
        target,
        mediaBucketName(optionValue(args, "--config", "-c"), optionValue(args, "--env", "-e")),
        seedSettings(args),
      );
      hasDemo = (await inspectDatabase(target)).hasDemo;
    } else {
      log(`✔ Local database has ${before.users} user(s); not seeding.`);
      hasDemo = before.hasDemo;
    }
  }

  // Links in emails and the OpenAPI `servers` use PUBLIC_BASE_URL (http://localhost:8787 in
  // wrangler.toml); on another port, point it at this server unless it was set explicitly.
  const devArgs = [...args];
  const port = Number(optionValue(args, "--port") ?? DEFAULT_PORT);
  if (optionValue(args, "--port") === undefined) devArgs.push("--port", String(DEFAULT_PORT));
  const ip = optionValue(args, "--ip");
  const host = !ip || ip === "0.0.0.0" || ip === "::" || ip === "*" ? "localhost" : ip;
  const protocol = optionValue(args, "--local-protocol") ?? "http";
  const baseUrl = `${protocol}://${host.includes(":") ? `[${host}]` : host}:${port}`;
  const devVarsText = existsSync(path.join(PROJECT_ROOT, ".dev.vars"))
    ? readFileSync(path.join(PROJECT_ROOT, ".dev.vars"), "utf8")
    : "";
  const baseUrlSet =
    varValues(args).some((v) => v.startsWith("PUBLIC_BASE_URL:")) ||
    /^\s*PUBLIC_BASE_URL\s*=/m.test(devVarsText) ||
    optionValue(args, "--env", "-e") !== undefined;
  if (!baseUrlSet && baseUrl !== `http://localhost:${DEFAULT_PORT}`) {
    devArgs.push("--var", `PUBLIC_BASE_URL:${baseUrl}`);
    log(`✔ PUBLIC_BASE_URL set to ${baseUrl} for this session.`);
  }

  printBanner(baseUrl, hasDemo);
  process.exitCode = await runDevServer(devArgs);
}

main().catch((error) => {
  console.error(`\n✖ ${error instanceof WranglerError ? error.message : (error?.stack ?? error)}`);
  process.exitCode = 1;
});
