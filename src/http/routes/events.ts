/** Public event discovery: `GET /api/events/` and `GET /api/events/{id}/` (contract §3). */
import { z } from "@hono/zod-openapi";
import { EVENT_CATEGORIES, type EventCategory } from "../../db/schema";
import { DomainError, type FieldErrors } from "../../lib/errors";
import { nairobiDayBounds } from "../../lib/time";
import {
  buildMatchExpression,
  EVENT_ORDERINGS,
  type EventFilters,
  type EventOrdering,
  getPublicEvent,
  listPublicEvents,
} from "../../services/event-catalogue";
import { availableSeats } from "../../services/tier-rules";
import { buildPage, PaginationQuery, pageSchema, parsePageRequest } from "../pagination";
import { type Api, defineRoute } from "../route";
import { PublicTierSchema, toPublicTier } from "../views/event";
import { EventListItemSchema, toEventListItem } from "../views/event-list-item";

const TAGS = ["Events"];

const EventListQuery = PaginationQuery.extend({
  q: z.string().max(200).optional().openapi({ description: "Words in title, description or location" }),
  category: z
    .string()
    .max(30)
    .optional()
    .openapi({ description: `One of ${EVENT_CATEGORIES.join(", ")} (any case); All = no filter` }),
  date: z
    .string()
    .max(10)
    .optional()
    .openapi({ description: "YYYY-MM-DD: events happening that Nairobi day" }),
  date_from: z
    .string()
    .max(10)
    .optional()
    .openapi({ description: "YYYY-MM-DD: events still running on or after this day" }),
  date_to: z
    .string()
    .max(10)
    .optional()
    .openapi({ description: "YYYY-MM-DD: events starting on or before this day" }),
  min_price: z.string().max(12).optional().openapi({ description: "Some tier costs at least this (KES)" }),
  max_price: z
    .string()
    .max(12)
    .optional()
    .openapi({ description: "Some tier costs at most this (KES); 0 = free events" }),
  store: z.string().max(50).optional().openapi({ description: "Store slug" }),
  ordering: z
    .string()
    .max(20)
    .optional()
    .openapi({ description: EVENT_ORDERINGS.join(", ") }),
});

/** The public event detail: the list item plus its description and tiers. */
export const EventDetailSchema = EventListItemSchema.extend({
  description: z.string(),
  allow_transfers: z
    .boolean()
    .openapi({ description: "Whether holders may transfer tickets (contract v3 §14.5)" }),
  tiers: z.array(PublicTierSchema),
}).openapi("EventDetail");

const DATE_FORMAT_ERROR = "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.";

/** Query strings → filters, with a 400 naming each malformed parameter. */
function parseFilters(query: z.infer<typeof EventListQuery>): EventFilters {
  const errors: FieldErrors = {};
  const filters: EventFilters = { ordering: "start_datetime" };

  if (query.q?.trim()) filters.match = buildMatchExpression(query.q);

  const category = query.category?.trim();
  if (category && !/^all( events)?$/i.test(category)) {
    const upper = category.toUpperCase();
    if ((EVENT_CATEGORIES as readonly string[]).includes(upper)) filters.category = upper as EventCategory;
    else errors.category = [`"${category}" is not a valid choice.`];
  }

  const day = (name: "date" | "date_from" | "date_to") => {
    const value = query[name];
    if (value === undefined || value === "") return undefined;
    const bounds = nairobiDayBounds(value);
    if (!bounds) errors[name] = [DATE_FORMAT_ERROR];
    return bounds ?? undefined;
  };
  const date = day("date");
  const from = day("date_from");
  const to = day("date_to");
  const starts = [date?.start, from?.start].filter((v): v is number => v !== undefined);
  const ends = [date?.end, to?.end].filter((v): v is number => v !== undefined);
  if (starts.length > 0) filters.from = Math.max(...starts);
  if (ends.length > 0) filters.to = Math.min(...ends);

  const price = (name: "min_price" | "max_price") => {
    const value = query[name];
    if (value === undefined || value === "") return undefined;
    if (!/^\d{1,9}(\.\d{1,2})?$/.test(value.trim())) {
      errors[name] = ["A valid number is required."];
      return undefined;
    }
    return Number(value);
  };
  filters.minPrice = price("min_price");
  filters.maxPrice = price("max_price");
  if (
    filters.minPrice !== undefined &&
    filters.maxPrice !== undefined &&
    filters.minPrice > filters.maxPrice
  ) {
    errors.max_price = ["max_price must be greater than or equal to min_price."];
  }

  if (query.store) filters.storeSlug = query.store.trim().toLowerCase();

  if (query.ordering) {
    if ((EVENT_ORDERINGS as readonly string[]).includes(query.ordering))
      filters.ordering = query.ordering as EventOrdering;
    else
      errors.ordering = [
        `"${query.ordering}" is not a valid ordering. Use one of: ${EVENT_ORDERINGS.join(", ")}.`,
      ];
  }

  if (Object.keys(errors).length > 0) throw DomainError.validation(errors);
  return filters;
}

export function registerEventRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/events/",
      tags: TAGS,
      summary: "Published, public, upcoming events, soonest first, with filters",
      query: EventListQuery,
      responses: {
        200: { description: "A page of events", schema: pageSchema(EventListItemSchema) },
        400: { description: "A malformed filter (named)" },
        404: { description: "Invalid page" },
      },
    },
    async (c, { query }) => {
      const page = parsePageRequest(query);
      const filters = parseFilters(query);
      const { total, rows } = await listPublicEvents(c.var.db, filters, page);
      const base = c.var.config.publicBaseUrl;
      return c.json(
        buildPage(
          c,
          page,
          total,
          rows.map((row) => toEventListItem(base, row)),
        ),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/events/{id}/",
      tags: TAGS,
      summary: "One published event with its tiers and live availability",
      params: z.object({ id: z.string().uuid() }),
      responses: {
        200: { description: "Event", schema: EventDetailSchema },
        404: { description: "Unknown, draft or cancelled" },
      },
    },
    async (c, { params }) => {
      const detail = await getPublicEvent(c.var.db, params.id);
      const now = Date.now();
      const available = detail.tiers.reduce((sum, tier) => sum + availableSeats(tier), 0);
      const item = toEventListItem(c.var.config.publicBaseUrl, {
        event: detail.event,
        organizerName: detail.organizerName,
        store: detail.store,
        availableSeats: available,
      });
      return c.json(
        {
          ...item,
          description: detail.event.description,
          allow_transfers: detail.event.allowTransfers,
          tiers: detail.tiers.map((tier) => toPublicTier(detail.event, tier, now)),
        },
        200,
      );
    },
  );
}
