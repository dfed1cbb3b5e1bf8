/**
 * The flash-sale benchmark's command line (`npm run bench:flash-sale -- --help` prints the
 * part below).
 *
 * Options (flags, or the environment variable in brackets):
 *   --buyers N                  distinct buyers [FLASH_BUYERS]                       default 2000
 *   --seats N                   seats in the tier [FLASH_SEATS]                      default 500
 *   --concurrency N             purchases in flight [FLASH_CONCURRENCY]              default 64
 *   --hold-seconds N            the dev server's HOLD_SECONDS (30…3600; a sale longer than the hold needs more, or
 *                               early holds lapse mid-sale) [FLASH_HOLD_SECONDS]      default 600
 *   --shards N                  lay every tier of --seats seats out as N shard objects (sets the dev server's
 *                               TIER_SHARD_THRESHOLD = seats, TIER_SHARD_SEATS = ⌈seats / N⌉, TIER_SHARD_MAX = N;
 *                               the probe tier of 1,000,000 seats is sharded likewise); 1: every tier one object;
 *                               unset: wrangler.toml's rule (20,000 seats or more are sharded) [FLASH_SHARDS]
 *   --callback-concurrency N    callbacks / verifies in flight [FLASH_CALLBACK_CONCURRENCY]  default = concurrency
 *   --health-requests N         measured health requests [FLASH_HEALTH_REQUESTS]     default = buyers
 *   --warmup N                  warm-up health requests (and N/10 purchases on the probe tier) [FLASH_WARMUP]  default 200
 *   --capacity N                purchases on the probe tier (plenty of seats: all accepted) at the same
 *                               concurrency, for purchase throughput without sold-out answers [FLASH_CAPACITY]  default 500
 *   --probes N                  one-at-a-time probes of each kind [FLASH_PROBES]     default 50
 *   --price N                   tier price, KES [FLASH_PRICE]                        default 1000
 *   --inspector on|off          off: start the same runtime through wrangler's programmatic API without the
 *                               DevTools inspector (bench/dev-worker.mjs) to show what it costs [FLASH_INSPECTOR]  default on
 *   --direct                    the Worker closest to production this machine allows: Miniflare directly, ONE workerd
 *                               with the Worker and its bindings, no dev proxy, no inspector (bench/direct-worker.mjs;
 *                               overrides --inspector) [FLASH_DIRECT=1]            default off
 *   --json FILE                 also write the run's headline figures as JSON to FILE (bench/peer.mjs reads them)
 *   --log-level LEVEL           wrangler dev's --log-level (worker logs go to bench/.state/flash-sale/wrangler-dev.log) default warn
 *   --three-tier on|off         after the sale, the same buyers count ordering one seat of each of three tiers
 *                               (issue #12 bench b) [FLASH_THREE_TIER]              default on
 *   --multi-tier                the same as --three-tier on
 *   --promo                     after the sale, the same buyers count on a fresh tier of --seats seats, every buyer
 *                               applying one code of max_uses 100 (issue #12 bench a) [FLASH_PROMO=1]  default off
 *   --buyer-limit               after the sale, --limit-buyers buyers sharing --limit-phones phones against
 *                               max_per_buyer 2 (issue #12 bench c) [FLASH_BUYER_LIMIT=1]  default off
 *   --limit-buyers N            buyers of --buyer-limit [FLASH_LIMIT_BUYERS]         default 500
 *   --limit-phones N            phones they share [FLASH_LIMIT_PHONES]               default 50
 *   --issue12                   --multi-tier --promo --buyer-limit together
 *   --keep-state                keep the state, source snapshot and builds in bench/.state/flash-sale (rebuilt each run)
 *   --no-record                 do not append to bench/results/flash-sale.md
 *   --note TEXT                 a note for the results file
 */
import { parseOptions } from "../common.mjs";

export function options() {
  const { values, number, record, note } = parseOptions(import.meta.url, {
    buyers: { type: "string" },
    seats: { type: "string" },
    concurrency: { type: "string" },
    shards: { type: "string" },
    "hold-seconds": { type: "string" },
    "callback-concurrency": { type: "string" },
    "health-requests": { type: "string" },
    warmup: { type: "string" },
    probes: { type: "string" },
    capacity: { type: "string" },
    price: { type: "string" },
    "keep-state": { type: "boolean", default: false },
    "log-level": { type: "string", default: "warn" },
    inspector: { type: "string" },
    direct: { type: "boolean", default: false },
    json: { type: "string" },
    "three-tier": { type: "string" },
    "multi-tier": { type: "boolean", default: false },
    promo: { type: "boolean", default: false },
    "buyer-limit": { type: "boolean", default: false },
    "limit-buyers": { type: "string" },
    "limit-phones": { type: "string" },
    issue12: { type: "boolean", default: false },
  });
  const flag = (name, envName) => values[name] || values.issue12 || process.env[envName] === "1";
  const buyers = number("buyers", "FLASH_BUYERS", 2000, 1);
  const concurrency = number("concurrency", "FLASH_CONCURRENCY", 64, 1);
  const seats = number("seats", "FLASH_SEATS", 500, 1);
  const shards = number("shards", "FLASH_SHARDS", 0, 1) || null;
  return {
    buyers,
    seats,
    shards,
    shardVars: shardVars(seats, shards),
    holdSeconds: Math.min(3600, number("hold-seconds", "FLASH_HOLD_SECONDS", 600, 30)),
    concurrency,
    callbackConcurrency: number("callback-concurrency", "FLASH_CALLBACK_CONCURRENCY", concurrency, 1),
    healthRequests: number("health-requests", "FLASH_HEALTH_REQUESTS", buyers, 1),
    warmup: number("warmup", "FLASH_WARMUP", 200, 0),
    probes: number("probes", "FLASH_PROBES", 50, 0),
    capacity: number("capacity", "FLASH_CAPACITY", 500, 0),
    price: number("price", "FLASH_PRICE", 1000, 1),
    keepState: values["keep-state"],
    logLevel: values["log-level"],
    direct: values.direct || process.env.FLASH_DIRECT === "1",
    json: values.json,
    inspector: (() => {
      const value = values.inspector ?? process.env.FLASH_INSPECTOR ?? "on";
      if (value !== "on" && value !== "off") throw new Error("--inspector must be on or off");
      return value;
    })(),
    threeTier: (() => {
      if (values["multi-tier"] || values.issue12) return true;
      const value = values["three-tier"] ?? process.env.FLASH_THREE_TIER ?? "on";
      if (value !== "on" && value !== "off") throw new Error("--three-tier must be on or off");
      return value === "on";
    })(),
    promo: flag("promo", "FLASH_PROMO"),
    buyerLimit: flag("buyer-limit", "FLASH_BUYER_LIMIT"),
    limitBuyers: number("limit-buyers", "FLASH_LIMIT_BUYERS", 500, 1),
    limitPhones: number("limit-phones", "FLASH_LIMIT_PHONES", 50, 1),
    record,
    note,
  };
}

/**
 * The dev server's TIER_SHARD_* vars for `--shards N` (none without it: wrangler.toml's). A
 * tier's layout is decided when its object is first touched, from its allocation, so these
 * shard the sale tier (and every tier at least as large) into exactly N objects.
 */
export function shardVars(seats, shards) {
  if (shards === null) return {};
  if (shards === 1) return { TIER_SHARD_THRESHOLD: String(2 ** 31 - 1) };
  return {
    TIER_SHARD_THRESHOLD: String(seats),
    TIER_SHARD_SEATS: String(Math.ceil(seats / shards)),
    TIER_SHARD_MAX: String(shards),
  };
}
