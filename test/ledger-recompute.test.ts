/**
 * Every ledger entry is reproducible from orders, refunds and payouts (contract §17): after a
 * mixed scenario (sales held and available, a platform fee, partial and full refunds, a
 * refunded PAID_UNFULFILLED payment, a cancelled event, payouts completed, reversed (by a
 * failed Result and by a refusal at once) and in flight, repeated callbacks), every
 * organizer's entries and balances are recomputed from scratch from those tables alone and
 * compared with the ledger and with what the wallet answers. A forged entry makes the
 * comparison fail.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { networkFakes } from "./fakes/network";
import { expireHolds } from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";
import { ledgerDifferences, ledgerSums, recompute } from "./helpers/ledger";
import { attemptsOf, b2cCallback, RESULT_PATH, refundOf } from "./helpers/refunds";
import {
  DAY,
  endEvent,
  newOrganizer,
  type Organizer,
  payoutsOf,
  readyOrganizer,
  sale,
  type WalletWorld,
  walletOf,
  walletWorld,
  withdrawFrom,
} from "./helpers/wallet";

const FEE_PERCENT = 5;
const HOLD_MS = 2 * DAY;
const vars = { PLATFORM_FEE_PERCENT: String(FEE_PERCENT) };
const rules = { feePercent: FEE_PERCENT, holdMs: HOLD_MS };
const differences = (organizerId: string, now: number) => ledgerDifferences(organizerId, now, rules);

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

/**
 * A payment that lands after its hold lapsed and its seat went to someone else:
 * PAID_UNFULFILLED, refunded in full automatically. The other buyer's order completes. The
 * event ends `endedDaysAgo` days ago.
 */
async function paidUnfulfilled(world: WalletWorld, organizer: Organizer, endedDaysAgo: number) {
  const start = Date.now() + 7 * DAY;
  const created = await organizer.client.post<{ id: string; tiers: Array<{ id: string }> }>(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Last Seat Gig "),
      category: "CONCERT",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 4 * 60 * 60 * 1000).toISOString(),
      tiers: [{ name: "Only", price: 1300, quantity_allocated: 1, max_per_order: 1 }],
    },
  );
  expect(created.status, created.text).toBe(201);
  const tierId = created.body.tiers[0]?.id ?? "";
  const buy = async () => {
    const phone = `2547${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
    const res = await new TestClient(world.darajaVars).post<{
      order_id: string;
      checkout_request_id: string;
    }>("/api/pay/initiate/", {
      tier_id: tierId,
      phone_number: `0${phone.slice(3)}`,
      email: `${uniqueName("buyer")}@example.com`,
      name: "Otieno",
    });
    expect(res.status, res.text).toBe(202);
    return { ...res.body, phone };
  };
  const late = await buy();
  await expireHolds(tierId);
  const other = await buy();
  await endEvent(created.body.id, endedDaysAgo);
  for (const order of [other, late]) {
    const callback = networkFakes.daraja.callbackFor(order.checkout_request_id, {
      resultCode: 0,
      phoneNumber: order.phone,
    });
    const paid = await new TestClient({ ...world.darajaVars, ...vars }).post(
      "/api/pay/callback/test-callback-token-0123456789abcdef/",
      callback,
    );
    expect(paid.status, paid.text).toBe(200);
  }
  const statuses = await env.DB.prepare("SELECT id, status FROM orders WHERE id IN (?, ?)")
    .bind(late.order_id, other.order_id)
    .all<{ id: string; status: string }>();
  expect(Object.fromEntries(statuses.results.map((r) => [r.id, r.status]))).toEqual({
    [late.order_id]: "PAID_UNFULFILLED",
    [other.order_id]: "COMPLETED",
  });
  return { orderId: late.order_id, soldOrderId: other.order_id };
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
    const unfulfilled = await paidUnfulfilled(world, a, 4);
    await world.drain();
    await completeRefundsOf(a1.orderId); // a3's refund stays SENT: not yet money back
    await completeRefundsOf(unfulfilled.orderId);
    const unfulfilledRefund = await env.DB.prepare(
      'SELECT amount, status, "trigger" FROM refunds WHERE order_id = ?',
    )
      .bind(unfulfilled.orderId)
      .first();
    expect(unfulfilledRefund).toEqual({ amount: 1300, status: "COMPLETED", trigger: "PAID_UNFULFILLED" });
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
    // Refused by Daraja at once: FAILED and reversed without any Result.
    networkFakes.daraja.failNextB2C(400);
    expect((await withdrawFrom(b, 300)).status).toBe(200);
    await world.drainJobs();
    expect((await payoutsOf(b.id)).map((p) => p.status)).toEqual(["COMPLETED", "FAILED"]);

    // C: never activated, one sale.
    const c = await newOrganizer(world, vars);
    await sale(world, c, { price: 450, endedDaysAgo: 6, vars });

    const now = Date.now();
    const organizers = await env.DB.prepare("SELECT id FROM users WHERE role = 'ORGANIZER'").all<{
      id: string;
    }>();
    expect(organizers.results.length).toBeGreaterThanOrEqual(3);
    for (const { id } of organizers.results) {
      expect(await differences(id, now), `ledger of ${id}`).toEqual([]);
      const expected = await recompute(id, now, rules);
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
    // A's PAID_UNFULFILLED payment (refunded) is in none of them; the seat's buyer is (1300 − 65).
    const aFees = 100 + 75 + 38 + 45 + 32 + 65;
    expect((await walletOf(a)).body).toMatchObject({
      balance: 2000 + 1500 + 777 + 1300 - (100 + 75 + 38 + 65) - 300 - 1000 - 200,
      pending_balance: 900 + 650 - 45 - 32,
      pending_payouts: 200,
      total_earned: 2000 + 1500 + 777 + 900 + 650 + 1300 - aFees - 300,
    });
    const unfulfilledEntries = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM ledger_entries WHERE order_id = ?",
    )
      .bind(unfulfilled.orderId)
      .first<{ n: number }>();
    expect(unfulfilledEntries?.n).toBe(0);
    expect((await walletOf(b)).body).toMatchObject({
      balance: 2000 - 100 - 1500,
      pending_balance: -120,
      pending_payouts: 0,
    });
  });

  it("a forged or altered ledger row is caught: the comparison fails, and the triggers refuse changes", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world, undefined, vars);
    await sale(world, organizer, { price: 3000, endedDaysAgo: 5, vars });
    expect((await withdrawFrom(organizer, 1000)).status).toBe(200);
    await world.drainJobs();
    const [payout] = await payoutsOf(organizer.id);
    await new TestClient().post(RESULT_PATH, (await b2cCallback(payout?.b2c_request_id ?? "")).body);
    expect(await differences(organizer.id, Date.now())).toEqual([]);
    expect((await walletOf(organizer)).body.balance).toBe(3000 - 150 - 1000);

    // An entry edited in place: the append-only triggers refuse it.
    await expect(
      env.DB.prepare(
        "UPDATE ledger_entries SET amount = amount + 500 WHERE organizer_id = ? AND type = 'SALE'",
      )
        .bind(organizer.id)
        .run(),
    ).rejects.toThrow(/immutable/);
    await expect(
      env.DB.prepare("DELETE FROM ledger_entries WHERE organizer_id = ? AND type = 'PAYOUT'")
        .bind(organizer.id)
        .run(),
    ).rejects.toThrow(/immutable/);

    // A forged row slipped in (inserts are allowed): a reversal of a payout M-Pesa completed.
    await env.DB.prepare(
      `INSERT INTO ledger_entries (id, organizer_id, type, amount, status, reference, dedupe_key, payout_id, created_at)
       VALUES (?, ?, 'PAYOUT_REVERSED', ?, 'COMPLETED', ?, ?, ?, ?)`,
    )
      .bind(
        crypto.randomUUID(),
        organizer.id,
        payout?.amount ?? 0,
        payout?.reference ?? "",
        `payout_reversed:${payout?.id}`,
        payout?.id ?? "",
        Date.now(),
      )
      .run();
    // The wallet believes it (balances are sums of the ledger) ...
    expect((await walletOf(organizer)).body.balance).toBe(3000 - 150);
    // ... and the recomputation does not.
    expect(await differences(organizer.id, Date.now())).toEqual([
      `ledger has unexplained PAYOUT_REVERSED 1000 COMPLETED (payout_reversed:${payout?.id})`,
      "Σ PAYOUT_REVERSED: ledger 1000, recomputed 0",
    ]);
  });
});
