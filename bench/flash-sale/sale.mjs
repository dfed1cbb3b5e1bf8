/**
 * The sale: `--buyers` distinct guest buyers POST /api/pay/initiate/ (quantity 1) for the
 * sale tier, `--concurrency` in flight; each answer is classified (checkout-api.mjs).
 */
import { fmt, log, step } from "../common.mjs";
import { buyer } from "../flash-sale-data.mjs";
import { pool } from "../http-json.mjs";
import { classify, initiate } from "./checkout-api.mjs";
import { waitForQuiet, withServerCpu } from "./cpu.mjs";

export async function salePhase(server, agent, opts, data) {
  await waitForQuiet(server, { maxMs: 60_000 });
  step(`The sale: ${opts.buyers} buyers, ${opts.seats} seats, ${opts.concurrency} in flight`);
  const tierId = data.saleTier.id;
  const sale = await withServerCpu(
    server,
    () =>
      pool(opts.buyers, opts.concurrency, async (i) => {
        const b = buyer(i, "sale");
        const r = await initiate(agent, server, tierId, b);
        return { ...r, i, buyer: b, kind: classify(r) };
      }),
    (r) => r.results.length,
  );
  sale.tierId = tierId;
  const counts = { accepted: 0, soldOut: 0, error: 0 };
  for (const r of sale.results) counts[r.kind]++;
  log(
    `  ${counts.accepted} accepted, ${counts.soldOut} sold out, ${counts.error} errors in ${fmt(sale.seconds, 2)} s`,
  );
  return sale;
}

/** The sale's accepted purchases, in buyer order. */
export const acceptedOf = (sale) => sale.results.filter((r) => r.kind === "accepted");
