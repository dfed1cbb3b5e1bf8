/** Messages on the delivery queue. Each job is idempotent: redelivery must be harmless. */
export type DeliveryJob =
  /** Send one recorded email (mail_log row). */
  | { type: "mail"; mailId: string }
  /**
   * Render an order's ticket PNGs into R2 and send the one tickets email for the order.
   * `resend` (a fresh id per request) asks for another copy: its own email, also sent once.
   */
  | { type: "order_tickets"; orderId: string; resend?: string };

/**
 * How many times the queue delivers one message: the first delivery plus `max_retries` (5 in
 * every environment of wrangler.toml). The last failed delivery goes to the dead-letter queue.
 */
export const MAX_DELIVERY_ATTEMPTS = 6;

const isId = (value: unknown): value is string =>
  typeof value === "string" && value.length > 0 && value.length <= 64;

export function isDeliveryJob(value: unknown): value is DeliveryJob {
  if (typeof value !== "object" || value === null) return false;
  const job = value as Record<string, unknown>;
  switch (job.type) {
    case "mail":
      return typeof job.mailId === "string" && job.mailId.length > 0;
    case "order_tickets":
      return isId(job.orderId) && (job.resend === undefined || isId(job.resend));
    default:
      return false;
  }
}
