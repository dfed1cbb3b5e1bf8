/**
 * Builders for the webhook tests: endpoints through the real routes, a recording queue that
 * keeps each message's delay, draining webhook jobs through the real consumer, and a
 * signature check written independently of ours (node:crypto, the way a receiver would).
 */

import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { DeliveryJob } from "../../src/delivery/jobs";
import { networkFakes } from "../fakes/network";
import type { ReceivedWebhook } from "../fakes/webhook-receiver";
import { registerUser } from "./accounts";
import { DARAJA } from "./checkout";
import { TestClient } from "./client";
import { B2C_VARS, paidOrder, type RefundWorld, runDeliveryConsumer } from "./refunds";

export const HOOK = "https://hooks.receiver.test/ticketsafi";
export const HOOK2 = "https://hooks2.receiver.test/in";
export const receivers = networkFakes.receivers;

export interface EndpointBody {
  id: string;
  url: string;
  events: string[];
  description: string;
  is_active: boolean;
  disabled_reason: string | null;
  created_at: string;
  last_delivery_at: string | null;
  secret?: string;
}

export interface DeliveryBody {
  id: string;
  event_id: string;
  type: string;
  status: string;
  attempts: number;
  last_response_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
}

export async function createEndpoint(
  organizer: TestClient,
  body: Record<string, unknown> = { url: HOOK },
): Promise<EndpointBody & { secret: string }> {
  const res = await organizer.post<EndpointBody & { secret: string }>("/api/organizer/webhooks/", body);
  expect(res.status, res.text).toBe(201);
  return res.body;
}

/** A queue that records every message with its delay (the consumer's retries use one). */
export function delayRecordingQueue() {
  const sent: Array<{ body: DeliveryJob; delaySeconds: number }> = [];
  const queue = {
    send: async (body: DeliveryJob, options?: { delaySeconds?: number }) => {
      sent.push({ body, delaySeconds: options?.delaySeconds ?? 0 });
    },
    sendBatch: async (messages: Iterable<{ body: DeliveryJob; delaySeconds?: number }>) => {
      for (const m of messages) sent.push({ body: m.body, delaySeconds: m.delaySeconds ?? 0 });
    },
  } as unknown as Queue<DeliveryJob>;
  return {
    sent,
    queue,
    vars: { DELIVERY_QUEUE: queue } as unknown as Record<string, string>,
    /** Webhook jobs waiting (and forget them: the consumer takes them now). */
    takeWebhookJobs(): Array<{ body: DeliveryJob; delaySeconds: number }> {
      const jobs = sent.filter((m) => m.body.type === "webhook_event" || m.body.type === "webhook_delivery");
      const rest = sent.filter((m) => !jobs.includes(m));
      sent.length = 0;
      sent.push(...rest);
      return jobs;
    },
  };
}

/** Run the real consumer on `jobs` with `vars` (the queue var routes its retries back to us). */
export function runWebhookJobs(jobs: DeliveryJob[], vars: Record<string, string>): Promise<number> {
  return runDeliveryConsumer(jobs, vars as never);
}

/**
 * A receiver's check, written apart from src/lib/webhook-signature.ts the way the README tells
 * receivers to: parse `t=…,v1=…`, reject a `t` more than 300 s off, then let WebCrypto's HMAC
 * `verify` (constant time) check v1 against "<t>.<raw body>" keyed by the whole secret.
 */
export async function verifySignature(
  secret: string,
  received: ReceivedWebhook,
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<boolean> {
  const header = received.headers["ticketsafi-signature"] ?? "";
  const parts = new Map(
    header.split(",").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]),
  );
  const t = Number(parts.get("t"));
  const v1 = parts.get("v1") ?? "";
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > 300 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  const mac = new Uint8Array(v1.match(/../g)?.map((h) => Number.parseInt(h, 16)) ?? []);
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["verify"],
  );
  return crypto.subtle.verify("HMAC", key, mac, encoder.encode(`${t}.${received.body}`));
}

export async function deliveriesOfEndpoint(endpointId: string) {
  const rows = await env.DB.prepare(
    "SELECT * FROM webhook_deliveries WHERE endpoint_id = ? ORDER BY created_at, rowid",
  )
    .bind(endpointId)
    .all<Record<string, unknown>>();
  return rows.results;
}

export async function eventsOfOrganizer(organizerId: string) {
  const rows = await env.DB.prepare(
    "SELECT * FROM webhook_events WHERE organizer_id = ? ORDER BY created_at, rowid",
  )
    .bind(organizerId)
    .all<{ id: string; type: string; body: string; dedupe_key: string | null }>();
  return rows.results;
}

/** Make a PENDING delivery due now (as if its wait had passed). */
export async function makeDue(deliveryId: string): Promise<void> {
  await env.DB.prepare("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?")
    .bind(Date.now() - 1000, deliveryId)
    .run();
}

/** An organizer (with the recording queue) and, if asked, an endpoint of theirs. */
export async function webhookWorld(endpoint: Record<string, unknown> | null = { url: HOOK }) {
  const q = delayRecordingQueue();
  const vars = { ...DARAJA, ...B2C_VARS, ...q.vars } as Record<string, string>;
  const client = new TestClient(vars);
  const user = await registerUser(client, { role: "ORGANIZER" });
  const hook = endpoint ? await createEndpoint(client, endpoint) : undefined;
  const refundWorld = { darajaVars: vars } as unknown as RefundWorld;
  return {
    q,
    vars,
    organizer: { client, id: user.id, email: user.email },
    hook,
    buy: (quantity = 1) => paidOrder(refundWorld, { quantity, organizer: { client, id: user.id } }),
    /** Run every webhook job waiting; answers how many ran. */
    async drain(): Promise<number> {
      const jobs = q.takeWebhookJobs();
      if (jobs.length > 0)
        await runWebhookJobs(
          jobs.map((j) => j.body),
          vars,
        );
      return jobs.length;
    },
  };
}
