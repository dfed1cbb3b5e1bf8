/**
 * Issue #12's bench (a): the sale again, with a promo code. `--buyers` more distinct guests
 * POST initiate/ for one seat of a separate `--seats`-seat tier, EVERY one applying the same
 * code (`FLASH100`, 20 % off, `max_uses` 100), `--concurrency` in flight; every accepted
 * order's push is then paid. A code with no use left answers 409 `promo_exhausted` (§12.3:
 * k = 0 because of max_uses), so at most 100 buyers can be accepted. Reported:
 *   - discounted seats on paid orders (read back from D1 after the server stopped), ≤ 100;
 *   - oversold: sold + held − allocation (public event detail), ≤ 0;
 *   - purchases per second against the no-code sale of the same run (target ≥ 0.8), over
 *     each run's purchase window (first request to the last 202: the promo run can only
 *     accept 100, so its whole-phase rate would measure the refusals), and answers per second
 *     of the whole phase, each against the no-code sale.
 */
import { d1Query } from "../../scripts/wrangler.mjs";
import { fmt, log, step } from "../common.mjs";
import { buyer } from "../flash-sale-data.mjs";
import { pool, requestJson } from "../http-json.mjs";
import { sendCallback } from "./checkout-api.mjs";
import { waitForQuiet, withServerCpu } from "./cpu.mjs";
import { TARGET } from "./layout.mjs";

export const TARGET_PROMO_RATIO = 0.8;

function classify(r) {
  if (r.status === 202 && r.json?.order_id && r.json?.checkout_request_id) return "accepted";
  if (r.status === 409 && r.json?.code === "promo_exhausted") return "exhausted";
  if (r.status === 409 && r.json?.code === "sold_out") return "soldOut";
  return "error";
}

/** A distinct private address per buyer (`cf-connecting-ip`, and `x-real-ip` should the runtime drop it). */
const buyerAddress = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/**
 * Accepted purchases per second from the phase's start to its `count`-th 202 (default: the
 * last). With `count`, two phases that accepted different numbers are compared like for like:
 * the promo run can sell only 100, and a 100-purchase window carries the same start-up and
 * last-answer latency as a 500-purchase one, so against the whole no-code window it pays that
 * latency five times over whatever the code costs.
 */
export function windowRate(phase, count) {
  const ends = phase.results
    .filter((r) => r.kind === "accepted")
    .map((r) => r.endedAt)
    .sort((a, b) => a - b);
  const n = Math.min(count ?? ends.length, ends.length);
  if (n === 0) return Number.NaN;
  return n / ((ends[n - 1] - phase.startedAt) / 1000);
}

export async function promoPhase(server, agent, opts, data, daraja) {
  await waitForQuiet(server, { maxMs: 60_000 });
  const code = data.promoCode;
  step(
    `Promo code sale: ${opts.buyers} buyers, ${opts.seats} seats, every buyer applying ${code.code} (max_uses ${code.max_uses}), ${opts.concurrency} in flight`,
  );
  const sale = await withServerCpu(
    server,
    () =>
      pool(opts.buyers, opts.concurrency, async (i) => {
        const b = buyer(i, "promo");
        const r = await requestJson(agent, {
          method: "POST",
          url: `${server.baseUrl}/api/pay/initiate/`,
          // 2,000 fans are 2,000 addresses: the code's attempt limit (§12.4, 10 a minute per
          // address and event, reserved while the code is looked up) is not what is measured.
          headers: { "cf-connecting-ip": buyerAddress(i), "x-real-ip": buyerAddress(i) },
          body: {
            tier_id: data.promoTier.id,
            phone_number: b.phone,
            quantity: 1,
            email: b.email,
            name: b.name,
            promo_code: code.code.toLowerCase(),
          },
        });
        return { ...r, i, buyer: b, kind: classify(r) };
      }),
    (r) => r.results.length,
  );
  const accepted = sale.results.filter((r) => r.kind === "accepted");
  const counts = { accepted: accepted.length, exhausted: 0, soldOut: 0, error: 0 };
  for (const r of sale.results) if (r.kind !== "accepted") counts[r.kind]++;
  log(
    `  ${counts.accepted} accepted, ${counts.exhausted} promo_exhausted, ${counts.soldOut} sold out, ${counts.error} errors in ${fmt(sale.seconds, 2)} s`,
  );
  const discounted = (opts.price * code.value) / 100;
  const wrongAmount = accepted.filter(
    (r) => r.json.discount !== discounted || r.json.amount !== opts.price - discounted,
  ).length;

  // Receipts of their own (see three-tier.mjs for the ranges the other phases use).
  const salt = 72_001 + Math.floor(Math.random() * 1000);
  const paid = await pool(accepted.length, opts.callbackConcurrency, async (k) => {
    const push = daraja.state.pushesById.get(accepted[k].json.checkout_request_id);
    if (!push) return false;
    const r = await sendCallback(agent, push, k, salt);
    return r.status === 200 ? true : `${r.status} ${r.text?.slice(0, 160) ?? r.error ?? ""}`;
  });

  const detail = await requestJson(agent, { url: `${server.baseUrl}/api/events/${data.promoEvent.id}/` });
  const t = detail.json?.tiers?.find((x) => x.id === data.promoTier.id);
  const committed = t ? t.quantity_allocated - t.available_qty : Number.NaN;
  return {
    ...counts,
    seconds: sale.seconds,
    startedAt: sale.startedAt,
    results: sale.results.map(({ kind, endedAt }) => ({ kind, endedAt })),
    cpu: sale.cpu,
    wrongAmount,
    callbacksOk: paid.results.filter((r) => r === true).length,
    callbackSamples: paid.results.filter((r) => typeof r === "string").slice(0, 3),
    sold: t?.quantity_sold ?? Number.NaN,
    committed,
    oversold: committed - opts.seats,
    errorSamples: sale.results
      .filter((r) => r.kind === "error")
      .slice(0, 3)
      .map((r) => `${r.status} ${r.text?.slice(0, 200) ?? ""}`),
  };
}

/** After the server stopped: what paid orders carry, from D1 (the record, not an answer). */
export async function promoReadBack(data) {
  const rows = await d1Query(
    TARGET,
    `SELECT status, COUNT(*) AS orders, SUM(quantity) AS seats, SUM(discounted_seats) AS discounted, SUM(discount) AS discount
     FROM orders WHERE tier_id = '${data.promoTier.id}' GROUP BY status ORDER BY status`,
  );
  const [tickets] = await d1Query(
    TARGET,
    `SELECT COUNT(*) AS n FROM tickets WHERE tier_id = '${data.promoTier.id}' AND status <> 'CANCELLED'`,
  );
  const completed = rows.find((r) => r.status === "COMPLETED");
  return {
    byStatus: rows,
    discountedPaid: Number(completed?.discounted ?? 0),
    discountPaid: Number(completed?.discount ?? 0),
    tickets: Number(tickets?.n ?? 0),
  };
}

/** The promo figures as Markdown lines for the results file. */
export function promoText(promo, sale, back, maxUses) {
  if (!promo) return "";
  if (promo.failed) return `\nPromo code sale (issue #12 a): failed: ${promo.failed}\n`;
  const saleAccepted = sale.results.filter((r) => r.kind === "accepted").length;
  const noCodeWindow = windowRate(sale);
  const promoWindow = windowRate(promo);
  const wholeRatio = promoWindow / noCodeWindow;
  // The target is judged like for like: the no-code sale's first as many purchases.
  const noCodeSameCount = windowRate(sale, promo.accepted);
  const ratio = promoWindow / noCodeSameCount;
  const answers = promo.results.length / promo.seconds;
  const noCodeAnswers = sale.results.length / sale.seconds;
  const discounted = back?.discountedPaid ?? Number.NaN;
  return [
    "",
    `Promo code sale (issue #12 bench a: the same buyers count, seats and concurrency, every buyer applying one code of max_uses ${maxUses}, after the no-code sale):`,
    "",
    "| Figure | Value | Target |",
    "| --- | ---: | --- |",
    `| Accepted (202) / promo_exhausted (409) / sold out / errors | ${promo.accepted} / ${promo.exhausted} / ${promo.soldOut} / ${promo.error} |  |`,
    `| **Discounted seats on paid orders** (D1) | **${discounted}** | ≤ ${maxUses}: ${discounted <= maxUses ? "met" : "**missed**"} |`,
    `| **Oversold** (sold + held − allocation) | **${Math.max(0, promo.oversold)}** | 0: ${promo.oversold <= 0 ? "met" : "**missed**"} |`,
    `| Seats held + sold after the callbacks / tickets issued | ${promo.committed} (sold ${promo.sold}) / ${back?.tickets ?? "n/a"} | = accepted |`,
    `| Accepted orders whose discount or amount is not 20 % off | ${promo.wrongAmount} | 0 |`,
    `| Callbacks answered 200 | ${promo.callbacksOk} of ${promo.accepted} |  |`,
    `| Purchases per second, code / no code over the same number of purchases (the no-code sale to its ${promo.accepted}th 202; same run) | ${fmt(promoWindow, 1)} / ${fmt(noCodeSameCount, 1)} = **${fmt(ratio, 2)}** | ≥ ${TARGET_PROMO_RATIO}: ${ratio >= TARGET_PROMO_RATIO ? "met" : "**missed**"} |`,
    `| Purchases per second, code / no code over each run's whole purchase window (${promo.accepted} against ${saleAccepted} purchases) | ${fmt(promoWindow, 1)} / ${fmt(noCodeWindow, 1)} = ${fmt(wholeRatio, 2)} |  |`,
    `| Answers per second, whole phase, code / no code | ${fmt(answers, 1)} / ${fmt(noCodeAnswers, 1)} = ${fmt(answers / noCodeAnswers, 2)} |  |`,
    `| No-code sale for reference: accepted | ${saleAccepted} |  |`,
    ...(promo.errorSamples.length > 0 ? ["", `Error samples: ${promo.errorSamples.join(" · ")}`] : []),
    ...(promo.callbackSamples.length > 0
      ? ["", `Callback failures: ${promo.callbackSamples.join(" · ")}`]
      : []),
    "",
  ].join("\n");
}
