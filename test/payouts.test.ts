/**
 * Withdrawals (contract v3 §17): every refusal a 400 that records nothing, one writer per
 * organizer ledger (30 parallel withdrawals never overdraw), Idempotency-Key, and the payout's
 * one B2C attempt settled by its Result, a queue timeout then a status query, duplicates and
 * out-of-order answers; a failure reverses it and emails the organizer. Fake Daraja at the
 * edge (and the built-in simulator for the end-to-end path).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { transactionStatusResultFor } from "../src/integrations/mpesa/simulator";
import { GRACE_MS, queryOpenB2CAttempts, RECONCILE_AFTER_MS } from "../src/services/b2c-reconciliation";
import { networkFakes } from "./fakes/network";
import { TestClient } from "./helpers/client";
import { b2cCallback, b2cRequestTo, RESULT_PATH, RESULT_TOKEN } from "./helpers/refunds";
import { servicesFor } from "./helpers/services";
import {
  type HistoryBody,
  ledgerOf,
  mailsTo,
  newOrganizer,
  payoutsOf,
  readyOrganizer,
  sale,
  WALLET_PATH,
  type WalletWorld,
  walletOf,
  walletWorld,
  withdrawFrom,
} from "./helpers/wallet";

const daraja = networkFakes.daraja;
const STATUS_PATH = `/api/pay/b2c/status/result/${RESULT_TOKEN}/`;

/** An organizer ready to withdraw with `available` KES available. */
async function funded(world: WalletWorld, available: number, payoutPhone?: string) {
  const organizer = await readyOrganizer(world, payoutPhone);
  await sale(world, organizer, { price: available, endedDaysAgo: 3 });
  return organizer;
}

async function expectNothingRecorded(organizerId: string) {
  expect(await payoutsOf(organizerId)).toHaveLength(0);
  expect((await ledgerOf(organizerId)).filter((e) => e.type.startsWith("PAYOUT"))).toHaveLength(0);
}

/** A withdrawal sent to the fake Daraja (accepted): its payout and attempt id. */
async function sentPayout(world: WalletWorld, amount = 1000, available = 5000) {
  const organizer = await funded(world, available);
  const res = await withdrawFrom(organizer, amount);
  expect(res.status, res.text).toBe(200);
  expect(await world.drainJobs()).toBe(1);
  const [payout] = await payoutsOf(organizer.id);
  expect(payout?.status).toBe("SENT");
  return { organizer, payout, attemptId: payout?.b2c_request_id ?? "", reference: res.body.reference };
}

describe("withdrawals", () => {
  it("refuses bad amounts and unready wallets with 400 {error, detail, code}, recording nothing", async () => {
    const world = walletWorld();
    const organizer = await funded(world, 200_000);
    for (const amount of [
      undefined,
      null,
      "",
      "abc",
      100.5,
      "100.50",
      "-500",
      -500,
      "1e3",
      true,
      [500],
      { a: 1 },
    ]) {
      const res = await withdrawFrom(organizer, amount);
      expect(res.status, JSON.stringify(amount)).toBe(400);
      expect(res.body).toMatchObject({ code: "invalid_amount" });
      expect(res.body.error).toBe(res.body.detail);
    }
    for (const amount of [99, "0", 150_001]) {
      const res = await withdrawFrom(organizer, amount);
      expect(res.status).toBe(400);
      expect(res.body.code).toBe("amount_out_of_range");
    }
    const tooMuch = await withdrawFrom(organizer, 150_000);
    expect(tooMuch.status, tooMuch.text).toBe(200);
    const over = await withdrawFrom(organizer, 50_001);
    expect(over.body).toMatchObject({ code: "insufficient_balance" });
    expect(await payoutsOf(organizer.id)).toHaveLength(1);
    // The minimum is a variable.
    const strict = new TestClient({ ...organizer.client.vars, PAYOUT_MIN_KES: "1000" });
    for (const [k, v] of organizer.client.cookies) strict.cookies.set(k, v);
    const small = await strict.post<{ code: string }>(WALLET_PATH, { amount: 500 });
    expect(small.body.code).toBe("amount_out_of_range");

    const inactive = await newOrganizer(world);
    await sale(world, inactive, { price: 1000, endedDaysAgo: 3 });
    expect((await withdrawFrom(inactive, 500)).body).toMatchObject({
      code: "wallet_inactive",
      error: expect.any(String),
    });
    await expectNothingRecorded(inactive.id);

    const unverified = await newOrganizer(world);
    await unverified.client.post(`${WALLET_PATH}activate/`);
    await sale(world, unverified, { price: 1000, endedDaysAgo: 3 });
    expect((await withdrawFrom(unverified, 500)).body).toMatchObject({ code: "kyc_required" });
    await expectNothingRecorded(unverified.id);

    const frozen = await funded(world, 1000);
    await env.DB.prepare("UPDATE users SET is_wallet_frozen = 1 WHERE id = ?").bind(frozen.id).run();
    expect((await withdrawFrom(frozen, 500)).body).toMatchObject({ code: "wallet_frozen" });
    expect((await walletOf(frozen)).body).toMatchObject({ is_frozen: true, balance: 1000 });
    await expectNothingRecorded(frozen.id);
    expect(daraja.b2cRequests).toHaveLength(0);
  });

  it("30 parallel withdrawals of a balance that covers one: exactly one accepted, never an overdraft", async () => {
    const world = walletWorld();
    const organizer = await funded(world, 1000);
    const results = await Promise.all(Array.from({ length: 30 }, () => withdrawFrom(organizer, 800)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(29);
    expect(refused.every((r) => r.status === 400 && r.body.code === "insufficient_balance")).toBe(true);
    expect(await payoutsOf(organizer.id)).toHaveLength(1);
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 200, pending_payouts: 800 });

    // 30 of 100 against 1,000 (another organizer): exactly 10 fit.
    const other = await funded(world, 1000);
    const small = await Promise.all(Array.from({ length: 30 }, () => withdrawFrom(other, 100)));
    expect(small.filter((r) => r.status === 200)).toHaveLength(10);
    expect((await walletOf(other)).body.balance).toBe(0);
    const balances = small.filter((r) => r.status === 200).map((r) => r.body.new_balance);
    expect([...balances].sort((a, b) => a - b)).toEqual([0, 100, 200, 300, 400, 500, 600, 700, 800, 900]);
  });

  it("Idempotency-Key: a replay answers the first result and withdraws once; another body is 422", async () => {
    const world = walletWorld();
    const organizer = await funded(world, 5000);
    const key = { "Idempotency-Key": crypto.randomUUID() };
    const parallel = await Promise.all(Array.from({ length: 6 }, () => withdrawFrom(organizer, 1000, key)));
    const ok = parallel.filter((r) => r.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(parallel.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    const replay = await withdrawFrom(organizer, "1000", key);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(ok[0]?.body);
    expect(new Set(ok.map((r) => r.body.reference)).size).toBe(1);
    expect(await payoutsOf(organizer.id)).toHaveLength(1);
    const other = await withdrawFrom(organizer, 2000, key);
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_conflict");
    expect(await payoutsOf(organizer.id)).toHaveLength(1);
    // A refused request frees its key: the same key may succeed later.
    const refusedKey = { "Idempotency-Key": crypto.randomUUID() };
    expect((await withdrawFrom(organizer, 9000, refusedKey)).body.code).toBe("insufficient_balance");
    expect((await withdrawFrom(organizer, 1000, refusedKey)).status).toBe(200);
    expect(world.payoutJobs()).toHaveLength(2);
  });

  it("success: 200 received, B2C to the verified number keyed by the attempt, the Result completes it once", async () => {
    const world = walletWorld();
    const organizer = await funded(world, 5000, "254711222333");
    const res = await withdrawFrom(organizer, "1500");
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: "received", new_balance: 3500, message: expect.any(String) });
    expect(res.body.reference).toMatch(/^WD-[A-Z0-9]{8}$/);
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 3500, pending_payouts: 1500 });
    // Nothing leaves inside the request: the queue's consumer sends it.
    expect(daraja.b2cRequests).toHaveLength(0);
    await world.drainJobs();
    const [payout] = await payoutsOf(organizer.id);
    const attempt = await env.DB.prepare("SELECT * FROM b2c_requests WHERE id = ?")
      .bind(payout?.b2c_request_id)
      .first<{ purpose: string; subject_id: string; status: string; amount: number }>();
    expect(attempt).toMatchObject({
      purpose: "PAYOUT",
      subject_id: payout?.id,
      status: "ACCEPTED",
      amount: 1500,
    });
    expect(b2cRequestTo(payout?.b2c_request_id ?? "")).toMatchObject({
      OriginatorConversationID: payout?.b2c_request_id,
      CommandID: "BusinessPayment",
      Amount: 1500,
      PartyA: "600996",
      PartyB: "254711222333",
      Remarks: `Payout ${res.body.reference}`,
      Occasion: res.body.reference,
    });

    const result = await b2cCallback(payout?.b2c_request_id ?? "");
    for (let i = 0; i < 3; i++) {
      const posted = await new TestClient().post(RESULT_PATH, result.body);
      expect(posted.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });
    }
    const [done] = await payoutsOf(organizer.id);
    expect(done).toMatchObject({ status: "COMPLETED", mpesa_receipt: expect.any(String) });
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 3500, pending_payouts: 0 });
    const history = await organizer.client.get<HistoryBody>(`${WALLET_PATH}?action=history`);
    expect(history.body.results[0]).toMatchObject({
      type: "PAYOUT",
      amount: -1500,
      status: "COMPLETED",
      reference: res.body.reference,
    });
    // A failure (or a timeout) after the success changes nothing.
    const failure = await b2cCallback(payout?.b2c_request_id ?? "", "failure");
    await new TestClient().post(RESULT_PATH, failure.body);
    const timeout = await b2cCallback(payout?.b2c_request_id ?? "", "timeout");
    await new TestClient().post(timeout.path, timeout.body);
    expect((await payoutsOf(organizer.id))[0]?.status).toBe("COMPLETED");
    expect((await ledgerOf(organizer.id)).map((e) => e.type)).toEqual(["SALE", "PAYOUT"]);
    expect(daraja.b2cRequests).toHaveLength(1);
    expect(await mailsTo(organizer.email, "payout_reversed")).toBe(0);
  });

  it("a failed Result reverses the payout once (PAYOUT_REVERSED) and emails the organizer once", async () => {
    const world = walletWorld();
    const { organizer, attemptId, reference } = await sentPayout(world, 1200, 3000);
    expect((await walletOf(organizer)).body.balance).toBe(1800);
    const failure = await b2cCallback(attemptId, "failure");
    await new TestClient().post(RESULT_PATH, failure.body);
    await new TestClient().post(RESULT_PATH, failure.body);
    // A late success for the same attempt is ignored: the attempt settled once.
    await new TestClient().post(RESULT_PATH, (await b2cCallback(attemptId)).body);
    const [payout] = await payoutsOf(organizer.id);
    expect(payout).toMatchObject({ status: "FAILED", failure_code: "2001" });
    const entries = await ledgerOf(organizer.id);
    expect(entries.map((e) => [e.type, e.amount, e.status])).toEqual([
      ["SALE", 3000, "COMPLETED"],
      ["PAYOUT", -1200, "FAILED"],
      ["PAYOUT_REVERSED", 1200, "COMPLETED"],
    ]);
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 3000, pending_payouts: 0 });
    expect(await mailsTo(organizer.email, "payout_reversed")).toBe(1);
    const mail = await env.DB.prepare(
      "SELECT subject, text_body FROM mail_log WHERE to_email = ? AND kind = ?",
    )
      .bind(organizer.email, "payout_reversed")
      .first<{ subject: string; text_body: string }>();
    expect(mail?.subject).toContain(reference);
    expect(mail?.text_body).toContain("2547****678");
    expect(daraja.b2cRequests).toHaveLength(1);
  });

  it("Daraja refusing the request at once reverses it; B2C not configured too (nothing left us)", async () => {
    const world = walletWorld();
    const organizer = await funded(world, 2000);
    daraja.failNextB2C(400);
    expect((await withdrawFrom(organizer, 500)).status).toBe(200);
    await world.drainJobs();
    expect((await payoutsOf(organizer.id))[0]).toMatchObject({
      status: "FAILED",
      failure_code: "400.002.02",
    });
    expect((await walletOf(organizer)).body.balance).toBe(2000);

    expect((await withdrawFrom(organizer, 700)).status).toBe(200);
    await world.drainJobs("payout", { ...world.darajaVars, MPESA_B2C_SHORTCODE: "" });
    const [, second] = await payoutsOf(organizer.id);
    expect(second).toMatchObject({ status: "FAILED", failure_code: "misconfigured" });
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 2000, pending_payouts: 0 });
    expect(await mailsTo(organizer.email, "payout_reversed")).toBe(2);
  });

  it("no answer from Daraja: SENT, never re-sent, not even by a redelivered message", async () => {
    const world = walletWorld();
    const organizer = await funded(world, 2000);
    daraja.hangNextB2C();
    expect((await withdrawFrom(organizer, 500)).status).toBe(200);
    const [job] = world.payoutJobs();
    await world.drainJobs();
    const [payout] = await payoutsOf(organizer.id);
    expect(payout?.status).toBe("SENT");
    world.recording.sent.push(job as never);
    await world.drainJobs();
    expect(daraja.b2cRequests).toHaveLength(1);
    expect((await payoutsOf(organizer.id))[0]?.status).toBe("SENT");
    expect((await walletOf(organizer)).body).toMatchObject({ balance: 1500, pending_payouts: 500 });
  });

  it("a queue timeout is not a failure: SENT until the status query settles it (Completed, or not found → reversed)", async () => {
    const world = walletWorld();
    const first = await sentPayout(world, 1000, 3000);
    const timeout = await b2cCallback(first.attemptId, "timeout");
    expect((await new TestClient().post(timeout.path, timeout.body)).status).toBe(200);
    expect((await payoutsOf(first.organizer.id))[0]).toMatchObject({
      status: "SENT",
      failure_code: "timeout",
    });
    expect((await walletOf(first.organizer)).body).toMatchObject({ balance: 2000, pending_payouts: 1000 });

    const services = servicesFor({ ...env, ...world.darajaVars } as Env);
    await queryOpenB2CAttempts(services, Date.now() + RECONCILE_AFTER_MS + 60_000);
    const completed = statusResult(first.attemptId, "Completed", 1000);
    expect((await new TestClient().post(STATUS_PATH, completed)).status).toBe(200);
    expect((await payoutsOf(first.organizer.id))[0]).toMatchObject({
      status: "COMPLETED",
      mpesa_receipt: "SRC4RECON1",
    });
    expect((await walletOf(first.organizer)).body).toMatchObject({ balance: 2000, pending_payouts: 0 });

    // Another: Daraja never heard of it (after the grace period) → reversed, emailed.
    const second = await sentPayout(world, 400, 1000);
    await env.DB.prepare("UPDATE b2c_requests SET created_at = ? WHERE id = ?")
      .bind(Date.now() - GRACE_MS - 60_000, second.attemptId)
      .run();
    await queryOpenB2CAttempts(services, Date.now() + 60_000);
    await new TestClient().post(STATUS_PATH, statusResult(second.attemptId, "not_found"));
    expect((await payoutsOf(second.organizer.id))[0]).toMatchObject({
      status: "FAILED",
      failure_code: "not_found",
    });
    expect((await walletOf(second.organizer)).body).toMatchObject({ balance: 1000, pending_payouts: 0 });
    expect(await mailsTo(second.organizer.email, "payout_reversed")).toBe(1);
    // Reconciliation only asks: no second payment request ever left.
    expect(daraja.b2cRequests.filter((r) => JSON.stringify(r.body).includes(second.attemptId))).toHaveLength(
      1,
    );
  });

  it("end to end against the simulator: a normal number completes, 254708000005 is reversed", async () => {
    const world = walletWorld();
    const good = await funded(world, 1000);
    await env.DB.prepare("UPDATE users SET payout_phone = '254712000111' WHERE id = ?").bind(good.id).run();
    expect((await withdrawFrom(good, 600)).status).toBe(200);
    const bad = await funded(world, 1000, "254708000005");
    expect((await withdrawFrom(bad, 600)).status).toBe(200);
    await world.drainJobs("payout", world.simulatorVars);
    expect((await payoutsOf(good.id))[0]).toMatchObject({ status: "COMPLETED" });
    expect((await walletOf(good)).body).toMatchObject({ balance: 400, pending_payouts: 0 });
    expect((await payoutsOf(bad.id))[0]).toMatchObject({ status: "FAILED", failure_code: "2001" });
    expect((await walletOf(bad)).body).toMatchObject({ balance: 1000, pending_payouts: 0 });
    expect(await mailsTo(bad.email, "payout_reversed")).toBe(1);
  });

  it("a payout recorded but never queued is sent by the cron sweep, once", async () => {
    const world = walletWorld();
    const organizer = await funded(world, 1000);
    expect((await withdrawFrom(organizer, 300)).status).toBe(200);
    world.recording.sent.length = 0; // the queue send was lost
    const services = servicesFor({
      ...env,
      ...world.darajaVars,
      DELIVERY_QUEUE: world.recording.queue,
    } as never);
    const { requeueStuckPayouts } = await import("../src/services/organizer-wallet/payouts");
    expect(await requeueStuckPayouts(services.db, services.queue, Date.now())).toBe(0);
    expect(
      await requeueStuckPayouts(services.db, services.queue, Date.now() + 11 * 60_000),
    ).toBeGreaterThanOrEqual(1);
    expect(world.payoutJobs().length).toBeGreaterThanOrEqual(1);
    await world.drainJobs();
    const [payout] = await payoutsOf(organizer.id);
    expect(payout?.status).toBe("SENT");
    expect(
      daraja.b2cRequests.filter((r) => JSON.stringify(r.body).includes(payout?.b2c_request_id ?? "?")),
    ).toHaveLength(1);
  });
});

/** Daraja's status Result for the last query about `attemptId`, in its wire shape. */
function statusResult(attemptId: string, outcome: "Completed" | "not_found", amount = 1000) {
  const query = daraja.statusQueries.filter((q) => q.originalConversationId === attemptId).at(-1);
  expect(query, "a status query was sent").toBeDefined();
  return transactionStatusResultFor(
    query?.body as Parameters<typeof transactionStatusResultFor>[0],
    { conversationId: query?.conversationId ?? "", originatorConversationId: "12345-67890123-1" },
    outcome === "not_found"
      ? undefined
      : { partyB: "254700000000", amount, status: outcome, receipt: "SRC4RECON1" },
    Date.now(),
  );
}
