/**
 * Builders for the refund tests: a paid order (the fake Daraja at the network edge took the
 * STK payment), the queue as a recording one the test drains by running the real consumer,
 * either against the fake Daraja speaking B2C or against the built-in simulator (§13.8), and
 * Daraja's B2C Result / timeout callbacks.
 */
import { createExecutionContext, createMessageBatch, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { createServices } from "../../src/compose";
import { handleDeliveryBatch } from "../../src/delivery/consumer";
import type { DeliveryJob } from "../../src/delivery/jobs";
import { handleFetch } from "../../src/http/app";
import type {
  B2CPaymentRequestBody,
  B2CResultBody,
  B2CTimeoutBody,
} from "../../src/integrations/mpesa/schemas";
import { b2cCallbackFor } from "../../src/integrations/mpesa/simulator";
import { createLogger } from "../../src/lib/logger";
import { networkFakes } from "../fakes/network";
import { registerUser } from "./accounts";
import { CALLBACK_PATH, DARAJA, type Initiated } from "./checkout";
import { TestClient, uniqueName } from "./client";
import { recordingQueue } from "./tickets";

const DAY = 24 * 60 * 60 * 1000;
export const RESULT_TOKEN = "test-result-token-0123456789abcdef0123";
export const RESULT_PATH = `/api/pay/b2c/result/${RESULT_TOKEN}/`;
export const TIMEOUT_PATH = `/api/pay/b2c/timeout/${RESULT_TOKEN}/`;

/** B2C configured against real Daraja (the fake): shortcode and initiator beside the test credential. */
export const B2C_VARS = { MPESA_B2C_SHORTCODE: "600996", MPESA_INITIATOR_NAME: "testapi" } as const;

type Vars = Partial<Record<keyof Env, string>>;

/**
 * Run the real delivery consumer on `jobs`, as the runtime would, with `vars`; work it
 * hands to waitUntil (simulator callbacks posted in-process through our own routes) is
 * awaited too. Answers how many jobs ran.
 */
export async function runDeliveryConsumer(jobs: DeliveryJob[], vars: Vars): Promise<number> {
  const targetEnv = { ...env, ...vars } as Env;
  const ctx = createExecutionContext();
  const tasks: Promise<unknown>[] = [];
  const services = createServices(
    targetEnv,
    {
      waitUntil: (task) => tasks.push(task),
      selfFetch: (request) => handleFetch(request, targetEnv, ctx),
    },
    createLogger({ component: "test" }),
  );
  const batch = createMessageBatch<unknown>(
    "ticket-delivery",
    jobs.map((body) => ({ id: crypto.randomUUID(), timestamp: new Date(), attempts: 1, body })),
  );
  await handleDeliveryBatch(batch, services);
  while (tasks.length > 0) await Promise.all(tasks.splice(0));
  await waitOnExecutionContext(ctx);
  return jobs.length;
}

/** One recording queue shared by every client of a test, and the environments built on it. */
export function refundWorld() {
  const recording = recordingQueue();
  const queueVar = { DELIVERY_QUEUE: recording.queue } as unknown as Vars;
  /** Fake Daraja for STK and B2C. */
  const darajaVars: Vars = { ...DARAJA, ...B2C_VARS, ...queueVar };
  /** The built-in simulator for B2C (no consumer key), callbacks at once. */
  const simulatorVars: Vars = { ...queueVar, MPESA_SIMULATOR_DELAY_MS: "0" };
  return {
    recording,
    darajaVars,
    simulatorVars,
    /** Refund jobs waiting on the queue (and forget them: the consumer takes them now). */
    takeRefundJobs(): DeliveryJob[] {
      const jobs = recording.sent.filter((j) => j.type === "refund");
      const rest = recording.sent.filter((j) => j.type !== "refund");
      recording.sent.length = 0;
      recording.sent.push(...rest);
      return jobs;
    },
    /**
     * Run the real consumer on the waiting refund jobs, as the runtime would, with `vars`;
     * simulator callbacks (posted in-process through our own routes) are awaited too.
     */
    async drain(vars: Vars = darajaVars): Promise<number> {
      const jobs = this.takeRefundJobs();
      if (jobs.length === 0) return 0;
      return runDeliveryConsumer(jobs, vars);
    },
  };
}
export type RefundWorld = ReturnType<typeof refundWorld>;

export interface PaidOrder {
  orderId: string;
  reference: string;
  eventId: string;
  tierId: string;
  ticketIds: string[];
  organizer: TestClient;
  organizerId: string;
  buyer: TestClient;
  phone: string;
}

/** An organizer's event and a COMPLETED order of `quantity` × `price`, paid from `phone` (`2547…`). */
export async function paidOrder(
  world: RefundWorld,
  options: {
    price?: number;
    quantity?: number;
    phone?: string;
    allocation?: number;
    organizer?: { client: TestClient; id: string };
  } = {},
): Promise<PaidOrder> {
  const price = options.price ?? 1000;
  const quantity = options.quantity ?? 1;
  const phone = options.phone ?? `2547${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
  let organizer = options.organizer?.client;
  let organizerId = options.organizer?.id ?? "";
  if (!organizer) {
    organizer = new TestClient(world.darajaVars);
    organizerId = (await registerUser(organizer, { role: "ORGANIZER" })).id;
  }
  const start = Date.now() + 7 * DAY;
  const created = await organizer.post<{ id: string; tiers: Array<{ id: string }> }>(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Refund Gig "),
      category: "CONCERT",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 4 * 60 * 60 * 1000).toISOString(),
      tiers: [{ name: "Regular", price, quantity_allocated: options.allocation ?? 20, max_per_order: 10 }],
    },
  );
  expect(created.status, created.text).toBe(201);
  const tierId = created.body.tiers[0]?.id ?? "";
  const buyer = new TestClient(world.darajaVars);
  await registerUser(buyer);
  const initiated = await buyer.post<Initiated>("/api/pay/initiate/", {
    tier_id: tierId,
    phone_number: `0${phone.slice(3)}`,
    quantity,
  });
  expect(initiated.status, initiated.text).toBe(202);
  const paid = await new TestClient(world.darajaVars).post(
    CALLBACK_PATH,
    networkFakes.daraja.callbackFor(initiated.body.checkout_request_id, {
      resultCode: 0,
      phoneNumber: phone,
    }),
  );
  expect(paid.status, paid.text).toBe(200);
  const tickets = await env.DB.prepare("SELECT id FROM tickets WHERE order_id = ? ORDER BY seat_index")
    .bind(initiated.body.order_id)
    .all<{ id: string }>();
  expect(tickets.results).toHaveLength(quantity);
  return {
    orderId: initiated.body.order_id,
    reference: initiated.body.transaction_ref,
    eventId: created.body.id,
    tierId,
    ticketIds: tickets.results.map((t) => t.id),
    organizer,
    organizerId,
    buyer,
    phone,
  };
}

export interface RefundBody {
  id: string;
  status: string;
  amount: number;
  full: boolean;
  ticket_ids: string[];
  attempts: number;
  failure_code: string | null;
  retryable: boolean;
  mpesa_receipt: string | null;
  review_reason: string | null;
  resolution: string | null;
  trigger: string;
  phone: string;
}

export function refundOf(organizer: TestClient, body: Record<string, unknown> = {}, orderId = "") {
  return organizer.post<RefundBody & { code?: string; amount?: unknown }>(
    `/api/organizer/orders/${orderId}/refund/`,
    body,
  );
}

export async function refundRow(id: string) {
  return env.DB.prepare("SELECT * FROM refunds WHERE id = ?").bind(id).first<Record<string, unknown>>();
}

export async function attemptsOf(refundId: string) {
  const rows = await env.DB.prepare(
    "SELECT * FROM b2c_requests WHERE subject_id = ? ORDER BY created_at, rowid",
  )
    .bind(refundId)
    .all<{ id: string; status: string; conversation_id: string | null; amount: number; phone: string }>();
  return rows.results;
}

/** The B2C requests the fake Daraja received for this OriginatorConversationID. */
export function b2cRequestTo(attemptId: string): B2CPaymentRequestBody {
  const request = networkFakes.daraja.b2cRequests.find(
    (r) => (r.body as { OriginatorConversationID?: string } | null)?.OriginatorConversationID === attemptId,
  );
  expect(request, `a B2C request for ${attemptId}`).toBeDefined();
  return request?.body as unknown as B2CPaymentRequestBody;
}

/** Daraja's Result (or queue timeout) for an attempt, in its real shape (the simulator's builder). */
export async function b2cCallback(
  attemptId: string,
  outcome: "success" | "failure" | "timeout" = "success",
): Promise<{ path: string; body: B2CResultBody | B2CTimeoutBody }> {
  const attempt = (await env.DB.prepare("SELECT conversation_id FROM b2c_requests WHERE id = ?")
    .bind(attemptId)
    .first<{ conversation_id: string | null }>()) ?? { conversation_id: null };
  const request = b2cRequestTo(attemptId);
  const phone =
    outcome === "failure" ? "254708000005" : outcome === "timeout" ? "254708000006" : request.PartyB;
  const built = b2cCallbackFor({ ...request, PartyB: phone }, attempt.conversation_id ?? "AG_X", 2);
  return { path: outcome === "timeout" ? TIMEOUT_PATH : RESULT_PATH, body: built.body };
}

export async function mailsOf(orderId: string, kind: string): Promise<number> {
  const row = await env.DB.prepare("SELECT count(*) AS n FROM mail_log WHERE order_id = ? AND kind = ?")
    .bind(orderId, kind)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
