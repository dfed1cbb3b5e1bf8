/**
 * The `ticket_transfer` job (contract v3 §14.3), run by the queue consumer: render the
 * ticket's new PNG into R2 (its versioned key), email it to the recipient as a ticket
 * delivery (kind `ticket_transfer`, the PNG attached) and send the sender a confirmation
 * naming the recipient masked (kind `ticket_transfer_sent`). The request side is
 * services/ticket-transfer.ts.
 *
 * At least once, each email exactly once: both are recorded under a dedupe key of the
 * transfer (`transfer:<id>:recipient`, `transfer:<id>:sender`), so a redelivered job finds
 * them and only finishes sending. A resend (`resend` id) records one more recipient email.
 *
 * A token superseded before its email went out (transferred on again, or cancelled) is not
 * mailed: it would not open the gate. The sender's confirmation still goes.
 */
import { eq, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { events, mailLog, tickets, ticketTransfers, users } from "../db/schema";
import { unlinkable } from "../lib/html";
import type { Logger } from "../lib/logger";
import { maskEmail } from "../lib/masking";
import { type DeliveryOutcome, deliverMail, queueMail } from "../mail/mailer";
import { ticketTransferMail, ticketTransferSentMail } from "../mail/templates";
import { formatNairobiDateTime, ticketReference } from "../render/ticket-svg";
import { ensureTicketPng, loadTicketArt, ticketPngKey } from "../services/ticket-png";
import type { DeliveryJob, TicketTransferJob } from "./jobs";

export interface TransferDeliveryDeps {
  db: Database;
  config: Config;
  media: R2Bucket;
  log: Logger;
  fetch?: typeof fetch;
}

/** The consumer's own queueMail must not enqueue: it delivers right away. */
const NO_QUEUE = { send: async () => undefined } as unknown as Queue<DeliveryJob>;

class DeliveryInProgressError extends Error {
  constructor(mailId: string) {
    super(`mail ${mailId} is being delivered by another attempt`);
    this.name = "DeliveryInProgressError";
  }
}

type Outcome = DeliveryOutcome | "skipped";

function senderDisplayName(user: { firstName: string; lastName: string; username: string }): string {
  return `${user.firstName} ${user.lastName}`.trim() || user.username;
}

async function existingMail(db: Database, dedupeKey: string): Promise<string | undefined> {
  const row = await db.query.mailLog.findFirst({
    where: eq(mailLog.dedupeKey, dedupeKey),
    columns: { id: true },
  });
  return row?.id;
}

async function send(deps: TransferDeliveryDeps, mailId: string): Promise<DeliveryOutcome> {
  const outcome = await deliverMail(deps, mailId);
  if (outcome === "in_progress") throw new DeliveryInProgressError(mailId);
  if (outcome === "missing") throw new Error(`mail ${mailId} vanished`);
  return outcome;
}

/** Run one `ticket_transfer` job. Throws for anything worth retrying (R2, D1, Brevo 5xx). */
export async function runTicketTransferJob(
  deps: TransferDeliveryDeps,
  job: TicketTransferJob,
): Promise<void> {
  const { db, log } = deps;
  const [row] = await db
    .select({
      transfer: ticketTransfers,
      ticketVersion: tickets.tokenVersion,
      ticketStatus: tickets.status,
      transferCount: tickets.transferCount,
      eventTitle: events.title,
      senderEmail: users.email,
      senderUsername: users.username,
      senderFirstName: users.firstName,
      senderLastName: users.lastName,
    })
    .from(ticketTransfers)
    .innerJoin(tickets, eq(tickets.id, ticketTransfers.ticketId))
    .innerJoin(events, eq(events.id, ticketTransfers.eventId))
    .innerJoin(users, eq(users.id, ticketTransfers.fromUserId))
    .where(eq(ticketTransfers.id, job.transferId))
    .limit(1);
  if (!row) {
    log.warn("transfer delivery skipped: no such transfer", { transfer_id: job.transferId });
    return;
  }
  const { transfer } = row;
  await db
    .update(ticketTransfers)
    .set({ deliveryAttempts: sql`${ticketTransfers.deliveryAttempts} + 1` })
    .where(eq(ticketTransfers.id, transfer.id));

  const reference = ticketReference(transfer.ticketId);
  const live = row.ticketVersion === transfer.toVersion && row.ticketStatus !== "CANCELLED";
  let recipient: Outcome = "skipped";
  if (live) {
    const dedupeKey = job.resend
      ? `transfer:${transfer.id}:recipient:resend:${job.resend}`
      : `transfer:${transfer.id}:recipient`;
    let mailId = await existingMail(db, dedupeKey);
    if (!mailId) {
      const [art] = await loadTicketArt(db, eq(tickets.id, transfer.ticketId));
      if (!art || art.tokenVersion !== transfer.toVersion) {
        log.info("transfer delivery: the token changed meanwhile", { transfer_id: transfer.id });
      } else {
        const { png } = await ensureTicketPng(deps, art);
        const content = ticketTransferMail({
          recipientName: transfer.recipientName,
          senderName: senderDisplayName({
            firstName: row.senderFirstName,
            lastName: row.senderLastName,
            username: row.senderUsername,
          }),
          eventTitle: art.eventTitle,
          when: formatNairobiDateTime(art.startAt),
          location: art.locationName,
          tierName: art.tierName,
          ticketReference: reference,
          walletUrl: `${deps.config.frontendUrl}/tickets/${transfer.ticketId}`,
          resend: Boolean(job.resend),
        });
        mailId = (
          await queueMail(
            { db, config: deps.config, media: deps.media, queue: NO_QUEUE, log },
            {
              kind: "ticket_transfer",
              to: { email: transfer.recipientEmail, name: unlinkable(transfer.recipientName) },
              ...content,
              attachments: [
                {
                  name: `ticket-${reference}.png`,
                  contentType: "image/png",
                  storedKey: ticketPngKey(transfer.ticketId, transfer.toVersion),
                  size: png.byteLength,
                },
              ],
              dedupeKey,
              tags: ["ticket_transfer"],
            },
          )
        ).id;
      }
    }
    if (mailId) recipient = await send(deps, mailId);
  }

  let sender: Outcome = "skipped";
  if (!job.resend) {
    const dedupeKey = `transfer:${transfer.id}:sender`;
    let mailId = await existingMail(db, dedupeKey);
    if (!mailId) {
      const senderName = senderDisplayName({
        firstName: row.senderFirstName,
        lastName: row.senderLastName,
        username: row.senderUsername,
      });
      const content = ticketTransferSentMail({
        senderName,
        eventTitle: row.eventTitle,
        ticketReference: reference,
        maskedRecipient: maskEmail(transfer.recipientEmail),
        transfersLeft: Math.max(0, deps.config.maxTransfersPerTicket - (transfer.toVersion - 1)),
      });
      mailId = (
        await queueMail(
          { db, config: deps.config, media: deps.media, queue: NO_QUEUE, log },
          {
            kind: "ticket_transfer_sent",
            to: { email: row.senderEmail, name: unlinkable(senderName) },
            ...content,
            dedupeKey,
            tags: ["ticket_transfer_sent"],
          },
        )
      ).id;
    }
    sender = await send(deps, mailId);
    await db
      .update(ticketTransfers)
      .set({ deliveredAt: Date.now() })
      .where(sql`${ticketTransfers.id} = ${transfer.id} AND ${ticketTransfers.deliveredAt} IS NULL`);
  }
  log.info("transfer delivery", { transfer_id: transfer.id, resend: job.resend ?? null, recipient, sender });
}
