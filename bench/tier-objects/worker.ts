/**
 * The object-level bench's Worker (issue #15 part 6), started by `npm run bench:tier-objects`
 * (bench/tier-objects.mjs) with `wrangler dev`. It reaches the tier objects exactly as the
 * checkout does, through src/inventory/client.ts, with no HTTP routes, D1 order rows or
 * Daraja in between: what is measured is the seat authority alone.
 *
 *   GET /health                       → 200
 *   GET /run?shards=N&holds=H&conc=C&seats=S&limit=L
 *     a new tier of S seats (default H) laid out as N shards (1 = one object), then H reserve
 *     calls of one seat each, C in flight, each a different buyer (an email and a phone key,
 *     as a guest checkout has) under max_per_buyer L (default 4, so the buyer ledger is on the
 *     path as in a sale). Answers admitted / sold_out / errors, the wall time inside the
 *     Worker, and the tier's counts read back from every object (oversold: held + sold above
 *     the allocation, for the tier and for any one shard).
 */
import { tierInventory } from "../../src/inventory/client";
import { shardName } from "../../src/inventory/shard-names";
import type { TierInventory } from "../../src/inventory/tier-inventory";

export { TierInventory } from "../../src/inventory/tier-inventory";

interface BenchEnv {
  TIER_INVENTORY: DurableObjectNamespace<TierInventory>;
  DB: D1Database;
}

const HOLD_MS = 10 * 60_000;

/** The one table a sharded tier's objects write to (their counts' copy); no row: a no-op. */
let tableReady: Promise<unknown> | null = null;
function ensureTable(db: D1Database) {
  tableReady ??= db
    .prepare(
      "CREATE TABLE IF NOT EXISTS tiers (id TEXT PRIMARY KEY, quantity_sold INTEGER, quantity_held INTEGER, inventory_version INTEGER)",
    )
    .run();
  return tableReady;
}

function int(url: URL, name: string, fallback: number, min: number): number {
  const n = Number(url.searchParams.get(name) ?? fallback);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}`);
  return n;
}

async function run(url: URL, env: BenchEnv): Promise<Response> {
  const shards = int(url, "shards", 1, 1);
  const holds = int(url, "holds", 2000, 1);
  const conc = int(url, "conc", 100, 1);
  const seats = int(url, "seats", holds, 1);
  const limit = int(url, "limit", 4, 1);
  await ensureTable(env.DB);
  const tierId = crypto.randomUUID();
  const tier = tierInventory(env.TIER_INVENTORY, tierId);
  // The layout is decided by this first touch (the seed's `shards` stands for the size rule).
  await tier.snapshot({ allocation: seats, sold: 0, tierId, shards });
  const layout = await env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tierId}`)).layout();

  let next = 0;
  let admitted = 0;
  let soldOut = 0;
  const errors = new Map<string, number>();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(conc, holds) }, async () => {
      for (let i = next++; i < holds; i = next++) {
        try {
          const answer = await tier.reserve(
            `o${i}`,
            1,
            HOLD_MS,
            undefined,
            [`email:b${i}@example.com`, `phone:2547${String(i).padStart(8, "0")}`],
            limit,
          );
          if (answer.ok) admitted++;
          else if (answer.reason === "sold_out") soldOut++;
          else errors.set(answer.reason, (errors.get(answer.reason) ?? 0) + 1);
        } catch (error) {
          const text = error instanceof Error ? error.message : String(error);
          errors.set(text, (errors.get(text) ?? 0) + 1);
        }
      }
    }),
  );
  const ms = Date.now() - started;

  const total = await tier.snapshot();
  const each =
    layout.shards >= 2
      ? await Promise.all(
          Array.from({ length: layout.shards }, (_, i) =>
            env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(shardName(tierId, i))).snapshot(),
          ),
        )
      : [total];
  const oversold =
    Math.max(0, total.held + total.sold - total.allocation) +
    each.reduce((n, s) => n + Math.max(0, s.held + s.sold - s.allocation), 0) +
    Math.max(0, admitted - seats);
  return Response.json({
    shards: layout.shards,
    holds,
    conc,
    seats,
    admitted,
    soldOut,
    errors: Object.fromEntries(errors),
    ms,
    counts: total,
    shardAllocations: each.map((s) => s.allocation),
    heldMatchesAdmitted: total.held === admitted,
    oversold,
  });
}

export default {
  async fetch(request: Request, env: BenchEnv): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname === "/health") return new Response("ok");
    if (url.pathname === "/run") {
      try {
        return await run(url, env);
      } catch (error) {
        return Response.json(
          { error: error instanceof Error ? error.message : String(error) },
          { status: 500 },
        );
      }
    }
    return new Response("not found", { status: 404 });
  },
};
