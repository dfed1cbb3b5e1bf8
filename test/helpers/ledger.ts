/**
 * The ledger recomputed from scratch (contract §17: every entry is reproducible from orders,
 * refunds and payouts), for test/ledger-recompute.test.ts and test/demo-seed.test.ts. Only
 * orders, refunds, events and payouts are read, never the ledger, except to compare.
 */
import { env } from "cloudflare:workers";

/** What the Worker ran with: PLATFORM_FEE_PERCENT and PAYOUT_HOLD_DAYS (in ms). */
export interface LedgerRules {
  feePercent: number;
  holdMs: number;
}

export interface Recomputed {
  available: number;
  pending: number;
  pendingPayouts: number;
  earned: number;
  sales: number;
  fees: number;
  refunds: number;
  payouts: number;
  reversed: number;
}

/** From orders, refunds, events and payouts only: the ledger is never read here. */
export async function recompute(organizerId: string, now: number, rules: LedgerRules): Promise<Recomputed> {
  const orders = await env.DB.prepare(
    `SELECT o.id, o.amount, e.end_datetime AS end_at, e.status AS event_status,
       (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.order_id = o.id AND r.status = 'COMPLETED') AS refunded
     FROM orders o JOIN events e ON e.id = o.event_id
     WHERE e.organizer_id = ? AND o.status = 'COMPLETED' AND o.amount > 0`,
  )
    .bind(organizerId)
    .all<{ id: string; amount: number; end_at: number; event_status: string; refunded: number }>();
  const result: Recomputed = {
    available: 0,
    pending: 0,
    pendingPayouts: 0,
    earned: 0,
    sales: 0,
    fees: 0,
    refunds: 0,
    payouts: 0,
    reversed: 0,
  };
  for (const order of orders.results) {
    const fee = Math.floor((order.amount * rules.feePercent) / 100);
    const net = order.amount - fee - order.refunded;
    result.sales += order.amount;
    result.fees += fee;
    result.refunds += order.refunded;
    result.earned += net;
    if (order.event_status !== "CANCELLED" && order.end_at + rules.holdMs <= now) result.available += net;
    else result.pending += net;
  }
  const payouts = await env.DB.prepare("SELECT amount, status FROM payouts WHERE organizer_id = ?")
    .bind(organizerId)
    .all<{ amount: number; status: string }>();
  for (const payout of payouts.results) {
    result.payouts += payout.amount;
    if (payout.status === "FAILED") result.reversed += payout.amount;
    else result.available -= payout.amount;
    if (payout.status === "PENDING" || payout.status === "SENT") result.pendingPayouts += payout.amount;
  }
  return result;
}

export interface Entry {
  dedupe_key: string;
  type: string;
  amount: number;
  status: string;
}

const byKey = (a: Entry, b: Entry) =>
  a.dedupe_key < b.dedupe_key ? -1 : a.dedupe_key > b.dedupe_key ? 1 : 0;

/**
 * The entries the ledger must hold, from orders, refunds, events and payouts only: a SALE
 * (and a FEE) per COMPLETED paid order, a REFUND per COMPLETED refund of such an order (a
 * refunded PAID_UNFULFILLED payment was never a sale), a PAYOUT per payout in its state
 * (PENDING until M-Pesa settles it) and a PAYOUT_REVERSED per FAILED payout.
 */
export async function expectedEntries(organizerId: string, rules: LedgerRules): Promise<Entry[]> {
  const orders = await env.DB.prepare(
    `SELECT o.id, o.amount FROM orders o JOIN events e ON e.id = o.event_id
     WHERE e.organizer_id = ? AND o.status = 'COMPLETED' AND o.amount > 0`,
  )
    .bind(organizerId)
    .all<{ id: string; amount: number }>();
  const refunds = await env.DB.prepare(
    `SELECT r.id, r.amount FROM refunds r JOIN orders o ON o.id = r.order_id JOIN events e ON e.id = o.event_id
     WHERE e.organizer_id = ? AND r.status = 'COMPLETED' AND o.status = 'COMPLETED' AND o.amount > 0`,
  )
    .bind(organizerId)
    .all<{ id: string; amount: number }>();
  const payouts = await env.DB.prepare("SELECT id, amount, status FROM payouts WHERE organizer_id = ?")
    .bind(organizerId)
    .all<{ id: string; amount: number; status: string }>();
  const entries: Entry[] = [];
  for (const order of orders.results) {
    entries.push({ dedupe_key: `sale:${order.id}`, type: "SALE", amount: order.amount, status: "COMPLETED" });
    const fee = Math.floor((order.amount * rules.feePercent) / 100);
    if (fee > 0)
      entries.push({ dedupe_key: `fee:${order.id}`, type: "FEE", amount: -fee, status: "COMPLETED" });
  }
  for (const refund of refunds.results) {
    entries.push({
      dedupe_key: `refund:${refund.id}`,
      type: "REFUND",
      amount: -refund.amount,
      status: "COMPLETED",
    });
  }
  for (const payout of payouts.results) {
    const status = payout.status === "SENT" ? "PENDING" : payout.status;
    entries.push({ dedupe_key: `payout:${payout.id}`, type: "PAYOUT", amount: -payout.amount, status });
    if (payout.status === "FAILED") {
      entries.push({
        dedupe_key: `payout_reversed:${payout.id}`,
        type: "PAYOUT_REVERSED",
        amount: payout.amount,
        status: "COMPLETED",
      });
    }
  }
  return entries.sort(byKey);
}

export async function ledgerEntriesOf(organizerId: string): Promise<Entry[]> {
  const rows = await env.DB.prepare(
    "SELECT dedupe_key, type, amount, status FROM ledger_entries WHERE organizer_id = ?",
  )
    .bind(organizerId)
    .all<Entry>();
  return rows.results.sort(byKey);
}

/** Entry by entry, then the sums: what differs between the ledger and the recomputation. */
export async function ledgerDifferences(
  organizerId: string,
  now: number,
  rules: LedgerRules,
): Promise<string[]> {
  const expected = await expectedEntries(organizerId, rules);
  const actual = await ledgerEntriesOf(organizerId);
  const show = (e: Entry) => `${e.type} ${e.amount} ${e.status} (${e.dedupe_key})`;
  const wanted = new Map(expected.map((e) => [e.dedupe_key, show(e)]));
  const found = new Map(actual.map((e) => [e.dedupe_key, show(e)]));
  const out: string[] = [];
  for (const [key, entry] of wanted) {
    if (found.get(key) !== entry) out.push(`expected ${entry}, ledger has ${found.get(key) ?? "nothing"}`);
  }
  for (const [key, entry] of found) if (!wanted.has(key)) out.push(`ledger has unexplained ${entry}`);
  if (actual.length !== found.size) out.push("ledger has two entries with one dedupe_key");
  const recomputed = await recompute(organizerId, now, rules);
  const sums = await ledgerSums(organizerId);
  const pairs: Array<[string, number, number]> = [
    ["SALE", sums.SALE ?? 0, recomputed.sales],
    ["FEE", -(sums.FEE ?? 0), recomputed.fees],
    ["REFUND", -(sums.REFUND ?? 0), recomputed.refunds],
    ["PAYOUT", -(sums.PAYOUT ?? 0), recomputed.payouts],
    ["PAYOUT_REVERSED", sums.PAYOUT_REVERSED ?? 0, recomputed.reversed],
  ];
  for (const [type, ledger, recomputedSum] of pairs) {
    if (ledger !== recomputedSum) out.push(`Σ ${type}: ledger ${ledger}, recomputed ${recomputedSum}`);
  }
  return out;
}

export async function ledgerSums(organizerId: string): Promise<Record<string, number>> {
  const rows = await env.DB.prepare(
    "SELECT type, SUM(amount) AS total FROM ledger_entries WHERE organizer_id = ? GROUP BY type",
  )
    .bind(organizerId)
    .all<{ type: string; total: number }>();
  return Object.fromEntries(rows.results.map((r) => [r.type, r.total]));
}
