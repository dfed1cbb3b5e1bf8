/**
 * The development outbox (contract §10): mail kept in `mail_log` instead of sent, read
 * back newest first. Only the dev routes call this, and they refuse outside development.
 */
import { and, desc, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type MailLogRow, mailLog } from "../db/schema";
import type { StoredAttachment } from "./mailer";

export interface OutboxFilter {
  /** Recipient address, any case. */
  to?: string | undefined;
  kind?: string | undefined;
}

export interface OutboxMail {
  row: MailLogRow;
  attachments: StoredAttachment[];
}

function outboxWhere(filter: OutboxFilter) {
  return and(
    eq(mailLog.transport, "outbox"),
    filter.to ? sql`lower(${mailLog.toEmail}) = ${filter.to.toLowerCase()}` : undefined,
    filter.kind ? eq(mailLog.kind, filter.kind) : undefined,
  );
}

export async function listOutbox(
  db: Database,
  filter: OutboxFilter,
  window: { limit: number; offset: number },
): Promise<{ total: number; mails: OutboxMail[] }> {
  const where = outboxWhere(filter);
  const [counted, rows] = await Promise.all([
    db.select({ n: sql<number>`count(*)` }).from(mailLog).where(where),
    db
      .select()
      .from(mailLog)
      .where(where)
      .orderBy(desc(mailLog.createdAt), desc(mailLog.id))
      .limit(window.limit)
      .offset(window.offset),
  ]);
  return {
    total: counted[0]?.n ?? 0,
    mails: rows.map((row) => ({ row, attachments: JSON.parse(row.attachments) as StoredAttachment[] })),
  };
}

/** One attachment of an outbox mail, with its bytes from R2; null when either is gone. */
export async function outboxAttachment(
  deps: { db: Database; media: R2Bucket },
  mailId: string,
  index: number,
): Promise<{ attachment: StoredAttachment; object: R2ObjectBody } | null> {
  const row = await deps.db.query.mailLog.findFirst({
    where: and(eq(mailLog.id, mailId), eq(mailLog.transport, "outbox")),
  });
  const attachment = row ? (JSON.parse(row.attachments) as StoredAttachment[])[index] : undefined;
  const object = attachment ? await deps.media.get(attachment.key) : null;
  return attachment && object ? { attachment, object } : null;
}
