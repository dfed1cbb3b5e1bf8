/**
 * Issue #12's bench (c): scalpers with many email addresses and few phones. `--limit-buyers`
 * guests (distinct names and emails) share `--limit-phones` M-Pesa numbers (buyer i uses
 * phone i mod phones) and POST initiate/ for one or two seats (alternately) of a tier with
 * `max_per_buyer` 2, `--concurrency` in flight. A buyer is any of account, email and phone
 * (§15.2), so each phone may end up with at most 2 seats. Every accepted order's push is then
 * paid, including orders a later initiate from the same phone replaced (§11.4): those arrive
 * as late payments and must re-reserve within the limit or become PAID_UNFULFILLED.
 * Reported (D1 after the server stopped): seats of COMPLETED orders per phone (max, and
 * phones above 2: must be 0), orders completed / paid-unfulfilled, refusals by code.
 */
import { d1Query } from "../../scripts/wrangler.mjs";
import { fmt, log, step } from "../common.mjs";
import { buyer } from "../flash-sale-data.mjs";
import { pool, requestJson } from "../http-json.mjs";
import { sendCallback } from "./checkout-api.mjs";
import { waitForQuiet, withServerCpu } from "./cpu.mjs";
import { TARGET } from "./layout.mjs";

export const MAX_PER_BUYER = 2;

/** Buyer i of the phase: their own name and email, one of `phones` numbers. */
function limitBuyer(i, phones) {
  const own = buyer(i, "limit");
  const phone = `0744${String(i % phones).padStart(6, "0")}`;
  return { ...own, phone, normalizedPhone: `254${phone.slice(1)}` };
}

function classify(r) {
  if (r.status === 202 && r.json?.order_id && r.json?.checkout_request_id) return "accepted";
  if (r.status === 409 && r.json?.code === "buyer_limit") return "buyerLimit";
  if (r.status === 409 && r.json?.code === "sold_out") return "soldOut";
  if (r.status === 429) return "rateLimited";
  return "error";
}

export async function buyerLimitPhase(server, agent, opts, data, daraja) {
  await waitForQuiet(server, { maxMs: 60_000 });
  const { limitBuyers: total, limitPhones: phones } = opts;
  step(
    `Buyer limit: ${total} buyers on ${phones} phones, max_per_buyer ${MAX_PER_BUYER}, ${opts.concurrency} in flight`,
  );
  const sale = await withServerCpu(
    server,
    () =>
      pool(total, opts.concurrency, async (i) => {
        const b = limitBuyer(i, phones);
        const quantity = 1 + (i % 2);
        const r = await requestJson(agent, {
          method: "POST",
          url: `${server.baseUrl}/api/pay/initiate/`,
          body: { tier_id: data.limitTier.id, phone_number: b.phone, quantity, email: b.email, name: b.name },
        });
        return { ...r, i, quantity, buyer: b, kind: classify(r) };
      }),
    (r) => r.results.length,
  );
  const accepted = sale.results.filter((r) => r.kind === "accepted");
  const counts = { accepted: accepted.length, buyerLimit: 0, soldOut: 0, rateLimited: 0, error: 0 };
  for (const r of sale.results) if (r.kind !== "accepted") counts[r.kind]++;
  log(
    `  ${counts.accepted} accepted, ${counts.buyerLimit} buyer_limit, ${counts.soldOut} sold out, ${counts.rateLimited} rate limited, ${counts.error} errors in ${fmt(sale.seconds, 2)} s`,
  );

  // Pay every push, the replaced orders' too (they settle as late payments).
  const salt = 74_001 + Math.floor(Math.random() * 1000);
  const paid = await pool(accepted.length, opts.callbackConcurrency, async (k) => {
    const push = daraja.state.pushesById.get(accepted[k].json.checkout_request_id);
    if (!push) return false;
    const r = await sendCallback(agent, push, k, salt);
    return r.status === 200 ? true : `${r.status} ${r.text?.slice(0, 160) ?? r.error ?? ""}`;
  });
  return {
    ...counts,
    buyers: total,
    phones,
    seconds: sale.seconds,
    cpu: sale.cpu,
    callbacksOk: paid.results.filter((r) => r === true).length,
    callbackSamples: paid.results.filter((r) => r !== true).slice(0, 3),
    errorSamples: sale.results
      .filter((r) => r.kind === "error")
      .slice(0, 3)
      .map((r) => `${r.status} ${r.text?.slice(0, 200) ?? ""}`),
  };
}

/** After the server stopped: seats per phone on paid orders, from D1. */
export async function buyerLimitReadBack(data) {
  const tier = data.limitTier.id;
  const perPhone = await d1Query(
    TARGET,
    `SELECT COALESCE(paid_phone, phone_number) AS phone, SUM(quantity) AS seats FROM orders
     WHERE tier_id = '${tier}' AND status = 'COMPLETED' GROUP BY 1 ORDER BY seats DESC`,
  );
  const byStatus = await d1Query(
    TARGET,
    `SELECT status, COUNT(*) AS orders, SUM(quantity) AS seats FROM orders WHERE tier_id = '${tier}' GROUP BY status ORDER BY status`,
  );
  const [tickets] = await d1Query(
    TARGET,
    `SELECT COUNT(*) AS n, COUNT(DISTINCT o.phone_number) AS phones FROM tickets t JOIN orders o ON o.id = t.order_id
     WHERE t.tier_id = '${tier}' AND t.status <> 'CANCELLED'`,
  );
  const [counts] = await d1Query(
    TARGET,
    `SELECT quantity_allocated AS allocated, quantity_sold AS sold, quantity_held AS held FROM tiers WHERE id = '${tier}'`,
  );
  const seats = perPhone.map((r) => Number(r.seats));
  return {
    maxPerPhone: seats.length > 0 ? Math.max(...seats) : 0,
    phonesOver: seats.filter((n) => n > MAX_PER_BUYER).length,
    phonesAtLimit: seats.filter((n) => n === MAX_PER_BUYER).length,
    phonesWithSeats: seats.length,
    byStatus,
    tickets: Number(tickets?.n ?? 0),
    tier: counts,
  };
}

/** The buyer-limit figures as Markdown lines for the results file. */
export function buyerLimitText(phase, back) {
  if (!phase) return "";
  if (phase.failed) return `\nBuyer limit (issue #12 c): failed: ${phase.failed}\n`;
  const status = (name) => back?.byStatus.find((r) => r.status === name)?.orders ?? 0;
  return [
    "",
    `Buyer limit (issue #12 bench c: ${phase.buyers} buyers with their own emails sharing ${phase.phones} phones, 1 or 2 seats each, max_per_buyer ${MAX_PER_BUYER}; every push paid, replaced orders too):`,
    "",
    "| Figure | Value | Target |",
    "| --- | ---: | --- |",
    `| Accepted (202) / buyer_limit (409) / sold out / rate limited / errors | ${phase.accepted} / ${phase.buyerLimit} / ${phase.soldOut} / ${phase.rateLimited} / ${phase.error} |  |`,
    `| **Most seats on paid orders for one phone** | **${back?.maxPerPhone ?? "n/a"}** | ≤ ${MAX_PER_BUYER}: ${back && back.maxPerPhone <= MAX_PER_BUYER ? "met" : "**missed**"} |`,
    `| Phones above the limit / at it / with any seat | ${back?.phonesOver ?? "n/a"} / ${back?.phonesAtLimit ?? "n/a"} / ${back?.phonesWithSeats ?? "n/a"} | 0 above |`,
    `| Orders COMPLETED / PAID_UNFULFILLED (late payments of replaced orders, refunded) / PENDING | ${status("COMPLETED")} / ${status("PAID_UNFULFILLED")} / ${status("PENDING")} |  |`,
    `| Tickets issued / tier sold + held / allocation | ${back?.tickets ?? "n/a"} / ${back?.tier ? `${back.tier.sold} + ${back.tier.held}` : "n/a"} / ${back?.tier?.allocated ?? "n/a"} | ≤ ${phase.phones * MAX_PER_BUYER} sold |`,
    `| Callbacks answered 200 | ${phase.callbacksOk} of ${phase.accepted} |  |`,
    `| Initiates per second | ${fmt(phase.buyers / phase.seconds, 1)} |  |`,
    ...(phase.errorSamples.length > 0 ? ["", `Error samples: ${phase.errorSamples.join(" · ")}`] : []),
    ...(phase.callbackSamples.length > 0
      ? ["", `Callback failures: ${phase.callbackSamples.join(" · ")}`]
      : []),
    "",
  ].join("\n");
}
