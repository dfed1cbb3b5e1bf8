/**
 * The event types an endpoint can subscribe to (contract v3 §16.2), and their bits in
 * `webhook_endpoints.event_mask`: a subscription check is one integer AND inside the very
 * INSERT … SELECT that writes an event, so the outbox costs no extra read.
 */
export const WEBHOOK_EVENT_TYPES = [
  "order.completed",
  "order.refunded",
  "ticket.checked_in",
  "ticket.transferred",
  "event.cancelled",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** `ping` is sent only by the ping route, to one endpoint, whatever it subscribes to. */
export type WebhookMessageType = WebhookEventType | "ping";

export function eventBit(type: WebhookEventType): number {
  return 1 << WEBHOOK_EVENT_TYPES.indexOf(type);
}

export function eventMaskOf(types: readonly WebhookEventType[]): number {
  return types.reduce((mask, type) => mask | eventBit(type), 0);
}

export function eventTypesOf(mask: number): WebhookEventType[] {
  return WEBHOOK_EVENT_TYPES.filter((type) => (mask & eventBit(type)) !== 0);
}

export const ALL_EVENTS_MASK = eventMaskOf(WEBHOOK_EVENT_TYPES);
