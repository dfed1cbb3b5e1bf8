/**
 * The outbox events of contract v3 §16.2, built from what the change's own code already holds
 * (no read before its batch); what only the database knows (an event's title, the tickets an
 * order has now) is set into the body by SQL in the same batch.
 */
import { type SQL, sql } from "drizzle-orm";
import type { Order } from "../../db/schema";
import { toNairobiIso } from "../../lib/time";
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

/** `ticket.transferred` (§14.3): written only if the transfer's own row is (`won`). */
export function ticketTransferredEvent(transfer: {
  ticket: {
    id: string;
    eventId: string;
    orderId: string;
    tierId: string;
    attendeeName: string;
    attendeeEmail: string;
  };
  to: { name: string; email: string };
  transfersLeft: number;
  transferId: string;
  won: SQL;
}): OutboxEvent {
  const { ticket } = transfer;
  return {
    type: "ticket.transferred",
    dedupeKey: `ticket.transferred:${transfer.transferId}`,
    organizer: { eventId: ticket.eventId },
    data: {
      ticket: { id: ticket.id, event_id: ticket.eventId, order_id: ticket.orderId, tier_id: ticket.tierId },
      // The holder as the organizer's record named them, and the new one.
      from: { name: ticket.attendeeName, email: ticket.attendeeEmail },
      to: { name: transfer.to.name, email: transfer.to.email },
      transfers_left: transfer.transfersLeft,
    },
    onlyIf: transfer.won,
  };
}

/** `event.cancelled`: an event with sales; the refund counts are those its own batch created. */
export function eventCancelledEvent(
  event: { id: string; title: string; startAt: number },
  cancelledAt: number,
): OutboxEvent {
  const ofThisCancellation = sql`FROM refunds WHERE event_id = ${event.id} AND "trigger" = 'EVENT_CANCELLED' AND created_at = ${cancelledAt}`;
  return {
    type: "event.cancelled",
    dedupeKey: `event.cancelled:${event.id}`,
    organizer: { eventId: event.id },
    data: {
      event: { id: event.id, title: event.title, start_datetime: toNairobiIso(event.startAt) },
      orders_to_refund: 0,
      amount_to_refund: 0,
    },
    patches: [
      { path: "$.data.orders_to_refund", value: sql`(SELECT count(*) ${ofThisCancellation})` },
      {
        path: "$.data.amount_to_refund",
        value: sql`(SELECT COALESCE(SUM(amount), 0) ${ofThisCancellation})`,
      },
    ],
    onlyIf: sql`EXISTS (SELECT 1 FROM events WHERE id = ${event.id} AND status = 'CANCELLED' AND cancelled_at = ${cancelledAt})`,
  };
}
