/**
 * The organizer wallet (contract v3 §17): activation, balances as sums of the ledger, the
 * hold after an event ends, the platform fee, cancelled events, refunds, history, and who
 * may see what. Sales go through the real checkout and settlement (fake Daraja at the edge).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { registerUser } from "./helpers/accounts";
import { CALLBACK_PATH } from "./helpers/checkout";
import { TestClient } from "./helpers/client";
import { attemptsOf, b2cCallback, RESULT_PATH, refundOf } from "./helpers/refunds";
import {
  endEvent,
  type HistoryBody,
  ledgerOf,
  newOrganizer,
  readyOrganizer,
  sale,
  WALLET_PATH,
  type WalletBody,
  walletOf,
  walletWorld,
  withdrawFrom,
} from "./helpers/wallet";

const ZERO_WALLET = {
  balance: 0,
  pending_payouts: 0,
  currency: "KES",
  is_frozen: false,
  is_kyc_verified: false,
  status: "Inactive",
  pending_balance: 0,
  total_earned: 0,
  payout_phone: null,
};

describe("organizer wallet", () => {
  it("answers anyone but an organizer 403 Unauthorized, and a visitor 401", async () => {
    const fan = new TestClient();
    await registerUser(fan);
    for (const [method, path] of [
      ["GET", WALLET_PATH],
      ["GET", `${WALLET_PATH}?action=history`],
      ["POST", WALLET_PATH],
      ["POST", `${WALLET_PATH}activate/`],
      ["GET", `${WALLET_PATH}link/`],
    ] as const) {
      const res = await fan.request(method, path, method === "POST" ? { json: { amount: 500 } } : {});
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body).toMatchObject({ error: "Unauthorized" });
      const visitor = await new TestClient().request(method, path, method === "POST" ? { json: {} } : {});
      expect(visitor.status).toBe(401);
    }
    const rows = await env.DB.prepare(
      "SELECT wallet_id FROM users WHERE wallet_id IS NOT NULL AND role <> 'ORGANIZER'",
    ).all();
    expect(rows.results).toHaveLength(0);
  });

  it("before activation: the Inactive shape with zeros; activation 201 then 200 with the same id, once under a race", async () => {
    const world = walletWorld();
    const organizer = await newOrganizer(world);
    await sale(world, organizer, { price: 800, endedDaysAgo: 5 });
    const before = await walletOf(organizer);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject(ZERO_WALLET);
    expect(
      (await organizer.client.get<{ wallet_id: string | null }>("/api/auth/user/")).body.wallet_id,
    ).toBeNull();

    const racing = await Promise.all(
      Array.from({ length: 8 }, () =>
        organizer.client.post<{ wallet_id: string }>(`${WALLET_PATH}activate/`),
      ),
    );
    expect(racing.filter((r) => r.status === 201)).toHaveLength(1);
    expect(racing.filter((r) => r.status === 200)).toHaveLength(7);
    const ids = new Set(racing.map((r) => r.body.wallet_id));
    expect(ids.size).toBe(1);
    const [walletId] = [...ids];
    expect(racing.find((r) => r.status === 201)?.body).toEqual({ status: "activated", wallet_id: walletId });
    expect(racing.find((r) => r.status === 200)?.body).toEqual({
      message: "Wallet already active",
      wallet_id: walletId,
    });
    expect((await organizer.client.get<{ wallet_id: string | null }>("/api/auth/user/")).body.wallet_id).toBe(
      walletId,
    );

    // The sale made before activation counts once the wallet is active.
    const after = await walletOf(organizer);
    expect(after.body).toMatchObject({
      status: "Active",
      balance: 800,
      total_earned: 800,
      wallet_id: walletId,
    });
  });

  it("link/ is 404 with the contract's body", async () => {
    const organizer = await newOrganizer(walletWorld());
    const res = await organizer.client.get(`${WALLET_PATH}link/`);
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ error: "No external wallet: payouts are managed here." });
  });

  it("proceeds become available PAYOUT_HOLD_DAYS after the event ends; until then they are pending", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    await sale(world, organizer, { price: 1000, endedDaysAgo: 3 });
    await sale(world, organizer, { price: 700, endedDaysAgo: 1 });
    await sale(world, organizer, { price: 500, quantity: 2 }); // upcoming
    const wallet = await walletOf(organizer);
    expect(wallet.body).toMatchObject({
      status: "Active",
      currency: "KES",
      balance: 1000,
      pending_balance: 1700,
      total_earned: 2700,
      pending_payouts: 0,
      is_kyc_verified: true,
      is_frozen: false,
      payout_phone: "2547****678",
    });
    // A longer hold (read at every request) keeps the 3-days-ago event pending too.
    const longerHold = new TestClient({ ...organizer.client.vars, PAYOUT_HOLD_DAYS: "5" });
    for (const [k, v] of organizer.client.cookies) longerHold.cookies.set(k, v);
    const held = await longerHold.get<WalletBody>(WALLET_PATH);
    expect(held.body).toMatchObject({ balance: 0, pending_balance: 2700 });
    // Moving an event's end earlier never releases money sooner than the sale said.
    const upcoming = await sale(world, organizer, { price: 300 });
    await endEvent(upcoming.eventId, 30);
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 1000, pending_balance: 2000 });
  });

  it("PLATFORM_FEE_PERCENT: a FEE entry of the fee rounded down, in the same settlement; 0 writes none", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    const feeVars = { PLATFORM_FEE_PERCENT: "2.5" };
    const withFee = await sale(world, organizer, { price: 1999, endedDaysAgo: 4, vars: feeVars });
    const noFee = await sale(world, organizer, { price: 1000, endedDaysAgo: 4 });
    const entries = await ledgerOf(organizer.id);
    expect(entries.filter((e) => e.order_id === withFee.orderId).map((e) => [e.type, e.amount])).toEqual([
      ["SALE", 1999],
      ["FEE", -49],
    ]);
    expect(entries.filter((e) => e.order_id === noFee.orderId).map((e) => [e.type, e.amount])).toEqual([
      ["SALE", 1000],
    ]);
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 2950, total_earned: 2950 });
  });

  it("a repeated or late callback never writes an entry twice", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    const sold = await sale(world, organizer, { price: 1200, endedDaysAgo: 3 });
    const again = await Promise.all(
      Array.from({ length: 5 }, () => new TestClient(world.darajaVars).post(CALLBACK_PATH, sold.callback)),
    );
    expect(again.every((r) => r.status === 200)).toBe(true);
    const entries = await ledgerOf(organizer.id);
    expect(entries.map((e) => e.type)).toEqual(["SALE"]);
    expect((await walletOf(organizer)).body.balance).toBe(1200);
  });

  it("a cancelled event's sales never become available (they are refunded)", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    const kept = await sale(world, organizer, { price: 600, endedDaysAgo: 3 });
    const cancelled = await sale(world, organizer, { price: 900, endedDaysAgo: 3 });
    expect((await walletOf(organizer)).body.balance).toBe(1500);
    await env.DB.prepare("UPDATE events SET status = 'CANCELLED', cancelled_at = ? WHERE id = ?")
      .bind(Date.now(), cancelled.eventId)
      .run();
    const wallet = await walletOf(organizer);
    expect(wallet.body).toMatchObject({ balance: 600, pending_balance: 900 });
    const refused = await withdrawFrom(organizer, 1000);
    expect(refused.body.code).toBe("insufficient_balance");
    expect(kept.orderId).toBeTruthy();
  });

  it("cancelling an upcoming event through the API: its sales stay pending, its refunds take them back", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    const sold = await sale(world, organizer, { price: 750 });
    const res = await organizer.client.request("DELETE", `/api/organizer/events/${sold.eventId}/edit/`);
    expect(res.status, res.text).toBeLessThan(300);
    expect(await world.drain()).toBeGreaterThan(0);
    const refundRow = await env.DB.prepare("SELECT id FROM refunds WHERE order_id = ?")
      .bind(sold.orderId)
      .first<{ id: string }>();
    const [attempt] = await attemptsOf(refundRow?.id ?? "");
    await new TestClient().post(RESULT_PATH, (await b2cCallback(attempt?.id ?? "")).body);
    const wallet = await walletOf(organizer);
    expect(wallet.body).toMatchObject({ balance: 0, pending_balance: 0, total_earned: 0 });
    expect((await ledgerOf(organizer.id)).map((e) => [e.type, e.amount])).toEqual([
      ["SALE", 750],
      ["REFUND", -750],
    ]);
  });

  it("a completed refund reduces the balance once, with the refund id as its reference", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    const sold = await sale(world, organizer, { price: 1000, quantity: 2, endedDaysAgo: 3 });
    const refund = await refundOf(organizer.client, { amount: 400 }, sold.orderId);
    expect(refund.status, refund.text).toBe(202);
    // Recorded (reserved) is not refunded: the balance moves when the money has gone.
    expect((await walletOf(organizer)).body.balance).toBe(2000);
    await world.drain();
    const [attempt] = await attemptsOf(refund.body.id);
    const result = await b2cCallback(attempt?.id ?? "");
    await new TestClient().post(RESULT_PATH, result.body);
    await new TestClient().post(RESULT_PATH, result.body);
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 1600, total_earned: 1600 });
    const history = await organizer.client.get<HistoryBody>(`${WALLET_PATH}?action=history`);
    expect(history.body.results[0]).toMatchObject({
      type: "REFUND",
      amount: -400,
      status: "COMPLETED",
      reference: refund.body.id,
    });
    expect(history.body.results.filter((r) => r.type === "REFUND")).toHaveLength(1);
  });

  it("history: newest first, Nairobi 'YYYY-MM-DD HH:MM', page_size default 5 and at most 50", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    const sales = [];
    for (let i = 0; i < 7; i++) sales.push(await sale(world, organizer, { price: 100 + i, endedDaysAgo: 3 }));
    const pending = await sale(world, organizer, { price: 999 });
    const first = await organizer.client.get<HistoryBody>(`${WALLET_PATH}?action=history`);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      total_pages: 2,
      current_page: 1,
      has_next: true,
      has_previous: false,
    });
    expect(first.body.results).toHaveLength(5);
    expect(first.body.results[0]).toMatchObject({
      type: "SALE",
      amount: 999,
      status: "PENDING",
      reference: pending.reference,
    });
    expect(first.body.results[1]).toMatchObject({
      amount: 106,
      status: "COMPLETED",
      reference: sales[6]?.reference,
    });
    const date = first.body.results[0]?.date ?? "";
    expect(date).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/);
    const nairobiNow = new Date(Date.now() + 3 * 60 * 60 * 1000).toISOString();
    expect(date.slice(0, 10)).toBe(nairobiNow.slice(0, 10));

    const second = await organizer.client.get<HistoryBody>(`${WALLET_PATH}?action=history&page=2`);
    expect(second.body).toMatchObject({ current_page: 2, has_next: false, has_previous: true });
    expect(second.body.results.map((r) => r.amount)).toEqual([102, 101, 100]);
    const big = await organizer.client.get<HistoryBody>(`${WALLET_PATH}?action=history&page_size=500`);
    expect(big.body.results).toHaveLength(8);
    expect(big.body.total_pages).toBe(1);
    const junk = await organizer.client.get<HistoryBody>(
      `${WALLET_PATH}?action=history&page=abc&page_size=-3`,
    );
    expect(junk.status).toBe(200);
    expect(junk.body).toMatchObject({ current_page: 1 });
    expect(junk.body.results).toHaveLength(5);
    const past = await organizer.client.get<HistoryBody>(`${WALLET_PATH}?action=history&page=9`);
    expect(past.status).toBe(200);
    expect(past.body.results).toHaveLength(0);
  });

  it("another organizer's wallet is invisible: own zeros, own history, no withdrawal of their money", async () => {
    const world = walletWorld();
    const rich = await readyOrganizer(world);
    await sale(world, rich, { price: 5000, endedDaysAgo: 3 });
    const other = await readyOrganizer(world);
    expect((await walletOf(other)).body).toMatchObject({ status: "Active", balance: 0, total_earned: 0 });
    const history = await other.client.get<HistoryBody>(`${WALLET_PATH}?action=history`);
    expect(history.body.results).toHaveLength(0);
    const refused = await withdrawFrom(other, 1000);
    expect(refused.status).toBe(400);
    expect(refused.body.code).toBe("insufficient_balance");
    expect((await walletOf(rich)).body.balance).toBe(5000);
  });

  it("the dashboard shows wallet_balance (the available balance)", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    await sale(world, organizer, { price: 2500, endedDaysAgo: 3 });
    await sale(world, organizer, { price: 400 });
    const dashboard = await organizer.client.get<{ wallet_balance: number }>("/api/organizer/dashboard/");
    expect(dashboard.status).toBe(200);
    expect(dashboard.body.wallet_balance).toBe(2500);
  });

  it("the ledger is immutable: no entry can be deleted or changed", async () => {
    const world = walletWorld();
    const organizer = await readyOrganizer(world);
    await sale(world, organizer, { price: 100, endedDaysAgo: 3 });
    const [entry] = await ledgerOf(organizer.id);
    await expect(
      env.DB.prepare("UPDATE ledger_entries SET amount = 1000000 WHERE id = ?").bind(entry?.id).run(),
    ).rejects.toThrow(/immutable/);
    await expect(
      env.DB.prepare("UPDATE ledger_entries SET status = 'FAILED' WHERE id = ?").bind(entry?.id).run(),
    ).rejects.toThrow(/immutable/);
    await expect(
      env.DB.prepare("DELETE FROM ledger_entries WHERE id = ?").bind(entry?.id).run(),
    ).rejects.toThrow(/immutable/);
    expect((await ledgerOf(organizer.id))[0]).toMatchObject({ amount: 100, status: "COMPLETED" });
  });
});
