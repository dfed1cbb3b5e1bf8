/** The `mail` job, run by the queue consumer: send one recorded email. */
import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { mailLog } from "../db/schema";
import type { Logger } from "../lib/logger";
import { type DeliveryOutcome, deliverMail, type MailDeps } from "../mail/mailer";
import { recordOrderDelivery } from "../services/ticket-delivery";
import type { MailJob } from "./jobs";

/** Deliver the mail and log the outcome. Throws for anything worth retrying. */
export async function runMailJob(
  deps: Omit<MailDeps, "queue"> & { log: Logger },
  job: MailJob,
): Promise<void> {
  const outcome = await deliverMail(deps, job.mailId);
  await recordMailOutcome(deps.db, job.mailId, outcome);
  deps.log.info("mail delivery", { mail_id: job.mailId, outcome });
}

/**
 * After a `mail` job (the scheduled sweep re-queues mail whose message was lost), carry a
 * tickets email's outcome over to its order.
 */
async function recordMailOutcome(db: Database, mailId: string, outcome: DeliveryOutcome): Promise<void> {
  if (outcome !== "sent" && outcome !== "failed_permanently") return;
  const row = await db.query.mailLog.findFirst({
    where: eq(mailLog.id, mailId),
    columns: { orderId: true, kind: true },
  });
  if (row?.orderId && row.kind === "tickets") await recordOrderDelivery(db, row.orderId, outcome);
}
