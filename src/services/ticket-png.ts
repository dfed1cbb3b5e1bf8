/**
 * Ticket PNGs in R2: one object per ticket token under a key derived from its id and token
 * version (`tickets/<id>.png` for the first token, `tickets/<id>.v<n>.png` after a transfer
 * re-issued it as version n), so whoever gets there first — the delivery consumer or the PNG
 * endpoint rendering on demand — writes it, and nobody renders it again while it exists.
 * The object is private: it is served only through `GET /api/tickets/{id}/png/`.
 */
import { and, asc, eq, type SQL } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, orders, tickets, tiers, type User } from "../db/schema";
import { DomainError } from "../lib/errors";
import { describeError, type Logger } from "../lib/logger";
import { type PreparedPoster, preparePosterCached, renderTicketPng } from "../render/render-ticket";
import { canViewTicket } from "./ticket-access";

/**
 * The PNG of one token of a ticket. Versioned, because an object never changes: a mail that
 * already attached the old token's image keeps it, and the new holder's image is a new key.
 */
export function ticketPngKey(ticketId: string, tokenVersion = 1): string {
  return tokenVersion === 1 ? `tickets/${ticketId}.png` : `tickets/${ticketId}.v${tokenVersion}.png`;
}

/** Everything drawn on a ticket, by ticket. */
export interface TicketArtRow {
  id: string;
  orderId: string;
  ownerId: string;
  organizerId: string;
  placedAsGuest: boolean;
  transferCount: number;
  tokenVersion: number;
  seatIndex: number;
  quantity: number;
  status: string;
  qrCodeHash: string;
  attendeeName: string;
  pngKey: string | null;
  eventTitle: string;
  startAt: number;
  locationName: string;
  posterKey: string | null;
  tierName: string;
}

export function loadTicketArt(db: Database, where: SQL | undefined): Promise<TicketArtRow[]> {
  return db
    .select({
      id: tickets.id,
      orderId: tickets.orderId,
      ownerId: tickets.ownerId,
      organizerId: events.organizerId,
      placedAsGuest: orders.placedAsGuest,
      transferCount: tickets.transferCount,
      tokenVersion: tickets.tokenVersion,
      seatIndex: tickets.seatIndex,
      quantity: orders.quantity,
      status: tickets.status,
      qrCodeHash: tickets.qrCodeHash,
      attendeeName: tickets.attendeeName,
      pngKey: tickets.pngKey,
      eventTitle: events.title,
      startAt: events.startAt,
      locationName: events.locationName,
      posterKey: events.posterKey,
      tierName: tiers.name,
    })
    .from(tickets)
    .innerJoin(orders, eq(orders.id, tickets.orderId))
    .innerJoin(events, eq(events.id, tickets.eventId))
    .innerJoin(tiers, eq(tiers.id, tickets.tierId))
    .where(where)
    .orderBy(asc(tickets.seatIndex));
}

async function loadTicketArtById(db: Database, ticketId: string): Promise<TicketArtRow | undefined> {
  const [row] = await loadTicketArt(db, eq(tickets.id, ticketId));
  return row;
}

export interface TicketPngDeps {
  db: Database;
  media: R2Bucket;
  log?: Logger;
}

/**
 * The event's poster prepared for the ticket, or null: no poster, missing from R2, not a
 * format resvg reads, or R2 failing (the ticket then renders without it rather than wait).
 */
async function posterFor(deps: TicketPngDeps, posterKey: string | null): Promise<PreparedPoster | null> {
  if (!posterKey) return null;
  try {
    return await preparePosterCached(posterKey, async () => {
      const object = await deps.media.get(posterKey);
      return object ? new Uint8Array(await object.arrayBuffer()) : null;
    });
  } catch (error) {
    deps.log?.warn("poster unreadable; rendering the ticket without it", {
      poster_key: posterKey,
      ...describeError(error),
    });
    return null;
  }
}

/**
 * The ticket's PNG, rendered and stored only if R2 does not have it yet. Records the key in
 * `tickets.png_key`. An R2 failure throws (the caller retries); a poster problem does not.
 */
export async function ensureTicketPng(
  deps: TicketPngDeps,
  ticket: TicketArtRow,
): Promise<{ png: Uint8Array; rendered: boolean }> {
  const key = ticketPngKey(ticket.id, ticket.tokenVersion);
  const stored = await deps.media.get(key);
  let png: Uint8Array;
  let rendered = false;
  if (stored) {
    png = new Uint8Array(await stored.arrayBuffer());
  } else {
    const image = await renderTicketPng(
      {
        ticketId: ticket.id,
        qrContent: ticket.qrCodeHash,
        eventTitle: ticket.eventTitle,
        startAt: ticket.startAt,
        locationName: ticket.locationName,
        tierName: ticket.tierName,
        attendeeName: ticket.attendeeName,
        position: { index: ticket.seatIndex + 1, count: ticket.quantity },
      },
      await posterFor(deps, ticket.posterKey),
    );
    png = image.png;
    await deps.media.put(key, png, {
      httpMetadata: { contentType: "image/png" },
      customMetadata: { ticket_id: ticket.id, poster: image.withPoster ? "yes" : "no" },
    });
    rendered = true;
  }
  if (ticket.pngKey !== key) {
    // Only while this is still the ticket's token: a transfer meanwhile owns png_key now.
    await deps.db
      .update(tickets)
      .set({ pngKey: key })
      .where(and(eq(tickets.id, ticket.id), eq(tickets.tokenVersion, ticket.tokenVersion)));
  }
  return { png, rendered };
}

/**
 * `GET /api/tickets/{id}/png/`: the PNG for whoever may see the ticket (owner, the event's
 * organizer, that organizer's scanners), rendered now if delivery has not stored it yet.
 * Anyone else gets "not found", as for the ticket itself.
 */
export async function visibleTicketPng(
  deps: TicketPngDeps,
  viewer: User,
  ticketId: string,
): Promise<{ png: Uint8Array; ticket: TicketArtRow }> {
  const ticket = await loadTicketArtById(deps.db, ticketId);
  if (!ticket || !canViewTicket(viewer, ticket)) throw DomainError.notFound();
  const { png } = await ensureTicketPng(deps, ticket);
  return { png, ticket };
}
