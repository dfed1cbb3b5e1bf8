/**
 * The operator's wallet controls (contract §17, "Who may withdraw"). Only these scripts set
 * an organizer's payout number, its verification and the freeze: no API route can, so a
 * stolen organizer session cannot redirect payouts.
 *
 *   npm run organizer:verify -- --username U --payout-phone 07XXXXXXXX [--remote --env E]
 *   npm run organizer:verify -- --username U --revoke          # payouts stop until re-verified
 *   npm run organizer:freeze -- --username U [--unfreeze] [--remote --env E]
 *
 * A payout already sent to B2C is not affected (money may have moved); new withdrawals are
 * refused with `kyc_required` / `wallet_frozen` from the next request on.
 */
import { parseArgs } from "node:util";
import { sqlValue } from "./seed-data.mjs";
import { d1Query, WranglerError } from "./wrangler.mjs";

const COMMANDS = {
  verify: `Usage: npm run organizer:verify -- --username U (--payout-phone 07XXXXXXXX | --revoke) [options]`,
  freeze: `Usage: npm run organizer:freeze -- --username U [--unfreeze] [options]`,
};
const TARGET_HELP = `
  --local             the local D1 used by \`npm run dev\` (default)
  --remote            the Cloudflare D1 database (run \`wrangler login\` first)
  --env NAME          wrangler environment: preview or production
  --persist-to DIR    local state directory, when \`npm run dev\` uses one
  -h, --help          show this help`;

function fail(message) {
  console.error(`✖ ${message}`);
  process.exit(1);
}

/**
 * Safaricom numbers as B2C's PartyB wants them (2547…/2541…), from 07…, 01…, +254…, 254….
 * Mirrors src/lib/phone.ts; kept here because scripts run in Node without the bundle.
 */
export function normalizePayoutPhone(text) {
  const digits = String(text).replace(/[\s-]/g, "").replace(/^\+/, "");
  const national = digits.startsWith("254")
    ? digits.slice(3)
    : digits.startsWith("0")
      ? digits.slice(1)
      : digits;
  return /^[17]\d{8}$/.test(national) ? `254${national}` : null;
}

function parseOptions(command) {
  let parsed;
  try {
    parsed = parseArgs({
      args: process.argv.slice(3),
      options: {
        username: { type: "string" },
        "payout-phone": { type: "string" },
        revoke: { type: "boolean" },
        unfreeze: { type: "boolean" },
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
    fail(`${error.message}\n\n${COMMANDS[command]}${TARGET_HELP}`);
  }
  const { values } = parsed;
  if (values.help) {
    console.log(`${COMMANDS[command]}${TARGET_HELP}`);
    process.exit(0);
  }
  if (values.local && values.remote) fail("Use either --local or --remote, not both.");
  if (values.env !== undefined && !/^[\w-]+$/.test(values.env)) fail(`Invalid --env "${values.env}".`);
  if (values.remote && values["persist-to"]) fail("--persist-to only applies to the local database.");
  const username = values.username?.trim();
  if (!username) fail(`--username is required.\n\n${COMMANDS[command]}`);
  if (command === "verify") {
    if (values.unfreeze) fail("--unfreeze belongs to organizer:freeze.");
    if (values.revoke && values["payout-phone"]) fail("Use either --payout-phone or --revoke.");
    if (!values.revoke && !values["payout-phone"]) fail("--payout-phone is required (or --revoke).");
  } else if (values.revoke || values["payout-phone"]) {
    fail("--payout-phone and --revoke belong to organizer:verify.");
  }
  let payoutPhone = null;
  if (values["payout-phone"]) {
    payoutPhone = normalizePayoutPhone(values["payout-phone"]);
    if (payoutPhone === null) fail(`--payout-phone must be a Kenyan M-Pesa number (07…, 01…, +254…).`);
  }
  const target = [values.remote ? "--remote" : "--local"];
  if (values.env) target.push("--env", values.env);
  if (values["persist-to"]) target.push("--persist-to", values["persist-to"]);
  return {
    username,
    payoutPhone,
    revoke: Boolean(values.revoke),
    unfreeze: Boolean(values.unfreeze),
    target,
  };
}

async function main() {
  const command = process.argv[2];
  if (!(command in COMMANDS)) fail(`Unknown command "${command}": verify or freeze.`);
  const options = parseOptions(command);
  const where = options.target.join(" ");
  const rows = await d1Query(
    options.target,
    `SELECT id, role, wallet_id FROM users WHERE lower(username) = lower(${sqlValue(options.username)}) LIMIT 1`,
  );
  const user = rows[0];
  if (!user) fail(`No user "${options.username}" (${where}).`);
  if (user.role !== "ORGANIZER") fail(`"${options.username}" is ${user.role}, not an organizer.`);

  const now = Date.now();
  let assignment;
  if (command === "verify") {
    assignment = options.revoke
      ? "is_kyc_verified = 0"
      : `is_kyc_verified = 1, payout_phone = ${sqlValue(options.payoutPhone)}`;
  } else {
    assignment = `is_wallet_frozen = ${options.unfreeze ? 0 : 1}`;
  }
  await d1Query(
    options.target,
    `UPDATE users SET ${assignment}, updated_at = ${now} WHERE id = ${sqlValue(user.id)}`,
  );

  if (command === "verify" && options.revoke)
    console.log(`✔ ${options.username}: payouts unverified (${where}).`);
  else if (command === "verify") {
    console.log(`✔ ${options.username}: verified, payouts go to ${options.payoutPhone} (${where}).`);
  } else console.log(`✔ ${options.username}: wallet ${options.unfreeze ? "unfrozen" : "frozen"} (${where}).`);
  if (user.wallet_id === null)
    console.log("  The wallet is not activated yet: the organizer activates it on the Payouts page.");
}

main().catch((error) => {
  let message = error instanceof WranglerError ? error.message : (error?.stack ?? String(error));
  if (/no such column: (is_kyc_verified|payout_phone|is_wallet_frozen)/i.test(message)) {
    message += "\n\nApply the migrations first (`npm run db:migrate:local`, or `--remote --env <env>`).";
  }
  console.error(`✖ ${message}`);
  process.exitCode = 1;
});
