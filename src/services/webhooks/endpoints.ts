/**
 * An organizer's webhook endpoints (contract v3 §16.1): CRUD, the synchronous ping, and the
 * deliveries log. One organizer's endpoints are invisible to every other (404). The secret is
 * made here, sealed before it is stored, and returned only by `createEndpoint`.
 */
import { and, count, desc, eq, isNull, sql } from "drizzle-orm";
import { base64url } from "jose";
import type { Config } from "../../config";
import { type Database, runBatch } from "../../db/client";
import { type User, webhookDeliveries, webhookEndpoints, webhookEvents } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { openSecret, sealSecret } from "../../lib/secret-box";
import { toNairobiIso } from "../../lib/time";
import { isUuid } from "../../lib/uuid";
import { cancelPendingStatement, postSigned, WEBHOOK_SECRET_PURPOSE } from "./deliver";
import { ALL_EVENTS_MASK, eventMaskOf, type WebhookEventType } from "./event-types";
import { webhookUrlProblem } from "./urls";

export const MAX_ENDPOINTS_PER_ORGANIZER = 10;
export const DELIVERY_STATUSES = ["PENDING", "DELIVERED", "FAILED", "CANCELLED"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

export interface WebhookEndpointsDeps {
  db: Database;
  config: Config;
}

export interface EndpointInput {
  url?: string | undefined;
  events?: WebhookEventType[] | undefined;
  description?: string | undefined;
  isActive?: boolean | undefined;
}

/** `whsec_` + 32 random bytes, base64url (43 characters): the HMAC key is the whole string. */
function newSecret(): string {
  return `whsec_${base64url.encode(crypto.getRandomValues(new Uint8Array(32)))}`;
}

function checkUrl(config: Config, url: string): string {
  const problem = webhookUrlProblem(url, config.webhooks.allowLocalUrls);
  if (problem) throw DomainError.field("url", problem);
  return url;
}

function ownEndpoint(organizer: User, endpointId: string) {
  return and(
    eq(webhookEndpoints.id, endpointId.toLowerCase()),
    eq(webhookEndpoints.organizerId, organizer.id),
    isNull(webhookEndpoints.deletedAt),
  );
}

export async function getEndpoint(db: Database, organizer: User, endpointId: string): Promise<EndpointRow> {
  if (!isUuid(endpointId)) throw DomainError.notFound();
  const [row] = await db.select().from(webhookEndpoints).where(ownEndpoint(organizer, endpointId)).limit(1);
  if (!row) throw DomainError.notFound();
  return row;
}

const liveOf = (organizer: User) =>
  and(eq(webhookEndpoints.organizerId, organizer.id), isNull(webhookEndpoints.deletedAt));

export async function countEndpoints(db: Database, organizer: User): Promise<number> {
  const [row] = await db.select({ n: count() }).from(webhookEndpoints).where(liveOf(organizer));
  return row?.n ?? 0;
}

export function listEndpoints(db: Database, organizer: User, limit: number, offset: number) {
  return db
    .select()
    .from(webhookEndpoints)
    .where(liveOf(organizer))
    .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id))
    .limit(limit)
    .offset(offset);
}

export async function createEndpoint(
  deps: WebhookEndpointsDeps,
  organizer: User,
  input: EndpointInput & { url: string },
  now = Date.now(),
): Promise<{ endpoint: EndpointRow; secret: string }> {
  const url = checkUrl(deps.config, input.url);
  const secret = newSecret();
  const id = crypto.randomUUID();
  const mask = input.events ? eventMaskOf(input.events) : ALL_EVENTS_MASK;
  const sealed = await sealSecret(deps.config.webhooks.secretKey, WEBHOOK_SECRET_PURPOSE, secret);
  // The cap is checked in the INSERT itself, so parallel creates cannot pass it together.
  const written = await deps.db.run(
    sql`INSERT INTO webhook_endpoints (id, organizer_id, url, event_mask, description, is_active, secret_ciphertext, created_at, updated_at)
      SELECT ${id}, ${organizer.id}, ${url}, ${mask}, ${input.description ?? ""}, 1, ${sealed}, ${now}, ${now}
      WHERE (SELECT count(*) FROM webhook_endpoints WHERE organizer_id = ${organizer.id} AND deleted_at IS NULL) < ${MAX_ENDPOINTS_PER_ORGANIZER}`,
  );
  if (!written.meta.changes) {
    throw DomainError.nonField(
      `An organizer can have at most ${MAX_ENDPOINTS_PER_ORGANIZER} webhook endpoints.`,
    );
  }
  const endpoint = await getEndpoint(deps.db, organizer, id);
  return { endpoint, secret };
}

export async function updateEndpoint(
  deps: WebhookEndpointsDeps,
  organizer: User,
  endpointId: string,
  input: EndpointInput,
  now = Date.now(),
): Promise<EndpointRow> {
  const current = await getEndpoint(deps.db, organizer, endpointId);
  const changes: Partial<EndpointRow> = { updatedAt: now };
  if (input.url !== undefined) changes.url = checkUrl(deps.config, input.url);
  if (input.events !== undefined) changes.eventMask = eventMaskOf(input.events);
  if (input.description !== undefined) changes.description = input.description;
  // §16.1: true clears `disabled_reason` (and the failure clock); false is a manual disable.
  if (input.isActive === true)
    Object.assign(changes, { isActive: true, disabledReason: null, failingSince: null });
  if (input.isActive === false) Object.assign(changes, { isActive: false, disabledReason: "manual" });
  const statements = [
    deps.db.update(webhookEndpoints).set(changes).where(ownEndpoint(organizer, current.id)).returning(),
    // Switched off: what it still had pending will not be sent.
    ...(input.isActive === false ? [cancelPendingStatement(deps.db, current.id)] : []),
  ];
  const [updated] = (await runBatch(deps.db, statements)) as [EndpointRow[]];
  const row = updated[0];
  if (!row) throw DomainError.notFound();
  return row;
}

/** Soft delete (the log keeps naming it); its pending deliveries become CANCELLED. */
export async function deleteEndpoint(
  deps: WebhookEndpointsDeps,
  organizer: User,
  endpointId: string,
  now = Date.now(),
): Promise<void> {
  const current = await getEndpoint(deps.db, organizer, endpointId);
  await runBatch(deps.db, [
    deps.db
      .update(webhookEndpoints)
      .set({ deletedAt: now, isActive: false, updatedAt: now })
      .where(ownEndpoint(organizer, current.id)),
    cancelPendingStatement(deps.db, current.id),
  ]);
}

/**
 * §16.1 ping: one `ping` delivery, sent now, not retried, also to a disabled endpoint (which
 * stays disabled). The organizer waits for the answer, so it is sent from the request.
 */
export async function pingEndpoint(
  deps: WebhookEndpointsDeps,
  organizer: User,
  endpointId: string,
  now = Date.now(),
): Promise<{ delivered: boolean; delivery: DeliveryRow }> {
  const endpoint = await getEndpoint(deps.db, organizer, endpointId);
  const eventId = crypto.randomUUID();
  const deliveryId = crypto.randomUUID();
  const body = JSON.stringify({
    id: eventId,
    type: "ping",
    created: toNairobiIso(now),
    data: { webhook_id: endpoint.id },
  });
  await runBatch(deps.db, [
    deps.db.insert(webhookEvents).values({
      id: eventId,
      organizerId: organizer.id,
      type: "ping",
      dedupeKey: null,
      body,
      createdAt: now,
    }),
    deps.db.insert(webhookDeliveries).values({
      id: deliveryId,
      eventId,
      endpointId: endpoint.id,
      type: "ping",
      status: "PENDING",
      attempts: 1,
      createdAt: now,
      lastAttemptAt: now,
      nextAttemptAt: null,
    }),
  ]);
  const secret = await openSecret(
    deps.config.webhooks.secretKey,
    WEBHOOK_SECRET_PURPOSE,
    endpoint.secretCiphertext,
  );
  const result =
    secret === null
      ? ({ ok: false, code: null, error: "network" } as const)
      : await postSigned(endpoint.url, body, secret, { type: "ping", deliveryId });
  const [delivery] = await deps.db
    .update(webhookDeliveries)
    .set({
      status: result.ok ? "DELIVERED" : "FAILED",
      lastResponseCode: result.code,
      lastError: result.ok ? null : result.error,
    })
    .where(eq(webhookDeliveries.id, deliveryId))
    .returning();
  if (!delivery) throw new Error("ping delivery vanished");
  return { delivered: result.ok, delivery };
}

function deliveriesOf(endpointId: string, status: DeliveryStatus | undefined) {
  return and(
    eq(webhookDeliveries.endpointId, endpointId),
    status ? eq(webhookDeliveries.status, status) : undefined,
  );
}

export async function countDeliveries(
  db: Database,
  endpointId: string,
  status: DeliveryStatus | undefined,
): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(webhookDeliveries)
    .where(deliveriesOf(endpointId, status));
  return row?.n ?? 0;
}

export function listDeliveries(
  db: Database,
  endpointId: string,
  status: DeliveryStatus | undefined,
  limit: number,
  offset: number,
) {
  return db
    .select()
    .from(webhookDeliveries)
    .where(deliveriesOf(endpointId, status))
    .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
    .limit(limit)
    .offset(offset);
}
