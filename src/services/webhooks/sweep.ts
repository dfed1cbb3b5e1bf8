/**
 * The cron's webhook steps: re-send deliveries whose queue message was lost (an enqueue that
 * failed after its batch committed, a consumer that died mid-attempt: the lease ran out), and
 * forget deliveries and events older than the 30 days the log keeps (§16.1).
 */
import { and, asc, eq, inArray, lt, ne, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { webhookDeliveries, webhookEvents } from "../../db/schema";
import type { DeliveryJob } from "../../delivery/jobs";

/** Overdue by this much, a delivery's message is taken as lost (retries land on time). */
const OVERDUE_MS = 2 * 60 * 1000;
const BATCH = 200;
const QUEUE_BATCH = 100;
export const DELIVERY_LOG_DAYS = 30;
const DAY_MS = 24 * 60 * 60 * 1000;

export async function requeueOverdueWebhooks(
  db: Database,
  queue: Queue<DeliveryJob>,
  now = Date.now(),
): Promise<number> {
  const overdue = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      and(eq(webhookDeliveries.status, "PENDING"), lt(webhookDeliveries.nextAttemptAt, now - OVERDUE_MS)),
    )
    .orderBy(asc(webhookDeliveries.nextAttemptAt))
    .limit(BATCH);
  for (let i = 0; i < overdue.length; i += QUEUE_BATCH) {
    await queue.sendBatch(
      overdue
        .slice(i, i + QUEUE_BATCH)
        .map((row) => ({ body: { type: "webhook_delivery", deliveryId: row.id } satisfies DeliveryJob })),
    );
  }
  return overdue.length;
}

export async function purgeOldWebhookDeliveries(db: Database, now = Date.now()): Promise<number> {
  const cutoff = now - DELIVERY_LOG_DAYS * DAY_MS;
  const old = await db
    .select({ id: webhookEvents.id })
    .from(webhookEvents)
    .where(
      and(
        lt(webhookEvents.createdAt, cutoff),
        // An event is forgotten only once none of its deliveries can still be sent.
        sql`NOT EXISTS (SELECT 1 FROM ${webhookDeliveries} WHERE ${webhookDeliveries.eventId} = ${webhookEvents.id} AND ${webhookDeliveries.status} = 'PENDING')`,
      ),
    )
    .limit(BATCH);
  if (old.length === 0) return 0;
  const ids = old.map((row) => row.id);
  await db.batch([
    db
      .delete(webhookDeliveries)
      .where(and(inArray(webhookDeliveries.eventId, ids), ne(webhookDeliveries.status, "PENDING"))),
    db.delete(webhookEvents).where(inArray(webhookEvents.id, ids)),
  ]);
  return ids.length;
}
