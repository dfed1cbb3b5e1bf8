/**
 * `npm run invite:create`: adds an organizer invitation code to D1 (table invitation_codes).
 *
 * With ORGANIZER_INVITE_REQUIRED=true only active codes open organizer registration
 * (contract §2, check-code). Codes are compared case-insensitively (unique on upper(code)).
 *
 *   npm run invite:create                                   # random TS-XXXX-XXXX, local D1
 *   npm run invite:create -- --code PARTNER-2026 --max-uses 5 --expires-days 30 --note "Partners"
 *   npm run invite:create -- --remote --env production      # the deployed production D1
 */
import { randomInt, randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { sqlValue } from "./seed-data.mjs";
import { d1Query, WranglerError } from "./wrangler.mjs";

const USAGE = `Usage: npm run invite:create -- [options]

  --code X            the code (letters, digits, - and _; 3-64 chars). Default: random TS-XXXX-XXXX
  --max-uses N        how many registrations it admits. Default: unlimited
  --expires-days N    valid for N days from now. Default: never expires
  --note "..."        a note for your own records
  --local             write to the local D1 used by \`npm run dev\` (default)
  --remote            write to the Cloudflare D1 database (run \`wrangler login\` first)
  --env NAME          wrangler environment: preview or production
  --persist-to DIR    local state directory, when \`npm run dev\` uses one
  -h, --help          show this help`;

// No 0/O, 1/I/L: codes are read aloud and typed from paper.
const ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
const DAY_MS = 24 * 60 * 60 * 1000;

function randomCode() {
  const block = () => Array.from({ length: 4 }, () => ALPHABET[randomInt(ALPHABET.length)]).join("");
  return `TS-${block()}-${block()}`;
}

function fail(message) {
  console.error(`✖ ${message}`);
  process.exit(1);
}

function positiveInteger(name, text) {
  if (text === undefined) return null;
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    fail(`--${name} must be a whole number of at least 1 (got "${text}").`);
  }
  return Number(text);
}

function parseOptions() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        code: { type: "string" },
        "max-uses": { type: "string" },
        "expires-days": { type: "string" },
        note: { type: "string" },
        local: { type: "boolean" },
        remote: { type: "boolean" },
        env: { type: "string" },
        "persist-to": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    fail(`${error.message}\n\n${USAGE}`);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.local && values.remote) fail("Use either --local or --remote, not both.");
  if (values.env !== undefined && !/^[\w-]+$/.test(values.env)) fail(`Invalid --env "${values.env}".`);
  if (values.remote && values["persist-to"]) fail("--persist-to only applies to the local database.");

  const code = values.code?.trim();
  if (code !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$/.test(code)) {
    fail("--code must be 3-64 characters: letters, digits, '-' and '_', starting with a letter or digit.");
  }
  const note = values.note ?? "";
  if (note.length > 500) fail("--note is limited to 500 characters.");

  const target = [values.remote ? "--remote" : "--local"];
  if (values.env) target.push("--env", values.env);
  if (values["persist-to"]) target.push("--persist-to", values["persist-to"]);

  return {
    code,
    maxUses: positiveInteger("max-uses", values["max-uses"]),
    expiresDays: positiveInteger("expires-days", values["expires-days"]),
    note,
    target,
  };
}

async function codeExists(target, code) {
  const rows = await d1Query(
    target,
    `SELECT id FROM invitation_codes WHERE upper(code) = upper(${sqlValue(code)}) LIMIT 1`,
  );
  return rows.length > 0;
}

async function main() {
  const options = parseOptions();
  const where = options.target.join(" ");

  let code = options.code;
  if (code === undefined) {
    // A random code colliding is unlikely (31^8), but cheap to rule out.
    for (let attempt = 0; attempt < 5 && code === undefined; attempt++) {
      const candidate = randomCode();
      if (!(await codeExists(options.target, candidate))) code = candidate;
    }
    if (code === undefined) fail("Could not find an unused random code; pass --code.");
  } else if (await codeExists(options.target, code)) {
    fail(`The code "${code}" already exists (${where}); codes are case-insensitive. Choose another.`);
  }

  const now = Date.now();
  const expiresAt = options.expiresDays === null ? null : now + options.expiresDays * DAY_MS;
  const row = {
    id: randomUUID(),
    code,
    note: options.note,
    is_active: true,
    max_uses: options.maxUses,
    use_count: 0,
    expires_at: expiresAt,
    created_at: now,
  };
  const columns = Object.keys(row);
  await d1Query(
    options.target,
    `INSERT INTO invitation_codes (${columns.join(", ")}) VALUES (${columns.map((c) => sqlValue(row[c])).join(", ")})`,
  );

  console.log(`✔ Invitation code created (${where}):`);
  console.log("");
  console.log(`    ${code}`);
  console.log("");
  console.log(`  uses:    ${options.maxUses === null ? "unlimited" : `at most ${options.maxUses}`}`);
  console.log(`  expires: ${expiresAt === null ? "never" : new Date(expiresAt).toISOString()}`);
  if (options.note) console.log(`  note:    ${options.note}`);
  console.log("  Only checked when ORGANIZER_INVITE_REQUIRED=true (otherwise any non-empty code passes).");
}

main().catch((error) => {
  let message = error instanceof WranglerError ? error.message : (error?.stack ?? String(error));
  if (/no such table: invitation_codes/i.test(message)) {
    message +=
      "\n\nThe database has no tables yet: apply the migrations first " +
      "(`npm run db:migrate:local`, or `npx wrangler d1 migrations apply DB --remote --env <env>`).";
  } else if (/UNIQUE constraint failed/i.test(message)) {
    message += "\n\nThat code already exists (codes are case-insensitive).";
  }
  console.error(`✖ ${message}`);
  process.exitCode = 1;
});
