/** Webhook endpoints and their deliveries log (contract v3 §16.1, §16.3). */
import { z } from "@hono/zod-openapi";
import { toNairobiIso } from "../../lib/time";
import { DELIVERY_STATUSES, type DeliveryRow, type EndpointRow } from "../../services/webhooks/endpoints";
import { eventTypesOf, WEBHOOK_EVENT_TYPES } from "../../services/webhooks/event-types";

export const WebhookEndpointSchema = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(z.enum(WEBHOOK_EVENT_TYPES)),
    description: z.string(),
    is_active: z.boolean(),
    disabled_reason: z.enum(["gone", "failing", "manual"]).nullable().openapi({
      description: "gone: answered 410; failing: no 2xx for 72 h; manual: switched off by the organizer",
    }),
    created_at: z.string(),
    last_delivery_at: z.string().nullable(),
  })
  .openapi("WebhookEndpoint");

export const WebhookEndpointCreatedSchema = WebhookEndpointSchema.extend({
  secret: z.string().openapi({
    example: "whsec_…",
    description: "Shown only in this answer. The HMAC key is the whole string, prefix included.",
  }),
}).openapi("WebhookEndpointCreated");

export const WebhookDeliverySchema = z
  .object({
    id: z.string(),
    event_id: z.string(),
    type: z.string(),
    status: z.enum(DELIVERY_STATUSES),
    attempts: z.number().int(),
    created: z.string(),
    last_attempt_at: z.string().nullable(),
    next_attempt_at: z.string().nullable(),
    last_response_code: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "null after a timeout or network error" }),
    last_error: z
      .string()
      .nullable()
      .openapi({ description: "null, timeout, network, redirect or http_<code>" }),
  })
  .openapi("WebhookDelivery");

export const WebhookPingSchema = z
  .object({ delivered: z.boolean(), delivery: WebhookDeliverySchema })
  .openapi("WebhookPing");

export function toWebhookEndpoint(row: EndpointRow) {
  return {
    id: row.id,
    url: row.url,
    events: eventTypesOf(row.eventMask),
    description: row.description,
    is_active: row.isActive,
    disabled_reason: row.disabledReason,
    created_at: toNairobiIso(row.createdAt),
    last_delivery_at: toNairobiIso(row.lastDeliveryAt),
  };
}

export function toWebhookDelivery(row: DeliveryRow) {
  return {
    id: row.id,
    event_id: row.eventId,
    type: row.type,
    status: row.status,
    attempts: row.attempts,
    created: toNairobiIso(row.createdAt),
    last_attempt_at: toNairobiIso(row.lastAttemptAt),
    // While PENDING only: a final delivery has no next attempt.
    next_attempt_at: row.status === "PENDING" ? toNairobiIso(row.nextAttemptAt) : null,
    last_response_code: row.lastResponseCode,
    last_error: row.lastError,
  };
}
