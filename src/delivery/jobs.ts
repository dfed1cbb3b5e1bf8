/**
 * Messages on the delivery queue, as zod schemas: producers send values of these types, the
 * consumer `safeParse`s each body against `DeliveryJob` (anything else is malformed and goes
 * to the dead-letter queue). Each job is idempotent: redelivery must be harmless.
 */
import { z } from "zod";

const Id = z.string().min(1).max(64);

/** Send one recorded email (mail_log row). */
export const MailJob = z.object({ type: z.literal("mail"), mailId: z.string().min(1) });
export type MailJob = z.infer<typeof MailJob>;

/**
 * Render an order's ticket PNGs into R2 and send the one tickets email for the order.
 * `resend` (a fresh id per request) asks for another copy: its own email, also sent once.
 */
export const OrderTicketsJob = z.object({
  type: z.literal("order_tickets"),
  orderId: Id,
  resend: Id.optional(),
});
export type OrderTicketsJob = z.infer<typeof OrderTicketsJob>;

/**
 * Send a refund's money (contract §13.4): claim it while PENDING and make one B2C request.
 * `retryOf`: the failed attempt an automatic retry follows (§13.4 schedule); the consumer
 * re-opens the refund only if that attempt is still its last one and the retry is due.
 */
export const RefundJob = z.object({ type: z.literal("refund"), refundId: Id, retryOf: Id.optional() });
export type RefundJob = z.infer<typeof RefundJob>;

/**
 * Send a withdrawal's money (contract §17): claim it while PENDING and make its one B2C
 * request (a payout is never re-sent: a redelivery that finds it claimed leaves it SENT).
 */
export const PayoutJob = z.object({ type: z.literal("payout"), payoutId: Id });
export type PayoutJob = z.infer<typeof PayoutJob>;

/**
 * A ticket transfer's delivery (contract v3 §14.3): render the ticket's new PNG, email it to
 * the recipient as a ticket delivery and send the sender a confirmation, each email once.
 * `resend` (a fresh id per request) asks for another copy of the recipient's email only.
 */
export const TicketTransferJob = z.object({
  type: z.literal("ticket_transfer"),
  transferId: Id,
  resend: Id.optional(),
});
export type TicketTransferJob = z.infer<typeof TicketTransferJob>;

/**
 * An outbox event's first attempts (contract v3 §16.3): one per delivery the event's batch
 * fanned out, each claimed before it is sent, so a redelivered job sends nothing twice.
 */
export const WebhookEventJob = z.object({ type: z.literal("webhook_event"), eventId: Id });
export type WebhookEventJob = z.infer<typeof WebhookEventJob>;

/** One delivery's next attempt (a retry on §16.3's schedule, or the sweep's re-send). */
export const WebhookDeliveryJob = z.object({ type: z.literal("webhook_delivery"), deliveryId: Id });
export type WebhookDeliveryJob = z.infer<typeof WebhookDeliveryJob>;

/**
 * One page of a cancelled event's buyer emails (buyers ordered by address, after `after`);
 * the job queues the next page itself.
 */
export const EventCancelledMailJob = z.object({
  type: z.literal("event_cancelled_mail"),
  eventId: Id,
  after: z.string().max(320).optional(),
});
export type EventCancelledMailJob = z.infer<typeof EventCancelledMailJob>;

export const DeliveryJob = z.discriminatedUnion("type", [
  EventCancelledMailJob,
  WebhookEventJob,
  WebhookDeliveryJob,
  MailJob,
  OrderTicketsJob,
  RefundJob,
  TicketTransferJob,
  PayoutJob,
]);
export type DeliveryJob = z.infer<typeof DeliveryJob>;

/**
 * How many times the queue delivers one message: the first delivery plus `max_retries` (6 in
 * every environment of wrangler.toml). The last failed delivery goes to the dead-letter queue.
 */
export const MAX_DELIVERY_ATTEMPTS = 7;
