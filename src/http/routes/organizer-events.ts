/** Organizer portal: create, edit, delete/cancel events (contract §6). ORGANIZER only. */
import { z } from "@hono/zod-openapi";
import { EVENT_CATEGORIES, type User } from "../../db/schema";
import { MAX_IMAGE_BYTES, readImageField } from "../../services/images";
import { listOrganizerEvents, organizerDashboard } from "../../services/organizer-dashboard";
import {
  createEvent,
  loadOwnEvent,
  removeEvent,
  type TierInput,
  updateEvent,
} from "../../services/organizer-events";
import { BooleanInput, DateTimeInput, FileInput, IntegerInput, PriceInput } from "../fields";
import { buildPage, PaginationQuery, pageSchema, parsePageRequest } from "../pagination";
import { type Api, defineRoute } from "../route";
import { EditEventSchema, toEditRepresentation } from "../views/event";
import { OrganizerEventItemSchema, toEventListItem } from "../views/event-list-item";

const TAGS = ["Organizer"];
const ORGANIZER = ["ORGANIZER"] as const;

const emptyToUndefined = (value: unknown) => (value === "" ? undefined : value);
const emptyToNull = (value: unknown) => (value === "" ? null : value);

const Category = z.preprocess(
  (v) => (typeof v === "string" ? v.trim().toUpperCase() : v),
  z.enum(EVENT_CATEGORIES),
);
const OptionalDateTime = z.preprocess(emptyToNull, DateTimeInput.nullable().optional());

/** A tier as the organizer sends it. Unknown keys are refused (a typo must not pass silently). */
const TierBody = z
  .object({
    id: z.string().uuid().optional(),
    name: z.string().trim().min(1).max(100),
    description: z.string().trim().max(1000).optional().default(""),
    price: PriceInput,
    quantity_allocated: IntegerInput(1, 1_000_000),
    max_per_order: z.preprocess(emptyToUndefined, IntegerInput(1, 100).optional()),
    /** §15.1: seats per buyer across orders; null (or "") = no limit. */
    max_per_buyer: z.preprocess(emptyToNull, IntegerInput(1, 1_000_000).nullable().optional()),
    sales_start: OptionalDateTime,
    sales_end: OptionalDateTime,
    // Read-only fields the edit representation returns; accepted back and ignored.
    quantity_sold: z.unknown().optional(),
    quantity_held: z.unknown().optional(),
    available_qty: z.unknown().optional(),
    is_on_sale: z.unknown().optional(),
  })
  .strict();

/** `tiers` is a JSON string in multipart bodies, and an array or a string in JSON. */
const TiersField = z.preprocess((value, ctx) => {
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    ctx.addIssue({ code: "custom", message: "Tiers must be a JSON list." });
    return z.NEVER;
  }
}, z.array(TierBody).max(50));

const eventFields = {
  title: z.string().trim().min(1).max(200),
  description: z.string().trim().max(10_000).optional().default(""),
  // The original web client never sends a category; such events are OTHER.
  category: z.preprocess(emptyToUndefined, Category.optional().default("OTHER")),
  location_name: z.string().trim().max(255).optional().default(""),
  start_datetime: DateTimeInput,
  end_datetime: DateTimeInput,
  is_published: z.preprocess(emptyToUndefined, BooleanInput.optional().default(true)),
  is_private: z.preprocess(emptyToUndefined, BooleanInput.optional().default(false)),
  allow_transfers: z.preprocess(emptyToUndefined, BooleanInput.optional().default(true)).openapi({
    description: 'Whether holders may transfer tickets (default true; multipart `"true"`/`"false"`)',
  }),
  store: z.preprocess(emptyToNull, z.string().uuid({ error: "Invalid store id." }).nullable().optional()),
  poster_image: FileInput.optional(),
  tiers: TiersField,
};

const CreateEventBody = z.object(eventFields).openapi("CreateEventRequest");

const UpdateEventBody = z
  .object({
    title: eventFields.title.optional(),
    description: z.string().trim().max(10_000).optional(),
    category: Category.optional(),
    location_name: z.string().trim().max(255).optional(),
    start_datetime: DateTimeInput.optional(),
    end_datetime: DateTimeInput.optional(),
    is_published: z.preprocess(emptyToUndefined, BooleanInput.optional()),
    is_private: z.preprocess(emptyToUndefined, BooleanInput.optional()),
    allow_transfers: z.preprocess(emptyToUndefined, BooleanInput.optional()),
    store: eventFields.store,
    poster_image: FileInput.optional(),
    tiers: TiersField.optional(),
  })
  .openapi("UpdateEventRequest");

const EventIdParams = z.object({ id: z.string().uuid() });

export const DashboardSchema = z
  .object({
    total_revenue: z.number().openapi({
      description: "What the organizer keeps: gross_revenue − total_refunded (completed orders)",
    }),
    gross_revenue: z.number().openapi({ description: "Σ amount paid on completed orders" }),
    total_refunded: z.number().openapi({ description: "Σ completed refunds of completed orders" }),
    total_discounts: z.number().openapi({ description: "Σ promo discounts on completed orders" }),
    tickets_sold: z.number().int(),
    total_attendees: z.number().int(),
    avg_ticket_price: z.number(),
    orders_pending: z.number().int(),
    orders_paid_unfulfilled: z.number().int(),
    orders_delivery_failed: z.number().int(),
    refunds_pending: z.number().int().openapi({ description: "Refunds PENDING or SENT" }),
    refunds_failed: z
      .number()
      .int()
      .openapi({ description: "Refunds FAILED and unresolved, or with a review_reason" }),
    recent_events: z.array(
      z.object({
        id: z.string(),
        title: z.string(),
        date: z.string(),
        status: z.enum(["Active", "Past", "Draft"]),
        sold: z.number().int(),
        capacity: z.number().int(),
        revenue: z.number(),
        refunded: z.number(),
        discounts: z.number(),
      }),
    ),
    sales_last_7_days: z.array(
      z.object({
        date: z.string(),
        tickets: z.number().int(),
        revenue: z.number().openapi({ description: "The day's sales less the day's completed refunds" }),
        refunded: z.number().openapi({ description: "Refunds completed that day (Nairobi), of any sale" }),
      }),
    ),
  })
  .openapi("OrganizerDashboard");

/** A cancelled event (it had sales): what was cancelled and which paid orders to refund. */
export const EventCancelledSchema = z.object({
  detail: z.string(),
  status: z.literal("CANCELLED"),
  tickets_cancelled: z.number().int(),
  orders_to_refund: z.array(
    z.object({
      order_id: z.string(),
      reference: z.string(),
      amount: z.number(),
      buyer_email: z.string(),
      phone_number: z.string().nullable(),
      mpesa_receipt_number: z.string().nullable(),
    }),
  ),
});

function toTierInputs(body: z.infer<typeof TierBody>[]): TierInput[] {
  return body.map((tier) => ({
    id: tier.id,
    name: tier.name,
    description: tier.description,
    price: tier.price,
    quantityAllocated: tier.quantity_allocated,
    maxPerOrder: tier.max_per_order,
    maxPerBuyer: tier.max_per_buyer,
    salesStart: tier.sales_start,
    salesEnd: tier.sales_end,
  }));
}

/**
 * The body's event fields under the service's names; a field PATCH leaves out stays out.
 * (The casts keep each field's type from the body: required in a create, optional in a PATCH.)
 */
function eventFieldsFrom<B extends z.infer<typeof UpdateEventBody>>(body: B) {
  return {
    title: body.title as B["title"],
    description: body.description as B["description"],
    category: body.category as B["category"],
    locationName: body.location_name as B["location_name"],
    startAt: body.start_datetime as B["start_datetime"],
    endAt: body.end_datetime as B["end_datetime"],
    isPublished: body.is_published as B["is_published"],
    isPrivate: body.is_private as B["is_private"],
    allowTransfers: body.allow_transfers as B["allow_transfers"],
    storeId: body.store as B["store"],
  };
}

/** Multipart sends `poster_image` as a File; JSON can only remove it (null/""). */
async function posterFrom(value: unknown, present: boolean) {
  if (!present) return undefined;
  return readImageField("poster_image", value);
}

export function registerOrganizerEventRoutes(app: Api): void {
  const uploadLimit = MAX_IMAGE_BYTES + 1024 * 1024;

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/dashboard/",
      tags: TAGS,
      summary: "Sales figures, recent events and the last 7 days",
      roles: ORGANIZER,
      responses: { 200: { description: "Dashboard", schema: DashboardSchema } },
    },
    async (c) => {
      const organizer = await c.var.auth.requireUser();
      return c.json(await organizerDashboard(c.var.db, organizer.id), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/events/",
      tags: TAGS,
      summary: "The organizer's events, drafts and past included, latest start first",
      roles: ORGANIZER,
      query: PaginationQuery,
      responses: { 200: { description: "A page of events", schema: pageSchema(OrganizerEventItemSchema) } },
    },
    async (c, { query }) => {
      const organizer = await c.var.auth.requireUser();
      const page = parsePageRequest(query);
      const { total, items } = await listOrganizerEvents(c.var.db, organizer.id, page);
      const base = c.var.config.publicBaseUrl;
      return c.json(
        buildPage(
          c,
          page,
          total,
          items.map((item) => ({
            ...toEventListItem(base, item.source),
            is_published: item.isPublished,
            tickets_sold: item.ticketsSold,
            revenue: item.revenue,
            refunded: item.refunded,
            discounts: item.discounts,
          })),
        ),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/organizer/events/create/",
      tags: TAGS,
      summary: "Create an event with its tiers (multipart with a poster, or JSON)",
      roles: ORGANIZER,
      body: CreateEventBody,
      maxBodyBytes: uploadLimit,
      responses: {
        201: { description: "Created (edit representation)", schema: EditEventSchema },
        400: { description: "Validation error" },
        413: { description: "Poster over 5 MB" },
        415: { description: "Poster not JPEG/PNG/WebP" },
      },
    },
    async (c, { body }) => {
      const organizer = await c.var.auth.requireUser();
      const poster = await readImageField("poster_image", body.poster_image);
      const { event, tiers } = await createEvent(c.var.services, organizer, {
        ...eventFieldsFrom(body),
        poster,
        tiers: toTierInputs(body.tiers),
      });
      return c.json(toEditRepresentation(c.var.config.publicBaseUrl, event, tiers), 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/events/{id}/edit/",
      tags: TAGS,
      summary: "The edit representation of one of the organizer's events",
      roles: ORGANIZER,
      params: EventIdParams,
      responses: {
        200: { description: "Event", schema: EditEventSchema },
        404: { description: "Not yours or unknown" },
      },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      const { event, tiers } = await loadOwnEvent(c.var.db, organizer.id, params.id);
      return c.json(toEditRepresentation(c.var.config.publicBaseUrl, event, tiers), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "patch",
      path: "/api/organizer/events/{id}/edit/",
      tags: TAGS,
      summary:
        "Edit an event: tiers with id update, without id are created, left out are deleted unless sold or held",
      roles: ORGANIZER,
      params: EventIdParams,
      body: UpdateEventBody,
      maxBodyBytes: uploadLimit,
      responses: {
        200: { description: "Updated", schema: EditEventSchema },
        400: { description: "Validation error (e.g. allocation below sold + held)" },
        404: { description: "Not yours or unknown" },
      },
    },
    async (c, { params, body }) => {
      const organizer: User = await c.var.auth.requireUser();
      const hasPoster = Object.hasOwn(body, "poster_image");
      const { event, tiers } = await updateEvent(c.var.services, organizer, params.id, {
        ...eventFieldsFrom(body),
        poster: await posterFrom(body.poster_image, hasPoster),
        tiers: body.tiers ? toTierInputs(body.tiers) : undefined,
      });
      return c.json(toEditRepresentation(c.var.config.publicBaseUrl, event, tiers), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: "/api/organizer/events/{id}/edit/",
      tags: TAGS,
      summary:
        "Delete an event without sales; cancel one with sales (tickets cancelled, paid orders listed for refund)",
      roles: ORGANIZER,
      params: EventIdParams,
      responses: {
        204: { description: "Deleted (no sales)" },
        200: { description: "Cancelled", schema: EventCancelledSchema },
        404: { description: "Not yours or unknown" },
      },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      const result = await removeEvent(c.var.services, organizer, params.id);
      if (result.outcome === "deleted") return c.body(null, 204);
      return c.json(
        {
          detail: "Event cancelled. Buyers have been notified.",
          status: "CANCELLED" as const,
          tickets_cancelled: result.ticketsCancelled,
          orders_to_refund: result.ordersToRefund,
        },
        200,
      );
    },
  );
}
