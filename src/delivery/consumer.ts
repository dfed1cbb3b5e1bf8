/**
 * The delivery queue consumer. Each message is acked or retried on its own, so one poison
 * message never blocks a batch; a malformed one goes to the dead-letter queue at once; retries
 * back off exponentially and, after the queue's max_retries, land in the dead-letter queue. An order whose ticket delivery fails on its
 * last delivery is marked `delivery_status = FAILED` first, so it shows and can be re-sent.
 */
import type { Services } from "../compose";
import { describeError } from "../lib/logger";
import { runEventCancelledMailJob } from "../services/event-cancellation-mail";
import { runPayoutJob } from "../services/organizer-wallet/payouts";
import { runRefundJob } from "../services/refunds/send";
import { markDeliveryFailed } from "../services/ticket-delivery";
import { runWebhookDeliveryJob, runWebhookEventJob } from "../services/webhooks/deliver";
import { DeliveryJob, MAX_DELIVERY_ATTEMPTS } from "./jobs";
import { runMailJob } from "./mail-job";
import { runOrderTicketsJob } from "./order-tickets";
import { runTicketTransferJob } from "./ticket-transfer";

/** 10 s, 20 s, 40 s, ... capped at 15 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(900, 10 * 2 ** Math.max(0, attempts - 1));
}

/**
 * Ticket deliveries: the first retry comes after 5 s — most Brevo 5xx answers are a blip, and
 * a fan at the gate should not wait minutes for two of them — then they back off further:
 * 30 s, 2 min, 8 min, 32 min, 1 h. The six retries (max_retries in wrangler.toml) span about
 * 1 h 43 min, so an hour-long Brevo outage still ends in a sent email rather than in the
 * dead-letter queue.
 */
export function orderRetryDelaySeconds(attempts: number): number {
  if (attempts <= 1) return 5;
  return Math.min(3600, 30 * 4 ** (attempts - 2));
}

export async function handleDeliveryBatch(batch: MessageBatch<unknown>, services: Services): Promise<void> {
  const { db, log } = services;

  for (const message of batch.messages) {
    const parsed = DeliveryJob.safeParse(message.body);
    if (!parsed.success) {
      // Malformed: retrying cannot fix it. Straight to the dead-letter queue for a human to
      // read; only if that send fails does it take the slow road (retries, then the DLQ).
      log.error("malformed delivery job; to the dead-letter queue", {
        message_id: message.id,
        body: JSON.stringify(message.body)?.slice(0, 500),
      });
      try {
        await services.deadLetters.send(message.body);
        message.ack();
      } catch (error) {
        log.error("could not dead-letter a malformed job; retrying it", describeError(error));
        message.retry({ delaySeconds: 0 });
      }
      continue;
    }
    const job = parsed.data;
    try {
      await runJob(job, services);
      message.ack();
    } catch (error) {
      const final = message.attempts >= MAX_DELIVERY_ATTEMPTS;
      if (final && job.type === "order_tickets") {
        await markDeliveryFailed(db, job.orderId).catch((e: unknown) =>
          log.error("could not mark the order's delivery failed", {
            order_id: job.orderId,
            ...describeError(e),
          }),
        );
      }
      log.warn(
        final
          ? "delivery job failed for the last time; to the dead-letter queue"
          : "delivery job failed; will retry",
        {
          message_id: message.id,
          attempts: message.attempts,
          job_type: job.type,
          ...(job.type === "order_tickets"
            ? { order_id: job.orderId }
            : job.type === "refund"
              ? { refund_id: job.refundId }
              : job.type === "payout"
                ? { payout_id: job.payoutId }
                : job.type === "ticket_transfer"
                  ? { transfer_id: job.transferId }
                  : job.type === "webhook_event"
                    ? { webhook_event_id: job.eventId }
                    : job.type === "webhook_delivery"
                      ? { webhook_delivery_id: job.deliveryId }
                      : job.type === "event_cancelled_mail"
                        ? { event_id: job.eventId }
                        : { mail_id: job.mailId }),
          ...describeError(error),
        },
      );
      const delaySeconds =
        // A fan at the gate may be waiting for either kind of ticket email.
        job.type === "order_tickets" || job.type === "ticket_transfer"
          ? orderRetryDelaySeconds(message.attempts)
          : retryDelaySeconds(message.attempts);
      message.retry({ delaySeconds });
    }
  }
}

async function runJob(job: DeliveryJob, deps: Services): Promise<void> {
  switch (job.type) {
    case "mail":
      return runMailJob(deps, job);
    case "order_tickets":
      return runOrderTicketsJob(deps, job);
    case "ticket_transfer":
      return runTicketTransferJob(deps, job);
    case "refund": {
      const outcome = await runRefundJob(deps, job);
      deps.log.info("refund job", { refund_id: job.refundId, outcome });
      return;
    }
    case "event_cancelled_mail":
      return runEventCancelledMailJob(deps, job);
    case "webhook_event":
      return runWebhookEventJob(deps, job);
    case "webhook_delivery":
      return runWebhookDeliveryJob(deps, job);
    case "payout": {
      const outcome = await runPayoutJob(deps, job);
      deps.log.info("payout job", { payout_id: job.payoutId, outcome });
      return;
    }
  }
}
