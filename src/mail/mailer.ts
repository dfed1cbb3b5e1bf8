/**
 * The one mail module. Every email the system sends goes through `queueMail`, which records
 * it in `mail_log` (attachments in R2) and puts a job on the delivery queue; the consumer
 * calls `deliverMail`, whose transport is Brevo's HTTP API when BREVO_API_KEY is set and the
 * dev outbox otherwise. Requests never wait on Brevo.
 *
 * Idempotency: a `dedupeKey` makes the same logical email a single row; `deliverMail` sends
 * a row at most once (status check + Brevo idempotency key), so queue redelivery is harmless.
 */
import { and, eq, isNull, lt, or, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { type MailLogRow, mailLog } from "../db/schema";
import type { DeliveryJob } from "../delivery/jobs";
import { BrevoError, type BrevoSendEmailRequest, sendBrevoEmail } from "../integrations/brevo";
import { base64 } from "../lib/base64";
import type { Logger } from "../lib/logger";

type MailAttachment = { name: string; contentType: string } & (
  | { content: Uint8Array }
  /** Already in R2 under a key that never changes content (a ticket PNG): not copied again. */
  | { storedKey: string; size: number }
);

interface OutgoingMail {
  /** What kind of email (for logs and the outbox): `verify_email`, `password_reset`, ... */
  kind: string;
  to: { email: string; name?: string };
  subject: string;
  text: string;
  html: string;
  attachments?: MailAttachment[];
  /** Same key → same email, recorded and sent once. */
  dedupeKey?: string;
  orderId?: string;
  tags?: string[];
}

export interface StoredAttachment {
  name: string;
  content_type: string;
  key: string;
  size: number;
}

export interface MailDeps {
  db: Database;
  config: Config;
  media: R2Bucket;
  queue: Queue<DeliveryJob>;
  log?: Logger;
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80) || "attachment";
}

/** Record an email and queue its delivery. Returns the mail id (the existing one for a dedupe hit). */
export async function queueMail(
  deps: MailDeps,
  mail: OutgoingMail,
): Promise<{ id: string; duplicate: boolean }> {
  const { db, config } = deps;
  if (mail.dedupeKey) {
    const existing = await db.query.mailLog.findFirst({
      where: eq(mailLog.dedupeKey, mail.dedupeKey),
      columns: { id: true },
    });
    if (existing) return { id: existing.id, duplicate: true };
  }

  const id = crypto.randomUUID();
  const attachments: StoredAttachment[] = [];
  for (const [index, attachment] of (mail.attachments ?? []).entries()) {
    if ("storedKey" in attachment) {
      attachments.push({
        name: attachment.name,
        content_type: attachment.contentType,
        key: attachment.storedKey,
        size: attachment.size,
      });
      continue;
    }
    const key = `mail/${id}/${index}-${safeFileName(attachment.name)}`;
    await deps.media.put(key, attachment.content, { httpMetadata: { contentType: attachment.contentType } });
    attachments.push({
      name: attachment.name,
      content_type: attachment.contentType,
      key,
      size: attachment.content.byteLength,
    });
  }

  const inserted = await db
    .insert(mailLog)
    .values({
      id,
      dedupeKey: mail.dedupeKey ?? null,
      kind: mail.kind,
      toEmail: mail.to.email,
      toName: mail.to.name ?? "",
      subject: mail.subject,
      textBody: mail.text,
      htmlBody: mail.html,
      attachments: JSON.stringify(attachments),
      transport: config.mail.useOutbox ? "outbox" : "brevo",
      orderId: mail.orderId ?? null,
    })
    .onConflictDoNothing()
    .returning({ id: mailLog.id });
  if (inserted.length === 0) {
    // A concurrent request recorded the same dedupe key first.
    const winner = mail.dedupeKey
      ? await db.query.mailLog.findFirst({
          where: eq(mailLog.dedupeKey, mail.dedupeKey),
          columns: { id: true },
        })
      : undefined;
    return { id: winner?.id ?? id, duplicate: true };
  }

  try {
    await deps.queue.send({ type: "mail", mailId: id });
  } catch (error) {
    // The row stays QUEUED; the scheduled sweep re-enqueues it. Never fail the request for it.
    deps.log?.warn("mail enqueue failed; the sweep will retry", { mail_id: id, error: String(error) });
  }
  return { id, duplicate: false };
}

export type DeliveryOutcome = "sent" | "already_sent" | "failed_permanently" | "missing" | "in_progress";

/** How long one delivery attempt may hold a mail row (longer than the Brevo timeout). */
const DELIVERY_LEASE_MS = 60_000;
/** The sweep re-sends a QUEUED mail for this long after it was recorded; then it needs a human. */
export const MAIL_RETRY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * Deliver one recorded email. Throws a retryable error for transient failures (the queue
 * retries with backoff); permanent refusals are recorded and not retried.
 */
export async function deliverMail(
  deps: Omit<MailDeps, "queue"> & { fetch?: typeof fetch },
  mailId: string,
): Promise<DeliveryOutcome> {
  const { db, config } = deps;
  const row = await db.query.mailLog.findFirst({ where: eq(mailLog.id, mailId) });
  if (!row) return "missing";
  if (row.status === "SENT") return "already_sent";
  if (row.status === "FAILED") return "failed_permanently";

  if (row.transport === "outbox") {
    await markSent(db, row.id, "outbox");
    return "sent";
  }

  // Take the lease: of two redeliveries running at once, only one talks to Brevo.
  const now = Date.now();
  const leased = await db
    .update(mailLog)
    .set({ attempts: sql`${mailLog.attempts} + 1`, lockedUntil: now + DELIVERY_LEASE_MS })
    .where(
      and(
        eq(mailLog.id, row.id),
        eq(mailLog.status, "QUEUED"),
        or(isNull(mailLog.lockedUntil), lt(mailLog.lockedUntil, now)),
      ),
    )
    .returning({ id: mailLog.id });
  if (leased.length === 0) return "in_progress";
  try {
    const { messageId } = await sendBrevoEmail(
      {
        apiUrl: config.mail.brevoApiUrl,
        apiKey: config.mail.brevoApiKey,
        ...(deps.fetch ? { fetch: deps.fetch } : {}),
      },
      await toBrevoMessage(deps, row),
    );
    await markSent(db, row.id, messageId);
    return "sent";
  } catch (error) {
    if (error instanceof BrevoError && !error.retryable) {
      await db
        .update(mailLog)
        .set({ status: "FAILED", lastError: error.message.slice(0, 500) })
        .where(and(eq(mailLog.id, row.id), eq(mailLog.status, "QUEUED")));
      deps.log?.warn("mail refused permanently", { mail_id: row.id, error: error.message });
      return "failed_permanently";
    }
    await db
      .update(mailLog)
      .set({
        lastError: String(error instanceof Error ? error.message : error).slice(0, 500),
        lockedUntil: null,
      })
      .where(eq(mailLog.id, row.id));
    throw error;
  }
}

async function markSent(db: Database, id: string, providerMessageId: string): Promise<void> {
  await db
    .update(mailLog)
    .set({ status: "SENT", providerMessageId, sentAt: Date.now(), lastError: null })
    .where(and(eq(mailLog.id, id), eq(mailLog.status, "QUEUED")));
}

async function toBrevoMessage(
  deps: { media: R2Bucket; config: Config },
  row: MailLogRow,
): Promise<BrevoSendEmailRequest> {
  const stored = JSON.parse(row.attachments) as StoredAttachment[];
  const attachment: NonNullable<BrevoSendEmailRequest["attachment"]> = [];
  for (const item of stored) {
    const object = await deps.media.get(item.key);
    // A missing attachment is a transient R2 problem or a bug; retrying is the safe choice.
    if (!object) throw new Error(`attachment ${item.key} missing from R2`);
    attachment.push({ name: item.name, content: base64.encode(new Uint8Array(await object.arrayBuffer())) });
  }
  return {
    sender: deps.config.mail.from,
    to: [{ email: row.toEmail, ...(row.toName ? { name: row.toName } : {}) }],
    subject: row.subject,
    htmlContent: row.htmlBody,
    textContent: row.textBody,
    ...(attachment.length > 0 ? { attachment } : {}),
    // Brevo drops a second message with the same key: our last defence against duplicates.
    headers: { idempotencyKey: row.id },
    tags: [row.kind],
  };
}
