/**
 * The guest list (contract §6) for the organizer's web page and for scanner devices that keep
 * an offline copy, and the organizer's CSV export. Gate work belongs to the event's
 * organizer and to that organizer's SCANNER accounts; anyone else sees "not found".
 *
 * Sync (`?since=`): a token is a position on `tickets.change_seq` (lib/sync-token.ts), a
 * strictly increasing number the database's triggers give a ticket on every insert and
 * every update the guest list shows (migrations/0010_sync_cursor.sql). Writers do nothing
 * special; a sync right after a sync returns nothing.
 *
 * Revoked tokens (contract v3 §14.4) ride on the same cursor: a revocation keeps the change
 * number its ticket took when it was revoked, so "revoked since the token" is
 * `change_seq > position`. Only the FIRST page of a listing carries them (`revoked`); the
 * later pages of a sync carry the first page's position (`sync_token` in their links), and
 * a listing that ends past a revocation made while it was paged hands back a token before
 * that revocation, so it comes in the next sync and none is ever skipped.
 */
import { and, asc, eq, gt, or, type SQL, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import {
  events,
  orders,
  type RevocationReason,
  type TICKET_STATUSES,
  ticketRevocations,
  tickets,
  tiers,
  type User,
} from "../db/schema";
import { DomainError } from "../lib/errors";
import { encodeSyncToken, type SyncToken } from "../lib/sync-token";
import { loadVerificationKeys, type TicketKey } from "../lib/ticket-signing";

/** One row of the guest list, unmasked (the view masks it). */
export interface AttendeeRow {
  id: string;
  ticketHash: string;
  attendeeName: string;
  attendeeEmail: string;
  phone: string | null;
  tierId: string;
  tierName: string;
  tierPrice: number;
  status: (typeof TICKET_STATUSES)[number];
  createdAt: number;
  checkedInAt: number | null;
}

// ---------------------------------------------------------------------------------------
// Who may work the gate
// ---------------------------------------------------------------------------------------

/** The organizer whose events `user` may scan: their own, or (gate staff) their organizer's. */
export function gateOrganizerId(user: User): string | null {
  if (user.role === "ORGANIZER") return user.id;
  if (user.role === "SCANNER") return user.organizerId;
  return null;
}

export interface GateEvent {
  id: string;
  title: string;
  organizerId: string;
  status: "ACTIVE" | "CANCELLED";
}

/** An event `user` may work the gate of; anyone else's is "not found", never "forbidden". */
export async function loadGateEvent(db: Database, user: User, eventId: string): Promise<GateEvent> {
  const organizerId = gateOrganizerId(user);
  if (!organizerId) throw DomainError.notFound();
  const [event] = await db
    .select({ id: events.id, title: events.title, organizerId: events.organizerId, status: events.status })
    .from(events)
    .where(and(eq(events.id, eventId), eq(events.organizerId, organizerId)))
    .limit(1);
  if (!event) throw DomainError.notFound();
  return event;
}

/**
 * The keys that verify ticket codes now: the signing key and the retired ones still trusted
 * after a rotation (tickets keep the kid they were signed with). Published in every list so
 * a scanner that synced before a rotation learns the new key on its next sync.
 */
export function currentTicketKeys(config: Config): Promise<TicketKey[]> {
  return loadVerificationKeys(config.ticketSigningKey, config.ticketPreviousSigningKeys);
}

// ---------------------------------------------------------------------------------------
// The list
// ---------------------------------------------------------------------------------------

const attendeeColumns = {
  id: tickets.id,
  ticketHash: tickets.ticketHash,
  attendeeName: tickets.attendeeName,
  attendeeEmail: tickets.attendeeEmail,
  phone: orders.phoneNumber,
  tierId: tickets.tierId,
  tierName: tiers.name,
  tierPrice: tiers.price,
  status: tickets.status,
  createdAt: tickets.createdAt,
  checkedInAt: tickets.checkedInAt,
  changeSeq: tickets.changeSeq,
};

function attendeeSelect(db: Database, where: SQL | undefined) {
  return db
    .select(attendeeColumns)
    .from(tickets)
    .innerJoin(tiers, eq(tiers.id, tickets.tierId))
    .innerJoin(orders, eq(orders.id, tickets.orderId))
    .where(where);
}

function summarySelect(db: Database, eventId: string) {
  return db
    .select({
      tierId: tiers.id,
      name: tiers.name,
      tickets: sql<number>`COALESCE(SUM(CASE WHEN ${tickets.status} <> 'CANCELLED' THEN 1 ELSE 0 END), 0)`.as(
        "tickets_valid",
      ),
      checkedIn:
        sql<number>`COALESCE(SUM(CASE WHEN ${tickets.status} IN ('CHECKED_IN', 'USED') THEN 1 ELSE 0 END), 0)`.as(
          "tickets_checked_in",
        ),
    })
    .from(tiers)
    .leftJoin(tickets, and(eq(tickets.tierId, tiers.id), eq(tickets.eventId, eventId)))
    .where(eq(tiers.eventId, eventId))
    .groupBy(tiers.id)
    .orderBy(asc(tiers.position), asc(tiers.createdAt));
}

/**
 * The event's highest change number: every write after this read gets a higher one. Read
 * in the same batch (one snapshot) as the rows, so "everything up to here" is what was sent.
 */
function changePositionSelect(db: Database, eventId: string) {
  return db
    .select({ position: sql<number | null>`MAX(${tickets.changeSeq})`.as("change_position") })
    .from(tickets)
    .where(eq(tickets.eventId, eventId));
}

/** A token scanners must refuse (contract v3 §14.4). */
export interface RevokedToken {
  ticketHash: string;
  revokedAt: number;
  reason: RevocationReason;
}

/** The event's revocations after `position`, in cursor order. */
function revokedSelect(db: Database, eventId: string, afterPosition: number) {
  return db
    .select({
      ticketHash: ticketRevocations.ticketHash,
      revokedAt: ticketRevocations.revokedAt,
      reason: ticketRevocations.reason,
    })
    .from(ticketRevocations)
    .where(and(eq(ticketRevocations.eventId, eventId), gt(ticketRevocations.changeSeq, afterPosition)))
    .orderBy(asc(ticketRevocations.changeSeq));
}

/** The first revocation after `position` (one made while a client paged), if any. */
function firstRevocationAfter(db: Database, eventId: string, afterPosition: number) {
  return db
    .select({ position: sql<number | null>`MIN(${ticketRevocations.changeSeq})`.as("first_revocation") })
    .from(ticketRevocations)
    .where(and(eq(ticketRevocations.eventId, eventId), gt(ticketRevocations.changeSeq, afterPosition)));
}

export interface AttendeeSummary {
  tickets: number;
  checked_in: number;
  by_tier: Array<{ tier_id: string; name: string; tickets: number; checked_in: number }>;
}

function toSummary(
  rows: Array<{ tierId: string; name: string; tickets: number; checkedIn: number }>,
): AttendeeSummary {
  const by_tier = rows.map((r) => ({
    tier_id: r.tierId,
    name: r.name,
    tickets: Number(r.tickets),
    checked_in: Number(r.checkedIn),
  }));
  return {
    tickets: by_tier.reduce((sum, t) => sum + t.tickets, 0),
    checked_in: by_tier.reduce((sum, t) => sum + t.checked_in, 0),
    by_tier,
  };
}

export interface AttendeeListing {
  total: number;
  rows: AttendeeRow[];
  summary: AttendeeSummary;
  /** The token for "what changed after this listing". */
  syncToken: string;
  /** Every revocation of the event, on the first page only. */
  revoked?: RevokedToken[];
}

/**
 * A page of the whole list, by purchase (the web page). `started` is the token of the
 * caller's first page (carried in the page links), so that after paging through the list a
 * client holds the position from when it began, not from when it finished: whatever
 * changed while it paged comes in its next sync.
 */
export async function listAttendees(
  db: Database,
  eventId: string,
  page: { limit: number; offset: number },
  started: SyncToken | null,
): Promise<AttendeeListing> {
  // One batch: one snapshot, so the token covers exactly what the page and counts saw
  // (and the first page's revocations are exactly those at or before it).
  const firstPage = page.offset === 0;
  const [rows, counted, summary, position, revoked] = await db.batch([
    attendeeSelect(db, eq(tickets.eventId, eventId))
      .orderBy(asc(tickets.createdAt), asc(tickets.id))
      .limit(page.limit)
      .offset(page.offset),
    db
      .select({ n: sql<number>`COUNT(*)`.as("ticket_count") })
      .from(tickets)
      .where(eq(tickets.eventId, eventId)),
    summarySelect(db, eventId),
    changePositionSelect(db, eventId),
    // Later pages read none (no change number is above the largest safe integer).
    firstPage ? revokedSelect(db, eventId, 0) : revokedSelect(db, eventId, Number.MAX_SAFE_INTEGER),
  ]);
  const token = started ?? { position: Number(position[0]?.position ?? 0) };
  return {
    total: Number(counted[0]?.n ?? 0),
    rows,
    summary: toSummary(summary),
    syncToken: encodeSyncToken(token),
    ...(firstPage ? { revoked } : {}),
  };
}

export interface ChangedAttendees {
  /** Changed tickets from this page on (this page included). */
  remaining: number;
  rows: AttendeeRow[];
  summary: AttendeeSummary;
  /** Where the next page resumes, or null when this page holds the last changes. */
  nextToken: string | null;
  /** What the client keeps: the resume point, or after the last page the event's position. */
  syncToken: string;
  /** Where the first page of this sync stood (carried by the later pages' links). */
  startedToken: string;
  /** Revocations since the client's token, on the first page only. */
  revoked?: RevokedToken[];
}

/**
 * The tickets changed since `token`, oldest change first, keyset-paged by `change_seq`
 * through the (event_id, change_seq) index. A ticket that changes while a client pages
 * takes a higher number, so it moves to the end and is sent again, with its new state.
 */
export async function listChangedAttendees(
  db: Database,
  eventId: string,
  token: SyncToken,
  limit: number,
  /** Null on a sync's first page; on a later page, the first page's position. */
  started: SyncToken | null = null,
): Promise<ChangedAttendees> {
  const where = and(eq(tickets.eventId, eventId), gt(tickets.changeSeq, token.position));
  const [rows, counted, summary, position, revoked, unsent] = await db.batch([
    attendeeSelect(db, where)
      .orderBy(asc(tickets.changeSeq))
      .limit(limit + 1),
    db
      .select({ n: sql<number>`COUNT(*)`.as("ticket_count") })
      .from(tickets)
      .where(where),
    summarySelect(db, eventId),
    changePositionSelect(db, eventId),
    // The first page: the revocations since the client's token (same snapshot as the rows).
    revokedSelect(db, eventId, started ? Number.MAX_SAFE_INTEGER : token.position),
    // A later page: revocations made since the first page, which no page of this sync sent.
    firstRevocationAfter(db, eventId, started ? started.position : Number.MAX_SAFE_INTEGER),
  ]);

  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const more = rows.length > limit && last !== undefined;
  const nextToken = more ? encodeSyncToken({ position: Number(last.changeSeq) }) : null;
  // At the end of the changes, the event's highest number in this snapshot: nothing of this
  // event at or below it is unsent. Never behind the token the client came with.
  const reached = Math.max(token.position, Number(position[0]?.position ?? 0));
  const startedAt = started ?? { position: reached };
  // …except a revocation made while the client paged (after the first page, which alone
  // lists them): the token stops just before it, so the next sync lists it (and re-sends
  // the few rows after it, which scanners upsert).
  const firstUnsent = unsent[0]?.position;
  const end =
    firstUnsent !== null && firstUnsent !== undefined ? Math.min(reached, Number(firstUnsent) - 1) : reached;
  return {
    remaining: Number(counted[0]?.n ?? 0),
    rows: page,
    summary: toSummary(summary),
    nextToken,
    syncToken: nextToken ?? encodeSyncToken({ position: end }),
    startedToken: encodeSyncToken(startedAt),
    ...(started ? {} : { revoked }),
  };
}

// ---------------------------------------------------------------------------------------
// Export
// ---------------------------------------------------------------------------------------

export interface ExportRow {
  id: string;
  status: string;
  attendeeName: string;
  attendeeEmail: string;
  tierName: string;
  tierPrice: number;
  createdAt: number;
  checkedInAt: number | null;
}

const EXPORT_CHUNK = 2000;

/** Every ticket of the event by purchase, read in bounded chunks (keyset on created_at, id). */
export async function exportAttendees(db: Database, eventId: string): Promise<ExportRow[]> {
  const out: ExportRow[] = [];
  let after: { createdAt: number; id: string } | null = null;
  for (;;) {
    const where: SQL | undefined = after
      ? and(
          eq(tickets.eventId, eventId),
          or(
            gt(tickets.createdAt, after.createdAt),
            and(eq(tickets.createdAt, after.createdAt), gt(tickets.id, after.id)),
          ),
        )
      : eq(tickets.eventId, eventId);
    const chunk: ExportRow[] = await db
      .select({
        id: tickets.id,
        status: tickets.status,
        attendeeName: tickets.attendeeName,
        attendeeEmail: tickets.attendeeEmail,
        tierName: tiers.name,
        tierPrice: tiers.price,
        createdAt: tickets.createdAt,
        checkedInAt: tickets.checkedInAt,
      })
      .from(tickets)
      .innerJoin(tiers, eq(tiers.id, tickets.tierId))
      .where(where)
      .orderBy(asc(tickets.createdAt), asc(tickets.id))
      .limit(EXPORT_CHUNK);
    out.push(...chunk);
    const last = chunk.at(-1);
    if (chunk.length < EXPORT_CHUNK || !last) return out;
    after = { createdAt: last.createdAt, id: last.id };
  }
}
