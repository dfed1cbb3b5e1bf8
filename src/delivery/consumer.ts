/**
 * The delivery queue consumer. Each message is acked or retried on its own, so one poison
 * message never blocks a batch; retries back off exponentially and, after the queue's
 * max_retries, land in the dead-letter queue.
 */
import { loadConfig } from "../config";
import { createDb } from "../db/client";
import type { Bindings } from "../env";
import { createLogger, describeError } from "../lib/logger";
import { deliverMail } from "../mail/mailer";
import { type DeliveryJob, isDeliveryJob } from "./jobs";

/** 10 s, 20 s, 40 s, ... capped at 15 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(900, 10 * 2 ** Math.max(0, attempts - 1));
}

export async function handleDeliveryBatch(batch: MessageBatch<unknown>, env: Bindings): Promise<void> {
  const log = createLogger({ component: "delivery", queue: batch.queue });
  const config = loadConfig(env);
  const db = createDb(env.DB);

  for (const message of batch.messages) {
    const job = message.body;
    if (!isDeliveryJob(job)) {
      // Malformed: retrying cannot fix it. Fail it fast towards the DLQ for a human to read.
      log.error("malformed delivery job", {
        message_id: message.id,
        body: JSON.stringify(job)?.slice(0, 500),
      });
      message.retry({ delaySeconds: 0 });
      continue;
    }
    try {
      await runJob(job, { env, config, db, log });
      message.ack();
    } catch (error) {
      log.warn("delivery job failed; will retry", {
        message_id: message.id,
        attempts: message.attempts,
        job_type: job.type,
        ...describeError(error),
      });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
    }
  }
}

async function runJob(
  job: DeliveryJob,
  deps: {
    env: Bindings;
    config: ReturnType<typeof loadConfig>;
    db: ReturnType<typeof createDb>;
    log: ReturnType<typeof createLogger>;
  },
): Promise<void> {
  switch (job.type) {
    case "mail": {
      const outcome = await deliverMail(
        { db: deps.db, config: deps.config, media: deps.env.MEDIA, log: deps.log },
        job.mailId,
      );
      deps.log.info("mail delivery", { mail_id: job.mailId, outcome });
      return;
    }
  }
}
