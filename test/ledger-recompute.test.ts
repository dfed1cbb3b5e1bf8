/**
 * Every ledger entry is reproducible from orders, refunds and payouts (contract §17): after a
 * mixed scenario (sales held and available, a platform fee, partial and full refunds, a
 * cancelled event, payouts completed, reversed and in flight, repeated callbacks), every
 * organizer's balances are recomputed from scratch from those tables alone and compared with
 * the ledger and with what the wallet answers.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TestClient } from "./helpers/client";
import { attemptsOf, b2cCallback, RESULT_PATH, refundOf } from "./helpers/refunds";
import {
  DAY,
  newOrganizer,
  payoutsOf,
  readyOrganizer,
  sale,
  walletOf,
  walletWorld,
  withdrawFrom,
} from "./helpers/wallet";

const FEE_PERCENT = 5;
const HOLD_MS = 2 * DAY;
const vars = { PLATFORM_FEE_PERCENT: String(FEE_PERCENT) };

async function completeRefundsOf(orderId: string) {
  const rows = await env.DB.prepare("SELECT id FROM refunds WHERE order_id = ?")
    .bind(orderId)
    .all<{ id: string }>();
  for (const row of rows.results) {
    for (const attempt of await attemptsOf(row.id)) {
      await new TestClient().post(RESULT_PATH, (await b2cCallback(attempt.id)).body);
    }
  }
}

interface Recomputed {
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
async function recompute(organizerId: string, now: number): Promise<Recomputed> {
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
    const fee = Math.floor((order.amount * FEE_PERCENT) / 100);
    const net = order.amount - fee - order.refunded;
    result.sales += order.amount;
    result.fees += fee;
    result.refunds += order.refunded;
    result.earned += net;
    if (order.event_status !== "CANCELLED" && order.end_at + HOLD_MS <= now) result.available += net;
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

async function ledgerSums(organizerId: string): Promise<Record<string, number>> {
  const rows = await env.DB.prepare(
    "SELECT type, SUM(amount) AS total FROM ledger_entries WHERE organizer_id = ? GROUP BY type",
  )
    .bind(organizerId)
    .all<{ type: string; total: number }>();
  return Object.fromEntries(rows.results.map((r) => [r.type, r.total]));
}

describe("ledger recomputation", () => {
  it("after a mixed scenario, every organizer's balances recomputed from scratch equal the ledger", async () => {
    const world = walletWorld();

    // A: held and available sales with the fee, a partial refund, payouts of every outcome.
    const a = await readyOrganizer(world, undefined, vars);
    const a1 = await sale(world, a, { price: 1000, quantity: 2, endedDaysAgo: 3, vars });
    await sale(world, a, { price: 1500, endedDaysAgo: 10, vars });
    const a3 = await sale(world, a, { price: 777, endedDaysAgo: 5, vars });
    await sale(world, a, { price: 900, vars }); // upcoming: pending
    await sale(world, a, { price: 650, endedDaysAgo: 1, vars }); // inside the hold: pending
    // The same callbacks again (Daraja repeats itself): nothing doubles.
    await new TestClient(world.darajaVars).post(
      "/api/pay/callback/test-callback-token-0123456789abcdef/",
      a1.callback,
    );
    const partial = await refundOf(a.client, { amount: 300 }, a1.orderId);
    expect(partial.status, partial.text).toBe(202);
    const full = await refundOf(a.client, {}, a3.orderId);
    expect(full.status, full.text).toBe(202);
    await world.drain();
    await completeRefundsOf(a1.orderId); // a3's refund stays SENT: not yet money back
    const paidOut = await withdrawFrom(a, 1000);
    const reversed = await withdrawFrom(a, 500);
    expect([paidOut.status, reversed.status]).toEqual([200, 200]);
    await world.drainJobs();
    const [first, second] = await payoutsOf(a.id);
    await new TestClient().post(RESULT_PATH, (await b2cCallback(first?.b2c_request_id ?? "")).body);
    await new TestClient().post(
      RESULT_PATH,
      (await b2cCallback(second?.b2c_request_id ?? "", "failure")).body,
    );
    await new TestClient().post(
      RESULT_PATH,
      (await b2cCallback(second?.b2c_request_id ?? "", "failure")).body,
    );
    expect((await withdrawFrom(a, 200)).status).toBe(200); // left in flight (never drained)

    // B: a cancelled event (its sale refunded in full) beside an available one.
    const b = await readyOrganizer(world, undefined, vars);
    await sale(world, b, { price: 2000, endedDaysAgo: 4, vars });
    const doomed = await sale(world, b, { price: 800, quantity: 3, vars });
    const cancel = await b.client.request("DELETE", `/api/organizer/events/${doomed.eventId}/edit/`);
    expect(cancel.status, cancel.text).toBeLessThan(300);
    await world.drain();
    await completeRefundsOf(doomed.orderId);
    expect((await withdrawFrom(b, 1500)).status).toBe(200);
    await world.drainJobs();
    const [bPayout] = await payoutsOf(b.id);
    await new TestClient().post(RESULT_PATH, (await b2cCallback(bPayout?.b2c_request_id ?? "")).body);

    // C: never activated, one sale.
    const c = await newOrganizer(world, vars);
    await sale(world, c, { price: 450, endedDaysAgo: 6, vars });

    const now = Date.now();
    const organizers = await env.DB.prepare("SELECT id FROM users WHERE role = 'ORGANIZER'").all<{
      id: string;
    }>();
    expect(organizers.results.length).toBeGreaterThanOrEqual(3);
    for (const { id } of organizers.results) {
      const expected = await recompute(id, now);
      const sums = await ledgerSums(id);
      expect(sums.SALE ?? 0, `SALE of ${id}`).toBe(expected.sales);
      expect(sums.FEE ?? 0, `FEE of ${id}`).toBe(0 - expected.fees || 0);
      expect(sums.REFUND ?? 0, `REFUND of ${id}`).toBe(0 - expected.refunds || 0);
      expect(sums.PAYOUT ?? 0, `PAYOUT of ${id}`).toBe(0 - expected.payouts || 0);
      expect(sums.PAYOUT_REVERSED ?? 0, `PAYOUT_REVERSED of ${id}`).toBe(expected.reversed);
      const entriesPerOrder = await env.DB.prepare(
        "SELECT order_id, COUNT(*) AS n FROM ledger_entries WHERE organizer_id = ? AND type = 'SALE' GROUP BY order_id HAVING n > 1",
      )
        .bind(id)
        .all();
      expect(entriesPerOrder.results).toHaveLength(0);
      const organizer = [a, b, c].find((o) => o.id === id);
      if (!organizer) continue;
      const wallet = (await walletOf(organizer)).body;
      if (organizer === c) {
        expect(wallet).toMatchObject({ status: "Inactive", balance: 0 });
        continue;
      }
      expect(wallet).toMatchObject({
        balance: expected.available,
        pending_balance: expected.pending,
        pending_payouts: expected.pendingPayouts,
        total_earned: expected.earned,
      });
    }

    // The figures themselves, so the recomputation is not only agreeing with itself.
    const aFees = 100 + 75 + 38 + 45 + 32;
    expect((await walletOf(a)).body).toMatchObject({
      balance: 2000 + 1500 + 777 - (100 + 75 + 38) - 300 - 1000 - 200,
      pending_balance: 900 + 650 - 45 - 32,
      pending_payouts: 200,
      total_earned: 2000 + 1500 + 777 + 900 + 650 - aFees - 300,
    });
    expect((await walletOf(b)).body).toMatchObject({
      balance: 2000 - 100 - 1500,
      pending_balance: -120,
      pending_payouts: 0,
    });
  });
});
