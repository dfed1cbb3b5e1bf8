/**
 * The guest list and its CSV export (contract §6).
 *
 * `attendees/` serves the organizer's web page and the scanner devices' offline copy, so the
 * event's SCANNER accounts may read it too (masked, like everyone); `export/` carries full
 * contact data and stays with the organizer.
 */
import { z } from "@hono/zod-openapi";
import { csvDocument } from "../../lib/csv";
import { DomainError } from "../../lib/errors";
import { formatPrice } from "../../lib/money";
import { decodeSyncToken } from "../../lib/sync-token";
import { toNairobiIso } from "../../lib/time";
import {
  currentTicketKeys,
  exportAttendees,
  listAttendees,
  listChangedAttendees,
  loadGateEvent,
} from "../../services/attendees";
import { buildPage, PaginationQuery, parsePageRequest, publicRequestUrl } from "../pagination";
import { type Api, defineRoute } from "../route";
import { AttendeePageSchema, toAttendee, toRevokedToken } from "../views/attendee";

const TAGS = ["Organizer"];
const GATE = ["ORGANIZER", "SCANNER"] as const;
const ORGANIZER = ["ORGANIZER"] as const;

const EventIdParams = z.object({ id: z.string().uuid() });

const AttendeesQuery = PaginationQuery.extend({
  since: z
    .string()
    .max(400)
    .optional()
    .openapi({
      description:
        "A `sync_token` from an earlier answer: only tickets changed since, oldest change first, " +
        "paged by `next` links. `0` streams every ticket (a full download as changes).",
    }),
  sync_token: z
    .string()
    .max(400)
    .optional()
    .openapi({
      description:
        "Set by the page links (of the full list, and of a sync's later pages): the token of the first page, " +
        "so every page reports it; a sync page that carries it is not the first and has no `revoked`",
    }),
});

export const EXPORT_HEADER = [
  "Ticket ID",
  "Status",
  "Attendee Name",
  "Attendee Email",
  "Ticket Tier",
  "Tier Price",
  "Purchase Date",
  "Checked In At",
] as const;

function withParams(url: string | null, params: Record<string, string | null>): string | null {
  if (!url) return null;
  const out = new URL(url);
  for (const [name, value] of Object.entries(params)) {
    if (value === null) out.searchParams.delete(name);
    else out.searchParams.set(name, value);
  }
  return out.toString();
}

/** An ASCII file name from the event title (the header must stay a plain token). */
function exportFileName(title: string): string {
  const slug = title
    .normalize("NFKD")
    .replace(/[^A-Za-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 60)
    .toLowerCase();
  return `${slug || "event"}-attendees.csv`;
}

export function registerAttendeeRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/events/{id}/attendees/",
      tags: TAGS,
      summary: "The guest list, masked, with a summary, the ticket keys and a sync token",
      description:
        "One entry per ticket with masked contact data and `ticket_hash` (SHA-256 of the QR code) so a " +
        "scanner can work offline. Without `since`: every ticket by purchase, page by page. With " +
        "`since=<sync_token>`: only tickets changed since, keyset-paged by `next`; keep the `sync_token` " +
        "of the last page. The first page also carries `revoked`: tokens to refuse offline (transferred or " +
        "cancelled tickets). Open to the event's organizer and that organizer's SCANNER accounts.",
      roles: GATE,
      params: EventIdParams,
      query: AttendeesQuery,
      responses: {
        200: { description: "A page of attendees", schema: AttendeePageSchema },
        400: { description: "A sync token this server did not issue" },
        404: { description: "Not your event, or unknown" },
      },
    },
    async (c, { params, query }) => {
      const user = await c.var.auth.requireUser();
      const { db, config } = c.var;
      const event = await loadGateEvent(db, user, params.id);
      const publicKeys = (await currentTicketKeys(config)).map((key) => key.publicJwk);

      if (query.since !== undefined) {
        const token = decodeSyncToken(query.since);
        if (!token) throw DomainError.field("since", "Invalid sync token.");
        let started = null;
        if (query.sync_token !== undefined) {
          started = decodeSyncToken(query.sync_token);
          if (!started) throw DomainError.field("sync_token", "Invalid sync token.");
        }
        const { limit } = parsePageRequest({ page_size: query.page_size });
        const changed = await listChangedAttendees(db, event.id, token, limit, started);
        return c.json(
          {
            count: changed.remaining,
            next: changed.nextToken
              ? withParams(publicRequestUrl(c), {
                  since: changed.nextToken,
                  page: null,
                  sync_token: changed.startedToken,
                })
              : null,
            previous: null,
            results: changed.rows.map(toAttendee),
            summary: changed.summary,
            public_keys: publicKeys,
            sync_token: changed.syncToken,
            ...(changed.revoked ? { revoked: changed.revoked.map(toRevokedToken) } : {}),
          },
          200,
        );
      }

      let started = null;
      if (query.sync_token !== undefined) {
        started = decodeSyncToken(query.sync_token);
        if (!started) throw DomainError.field("sync_token", "Invalid sync token.");
      }
      const page = parsePageRequest(query);
      const listing = await listAttendees(db, event.id, page, started);
      const built = buildPage(c, page, listing.total, listing.rows.map(toAttendee));
      return c.json(
        {
          ...built,
          next: withParams(built.next, { sync_token: listing.syncToken }),
          previous: withParams(built.previous, { sync_token: listing.syncToken }),
          summary: listing.summary,
          public_keys: publicKeys,
          sync_token: listing.syncToken,
          ...(listing.revoked ? { revoked: listing.revoked.map(toRevokedToken) } : {}),
        },
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/events/{id}/export/",
      tags: TAGS,
      summary: "Every ticket as CSV, with full ids and contact data (the organizer's own record)",
      roles: ORGANIZER,
      params: EventIdParams,
      responses: {
        200: { description: "CSV attachment", schema: z.string(), contentType: "text/csv" },
        404: { description: "Not your event, or unknown" },
      },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      const event = await loadGateEvent(c.var.db, organizer, params.id);
      const rows = await exportAttendees(c.var.db, event.id);
      const csv = csvDocument(
        EXPORT_HEADER,
        rows.map((row) => [
          row.id,
          row.status,
          row.attendeeName,
          row.attendeeEmail,
          row.tierName,
          formatPrice(row.tierPrice),
          toNairobiIso(row.createdAt),
          toNairobiIso(row.checkedInAt) ?? "",
        ]),
      );
      return c.body(csv, 200, {
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": `attachment; filename="${exportFileName(event.title)}"`,
        // Contact data: never kept by a shared cache or the browser's.
        "Cache-Control": "no-store",
      });
    },
  );
}
