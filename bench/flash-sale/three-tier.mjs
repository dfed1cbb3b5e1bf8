/**
 * Issue #12's bench (b): orders of three tiers. After the single-tier sale (and its callbacks),
 * `--buyers` more distinct guests each POST ONE initiate/ with `items` of one seat of each of
 * the three tiers of a separate event (`--seats` seats each), `--concurrency` in flight; every
 * accepted order's push is then paid. Read back from the public event detail (D1's copy of
 * each tier's object counts, written in the same request as the hold or sale):
 *   - oversold per tier: sold + held − allocation, must be ≤ 0;
 *   - partial orders: every accepted order holds one seat of EACH tier and a refused one none,
 *     so each tier's sold + held must equal the accepted count; the largest difference is the
 *     number of orders that got some but not all tiers (target 0);
 *   - purchases per second against the single-tier sale of the same run (target ≥ 0.5).
 */
import { fmt, log, step } from "../common.mjs";
import { buyer } from "../flash-sale-data.mjs";
import { pool, requestJson } from "../http-json.mjs";
import { sendCallback } from "./checkout-api.mjs";
import { waitForQuiet, withServerCpu } from "./cpu.mjs";

export const TARGET_THREE_TIER_RATIO = 0.5;

function classify(r) {
  if (r.status === 202 && r.json?.order_id && r.json?.checkout_request_id) return "accepted";
  if (r.status === 409 && r.json?.code === "sold_out") return "soldOut";
  return "error";
}

export async function threeTierPhase(server, agent, opts, data, daraja) {
  await waitForQuiet(server, { maxMs: 60_000 });
  const tierIds = data.multiTiers.map((t) => t.id);
  step(
    `Three-tier orders: ${opts.buyers} buyers, 3 tiers × ${opts.seats} seats, ${opts.concurrency} in flight`,
  );
  const sale = await withServerCpu(
    server,
    () =>
      pool(opts.buyers, opts.concurrency, async (i) => {
        const b = buyer(i, "multi");
        const r = await requestJson(agent, {
          method: "POST",
          url: `${server.baseUrl}/api/pay/initiate/`,
          body: {
            items: tierIds.map((tier_id) => ({ tier_id, quantity: 1 })),
            phone_number: b.phone,
            email: b.email,
            name: b.name,
          },
        });
        return { ...r, i, buyer: b, kind: classify(r) };
      }),
    (r) => r.results.length,
  );
  const accepted = sale.results.filter((r) => r.kind === "accepted");
  const counts = { accepted: accepted.length, soldOut: 0, error: 0 };
  for (const r of sale.results) if (r.kind !== "accepted") counts[r.kind]++;
  log(
    `  ${counts.accepted} accepted, ${counts.soldOut} sold out, ${counts.error} errors in ${fmt(sale.seconds, 2)} s`,
  );
  const wrongAmount = accepted.filter((r) => r.json.amount !== 3 * opts.price).length;

  // Receipts of their own: the sale's salt is below 70,000 and the probes use 7 and 9; a
  // repeated receipt would (rightly) be flagged as a replay and its seats returned.
  const salt = 70_001 + Math.floor(Math.random() * 1000);
  const paid = await pool(accepted.length, opts.callbackConcurrency, async (k) => {
    const push = daraja.state.pushesByPhone.get(accepted[k].buyer.normalizedPhone);
    if (!push) return false;
    const r = await sendCallback(agent, push, k, salt);
    return r.status === 200;
  });

  const detail = await requestJson(agent, { url: `${server.baseUrl}/api/events/${data.multiEvent.id}/` });
  const tiers = tierIds.map((id) => {
    const t = detail.json?.tiers?.find((x) => x.id === id);
    const sold = t?.quantity_sold ?? Number.NaN;
    const committed = t ? t.quantity_allocated - t.available_qty : Number.NaN;
    return { name: t?.name ?? id, sold, committed, oversold: committed - opts.seats };
  });
  const partial = Math.max(...tiers.map((t) => Math.abs(t.committed - accepted.length)));
  return {
    ...counts,
    seconds: sale.seconds,
    cpu: sale.cpu,
    perSecond: accepted.length / sale.seconds,
    wrongAmount,
    callbacksOk: paid.results.filter(Boolean).length,
    tiers,
    partial,
    errorSamples: sale.results
      .filter((r) => r.kind === "error")
      .slice(0, 3)
      .map((r) => `${r.status} ${r.text?.slice(0, 200) ?? ""}`),
  };
}

/** The three-tier figures as Markdown lines for the results file. */
export function threeTierText(three, sale) {
  if (!three) return "";
  if (three.failed) return `\nThree-tier orders (issue #12 b): failed: ${three.failed}\n`;
  const single = sale ? sale.results.filter((r) => r.kind === "accepted").length / sale.seconds : Number.NaN;
  const ratio = three.perSecond / single;
  const oversold = three.tiers.map((t) => `${t.name} ${Math.max(0, t.oversold)}`).join(", ");
  return [
    "",
    "Three-tier orders (issue #12 bench b: one seat of each of three tiers per order, same buyers count and concurrency, after the single-tier sale):",
    "",
    "| Figure | Value | Target |",
    "| --- | ---: | --- |",
    `| Accepted (202) / sold out (409) / errors | ${three.accepted} / ${three.soldOut} / ${three.error} |  |`,
    `| **Oversold per tier** | **${oversold}** | 0: ${three.tiers.every((t) => t.oversold <= 0) ? "met" : "**missed**"} |`,
    `| **Orders with some but not all tiers** | **${three.partial}** | 0: ${three.partial === 0 ? "met" : "**missed**"} |`,
    `| Seats per tier held + sold after the callbacks | ${three.tiers.map((t) => `${t.name} ${t.committed} (sold ${t.sold})`).join(", ")} | = accepted |`,
    `| Accepted orders whose amount ≠ 3 × price | ${three.wrongAmount} | 0 |`,
    `| Callbacks answered 200 | ${three.callbacksOk} of ${three.accepted} |  |`,
    `| Purchases per second, three-tier / single-tier (same run) | ${fmt(three.perSecond, 1)} / ${fmt(single, 1)} = **${fmt(ratio, 2)}** | ≥ ${TARGET_THREE_TIER_RATIO}: ${ratio >= TARGET_THREE_TIER_RATIO ? "met" : "**missed**"} |`,
    ...(three.errorSamples.length > 0 ? ["", `Error samples: ${three.errorSamples.join(" · ")}`] : []),
    "",
  ].join("\n");
}
