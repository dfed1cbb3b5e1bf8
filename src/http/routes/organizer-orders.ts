/** The organizer's orders (contract §11.7): an event's list, searchable, and one order. */
import { z } from "@hono/zod-openapi";
import { ORDER_STATUSES } from "../../db/schema";
import { listEventOrders, organizerOrderDetail } from "../../services/organizer-orders";
import { buildPage, PaginationQuery, parsePageRequest } from "../pagination";
import { type Api, defineRoute } from "../route";
import {
  OrganizerOrderDetailSchema,
  OrganizerOrderPageSchema,
  toOrganizerOrder,
  toOrganizerOrderDetail,
} from "../views/organizer-order";

const TAGS = ["Organizer"];
const ORGANIZER = ["ORGANIZER"] as const;

const OrdersQuery = PaginationQuery.extend({
  status: z.enum(ORDER_STATUSES).optional(),
  q: z.string().max(254).optional().openapi({
    description: "Order reference, M-Pesa receipt, buyer email, or phone in any usual form",
  }),
});

export function registerOrganizerOrderRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/events/{id}/orders/",
      tags: TAGS,
      summary:
        "An event's orders, newest first (filter by status, search by reference, receipt, email or phone)",
      roles: ORGANIZER,
      params: z.object({ id: z.string().uuid() }),
      query: OrdersQuery,
      responses: {
        200: { description: "A page of orders", schema: OrganizerOrderPageSchema },
        404: { description: "Not your event, or unknown" },
      },
    },
    async (c, { params, query }) => {
      const user = await c.var.auth.requireUser();
      const page = parsePageRequest(query);
      const listing = await listEventOrders(c.var.db, user.id, params.id, query, page);
      return c.json(buildPage(c, page, listing.total, listing.rows.map(toOrganizerOrder)), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/orders/{order_id}/",
      tags: TAGS,
      summary: "One order of the organizer's events, with its lines, tickets and refunds",
      roles: ORGANIZER,
      params: z.object({ order_id: z.string().uuid() }),
      responses: {
        200: { description: "The order", schema: OrganizerOrderDetailSchema },
        404: { description: "Not your event's order, or unknown" },
      },
    },
    async (c, { params }) => {
      const user = await c.var.auth.requireUser();
      return c.json(
        toOrganizerOrderDetail(await organizerOrderDetail(c.var.db, user.id, params.order_id)),
        200,
      );
    },
  );
}
