/**
 * The outbox events of contract v3 §16.2, built from what the change's own code already holds
 * (no read before its batch); what only the database knows (an event's title, the tickets an
 * order has now) is set into the body by SQL in the same batch.
 */
import { sql } from "drizzle-orm";
import type { Order } from "../../db/schema";
import { organizerOrderSnapshot } from "../order-snapshot";
import type { OrganizerOrder } from "../organizer-order-rows";
import type { RefundView } from "../refunds/snapshot";
import { refundSnapshot } from "../refunds/snapshot";
import type { OutboxEvent } from "./outbox";

const eventTitleOf = (eventId: string) => sql`(SELECT title FROM events WHERE id = ${eventId})`;

/** `order.completed`: paid (or booked free) and its tickets issued, in this batch. */
export function orderCompletedEvent(
  order: Order,
  lines: OrganizerOrder["lines"],
  ticketIds: string[],
): OutboxEvent {
  return {
    type: "order.completed",
    dedupeKey: `order.completed:${order.id}`,
    organizer: { eventId: order.eventId },
    data: {
      order: organizerOrderSnapshot({ order, eventTitle: "", lines, ticketIds, refunded: 0, reserved: 0 }),
    },
    patches: [{ path: "$.data.order.event_title", value: eventTitleOf(order.eventId) }],
    onlyIf: sql`EXISTS (SELECT 1 FROM orders WHERE id = ${order.id} AND status = 'COMPLETED')`,
  };
}

/** `order.refunded`: one refund reached COMPLETED (each one, partial too). */
export function orderRefundedEvent(order: OrganizerOrder, refund: RefundView): OutboxEvent {
  return {
    type: "order.refunded",
    dedupeKey: `order.refunded:${refund.refund.id}`,
    organizer: { eventId: order.order.eventId },
    data: { order: organizerOrderSnapshot(order), refund: refundSnapshot(refund) },
    onlyIf: sql`EXISTS (SELECT 1 FROM refunds WHERE id = ${refund.refund.id} AND status = 'COMPLETED')`,
  };
}
