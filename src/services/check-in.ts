/**
 * Checking tickets in at the gate (contract §7), online one scan at a time and offline in
 * batches uploaded later.
 *
 * - A code is believed only after its signature verifies with our keys; the ticket is then
 *   found by `ticket_hash`, which binds the exact code that was issued.
 * - The state change is a conditional UPDATE: the database decides which of two racing scans
 *   admits the guest; the other sees "already checked in" with the first scan's time.
 * - Every scan of a real ticket leaves a `checkins` row, unique by (ticket, device,
 *   scanned_at), so an uploaded batch that is sent again changes nothing.
 * - Offline, the earliest scan wins: a ticket checked in at 10:05 that another device
 *   scanned at 10:00 (uploaded later) ends up checked in at 10:00 by that device.
 * - A validly signed code that is no longer its ticket's current token (the ticket was
 *   transferred, contract v3 §14.4) is `revoked`, online and offline; the check-in's
 *   conditional UPDATE names the scanned token, so a scan racing a transfer either checks
 *   the ticket in (and the transfer is refused: it needs an ACTIVE ticket) or finds the
 *   token superseded (and admits no one).
 */
import { and, eq } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import {
  events,
  type RevocationReason,
  type TicketStatus,
  ticketRevocations,
  tickets,
  tiers,
  type User,
} from "../db/schema";
import type { DeliveryJob } from "../delivery/jobs";
import { DomainError, type FieldErrors } from "../lib/errors";
import type { Logger } from "../lib/logger";
import { type TicketClaims, ticketHash, verifyTicket } from "../lib/ticket-signing";
import { toNairobiIso } from "../lib/time";
import { currentTicketKeys, type GateEvent, gateOrganizerId } from "./attendees";
import { checkedInStatements } from "./webhooks/check-in-events";
import { enqueueAnnouncements } from "./webhooks/outbox";

export interface CheckInDeps {
  db: Database;
  config: Config;
  /** Where the `ticket.checked_in` webhook events are announced (contract v3 §16.2). */
  queue: Queue<DeliveryJob>;
  log: Logger;
}

export const TICKET_NOT_FOUND = "Ticket Not Found";
export const NOT_YOUR_EVENT = "This ticket does not belong to your event.";
export const ALREADY_CHECKED_IN = "ALREADY CHECKED IN";
export const TICKET_CANCELLED = "TICKET CANCELLED";
export const TICKET_REVOKED = "TICKET REVOKED";

/**
 * How a recorded scan turned out, decided from the ticket's state *after* the update: the
 * scan that matches the ticket's recorded check-in (time and device) is the one that
 * admitted the guest. The same rule answers replays the same way. The arguments are the
 * SQL expressions of the scan's time and device.
 */
const resultOfScan = (scannedAt: string, deviceId: string) => `CASE
  WHEN t.status = 'CANCELLED' THEN 'cancelled'
  WHEN t.checked_in_at = ${scannedAt} AND t.checked_in_device = ${deviceId} THEN 'ok'
  ELSE 'already_checked_in' END`;

/*
 * The check-in statements go to D1 as plain prepared statements in `DB.batch` (one
 * transaction): drizzle cannot put a raw statement with parameters in a batch, and these
 * are set-based (json_each, UPDATE … FROM) beyond its query builder anyway.
 *
 * `+t.event_id` keeps SQLite from walking the whole event by (event_id, tier_id) for every
 * scan: the scans drive, and each ticket is found by its id or unique ticket_hash.
 */

// ---------------------------------------------------------------------------------------
// Online: POST /api/scanner/verify/
// ---------------------------------------------------------------------------------------

export interface VerifyInput {
  qrHash: string;
  /** The scanning device, when the app says (the web scanner does not). */
  deviceId: string;
  /** The event the gate is working, when the app says: a ticket for another one is refused. */
  eventId?: string | undefined;
}

export interface Admitted {
  attendeeName: string;
  tierName: string;
  eventTitle: string;
  checkedInAt: number;
}

function ticketNotFound(): DomainError {
  return new DomainError("ticket_not_found", TICKET_NOT_FOUND);
}

function refused(
  ticket: { attendeeName: string; tierName: string },
  checkedInAt: number | null,
  cancelled: boolean,
) {
  const extra = {
    attendee_name: ticket.attendeeName,
    tier_name: ticket.tierName,
    checked_in_at: toNairobiIso(checkedInAt),
  };
  return cancelled
    ? new DomainError("ticket_cancelled", TICKET_CANCELLED, { extra })
    : new DomainError("already_checked_in", ALREADY_CHECKED_IN, { extra });
}

/** The 409 for a superseded token: why and when, never who holds the ticket now. */
function revokedError(revocation: { reason: RevocationReason; revokedAt: number } | undefined): DomainError {
  return new DomainError("revoked", TICKET_REVOKED, {
    extra: {
      reason: revocation?.reason ?? "transferred",
      revoked_at: toNairobiIso(revocation?.revokedAt ?? null),
    },
  });
}

async function revocationOf(db: Database, ticketId: string, hash: string) {
  const [row] = await db
    .select({ reason: ticketRevocations.reason, revokedAt: ticketRevocations.revokedAt })
    .from(ticketRevocations)
    .where(and(eq(ticketRevocations.ticketHash, hash), eq(ticketRevocations.ticketId, ticketId)))
    .limit(1);
  return row;
}

interface OnlineScan {
  ticketId: string;
  ticketHash: string;
  scannedAt: number;
  deviceId: string;
  scannerId: string;
}

/** Recorded only while the scanned code is the ticket's token: a revoked code changes nothing. */
function recordScanStatement(d1: D1Database, scan: OnlineScan): D1PreparedStatement {
  return d1
    .prepare(
      `INSERT OR IGNORE INTO checkins
         (id, ticket_id, event_id, scanned_at, device_id, scanner_id, result, source, created_at)
       SELECT ?1, t.id, t.event_id, ?2, ?3, ?4, ${resultOfScan("?2", "?3")}, 'online', ?2
       FROM tickets AS t WHERE t.id = ?5 AND t.ticket_hash = ?6`,
    )
    .bind(crypto.randomUUID(), scan.scannedAt, scan.deviceId, scan.scannerId, scan.ticketId, scan.ticketHash);
}

/**
 * Verify a scanned code and check the ticket in. Throws the contract's answers: 404 for a
 * forged, altered or unknown code, 403 for another organizer's ticket (or another event
 * than the one named), 409 for a superseded token (`revoked`, after the 403 and before the
 * ticket's status), 409 for a used or cancelled one.
 */
export async function verifyAndCheckIn(
  deps: CheckInDeps,
  scanner: User,
  input: VerifyInput,
  now = Date.now(),
): Promise<Admitted> {
  const { db } = deps;
  const claims = await verifyTicket(await currentTicketKeys(deps.config), input.qrHash);
  if (!claims) throw ticketNotFound();

  const hash = await ticketHash(input.qrHash);
  const [ticket] = await db
    .select({
      id: tickets.id,
      eventId: tickets.eventId,
      ticketHash: tickets.ticketHash,
      status: tickets.status,
      checkedInAt: tickets.checkedInAt,
      attendeeName: tickets.attendeeName,
      tierName: tiers.name,
      eventTitle: events.title,
      organizerId: events.organizerId,
      eventStatus: events.status,
    })
    .from(tickets)
    .innerJoin(tiers, eq(tiers.id, tickets.tierId))
    .innerJoin(events, eq(events.id, tickets.eventId))
    .where(eq(tickets.id, claims.ticketId))
    .limit(1);
  if (!ticket) throw ticketNotFound();
  // Scope before state: another organizer's staff learns nothing about this ticket.
  if (gateOrganizerId(scanner) !== ticket.organizerId) throw new DomainError("wrong_event", NOT_YOUR_EVENT);
  if (input.eventId && input.eventId !== ticket.eventId) throw new DomainError("wrong_event", NOT_YOUR_EVENT);
  if (ticket.ticketHash !== hash) {
    // Signed by us for this ticket but not its token now: superseded by a transfer. A code
    // we signed and never issued (nothing revoked it) stays unknown.
    const revocation = await revocationOf(db, ticket.id, hash);
    if (!revocation) throw ticketNotFound();
    throw revokedError(revocation);
  }

  const d1 = db.$client;
  const scan: OnlineScan = {
    ticketId: ticket.id,
    ticketHash: hash,
    scannedAt: now,
    deviceId: input.deviceId,
    scannerId: scanner.id,
  };
  if (ticket.status === "CANCELLED" || ticket.eventStatus === "CANCELLED") {
    await recordScanStatement(d1, scan).run();
    throw refused(ticket, ticket.checkedInAt, true);
  }
  if (ticket.status !== "ACTIVE") {
    await recordScanStatement(d1, scan).run();
    throw refused(ticket, ticket.checkedInAt, false);
  }

  const announced = checkedInStatements(d1, {
    eventId: ticket.eventId,
    candidates: [{ tid: ticket.id, h: hash, t: now, d: input.deviceId }],
    now,
    online: true,
  });
  const [admitted, , after, , , written] = await d1.batch<{
    status: TicketStatus;
    checked_in_at: number | null;
    ticket_hash: string;
    id: string;
  }>([
    // The decision: of two racing scans, only one finds the ticket still ACTIVE; a transfer
    // committed since the read has replaced the scanned token, and then none does.
    d1
      .prepare(
        `UPDATE tickets SET status = 'CHECKED_IN', checked_in_at = ?1, checked_in_by = ?2,
           checked_in_device = ?3, updated_at = ?1
         WHERE id = ?4 AND status = 'ACTIVE' AND ticket_hash = ?5
         RETURNING status, checked_in_at, ticket_hash`,
      )
      .bind(now, scanner.id, input.deviceId, ticket.id, hash),
    recordScanStatement(d1, scan),
    d1.prepare("SELECT status, checked_in_at, ticket_hash FROM tickets WHERE id = ?1").bind(ticket.id),
    // The organizer's `ticket.checked_in`, written only if this scan checked it in.
    ...announced.statements,
  ]);
  await enqueueAnnouncements(deps, announced.jobsFrom(written));
  const won = admitted?.results[0];
  if (!won) {
    const state = after?.results[0];
    if (state && state.ticket_hash !== hash) throw revokedError(await revocationOf(db, ticket.id, hash));
    throw refused(ticket, state?.checked_in_at ?? null, state?.status === "CANCELLED");
  }
  return {
    attendeeName: ticket.attendeeName,
    tierName: ticket.tierName,
    eventTitle: ticket.eventTitle,
    checkedInAt: won.checked_in_at ?? now,
  };
}

// ---------------------------------------------------------------------------------------
// Offline: POST /api/organizer/events/{id}/checkin/
// ---------------------------------------------------------------------------------------

export interface OfflineScan {
  index: number;
  qrHash: string;
  scannedAt: number;
  deviceId: string;
}

export interface MalformedScan {
  index: number;
  errors: FieldErrors;
}

export type ScanOutcome = "ok" | "already_checked_in" | "invalid" | "wrong_event" | "cancelled" | "revoked";

export interface TicketAtGate {
  ticketHash: string;
  attendeeName: string;
  tierName: string;
  status: TicketStatus;
  checkedInAt: number | null;
  checkedInDevice: string | null;
}

export interface BatchScanResult {
  index: number;
  outcome: ScanOutcome;
  /** Why an `invalid` scan is invalid, or why a `revoked` one was revoked. */
  reason?: "malformed" | "not_found" | RevocationReason;
  /** When a `revoked` scan's token was revoked. */
  revokedAt?: number;
  errors?: FieldErrors;
  scan?: OfflineScan;
  /** The ticket as it stands after the batch (its recorded check-in is the first one). */
  ticket?: TicketAtGate;
}

/** Scans per D1 batch (three statements: update, record, read back), so any upload is bounded. */
const SCANS_PER_CHUNK = 400;
export const MAX_SCANS_PER_UPLOAD = 5000;

interface TicketStateRow {
  id: string;
  ticket_hash: string;
  attendee_name: string;
  tier_name: string;
  status: TicketStatus;
  checked_in_at: number | null;
  checked_in_device: string | null;
}

interface Pending {
  scan: OfflineScan;
  ticketId: string;
  hash: string;
}

/** The earliest scan first; ties by device id, then position, so a replay picks the same one. */
function earlier(a: OfflineScan, b: OfflineScan): number {
  return (
    a.scannedAt - b.scannedAt ||
    (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0) ||
    a.index - b.index
  );
}

interface ChunkState {
  tickets: Map<string, TicketAtGate & { id: string }>;
  /** Revoked tokens among the chunk's scans, by ticket_hash. */
  revoked: Map<string, { reason: RevocationReason; revokedAt: number }>;
}

async function applyChunk(
  deps: CheckInDeps,
  eventId: string,
  uploaderId: string,
  chunk: Pending[][],
): Promise<ChunkState> {
  const { db } = deps;
  const now = Date.now();
  // The earliest scan of each ticket per code: a device may hold a ticket's old token (a
  // transfer) beside its current one, and only a scan of the current one may check it in.
  const candidates = chunk.flatMap((scans) => {
    const byCode = new Map<string, OfflineScan[]>();
    for (const p of scans) byCode.set(p.hash, [...(byCode.get(p.hash) ?? []), p.scan]);
    const ticketId = (scans[0] as Pending).ticketId;
    return [...byCode].map(([hash, codeScans]) => {
      const first = codeScans.sort(earlier)[0] as OfflineScan;
      return { tid: ticketId, h: hash, t: first.scannedAt, d: first.deviceId };
    });
  });
  const recorded = chunk.flat().map((p) => ({
    cid: crypto.randomUUID(),
    tid: p.ticketId,
    h: p.hash,
    t: p.scan.scannedAt,
    d: p.scan.deviceId,
  }));
  const d1 = db.$client;
  // The organizer's `ticket.checked_in` for each ticket this chunk checks in first (§16.2).
  const announced = checkedInStatements(d1, { eventId, candidates, now, online: false });
  const [, , state, revoked, , , written] = await d1.batch<
    TicketStateRow & { reason: RevocationReason; revoked_at: number; id: string }
  >([
    // One set-based conditional UPDATE per chunk: each ticket moves only if still ACTIVE, or
    // (earliest scan wins) if its recorded check-in is later than this scan.
    d1
      .prepare(
        `UPDATE tickets
         SET status = 'CHECKED_IN', checked_in_at = s.t, checked_in_device = s.d,
             checked_in_by = ?1, updated_at = ?2
         FROM (SELECT json_extract(value, '$.tid') AS tid, json_extract(value, '$.h') AS h,
                      json_extract(value, '$.t') AS t, json_extract(value, '$.d') AS d
               FROM json_each(?3)) AS s
         WHERE tickets.id = s.tid AND tickets.ticket_hash = s.h AND +tickets.event_id = ?4
           AND (tickets.status = 'ACTIVE' OR (tickets.status = 'CHECKED_IN' AND tickets.checked_in_at > s.t))`,
      )
      .bind(uploaderId, now, JSON.stringify(candidates), eventId),
    d1
      .prepare(
        `INSERT OR IGNORE INTO checkins
           (id, ticket_id, event_id, scanned_at, device_id, scanner_id, result, source, created_at)
         SELECT json_extract(s.value, '$.cid'), t.id, t.event_id, json_extract(s.value, '$.t'),
           json_extract(s.value, '$.d'), ?1,
           ${resultOfScan("json_extract(s.value, '$.t')", "json_extract(s.value, '$.d')")}, 'offline', ?2
         FROM json_each(?3) AS s
         JOIN tickets AS t ON t.id = json_extract(s.value, '$.tid') AND t.ticket_hash = json_extract(s.value, '$.h')
         WHERE +t.event_id = ?4`,
      )
      .bind(uploaderId, now, JSON.stringify(recorded), eventId),
    d1
      .prepare(
        `SELECT t.id, t.ticket_hash, t.attendee_name, tiers.name AS tier_name, t.status, t.checked_in_at,
           t.checked_in_device
         FROM tickets AS t JOIN tiers ON tiers.id = t.tier_id
         WHERE +t.event_id = ?1 AND t.id IN (SELECT json_extract(value, '$.tid') FROM json_each(?2))`,
      )
      .bind(eventId, JSON.stringify(candidates)),
    // Superseded tokens among the scans (by primary key), read in the same snapshot.
    d1
      .prepare(
        `SELECT r.ticket_hash, r.reason, r.revoked_at FROM ticket_revocations AS r
         WHERE r.ticket_hash IN (SELECT json_extract(value, '$.h') FROM json_each(?1)) AND +r.event_id = ?2`,
      )
      .bind(JSON.stringify(candidates), eventId),
    ...announced.statements,
  ]);
  await enqueueAnnouncements(deps, announced.jobsFrom(written));
  const ticketsAfter = new Map(
    (state?.results ?? []).map((row) => [
      row.id,
      {
        id: row.id,
        ticketHash: row.ticket_hash,
        attendeeName: row.attendee_name,
        tierName: row.tier_name,
        status: row.status,
        checkedInAt: row.checked_in_at,
        checkedInDevice: row.checked_in_device,
      },
    ]),
  );
  return {
    tickets: ticketsAfter,
    revoked: new Map(
      (revoked?.results ?? []).map((row) => [
        row.ticket_hash,
        { reason: row.reason, revokedAt: row.revoked_at },
      ]),
    ),
  };
}

/**
 * Apply an offline upload. Every entry gets its own result, in the order sent; malformed
 * ones (`MalformedScan`) are answered `invalid` without stopping the others.
 */
export async function checkInBatch(
  deps: CheckInDeps,
  uploader: User,
  event: GateEvent,
  entries: Array<OfflineScan | MalformedScan>,
): Promise<BatchScanResult[]> {
  const results: BatchScanResult[] = new Array(entries.length);
  const keys = await currentTicketKeys(deps.config);

  // Verify each distinct code once (a busy gate uploads the same code from several devices).
  const verified = new Map<string, Promise<{ claims: TicketClaims; hash: string } | null>>();
  const check = (token: string) => {
    let found = verified.get(token);
    if (!found) {
      found = verifyTicket(keys, token).then(async (claims) =>
        claims ? { claims, hash: await ticketHash(token) } : null,
      );
      verified.set(token, found);
    }
    return found;
  };

  const byTicket = new Map<string, Pending[]>();
  for (const [position, entry] of entries.entries()) {
    if ("errors" in entry) {
      results[position] = {
        index: entry.index,
        outcome: "invalid",
        reason: "malformed",
        errors: entry.errors,
      };
      continue;
    }
    const code = await check(entry.qrHash);
    if (!code) {
      results[position] = { index: entry.index, outcome: "invalid", reason: "not_found", scan: entry };
      continue;
    }
    if (code.claims.eventId !== event.id) {
      results[position] = { index: entry.index, outcome: "wrong_event", scan: entry };
      continue;
    }
    const list = byTicket.get(code.claims.ticketId) ?? [];
    list.push({ scan: entry, ticketId: code.claims.ticketId, hash: code.hash });
    byTicket.set(code.claims.ticketId, list);
  }

  // Bounded chunks; all the scans of one ticket go in the same chunk, so the result of each
  // is decided against the ticket's state after its own update.
  const chunks: Pending[][][] = [];
  let current: Pending[][] = [];
  let size = 0;
  for (const scans of byTicket.values()) {
    if (size > 0 && size + scans.length > SCANS_PER_CHUNK) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(scans);
    size += scans.length;
  }
  if (current.length > 0) chunks.push(current);

  const positions = new Map<OfflineScan, number>();
  for (const [position, entry] of entries.entries()) if (!("errors" in entry)) positions.set(entry, position);

  for (const chunk of chunks) {
    const state = await applyChunk(deps, event.id, uploader.id, chunk);
    for (const pending of chunk.flat()) {
      const position = positions.get(pending.scan) ?? 0;
      const ticket = state.tickets.get(pending.ticketId);
      const revocation = state.revoked.get(pending.hash);
      if (ticket && ticket.ticketHash !== pending.hash && revocation) {
        // Whatever its scanned_at: the token no longer admits anyone, and the ticket's new
        // holder is not named.
        results[position] = {
          index: pending.scan.index,
          outcome: "revoked",
          reason: revocation.reason,
          revokedAt: revocation.revokedAt,
          scan: pending.scan,
        };
        continue;
      }
      if (!ticket || ticket.ticketHash !== pending.hash) {
        results[position] = {
          index: pending.scan.index,
          outcome: "invalid",
          reason: "not_found",
          scan: pending.scan,
        };
        continue;
      }
      let outcome: ScanOutcome;
      if (ticket.status === "CANCELLED") outcome = "cancelled";
      else if (
        ticket.checkedInAt === pending.scan.scannedAt &&
        ticket.checkedInDevice === pending.scan.deviceId
      )
        outcome = "ok";
      else outcome = "already_checked_in";
      results[position] = { index: pending.scan.index, outcome, scan: pending.scan, ticket };
    }
  }
  return results;
}
