/**
 * Single statements timed inside the local D1 simulator (`wrangler d1 execute --local
 * --file`, `meta.duration`, 1 ms resolution): what one D1 call costs the simulator itself.
 */
import path from "node:path";
import { performance } from "node:perf_hooks";
import { d1File } from "../common.mjs";
import { stats } from "../load.mjs";
import { ROOT_DIR, TARGET } from "./layout.mjs";

export async function simulatorTiming(data) {
  const lines = [];
  for (let k = 0; k < 5; k++) {
    lines.push("SELECT 1;");
    lines.push(
      `INSERT INTO idempotency_keys (scope, key, request_hash, expires_at) VALUES ('bench', 'k${k}', 'h', 0);`,
    );
    lines.push(
      `UPDATE tiers SET quantity_held = quantity_held, inventory_version = inventory_version WHERE id = '${data.probeTier.id}';`,
    );
    lines.push(`SELECT * FROM orders WHERE checkout_request_id = 'none-${k}';`);
  }
  lines.push("DELETE FROM idempotency_keys WHERE scope = 'bench';");
  const started = performance.now();
  const json =
    (await d1File(TARGET, path.join(ROOT_DIR, "timing.sql"), `${lines.join("\n")}\n`, { json: true })) ?? [];
  const commandMs = performance.now() - started;
  const durations = json.map((r) => Number(r.meta?.duration ?? Number.NaN));
  const pick = (offset) => durations.filter((_, i) => i < 20 && i % 4 === offset);
  return {
    select1: stats(pick(0)),
    insert: stats(pick(1)),
    update: stats(pick(2)),
    lookup: stats(pick(3)),
    commandMs,
  };
}
