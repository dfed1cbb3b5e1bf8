/**
 * The sale's data in the fresh local D1: migrations, then one organizer, one published
 * upcoming event with ONE paid tier and a separate probe event (bench/flash-sale-data.mjs),
 * checked by reading the tier back.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { d1Query, PROJECT_ROOT } from "../../scripts/wrangler.mjs";
import { d1File, log, step, wrangler } from "../common.mjs";
import { buildFlashSaleData } from "../flash-sale-data.mjs";
import { ROOT_DIR, STATE_DIR, TARGET } from "./layout.mjs";

export async function seedSale(opts) {
  const started = performance.now();
  step(`Applying migrations to ${path.relative(PROJECT_ROOT, STATE_DIR)}`);
  await wrangler(["d1", "migrations", "apply", "DB", ...TARGET]);
  const data = buildFlashSaleData({ seats: opts.seats, price: opts.price, maxPerOrder: 4 });
  await d1File(TARGET, path.join(ROOT_DIR, "seed.sql"), data.sql);
  const [row] = await d1Query(
    TARGET,
    `SELECT quantity_allocated AS seats, price, max_per_order FROM tiers WHERE id = '${data.saleTier.id}'`,
  );
  if (row?.seats !== opts.seats) throw new Error(`Seeding failed: ${JSON.stringify(row)}`);
  log(
    `✔ Event "${data.saleEvent.title}", tier ${data.saleTier.id}: ${row.seats} seats at ${row.price} KES (max ${row.max_per_order} per order), in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return data;
}
