/** The ticket wallet: `GET /api/tickets/` and `GET /api/tickets/{id}/` (contract §5). */
import { z } from "@hono/zod-openapi";
import { ApiError } from "../lib/errors";
import { buildPage, PaginationQuery, pageSchema, parsePageRequest } from "../lib/pagination";
import { type Api, defineRoute } from "../lib/route";
import { getVisibleTicket, listOwnTickets } from "../services/wallet";
import { TicketSchema, toTicketResponse } from "../views/ticket";

const TAGS = ["Tickets"];

export function registerTicketRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/tickets/",
      tags: TAGS,
      summary: "The signed-in user's tickets, newest first",
      auth: "required",
      query: PaginationQuery,
      responses: { 200: { description: "A page of tickets", schema: pageSchema(TicketSchema) } },
    },
    async (c, { query }) => {
      const user = await c.var.auth.requireUser();
      const page = parsePageRequest(query);
      const { total, rows } = await listOwnTickets(c.var.db, user.id, page);
      if (rows.length === 0 && page.page > 1) throw ApiError.notFound("Invalid page.");
      const base = c.var.config.publicBaseUrl;
      return c.json(
        buildPage(
          c.req.url,
          page,
          total,
          rows.map((row) => toTicketResponse(base, row)),
        ),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/tickets/{id}/",
      tags: TAGS,
      summary: "One ticket: its owner, the event's organizer, or that organizer's gate staff",
      auth: "required",
      params: z.object({ id: z.string().uuid() }),
      responses: {
        200: { description: "Ticket", schema: TicketSchema },
        404: { description: "Not yours or unknown" },
      },
    },
    async (c, { params }) => {
      const user = await c.var.auth.requireUser();
      const row = await getVisibleTicket(c.var.db, user, params.id);
      return c.json(toTicketResponse(c.var.config.publicBaseUrl, row), 200);
    },
  );
}
