/** The cron's sweep over `mail_log`: mail whose queue message was lost is queued again. */
import { and, eq, gt, isNull, lt, or } from "drizzle-orm";
import type { Database } from "../db/client";
import { mailLog } from "../db/schema";
import type { DeliveryJob } from "../delivery/jobs";
import { MAIL_RETRY_WINDOW_MS } from "./mailer";

/** A QUEUED mail untouched this long lost its queue message; send it again. */
const STUCK_MAIL_MS = 5 * 60 * 1000;

/** Re-enqueue up to 100 stuck QUEUED mails (not leased by a delivery). Returns how many. */
export async function requeueStuckMail(
  db: Database,
  queue: Queue<DeliveryJob>,
  now: number,
): Promise<number> {
  const stuck = await db
    .select({ id: mailLog.id })
    .from(mailLog)
    .where(
      and(
        eq(mailLog.status, "QUEUED"),
        lt(mailLog.createdAt, now - STUCK_MAIL_MS),
        // Keep trying for a day (Brevo down for an hour must not lose mail), then a human looks.
        gt(mailLog.createdAt, now - MAIL_RETRY_WINDOW_MS),
        or(isNull(mailLog.lockedUntil), lt(mailLog.lockedUntil, now)),
      ),
    )
    .limit(100);
  if (stuck.length === 0) return 0;
  await queue.sendBatch(stuck.map((row) => ({ body: { type: "mail", mailId: row.id } })));
  return stuck.length;
}
