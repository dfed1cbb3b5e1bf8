/**
 * Sending webhook deliveries (contract v3 §16.3). At least once, never two attempts at once:
 * an attempt first CLAIMS its delivery (a conditional update that counts the attempt and moves
 * `next_attempt_at` to the end of a lease), so a redelivered queue message, the sweep's
 * re-send and a retry racing each other send one request. The body is the outbox's stored
 * bytes; only `t` and the signature are new each attempt.
 *
 * Outcomes: 2xx → DELIVERED; 410 → the endpoint is disabled (`gone`) and its pending
 * deliveries CANCELLED; anything else (other status, 3xx, timeout, network error) → the next
 * wait of the schedule, up to 11 attempts, then FAILED. An endpoint with no 2xx for 72 h while
 * deliveries were due is disabled (`failing`) and its organizer emailed. A delivery whose
 * endpoint was disabled or deleted meanwhile is CANCELLED without an attempt.
 */
import { and, eq, isNull, lte, or, sql } from "drizzle-orm";
import type { Config } from "../../config";
import { type Database, runBatch } from "../../db/client";
import { users, webhookDeliveries, webhookEndpoints, webhookEvents } from "../../db/schema";
import type { DeliveryJob, WebhookDeliveryJob, WebhookEventJob } from "../../delivery/jobs";
import { describeError, type Logger } from "../../lib/logger";
import { openSecret } from "../../lib/secret-box";
import { toNairobiIso } from "../../lib/time";
import { webhookSignature } from "../../lib/webhook-signature";
import { type MailDeps, queueMail } from "../../mail/mailer";
import { webhookDisabledMail } from "../../mail/templates";

export interface WebhookDeliveryDeps {
  db: Database;
  config: Config;
  queue: Queue<DeliveryJob>;
  mail: MailDeps;
  log: Logger;
}

/** The purpose the endpoint secrets are sealed under (src/lib/secret-box.ts). */
export const WEBHOOK_SECRET_PURPOSE = "webhook-endpoint-secret";

export const MAX_ATTEMPTS = 11;
/** Waits after attempt 1, 2, … 10, in units of WEBHOOK_RETRY_BASE_SECONDS (§16.3). */
const WAIT_UNITS = [1, 5, 30, 120, 360, 720, 720, 720, 720, 720] as const;
const TIMEOUT_MS = 10_000;
/** Longer than the request's timeout: an attempt still running keeps its claim. */
const LEASE_MS = 30_000;
/** A queued retry may arrive a little before its time; it still counts as due. */
const EARLY_MS = 5_000;
export const FAILING_DISABLE_MS = 72 * 60 * 60 * 1000;
/** Queues' longest message delay. */
const MAX_QUEUE_DELAY_SECONDS = 43_200;

export function retryWaitSeconds(attempts: number, baseSeconds: number): number | null {
  const units = WAIT_UNITS[attempts - 1];
  return attempts >= MAX_ATTEMPTS || units === undefined ? null : units * baseSeconds;
}

export type AttemptResult =
  | { ok: true; code: number }
  | { ok: false; code: number | null; error: "timeout" | "network" | "redirect" | `http_${number}` };

/** One signed POST; the receiver's body is never read (it may be huge). */
export async function postSigned(
  url: string,
  body: string,
  secret: string,
  headers: { type: string; deliveryId: string },
): Promise<AttemptResult> {
  const t = Math.floor(Date.now() / 1000);
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        "User-Agent": "TicketSafi-Webhooks/1",
        "TicketSafi-Event": headers.type,
        "TicketSafi-Delivery": headers.deliveryId,
        "TicketSafi-Signature": await webhookSignature(secret, body, t),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    await response.body?.cancel().catch(() => undefined);
    const code = response.status;
    if (code >= 200 && code < 300) return { ok: true, code };
    if (code >= 300 && code < 400) return { ok: false, code, error: "redirect" };
    return { ok: false, code, error: `http_${code}` };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    return {
      ok: false,
      code: null,
      error: name === "TimeoutError" || name === "AbortError" ? "timeout" : "network",
    };
  }
}

type DeliveryOutcome = "delivered" | "retry" | "failed" | "cancelled" | "gone" | "not_due" | "not_pending";

/**
 * Every PENDING delivery of one outbox event, attempted side by side. The job settles only
 * once EVERY attempt has: with a bare `Promise.all`, one delivery's D1 error would fail the
 * job while its siblings were still between their POST and its record; the consumer moves on
 * and the invocation can end under them, leaving a delivery the receiver got but D1 still
 * holds claimed, which the sweep later sends again (a duplicate). The first error is rethrown
 * after all have settled, so the message is retried and finds the others recorded.
 */
export async function runWebhookEventJob(deps: WebhookDeliveryDeps, job: WebhookEventJob): Promise<void> {
  const due = await deps.db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.eventId, job.eventId), eq(webhookDeliveries.status, "PENDING")));
  const settled = await Promise.allSettled(due.map((row) => attemptDelivery(deps, row.id)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (failed) throw failed.reason;
}

export async function runWebhookDeliveryJob(
  deps: WebhookDeliveryDeps,
  job: WebhookDeliveryJob,
): Promise<void> {
  await attemptDelivery(deps, job.deliveryId);
}

async function loadDelivery(db: Database, deliveryId: string) {
  const [row] = await db
    .select({
      delivery: webhookDeliveries,
      body: webhookEvents.body,
      endpoint: webhookEndpoints,
    })
    .from(webhookDeliveries)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, deliveryId))
    .limit(1);
  return row;
}

/** Claim, send once, record. Safe to call any number of times for one delivery. */
export async function attemptDelivery(
  deps: WebhookDeliveryDeps,
  deliveryId: string,
  now = Date.now(),
): Promise<DeliveryOutcome> {
  const { db } = deps;
  const row = await loadDelivery(db, deliveryId);
  if (row?.delivery.status !== "PENDING") return "not_pending";
  const { endpoint } = row;
  const isPending = and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.status, "PENDING"));

  if (endpoint.deletedAt !== null || !endpoint.isActive) {
    await db.update(webhookDeliveries).set({ status: "CANCELLED", nextAttemptAt: null }).where(isPending);
    return "cancelled";
  }

  const [claimed] = await db
    .update(webhookDeliveries)
    .set({
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      lastAttemptAt: now,
      nextAttemptAt: now + LEASE_MS,
    })
    .where(
      and(
        isPending,
        or(isNull(webhookDeliveries.nextAttemptAt), lte(webhookDeliveries.nextAttemptAt, now + EARLY_MS)),
      ),
    )
    .returning({ attempts: webhookDeliveries.attempts });
  if (!claimed) return "not_due";

  const secret = await openSecret(
    deps.config.webhooks.secretKey,
    WEBHOOK_SECRET_PURPOSE,
    endpoint.secretCiphertext,
  );
  if (secret === null) {
    // WEBHOOK_SECRET_KEY changed under the endpoint: nothing can be signed until the organizer
    // makes a new endpoint. Logged loudly; the attempt counts as a failure.
    deps.log.error("webhook secret cannot be opened (WEBHOOK_SECRET_KEY changed?)", {
      endpoint_id: endpoint.id,
    });
  }
  const result: AttemptResult =
    secret === null
      ? { ok: false, code: null, error: "network" }
      : await postSigned(endpoint.url, row.body, secret, { type: row.delivery.type, deliveryId });
  return recordAttempt(deps, { deliveryId, endpoint, attempts: claimed.attempts, result, now: Date.now() });
}

interface AttemptRecord {
  deliveryId: string;
  endpoint: typeof webhookEndpoints.$inferSelect;
  attempts: number;
  result: AttemptResult;
  now: number;
}

async function recordAttempt(deps: WebhookDeliveryDeps, attempt: AttemptRecord): Promise<DeliveryOutcome> {
  const { db } = deps;
  const { deliveryId, endpoint, attempts, result, now } = attempt;
  const thisDelivery = eq(webhookDeliveries.id, deliveryId);
  const seen = { lastResponseCode: result.code, lastError: result.ok ? null : result.error };

  if (result.ok) {
    await runBatch(db, [
      db
        .update(webhookDeliveries)
        .set({ ...seen, status: "DELIVERED", nextAttemptAt: null })
        .where(thisDelivery),
      db
        .update(webhookEndpoints)
        .set({ lastDeliveryAt: now, failingSince: null })
        .where(eq(webhookEndpoints.id, endpoint.id)),
    ]);
    return "delivered";
  }

  if (result.code === 410) {
    // The receiver says the URL is gone for good: stop sending anything to it.
    await runBatch(db, [
      db
        .update(webhookDeliveries)
        .set({ ...seen, status: "CANCELLED", nextAttemptAt: null })
        .where(thisDelivery),
      ...disableStatements(db, endpoint.id, "gone", now),
    ]);
    return "gone";
  }

  const wait = retryWaitSeconds(attempts, deps.config.webhooks.retryBaseSeconds);
  const failingSince = endpoint.failingSince ?? now;
  await runBatch(db, [
    db
      .update(webhookDeliveries)
      .set(
        wait === null
          ? { ...seen, status: "FAILED", nextAttemptAt: null }
          : { ...seen, nextAttemptAt: now + wait * 1000 },
      )
      .where(thisDelivery),
    db
      .update(webhookEndpoints)
      .set({ lastDeliveryAt: now, failingSince: sql`COALESCE(${webhookEndpoints.failingSince}, ${now})` })
      .where(eq(webhookEndpoints.id, endpoint.id)),
  ]);

  if (now - failingSince >= FAILING_DISABLE_MS) {
    await disableFailingEndpoint(deps, endpoint, failingSince, now);
    return wait === null ? "failed" : "cancelled";
  }
  if (wait === null) return "failed";
  try {
    await deps.queue.send(
      { type: "webhook_delivery", deliveryId },
      { delaySeconds: Math.min(MAX_QUEUE_DELAY_SECONDS, wait) },
    );
  } catch (error) {
    // The delivery stays PENDING with its time: the sweep re-sends it once it is overdue.
    deps.log.warn("webhook retry enqueue failed; the sweep will send it", {
      delivery_id: deliveryId,
      ...describeError(error),
    });
  }
  return "retry";
}

/** The endpoint off, and everything it still had pending CANCELLED, in one batch. */
export function disableStatements(
  db: Database,
  endpointId: string,
  reason: "gone" | "failing" | "manual",
  now: number,
) {
  return [
    db
      .update(webhookEndpoints)
      .set({ isActive: false, disabledReason: reason, updatedAt: now })
      .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.isActive, true))),
    cancelPendingStatement(db, endpointId),
  ] as const;
}

export function cancelPendingStatement(db: Database, endpointId: string) {
  return db
    .update(webhookDeliveries)
    .set({ status: "CANCELLED", nextAttemptAt: null })
    .where(and(eq(webhookDeliveries.endpointId, endpointId), eq(webhookDeliveries.status, "PENDING")));
}

async function disableFailingEndpoint(
  deps: WebhookDeliveryDeps,
  endpoint: AttemptRecord["endpoint"],
  failingSince: number,
  now: number,
): Promise<void> {
  const { db } = deps;
  const [disabled] = await db
    .update(webhookEndpoints)
    .set({ isActive: false, disabledReason: "failing", updatedAt: now })
    .where(and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.isActive, true)))
    .returning({ id: webhookEndpoints.id });
  await cancelPendingStatement(db, endpoint.id);
  if (!disabled) return;
  deps.log.warn("webhook endpoint disabled after 72 h of failures", { endpoint_id: endpoint.id });
  const organizer = await db.query.users.findFirst({
    where: eq(users.id, endpoint.organizerId),
    columns: { email: true, username: true, firstName: true },
  });
  if (!organizer) return;
  const name = organizer.firstName || organizer.username;
  await queueMail(deps.mail, {
    kind: "webhook_disabled",
    to: { email: organizer.email, name },
    ...webhookDisabledMail({ name, url: endpoint.url, since: toNairobiIso(failingSince) }),
    dedupeKey: `webhook_disabled:${endpoint.id}:${failingSince}`,
  });
}
