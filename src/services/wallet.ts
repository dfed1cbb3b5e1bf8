/**
 * The ticket wallet (contract §5): a user's own tickets, and one ticket for whoever may see
 * it (services/ticket-access: the owner — guest orders only once the email is proven — the
 * event's organizer and that organizer's gate staff). Anyone else gets "not found".
 */
import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { events, orders, type TICKET_STATUSES, tickets, tiers, type User, users } from "../db/schema";
import { DomainError } from "../lib/errors";
import { canViewTicket, ownedOrdersCondition, ownsTicket } from "./ticket-access";
import { isTransferable, refundPendingColumn, transfersLeft } from "./ticket-transfer";

/** What a ticket view shows, by ticket. */
export interface TicketViewRow {
  id: string;
  qrCodeHash: string;
  status: (typeof TICKET_STATUSES)[number];
  createdAt: number;
  attendeeName: string;
  attendeeEmail: string;
  eventId: string;
  eventTitle: string;
  posterKey: string | null;
  locationName: string;
  startAt: number;
  endAt: number;
  organizerName: string;
  tierName: string;
  tierPrice: number;
  /** What was paid for the seat after discount; null on tickets from before it was recorded. */
  pricePaid: number | null;
  checkedInAt: number | null;
  pngKey: string | null;
  /** §14.5: the viewer owns it and may transfer it now. */
  transferable: boolean;
  /** §14.5: MAX_TRANSFERS_PER_TICKET − transfers so far. */
  transfersLeft: number;
}

const columns = {
  id: tickets.id,
  qrCodeHash: tickets.qrCodeHash,
  status: tickets.status,
  createdAt: tickets.createdAt,
  attendeeName: tickets.attendeeName,
  attendeeEmail: tickets.attendeeEmail,
  ownerId: tickets.ownerId,
  placedAsGuest: orders.placedAsGuest,
  transferCount: tickets.transferCount,
  eventId: tickets.eventId,
  eventTitle: events.title,
  posterKey: events.posterKey,
  locationName: events.locationName,
  startAt: events.startAt,
  endAt: events.endAt,
  organizerId: events.organizerId,
  organizerName: users.username,
  tierName: tiers.name,
  tierPrice: tiers.price,
  pricePaid: tickets.pricePaid,
  checkedInAt: tickets.checkedInAt,
  pngKey: tickets.pngKey,
  allowTransfers: events.allowTransfers,
  eventStatus: events.status,
  refundPending: refundPendingColumn,
  total: sql<number>`COUNT(*) OVER ()`,
};

function baseQuery(db: Database, where: SQL | undefined) {
  return db
    .select(columns)
    .from(tickets)
    .innerJoin(orders, eq(orders.id, tickets.orderId))
    .innerJoin(events, eq(events.id, tickets.eventId))
    .innerJoin(tiers, eq(tiers.id, tickets.tierId))
    .innerJoin(users, eq(users.id, events.organizerId))
    .where(where);
}

type WalletConfig = Pick<Config, "transferCutoffHours" | "maxTransfersPerTicket">;
type SelectedRow = Awaited<ReturnType<typeof baseQuery>>[number];

/** The row as a view shows it to `viewer`, with its transfer fields (§14.5) as of now. */
function forViewer(config: WalletConfig, viewer: User, row: SelectedRow, now: number): TicketViewRow {
  const facts = { ...row, refundPending: Boolean(row.refundPending) };
  return {
    ...row,
    transferable: isTransferable(config, ownsTicket(viewer, row), facts, now),
    transfersLeft: transfersLeft(config, row.transferCount),
  };
}

/** The viewer's wallet: the tickets it owns (`ownsTicket`, as one query). */
export async function listOwnTickets(
  db: Database,
  config: WalletConfig,
  viewer: User,
  page: { limit: number; offset: number },
  now = Date.now(),
) {
  const rows = await baseQuery(db, and(eq(tickets.ownerId, viewer.id), ownedOrdersCondition(viewer)))
    .orderBy(desc(tickets.createdAt), desc(tickets.id))
    .limit(page.limit)
    .offset(page.offset);
  return { total: rows[0]?.total ?? 0, rows: rows.map((row) => forViewer(config, viewer, row, now)) };
}

export async function getVisibleTicket(
  db: Database,
  config: WalletConfig,
  viewer: User,
  ticketId: string,
  now = Date.now(),
): Promise<TicketViewRow> {
  const [row] = await baseQuery(db, eq(tickets.id, ticketId)).limit(1);
  if (!row || !canViewTicket(viewer, row)) throw DomainError.notFound();
  return forViewer(config, viewer, row, now);
}
