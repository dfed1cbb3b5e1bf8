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
 *     Worker and each reserve call's (p50 / p99 / max, workerd's clock, which moves with I/O), and the tier's counts read back from every object (oversold: held + sold above
 *     the allocation, for the tier and for any one shard), and the calls the Worker made per
 *     admitted hold: in all and on the busiest object (a shard's calls to its siblings, when
 *     it borrows, are not counted). On Cloudflare each object has its own thread, so the
 *     busiest object's calls per hold, not the total, bound a tier's holds per second.
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

/**
 * The namespace as the client sees it, counting every call made on each object's stub (by
 * the object's name). Nothing else changes: the same stubs, the same arguments.
 */
function counting(
  namespace: DurableObjectNamespace<TierInventory>,
  counts: Map<string, number>,
): DurableObjectNamespace<TierInventory> {
  const names = new Map<string, string>();
  return new Proxy(namespace, {
    get(target, prop) {
      if (prop === "idFromName") {
        return (name: string) => {
          const id = target.idFromName(name);
          names.set(id.toString(), name);
          return id;
        };
      }
      if (prop === "get") {
        return (id: DurableObjectId) => {
          const stub = target.get(id);
          const name = names.get(id.toString()) ?? id.toString();
          return new Proxy(stub, {
            get(s, method) {
              const value = Reflect.get(s, method);
              if (typeof method !== "string" || typeof value !== "function") return value;
              return (...args: unknown[]) => {
                counts.set(name, (counts.get(name) ?? 0) + 1);
                return Reflect.apply(value, s, args);
              };
            },
          });
        };
      }
      const value = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

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

/** A reserve still unanswered after this long is counted as an error (and the run goes on). */
const CALL_TIMEOUT_MS = 60_000;

function withTimeout<T>(call: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${CALL_TIMEOUT_MS / 1000} s`)),
      CALL_TIMEOUT_MS,
    );
  });
  return Promise.race([call, late]).finally(() => clearTimeout(timer));
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
  const counts = new Map<string, number>();
  const tier = tierInventory(counting(env.TIER_INVENTORY, counts), tierId);
  // The layout is decided by this first touch (the seed's `shards` stands for the size rule).
  await tier.snapshot({ allocation: seats, sold: 0, tierId, shards });
  const layout = await env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tierId}`)).layout();

  counts.clear();
  let next = 0;
  let admitted = 0;
  let soldOut = 0;
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const started = Date.now();
  await Promise.all(
    Array.from({ length: Math.min(conc, holds) }, async () => {
      for (let i = next++; i < holds; i = next++) {
        const began = Date.now();
        try {
          const answer = await withTimeout(
            tier.reserve(
              `o${i}`,
              1,
              HOLD_MS,
              undefined,
              [`email:b${i}@example.com`, `phone:2547${String(i).padStart(8, "0")}`],
              limit,
            ),
          );
          latencies.push(Date.now() - began);
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
  const calls = [...counts.values()];
  latencies.sort((a, b) => a - b);
  const at = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;

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
    latencyMs: { p50: at(50), p99: at(99), max: latencies.at(-1) ?? 0 },
    counts: total,
    shardAllocations: each.map((s) => s.allocation),
    heldMatchesAdmitted: total.held === admitted,
    callsPerHold: calls.reduce((n, c) => n + c, 0) / Math.max(1, admitted),
    busiestCallsPerHold: Math.max(0, ...calls) / Math.max(1, admitted),
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
