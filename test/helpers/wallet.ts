import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { DeliveryJob } from "../../src/delivery/jobs";
import { networkFakes } from "../fakes/network";
import { registerUser } from "./accounts";
import { CALLBACK_PATH, type Initiated } from "./checkout";
import { TestClient, uniqueName } from "./client";
import { type RefundWorld, refundWorld, runDeliveryConsumer } from "./refunds";

export const DAY = 24 * 60 * 60 * 1000;
export const WALLET_PATH = "/api/organizer/wallet/";

type Vars = Partial<Record<keyof Env, string>>;

export interface WalletBody {
  balance: number;
  pending_payouts: number;
  currency: string;
  is_frozen: boolean;
  is_kyc_verified: boolean;
  status: string;
  pending_balance: number;
  total_earned: number;
  payout_phone: string | null;
  wallet_id: string | null;
}

export interface HistoryBody {
  results: Array<{
    id: string;
    type: string;
    amount: number;
    status: string;
    reference: string;
    date: string;
  }>;
  total_pages: number;
  current_page: number;
  has_next: boolean;
  has_previous: boolean;
}

export interface WithdrawBody {
  status: string;
  message: string;
  reference: string;
  new_balance: number;
  error?: string;
  detail?: string;
  code?: string;
}

export function walletWorld() {
  const world = refundWorld();
  return {
    ...world,
    /** Run the real consumer on the waiting jobs of `type` (payout by default), with `vars`. */
    async drainJobs(type: DeliveryJob["type"] = "payout", vars: Vars = world.darajaVars): Promise<number> {
      const jobs = world.recording.sent.filter((j) => j.type === type);
      const rest = world.recording.sent.filter((j) => j.type !== type);
      world.recording.sent.length = 0;
      world.recording.sent.push(...rest);
      if (jobs.length === 0) return 0;
      return runDeliveryConsumer(jobs, vars);
    },
    payoutJobs(): DeliveryJob[] {
      return world.recording.sent.filter((j) => j.type === "payout");
    },
  };
}
export type WalletWorld = ReturnType<typeof walletWorld>;

export interface Organizer {
  client: TestClient;
  id: string;
  email: string;
}

export async function newOrganizer(world: RefundWorld, vars: Vars = {}): Promise<Organizer> {
  const client = new TestClient({ ...world.darajaVars, ...vars });
  const user = await registerUser(client, { role: "ORGANIZER" });
  return { client, id: user.id, email: user.email };
}

/** What `npm run organizer:verify` does: the payout number checked, KYC verified. */
export async function verifyOrganizer(organizerId: string, payoutPhone = "254712345678"): Promise<void> {
  await env.DB.prepare("UPDATE users SET is_kyc_verified = 1, payout_phone = ? WHERE id = ?")
    .bind(payoutPhone, organizerId)
    .run();
}

/** Activated and verified: ready to withdraw. */
export async function readyOrganizer(world: RefundWorld, payoutPhone?: string, vars: Vars = {}) {
  const organizer = await newOrganizer(world, vars);
  const activated = await organizer.client.post("/api/organizer/wallet/activate/");
  expect(activated.status, activated.text).toBe(201);
  await verifyOrganizer(organizer.id, payoutPhone);
  return organizer;
}

export interface Sale {
  orderId: string;
  reference: string;
  eventId: string;
  tierId: string;
  phone: string;
  checkoutRequestId: string;
  callback: unknown;
}

/**
 * A COMPLETED order of `quantity` × `price` on a new event of `organizer`. With `endedDaysAgo`
 * the event is moved into the past before the payment lands; `vars` apply to the callback
 * (e.g. PLATFORM_FEE_PERCENT).
 */
export async function sale(
  world: RefundWorld,
  organizer: Organizer,
  options: { price?: number; quantity?: number; endedDaysAgo?: number; vars?: Vars } = {},
): Promise<Sale> {
  const price = options.price ?? 1000;
  const start = Date.now() + 7 * DAY;
  const created = await organizer.client.post<{ id: string; tiers: Array<{ id: string }> }>(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Wallet Gig "),
      category: "CONCERT",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 4 * 60 * 60 * 1000).toISOString(),
      tiers: [{ name: "Regular", price, quantity_allocated: 50, max_per_order: 10 }],
    },
  );
  expect(created.status, created.text).toBe(201);
  const tierId = created.body.tiers[0]?.id ?? "";
  const phone = `2547${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
  const buyer = new TestClient(world.darajaVars);
  const initiated = await buyer.post<Initiated>("/api/pay/initiate/", {
    tier_id: tierId,
    phone_number: `0${phone.slice(3)}`,
    quantity: options.quantity ?? 1,
    email: `${uniqueName("buyer")}@example.com`,
    name: "Wanjiku",
  });
  expect(initiated.status, initiated.text).toBe(202);
  if (options.endedDaysAgo !== undefined) await endEvent(created.body.id, options.endedDaysAgo);
  const callback = networkFakes.daraja.callbackFor(initiated.body.checkout_request_id, {
    resultCode: 0,
    phoneNumber: phone,
  });
  const paid = await new TestClient({ ...world.darajaVars, ...options.vars }).post(CALLBACK_PATH, callback);
  expect(paid.status, paid.text).toBe(200);
  const order = await env.DB.prepare("SELECT status FROM orders WHERE id = ?")
    .bind(initiated.body.order_id)
    .first<{ status: string }>();
  expect(order?.status).toBe("COMPLETED");
  return {
    orderId: initiated.body.order_id,
    reference: initiated.body.transaction_ref,
    eventId: created.body.id,
    tierId,
    phone,
    checkoutRequestId: initiated.body.checkout_request_id,
    callback,
  };
}

/** The event ended `daysAgo` days ago (it started 4 hours before). */
export async function endEvent(eventId: string, daysAgo: number): Promise<void> {
  const end = Date.now() - daysAgo * DAY;
  await env.DB.prepare("UPDATE events SET start_datetime = ?, end_datetime = ? WHERE id = ?")
    .bind(end - 4 * 60 * 60 * 1000, end, eventId)
    .run();
}

export function walletOf(organizer: Organizer) {
  return organizer.client.get<WalletBody>(WALLET_PATH);
}

export function withdrawFrom(organizer: Organizer, amount: unknown, headers: Record<string, string> = {}) {
  return organizer.client.post<WithdrawBody>(WALLET_PATH, amount === undefined ? {} : { amount }, {
    headers,
  });
}

export async function ledgerOf(organizerId: string) {
  const rows = await env.DB.prepare(
    "SELECT * FROM ledger_entries WHERE organizer_id = ? ORDER BY created_at, rowid",
  )
    .bind(organizerId)
    .all<{
      id: string;
      type: string;
      amount: number;
      status: string;
      reference: string;
      order_id: string | null;
      refund_id: string | null;
      payout_id: string | null;
    }>();
  return rows.results;
}

export async function payoutsOf(organizerId: string) {
  const rows = await env.DB.prepare("SELECT * FROM payouts WHERE organizer_id = ? ORDER BY created_at, rowid")
    .bind(organizerId)
    .all<{
      id: string;
      reference: string;
      amount: number;
      phone: string;
      status: string;
      b2c_request_id: string | null;
      mpesa_receipt: string | null;
      failure_code: string | null;
    }>();
  return rows.results;
}

export async function mailsTo(email: string, kind: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM mail_log WHERE to_email = ? AND kind = ?")
    .bind(email, kind)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
