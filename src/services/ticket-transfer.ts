/**
 * Ticket transfer (contract v3 §14): `POST /api/tickets/{id}/transfer/`.
 *
 * - The conditions of §14.2 are checked in the contract's order, the first failure answers:
 *   owner (404), the event allows transfers (403), the ticket is ACTIVE (409), no refund in
 *   flight on its order (409), before the cutoff (409), under the limit (409), then the body
 *   (400) and the recipient's mail limit (429). The body comes last on purpose: someone
 *   else's ticket is "not found" whatever is sent.
 * - The change is ONE D1 batch (one transaction). Its first statement, the transfer record,
 *   is inserted only while every condition still holds on the rows themselves (owner, token
 *   version, status, refunds, cutoff, limit); every later statement is conditioned on that
 *   record, so two parallel transfers of one ticket (or a transfer racing a scan, a refund or
 *   a second device) leave exactly one winner and no half-done loser.
 * - The new token is the next version `v` of the ticket's token; the old one is revoked
 *   (ticket_revocations, on the ticket's change cursor, so the scanners' sync carries it).
 * - Rendering and both emails go through the delivery queue (`ticket_transfer` job,
 *   delivery/ticket-transfer.ts); the request never renders or mails.
 */
import { and, desc, eq, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import type { Config } from "../config";
import { batchableSql, type Database, runBatch, type Statement } from "../db/client";
import { events, orders, type TicketStatus, tickets, ticketTransfers, type User } from "../db/schema";
import type { DeliveryJob } from "../delivery/jobs";
import { DomainError, type FieldErrors } from "../lib/errors";
import { inboxKey } from "../lib/inbox-key";
import type { Logger } from "../lib/logger";
import { normalizeKenyanPhone } from "../lib/phone";
import { loadTicketKey, signTicket, ticketHash } from "../lib/ticket-signing";
import { findUserByEmail } from "./accounts/users";
import { consumeLimit } from "./rate-limit";
import { ownsTicket } from "./ticket-access";
import { ticketTransferredEvent } from "./webhooks/events";
import { announcement, outboxStatements } from "./webhooks/outbox";

export interface TransferDeps {
  db: Database;
  config: Config;
  queue: Queue<DeliveryJob>;
  log?: Logger;
}

/** The body as sent: every field is checked here, at §14.2 step 7, never before steps 1–6. */
export interface TransferRequest {
  email?: unknown;
  name?: unknown;
  phone?: unknown;
}

export interface TransferOutcome {
  transferId: string;
  ticketId: string;
  recipientEmail: string;
  transferredAt: number;
  transfersLeft: number;
}

export const ALREADY_YOURS = "You already hold this ticket.";
export const CANNOT_RECEIVE = "This address cannot receive tickets.";
const HOUR_MS = 60 * 60 * 1000;

// ---------------------------------------------------------------------------------------
// The facts and the rules (shared with the ticket views' `transferable`)
// ---------------------------------------------------------------------------------------

/** What §14.2 rules 2–6 look at, by ticket. */
export interface TransferFacts {
  status: TicketStatus;
  transferCount: number;
  allowTransfers: boolean;
  eventStatus: "ACTIVE" | "CANCELLED";
  startAt: number;
  /** A PENDING or SENT refund on the ticket's order. */
  refundPending: boolean;
}

/** Whether the ticket's order has a refund in flight (§14.2 rule 4), as a column for a select. */
export const refundPendingColumn = sql<number>`EXISTS (SELECT 1 FROM refunds WHERE refunds.order_id = ${tickets.orderId} AND refunds.status IN ('PENDING', 'SENT'))`;

export function transfersLeft(config: Pick<Config, "maxTransfersPerTicket">, transferCount: number): number {
  return Math.max(0, config.maxTransfersPerTicket - transferCount);
}

function cutoffOf(config: Pick<Config, "transferCutoffHours">, startAt: number): number {
  return startAt - config.transferCutoffHours * HOUR_MS;
}

/** The first of §14.2 rules 2–6 that fails now, as its error; null when all hold. */
export function transferRefusal(
  config: Pick<Config, "transferCutoffHours" | "maxTransfersPerTicket">,
  facts: TransferFacts,
  now: number,
): DomainError | null {
  if (!facts.allowTransfers) {
    return new DomainError(
      "transfer_disabled",
      "The organizer does not allow ticket transfers for this event.",
    );
  }
  if (facts.status !== "ACTIVE" || facts.eventStatus !== "ACTIVE") {
    return new DomainError(
      "not_transferable",
      "This ticket cannot be transferred: it is checked in, used or cancelled.",
    );
  }
  if (facts.refundPending) {
    return new DomainError("refund_in_progress", "A refund of this ticket's order is in progress.");
  }
  if (now >= cutoffOf(config, facts.startAt)) {
    return new DomainError(
      "transfer_window_closed",
      `Transfers close ${config.transferCutoffHours} hours before the event starts.`,
    );
  }
  if (facts.transferCount >= config.maxTransfersPerTicket) {
    return new DomainError(
      "transfer_limit",
      `This ticket has been transferred the most times allowed (${config.maxTransfersPerTicket}).`,
    );
  }
  return null;
}

/** §14.5: `transferable` is true only for the owner, when rules 2–6 hold now. */
export function isTransferable(
  config: Pick<Config, "transferCutoffHours" | "maxTransfersPerTicket">,
  isOwner: boolean,
  facts: TransferFacts,
  now: number,
): boolean {
  return isOwner && transferRefusal(config, facts, now) === null;
}

// ---------------------------------------------------------------------------------------
// The ticket as the transfer reads it
// ---------------------------------------------------------------------------------------

interface TicketForTransfer extends TransferFacts {
  id: string;
  orderId: string;
  eventId: string;
  tierId: string;
  attendeeName: string;
  attendeeEmail: string;
  ownerId: string;
  placedAsGuest: boolean;
  tokenVersion: number;
  ticketHash: string;
}

async function loadTicket(db: Database, ticketId: string): Promise<TicketForTransfer | undefined> {
  const [row] = await db
    .select({
      id: tickets.id,
      orderId: tickets.orderId,
      eventId: tickets.eventId,
      tierId: tickets.tierId,
      attendeeName: tickets.attendeeName,
      attendeeEmail: tickets.attendeeEmail,
      ownerId: tickets.ownerId,
      status: tickets.status,
      transferCount: tickets.transferCount,
      tokenVersion: tickets.tokenVersion,
      ticketHash: tickets.ticketHash,
      placedAsGuest: orders.placedAsGuest,
      allowTransfers: events.allowTransfers,
      eventStatus: events.status,
      startAt: events.startAt,
      refundPending: refundPendingColumn,
    })
    .from(tickets)
    .innerJoin(orders, eq(orders.id, tickets.orderId))
    .innerJoin(events, eq(events.id, tickets.eventId))
    .where(eq(tickets.id, ticketId))
    .limit(1);
  return row ? { ...row, refundPending: Boolean(row.refundPending) } : undefined;
}

/** §14.2 rules 1–6 on the ticket as read: the first failure is thrown. */
function checkTicket(
  config: Config,
  sender: User,
  ticket: TicketForTransfer | undefined,
  now: number,
): TicketForTransfer {
  // Rule 1: in the caller's wallet (the email-proof rule included); the organizer too is 404.
  if (!ticket || !ownsTicket(sender, ticket)) throw DomainError.notFound();
  const refusal = transferRefusal(config, ticket, now);
  if (refusal) throw refusal;
  return ticket;
}

// ---------------------------------------------------------------------------------------
// Rule 7: the body
// ---------------------------------------------------------------------------------------

const EmailField = z.string().trim().min(1).max(254).pipe(z.email());

interface Recipient {
  email: string;
  name: string;
  phone: string | null;
  /** The account holding the email now, if any (the batch resolves it again). */
  existing: User | undefined;
}

async function checkRecipient(db: Database, sender: User, body: TransferRequest): Promise<Recipient> {
  const fields: FieldErrors = {};
  const email = EmailField.safeParse(body.email);
  if (body.email === undefined || body.email === null || body.email === "") {
    fields.email = ["This field is required."];
  } else if (!email.success) {
    fields.email = ["Enter a valid email address."];
  }
  const name = typeof body.name === "string" ? body.name.trim() : "";
  if (body.name === undefined || body.name === null || name === "") {
    fields.name = ["This field is required."];
  } else if (typeof body.name !== "string") {
    fields.name = ["Not a valid string."];
  } else if (name.length > 100) {
    fields.name = ["Ensure this field has no more than 100 characters."];
  }
  let phone: string | null = null;
  if (body.phone !== undefined && body.phone !== null && body.phone !== "") {
    phone = typeof body.phone === "string" ? normalizeKenyanPhone(body.phone) : null;
    if (!phone) fields.phone = ["Enter a valid Kenyan mobile number, e.g. 0712 345 678."];
  }
  let existing: User | undefined;
  if (!fields.email && email.success) {
    if (email.data.toLowerCase() === sender.email.toLowerCase()) {
      fields.email = [ALREADY_YOURS];
    } else {
      existing = await findUserByEmail(db, email.data);
      // Gate staff never hold tickets: an organizer typed that address, nobody proved it.
      if (existing?.role === "SCANNER") fields.email = [CANNOT_RECEIVE];
    }
  }
  if (Object.keys(fields).length > 0) {
    throw DomainError.validation(
      fields,
      fields.phone && Object.keys(fields).length === 1 ? "invalid_phone" : "validation_error",
    );
  }
  return { email: email.success ? email.data : "", name, phone, existing };
}

// ---------------------------------------------------------------------------------------
// The batch
// ---------------------------------------------------------------------------------------

/** What the batch writes, decided before it runs. */
export interface TransferPlan {
  transferId: string;
  ticket: TicketForTransfer;
  sender: User;
  recipient: Recipient;
  newToken: string;
  newHash: string;
  signingKeyId: string;
  now: number;
}

/**
 * Every §14.2 rule that the rows themselves can still break between the read and the batch,
 * as one SQL condition on the ticket: the sender still owns this very token (same version),
 * it is ACTIVE, no refund is in flight, the event allows transfers and is not cancelled, the
 * cutoff has not passed and the limit is not reached.
 */
function stillTransferable(config: Config, plan: TransferPlan): SQL {
  const { ticket, sender, now } = plan;
  return sql`EXISTS (
    SELECT 1 FROM tickets t JOIN events e ON e.id = t.event_id
    WHERE t.id = ${ticket.id} AND t.owner_id = ${sender.id} AND t.token_version = ${ticket.tokenVersion}
      AND t.ticket_hash = ${ticket.ticketHash} AND t.status = 'ACTIVE'
      AND t.transfer_count < ${config.maxTransfersPerTicket}
      AND e.allow_transfers = 1 AND e.status = 'ACTIVE'
      AND e.start_datetime - ${config.transferCutoffHours * HOUR_MS} > ${now}
      AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = t.order_id AND r.status IN ('PENDING', 'SENT'))
  )`;
}

/**
 * The condition every statement after the first carries: this attempt's transfer record
 * exists, i.e. this attempt won. Statements added to the batch later (the webhook outbox's
 * `ticket.transferred` row, contract §16) must carry it too, so a losing attempt writes nothing.
 */
export function transferWon(transferId: string): SQL {
  return sql`EXISTS (SELECT 1 FROM ticket_transfers WHERE id = ${transferId})`;
}

/**
 * The transfer's statements, in order. ONE transaction: either all of them take effect or,
 * for a losing attempt, none (the first inserts nothing, and the rest are conditioned on it).
 */
export function transferStatements(db: Database, config: Config, plan: TransferPlan): Statement[] {
  const { transferId, ticket, sender, recipient, now } = plan;
  const emailLower = recipient.email.toLowerCase();
  const recipientId = sql`(SELECT id FROM users WHERE lower(email) = ${emailLower})`;
  const [first = "", ...rest] = recipient.name.split(/\s+/);
  const won = transferWon(transferId);

  const statements: Statement[] = [];
  if (!recipient.existing) {
    // A shadow user for an address with no account (as a guest checkout makes one); OR
    // IGNORE: an account registered meanwhile with that email wins and receives the ticket.
    statements.push(
      batchableSql(
        db,
        sql`INSERT OR IGNORE INTO users (id, username, email, password_hash, role, first_name, last_name,
              is_verified, is_guest, is_active, phone_number, created_at, updated_at)
            SELECT ${crypto.randomUUID()}, ${`guest-${crypto.randomUUID().slice(0, 12)}`}, ${recipient.email}, NULL,
              'ATTENDEE', ${first.slice(0, 150)}, ${rest.join(" ").slice(0, 150)}, 0, 1, 1, ${recipient.phone}, ${now}, ${now}
            WHERE ${stillTransferable(config, plan)}
              AND NOT EXISTS (SELECT 1 FROM users WHERE lower(email) = ${emailLower})`,
      ),
    );
  }
  statements.push(
    // The decision. Of two racing attempts only the first to commit finds the ticket as read;
    // the unique (ticket_id, to_version) index is the last line of defence.
    batchableSql(
      db,
      sql`INSERT INTO ticket_transfers (id, ticket_id, event_id, from_user_id, to_user_id, recipient_email,
            recipient_name, from_version, to_version, transferred_at)
          SELECT ${transferId}, ${ticket.id}, ${ticket.eventId}, ${sender.id}, ${recipientId}, ${recipient.email},
            ${recipient.name}, ${ticket.tokenVersion}, ${ticket.tokenVersion + 1}, ${now}
          WHERE ${stillTransferable(config, plan)}
            AND ${recipientId} IS NOT NULL AND ${recipientId} <> ${sender.id}
            AND (SELECT role FROM users WHERE lower(email) = ${emailLower}) <> 'SCANNER'`,
    ),
    batchableSql(
      db,
      sql`UPDATE tickets SET owner_id = ${recipientId}, attendee_name = ${recipient.name},
            attendee_email = ${recipient.email}, qr_code_hash = ${plan.newToken}, ticket_hash = ${plan.newHash},
            signing_key_id = ${plan.signingKeyId}, token_version = ${ticket.tokenVersion + 1},
            transfer_count = transfer_count + 1, png_key = NULL, updated_at = ${now}
          WHERE id = ${ticket.id} AND token_version = ${ticket.tokenVersion} AND ${won}`,
    ),
    // The old token, revoked on the change number the ticket's update just took (its trigger
    // ran inside the statement above), so a scanner's next sync carries both.
    batchableSql(
      db,
      sql`INSERT INTO ticket_revocations (ticket_hash, ticket_id, event_id, reason, token_version, revoked_at, change_seq)
          SELECT ${ticket.ticketHash}, t.id, t.event_id, 'transferred', ${ticket.tokenVersion}, ${now}, t.change_seq
          FROM tickets t WHERE t.id = ${ticket.id} AND t.ticket_hash = ${plan.newHash} AND ${won}`,
    ),
  );
  return statements;
}

// ---------------------------------------------------------------------------------------
// The use case
// ---------------------------------------------------------------------------------------

/**
 * Transfer `ticketId` from `sender` to the recipient in the body. Throws the contract's
 * answers; on success the ticket is the recipient's, the old token is revoked, and one
 * `ticket_transfer` job (render, recipient email, sender confirmation) is queued.
 *
 * `readBody` is called only at §14.2 step 7, so even an unreadable body on someone else's
 * ticket is "not found", as the contract orders the checks.
 */
export async function transferTicket(
  deps: TransferDeps,
  sender: User,
  ticketId: string,
  readBody: () => Promise<TransferRequest>,
  now = Date.now(),
): Promise<TransferOutcome> {
  const { db, config } = deps;
  const ticket = checkTicket(config, sender, await loadTicket(db, ticketId), now);
  const recipient = await checkRecipient(db, sender, await readBody());

  // Ticket mail to one inbox is limited as bookings are (one bucket: both send tickets there).
  const limit = await consumeLimit(
    db,
    {
      key: `bookings:to:${inboxKey(recipient.email)}`,
      max: config.bookingsPerRecipientPerHour,
      windowMs: HOUR_MS,
    },
    now,
  );
  if (!limit.allowed)
    throw DomainError.rateLimited("Too many tickets sent to this email address.", limit.retryAfter);

  const key = await loadTicketKey(config.ticketSigningKey);
  const newToken = await signTicket(
    key,
    { ticketId: ticket.id, eventId: ticket.eventId, tierId: ticket.tierId, version: ticket.tokenVersion + 1 },
    now,
  );
  const plan: TransferPlan = {
    transferId: crypto.randomUUID(),
    ticket,
    sender,
    recipient,
    newToken,
    newHash: await ticketHash(newToken),
    signingKeyId: key.kid,
    now,
  };
  // The organizer's `ticket.transferred` (contract v3 §16.2) joins the batch, written exactly
  // when the transfer is.
  const outbox = outboxStatements(
    db,
    ticketTransferredEvent({
      ticket,
      to: recipient,
      transfersLeft: transfersLeft(config, ticket.transferCount + 1),
      transferId: plan.transferId,
      won: transferWon(plan.transferId),
    }),
    now,
  );
  const results = await runBatch(db, [...transferStatements(db, config, plan), ...outbox.statements]);
  const [won] = await db
    .select({ id: ticketTransfers.id })
    .from(ticketTransfers)
    .where(eq(ticketTransfers.id, plan.transferId))
    .limit(1);
  if (!won) {
    // Lost to a concurrent change (another transfer, a scan, a refund): answer as the ticket
    // stands now, by the same rules in the same order.
    checkTicket(config, sender, await loadTicket(db, ticketId), Date.now());
    throw new DomainError(
      "not_transferable",
      "This ticket changed while it was being transferred. Try again.",
    );
  }

  await queueTransferDelivery(deps, plan.transferId, announcement(outbox, results.at(-1)));
  return {
    transferId: plan.transferId,
    ticketId: ticket.id,
    recipientEmail: recipient.email,
    transferredAt: now,
    transfersLeft: transfersLeft(config, ticket.transferCount + 1),
  };
}

/** Enqueue a transfer's delivery. Never fails the request: the cron's sweep re-enqueues it. */
async function queueTransferDelivery(
  deps: TransferDeps,
  transferId: string,
  /** The transfer's webhook event, sent with it. */
  also?: DeliveryJob,
): Promise<void> {
  try {
    const delivery: DeliveryJob = { type: "ticket_transfer", transferId };
    if (also) await deps.queue.sendBatch([{ body: delivery }, { body: also }]);
    else await deps.queue.send(delivery);
  } catch (error) {
    deps.log?.warn("transfer delivery enqueue failed; the sweep will retry", {
      transfer_id: transferId,
      error: String(error),
    });
  }
}

/** The ticket's latest transfer (the one its current token came from), if it was ever transferred. */
export async function latestTransferOf(db: Database, ticketId: string): Promise<{ id: string } | undefined> {
  const [row] = await db
    .select({ id: ticketTransfers.id })
    .from(ticketTransfers)
    .where(eq(ticketTransfers.ticketId, ticketId))
    .orderBy(desc(ticketTransfers.toVersion))
    .limit(1);
  return row;
}

/** Transfers whose delivery job never ran (its enqueue failed) and is overdue. */
const UNDELIVERED_AFTER_MS = 10 * 60 * 1000;
const UNDELIVERED_FOR_AT_MOST_MS = 24 * HOUR_MS;

/** For the scheduled sweep: re-enqueue transfers whose delivery never started. Returns how many. */
export async function requeueUndeliveredTransfers(
  db: Database,
  queue: Queue<DeliveryJob>,
  now = Date.now(),
): Promise<number> {
  const stuck = await db
    .select({ id: ticketTransfers.id })
    .from(ticketTransfers)
    .where(
      and(
        sql`${ticketTransfers.deliveredAt} IS NULL`,
        eq(ticketTransfers.deliveryAttempts, 0),
        sql`${ticketTransfers.transferredAt} < ${now - UNDELIVERED_AFTER_MS}`,
        sql`${ticketTransfers.transferredAt} > ${now - UNDELIVERED_FOR_AT_MOST_MS}`,
      ),
    )
    .limit(100);
  if (stuck.length === 0) return 0;
  await queue.sendBatch(
    stuck.map((row) => ({ body: { type: "ticket_transfer" as const, transferId: row.id } })),
  );
  return stuck.length;
}
