/**
 * Organizer webhooks (contract v3 §16.1): endpoint CRUD, the synchronous ping and the
 * deliveries log. ORGANIZER only; another organizer's endpoint is 404. Thin handlers over
 * services/webhooks/endpoints.
 */
import { z } from "@hono/zod-openapi";
import {
  countDeliveries,
  countEndpoints,
  createEndpoint,
  DELIVERY_STATUSES,
  deleteEndpoint,
  getEndpoint,
  listDeliveries,
  listEndpoints,
  pingEndpoint,
  updateEndpoint,
} from "../../services/webhooks/endpoints";
import { WEBHOOK_EVENT_TYPES } from "../../services/webhooks/event-types";
import { MAX_WEBHOOK_URL_LENGTH } from "../../services/webhooks/urls";
import { BooleanInput } from "../fields";
import { PaginationQuery, pageOf, pageSchema } from "../pagination";
import { type Api, defineRoute } from "../route";
import {
  toWebhookDelivery,
  toWebhookEndpoint,
  WebhookDeliverySchema,
  WebhookEndpointCreatedSchema,
  WebhookEndpointSchema,
  WebhookPingSchema,
} from "../views/webhook";

const TAGS = ["Webhooks"];
const ORGANIZER = ["ORGANIZER"] as const;

// Length first: an over-long URL gets the length message, not the public-URL one.
const Url = z
  .string()
  .trim()
  .max(MAX_WEBHOOK_URL_LENGTH)
  .openapi({ example: "https://hooks.example.com/ticketsafi", description: "https with a public host" });
const Events = z
  .array(z.enum(WEBHOOK_EVENT_TYPES, { error: "Unknown event type." }))
  .min(1, { error: "Choose at least one event type." })
  .transform((types) => [...new Set(types)])
  .openapi({ description: `A non-empty subset of ${WEBHOOK_EVENT_TYPES.join(", ")}; default all` });
const Description = z.string().max(500);

const CreateBody = z
  .object({ url: Url, events: Events.optional(), description: Description.optional() })
  .strict()
  .openapi("WebhookEndpointCreateRequest");
const UpdateBody = z
  .object({
    url: Url.optional(),
    events: Events.optional(),
    description: Description.optional(),
    is_active: BooleanInput.optional(),
  })
  .strict()
  .openapi("WebhookEndpointUpdateRequest");

const Params = z.object({ id: z.string().max(64) });
const DeliveriesQuery = PaginationQuery.extend({ status: z.enum(DELIVERY_STATUSES).optional() });

export function registerWebhookRoutes(app: Api): void {
  const base = "/api/organizer/webhooks/";
  const notFound = { description: "No such endpoint of this organizer" };

  defineRoute(
    app,
    {
      method: "get",
      path: base,
      tags: TAGS,
      summary: "The organizer's webhook endpoints, newest first",
      roles: ORGANIZER,
      query: PaginationQuery,
      responses: { 200: { description: "A page of endpoints", schema: pageSchema(WebhookEndpointSchema) } },
    },
    async (c, { query }) => {
      const organizer = await c.var.auth.requireUser();
      const { db } = c.var.services;
      return c.json(
        await pageOf(c, query, {
          count: () => countEndpoints(db, organizer),
          rows: (limit, offset) => listEndpoints(db, organizer, limit, offset),
          map: toWebhookEndpoint,
        }),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: base,
      tags: TAGS,
      summary: "Create an endpoint (its secret is shown only in this answer)",
      roles: ORGANIZER,
      body: CreateBody,
      responses: {
        201: { description: "Created, with `secret`", schema: WebhookEndpointCreatedSchema },
        400: { description: "Not a public https URL, unknown event type, or 10 endpoints already" },
      },
    },
    async (c, { body }) => {
      const organizer = await c.var.auth.requireUser();
      const { endpoint, secret } = await createEndpoint(c.var.services, organizer, {
        url: body.url,
        events: body.events,
        description: body.description,
      });
      return c.json({ ...toWebhookEndpoint(endpoint), secret }, 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: `${base}{id}/`,
      tags: TAGS,
      summary: "One endpoint",
      roles: ORGANIZER,
      params: Params,
      responses: { 200: { description: "Endpoint", schema: WebhookEndpointSchema }, 404: notFound },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      return c.json(toWebhookEndpoint(await getEndpoint(c.var.services.db, organizer, params.id)), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "patch",
      path: `${base}{id}/`,
      tags: TAGS,
      summary: "Edit an endpoint",
      description:
        "`is_active: true` re-enables it (clearing `disabled_reason`); `false` disables it (`manual`) and cancels its pending deliveries.",
      roles: ORGANIZER,
      params: Params,
      body: UpdateBody,
      responses: {
        200: { description: "Updated", schema: WebhookEndpointSchema },
        400: { description: "Validation error" },
        404: notFound,
      },
    },
    async (c, { params, body }) => {
      const organizer = await c.var.auth.requireUser();
      const row = await updateEndpoint(c.var.services, organizer, params.id, {
        url: body.url,
        events: body.events,
        description: body.description,
        isActive: body.is_active,
      });
      return c.json(toWebhookEndpoint(row), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: `${base}{id}/`,
      tags: TAGS,
      summary: "Delete an endpoint; its pending deliveries become CANCELLED",
      roles: ORGANIZER,
      params: Params,
      responses: { 204: { description: "Deleted" }, 404: notFound },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      await deleteEndpoint(c.var.services, organizer, params.id);
      return c.body(null, 204);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: `${base}{id}/ping/`,
      tags: TAGS,
      summary: "Send one `ping` now (not retried; a disabled endpoint stays disabled)",
      roles: ORGANIZER,
      params: Params,
      responses: { 200: { description: "The attempt", schema: WebhookPingSchema }, 404: notFound },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      const { delivered, delivery } = await pingEndpoint(c.var.services, organizer, params.id);
      return c.json({ delivered, delivery: toWebhookDelivery(delivery) }, 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: `${base}{id}/deliveries/`,
      tags: TAGS,
      summary: "The endpoint's deliveries, newest first (kept 30 days)",
      roles: ORGANIZER,
      params: Params,
      query: DeliveriesQuery,
      responses: {
        200: { description: "A page of deliveries", schema: pageSchema(WebhookDeliverySchema) },
        404: notFound,
      },
    },
    async (c, { params, query }) => {
      const organizer = await c.var.auth.requireUser();
      const { db } = c.var.services;
      const endpoint = await getEndpoint(db, organizer, params.id);
      return c.json(
        await pageOf(c, query, {
          count: () => countDeliveries(db, endpoint.id, query.status),
          rows: (limit, offset) => listDeliveries(db, endpoint.id, query.status, limit, offset),
          map: toWebhookDelivery,
        }),
        200,
      );
    },
  );
}
