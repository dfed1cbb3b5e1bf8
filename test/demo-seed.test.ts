/**
 * The demo data `npm run dev` seeds (scripts/seed-data.mjs), applied to D1 here as wrangler
 * applies it: the six upcoming events stay listed, and demo_organizer's wallet (contract §17)
 * holds what the README says, with a ledger that a recomputation from orders and payouts
 * reproduces entry by entry (test/helpers/ledger.ts, the rules of ledger-recompute.test.ts).
 * Its tickets are signed like issued ones, and a re-run adds nothing.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildSeedSql, DEMO_PASSWORD, DEMO_PAYOUT_PHONE, demoWalletSummary } from "../scripts/seed-data.mjs";
import { countRows } from "./helpers/accounts";
import { TestClient } from "./helpers/client";
import { ledgerDifferences } from "./helpers/ledger";
import { DAY, type HistoryBody, WALLET_PATH, type WalletBody, walletWorld } from "./helpers/wallet";

const FEE_BASIS_POINTS = 500; // PLATFORM_FEE_PERCENT 5
const rules = { feePercent: 5, holdMs: 2 * DAY };

/** What `wrangler d1 execute --file` does with the script: every statement, in order. */
async function applySeed(sql: string): Promise<void> {
  const statements = sql
    .split("\n")
    .filter((line) => !line.startsWith("--"))
    .join("\n")
    .split(/;\n/)
    .map((s) => s.trim())
    .filter(Boolean);
  for (const statement of statements) await env.DB.prepare(statement).run();
}

async function login(
  username: string,
  vars?: ConstructorParameters<typeof TestClient>[0],
): Promise<TestClient> {
  const client = new TestClient(vars);
  const res = await client.post("/api/auth/login/", { username, password: DEMO_PASSWORD });
  expect(res.status, res.text).toBe(200);
  return client;
}

describe("demo seed", () => {
  it("seeds demo_organizer's wallet as the README says, and the ledger agrees with a recomputation", async () => {
    const seed = () =>
      buildSeedSql({
        ticketSigningKey: env.TICKET_SIGNING_KEY,
        feeBasisPoints: FEE_BASIS_POINTS,
        holdDays: 2,
      });
    await applySeed(seed());
    const tables = [
      "users",
      "events",
      "tiers",
      "orders",
      "order_items",
      "tickets",
      "ledger_entries",
      "payouts",
    ];
    const counts = async () => Promise.all(tables.map((t) => countRows(t)));
    const first = await counts();
    await applySeed(seed()); // a re-run adds nothing
    expect(await counts()).toEqual(first);
    expect(first).toEqual([3 + 2, 6 + 1, 15 + 2, 3, 4, 7, 3 + 3 + 1, 1]);

    // The upcoming catalogue is unchanged: the finished event is not listed.
    const listed = await new TestClient().get<{ count: number; results: Array<{ title: string }> }>(
      "/api/events/",
    );
    expect(listed.body.count).toBe(6);
    expect(listed.body.results.map((e) => e.title)).not.toContain("Arboretum Jazz Evening");

    // The withdrawal's queue message is recorded, not consumed (no B2C leaves the test).
    const world = walletWorld();
    const organizer = await login("demo_organizer", world.darajaVars);
    const summary = demoWalletSummary({ feeBasisPoints: FEE_BASIS_POINTS });
    expect(summary).toEqual({ sales: 15_300, fees: 765, payouts: 5000, available: 9535 });
    const wallet = await organizer.get<WalletBody>(WALLET_PATH);
    expect(wallet.body).toMatchObject({
      balance: 9535,
      pending_payouts: 0,
      pending_balance: 0,
      total_earned: 15_300 - 765,
      status: "Active",
      is_kyc_verified: true,
      is_frozen: false,
      payout_phone: `${DEMO_PAYOUT_PHONE.slice(0, 4)}****${DEMO_PAYOUT_PHONE.slice(-3)}`,
    });
    const history = await organizer.get<HistoryBody>(`${WALLET_PATH}?action=history&page=1&page_size=10`);
    expect(history.body.results.map((r) => [r.type, r.amount, r.status])).toEqual([
      // Newest first; a FEE is written just after its SALE, at the same time, as settlement does.
      ["PAYOUT", -5000, "COMPLETED"],
      ["FEE", -350, "COMPLETED"],
      ["SALE", 7000, "COMPLETED"],
      ["FEE", -295, "COMPLETED"],
      ["SALE", 5900, "COMPLETED"],
      ["FEE", -120, "COMPLETED"],
      ["SALE", 2400, "COMPLETED"],
    ]);
    const organizerId = (
      await env.DB.prepare("SELECT id FROM users WHERE username = 'demo_organizer'").first<{
        id: string;
      }>()
    )?.id;
    expect(await ledgerDifferences(organizerId ?? "", Date.now(), rules)).toEqual([]);

    // The seeded tickets are signed with the server's key: the gate admits one.
    const token = await env.DB.prepare(
      "SELECT t.qr_code_hash FROM tickets t JOIN orders o ON o.id = t.order_id WHERE o.buyer_email = 'fan@ticketsafi.local' LIMIT 1",
    ).first<{ qr_code_hash: string }>();
    const scanner = await login("demo_scanner");
    const scanned = await scanner.post("/api/scanner/verify/", { qr_hash: token?.qr_code_hash });
    expect(scanned.status, scanned.text).toBe(200);
    expect(scanned.body).toMatchObject({
      status: "VALID",
      event: "Arboretum Jazz Evening",
      tier_name: "Lawn",
    });

    // And the balance can be withdrawn.
    const withdrawn = await organizer.post<{ new_balance: number }>(WALLET_PATH, { amount: "1000" });
    expect(withdrawn.status, withdrawn.text).toBe(200);
    expect(withdrawn.body.new_balance).toBe(8535);
    expect(world.payoutJobs()).toHaveLength(1);
  });

  it("seeds no withdrawal that a longer PAYOUT_HOLD_DAYS would have refused", () => {
    // Proceeds of the event (ended 12 days ago) available only 2 days ago: the payout 6 days
    // ago was not possible, so it is not seeded (the storage is shared by this file's tests).
    const sql = buildSeedSql({ ticketSigningKey: env.TICKET_SIGNING_KEY, holdDays: 10 });
    expect(sql).not.toContain("INTO payouts");
    expect(sql).not.toContain("'PAYOUT'");
    expect(sql).toContain("e.end_datetime + 864000000,");
    expect(demoWalletSummary({ holdDays: 10 })).toEqual({
      sales: 15_300,
      fees: 0,
      payouts: 0,
      available: 15_300,
    });
    expect(buildSeedSql({ ticketSigningKey: env.TICKET_SIGNING_KEY })).toContain("INTO payouts");
  });
});
