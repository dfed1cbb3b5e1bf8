/**
 * Recording a refund (contract §13.2, §13.3): the amount is reserved and the tickets are
 * cancelled in ONE D1 transaction, before any money moves; the queue sends it later.
 *
 * The reservation is a single conditional INSERT … SELECT: it inserts only while
 * Σ reserved + amount ≤ what was paid, computed in the same statement, so any number of
 * concurrent requests can never reserve more than the order's payment (D1 runs statements
 * one at a time). Those that do not fit insert nothing and are told what is left.
 */
import { and, eq, inArray, type SQL, sql } from "drizzle-orm";
import type { Config } from "../../config";
import { batchableSql, type Database, runBatch, SQL_UUID, type Statement } from "../../db/client";
import {
  events,
  type Order,
  orders,
  type Refund,
  type RefundTrigger,
  refunds,
  refundTickets,
  tickets,
  type User,
  users,
} from "../../db/schema";
import type { DeliveryJob } from "../../delivery/jobs";
import { b2cConfigured } from "../../integrations/mpesa";
import { tierInventory } from "../../inventory/client";
import type { TierInventory } from "../../inventory/tier-inventory";
import { DomainError } from "../../lib/errors";
import { maskPhoneNumber } from "../../lib/masking";
import { type MailDeps, queueMail } from "../../mail/mailer";
import { refundTicketsCancelledMail } from "../../mail/templates";
import {
  checkedIdempotencyKey,
  claimIdempotencyKey,
  completeIdempotencyKey,
  releaseIdempotencyKey,
  requestFingerprint,
} from "../idempotency";
import { copyCountsStatement } from "../tier-counts";
import { amountPaidOf, ticketPricePaid } from "./amounts";
import { getRefund, type RefundView, StoredRefundViewSchema } from "./manage";
import { queueRefundSends } from "./queue";

export interface RefundDeps {
  db: Database;
  config: Config;
  inventory: DurableObjectNamespace<TierInventory>;
  mail: MailDeps;
  queue: Queue<DeliveryJob>;
}

const REFUNDABLE_STATUSES = ["COMPLETED", "PAID_UNFULFILLED", "UNDER_REVIEW"] as const;

/** Σ amount of an order's refunds that still hold their reservation (all but ABANDONED). */
export function reservedSql(orderId: SQL | string): SQL {
  return sql`(SELECT COALESCE(SUM(r.amount), 0) FROM refunds r WHERE r.order_id = ${orderId} AND (r.resolution IS NULL OR r.resolution <> 'ABANDONED'))`;
}

interface InsertRefund {
  id: string;
  orderId: string;
  /** null: everything still refundable (a full refund). */
  amount: number | null;
  reason: string;
  trigger: RefundTrigger;
  createdBy: string | null;
  /** Tickets named by the organizer: all must still be ACTIVE tickets of the order. */
  ticketIds: string[];
  now: number;
}

/**
 * The conditional insert, then (guarded on the refund existing) the tickets it cancels:
 * the named ones, or for a refund that takes refundable to 0, every ACTIVE ticket.
 * `CHECKED_IN` tickets keep their status.
 */
function recordStatements(db: Database, r: InsertRefund): Statement[] {
  const ticketsStillActive =
    r.ticketIds.length === 0
      ? sql`1`
      : sql`(SELECT count(*) FROM tickets WHERE order_id = ${r.orderId} AND status = 'ACTIVE' AND id IN (${sql.join(
          r.ticketIds.map((id) => sql`${id}`),
          sql`, `,
        )})) = ${r.ticketIds.length}`;
  const named =
    r.ticketIds.length === 0
      ? sql`0`
      : sql`t.id IN (${sql.join(
          r.ticketIds.map((id) => sql`${id}`),
          sql`, `,
        )})`;
  return [
    batchableSql(
      db,
      sql`
      WITH o AS (
        SELECT id, event_id, COALESCE(NULLIF(paid_phone, ''), phone_number) AS phone,
          CAST(COALESCE(paid_amount, 0) AS INTEGER) - ${reservedSql(r.orderId)} AS refundable
        FROM orders
        WHERE id = ${r.orderId} AND is_free = 0 AND status IN ('COMPLETED', 'PAID_UNFULFILLED', 'UNDER_REVIEW')
      ), a AS (SELECT o.*, COALESCE(${r.amount}, o.refundable) AS amount FROM o)
      INSERT INTO refunds (id, order_id, event_id, amount, reason, "trigger", "full", status, phone, created_by, created_at, updated_at)
      SELECT ${r.id}, a.id, a.event_id, a.amount, ${r.reason}, ${r.trigger}, a.amount = a.refundable, 'PENDING', a.phone, ${r.createdBy}, ${r.now}, ${r.now}
      FROM a
      WHERE a.amount >= 1 AND a.amount <= a.refundable AND a.phone IS NOT NULL AND ${ticketsStillActive}`,
    ),
    batchableSql(
      db,
      sql`
      INSERT INTO refund_tickets (refund_id, ticket_id)
      SELECT ${r.id}, t.id FROM tickets t
      WHERE t.order_id = ${r.orderId} AND t.status = 'ACTIVE'
        AND EXISTS (SELECT 1 FROM refunds WHERE id = ${r.id})
        AND (${named} OR (SELECT "full" FROM refunds WHERE id = ${r.id}) = 1)`,
    ),
    batchableSql(
      db,
      sql`
      UPDATE tickets SET status = 'CANCELLED', updated_at = ${r.now}
      WHERE status = 'ACTIVE' AND id IN (SELECT ticket_id FROM refund_tickets WHERE refund_id = ${r.id})`,
    ),
  ];
}

export interface RefundRequest {
  amount?: number | undefined;
  reason?: string | undefined;
  ticketIds?: string[] | undefined;
  /** The `Idempotency-Key` header, as sent. */
  idempotencyKey?: string | undefined;
}

/** The order, if it belongs to one of this organizer's events (else 404: not theirs to see). */
async function ownOrder(db: Database, organizerId: string, orderId: string) {
  const [row] = await db
    .select({ order: orders })
    .from(orders)
    .innerJoin(events, eq(events.id, orders.eventId))
    .where(and(eq(orders.id, orderId.toLowerCase()), eq(events.organizerId, organizerId)))
    .limit(1);
  if (!row) throw DomainError.notFound("Order not found.");
  return row.order;
}

function refundableNow(db: Database, orderId: string) {
  return db
    .select({
      paid: sql<number>`CAST(COALESCE(${orders.paidAmount}, 0) AS INTEGER)`,
      reserved: reservedSql(orderId).mapWith(Number),
    })
    .from(orders)
    .where(eq(orders.id, orderId))
    .then(([row]) => Math.max(0, (row?.paid ?? 0) - (row?.reserved ?? 0)));
}

/**
 * `POST /api/organizer/orders/{id}/refund/`: 202 → the PENDING refund.
 *
 * With an `Idempotency-Key` (§13.2, §4 semantics, the same table and rules as initiate/): the
 * same key and request answer the first refund as it was answered, and record nothing more;
 * the same key with another request (or another order) is a 422; a key whose first request
 * is still running is a 409. The key is claimed after the order is known to be the
 * organizer's and before any rule is checked, so a replay of a refund that emptied the order
 * still answers that refund rather than "nothing left". A refusal frees the key (nothing was
 * answered for it); once a refund is recorded the key is never freed, so no retry can record
 * a second one.
 */
export async function requestOrganizerRefund(
  deps: RefundDeps,
  organizer: User,
  orderId: string,
  request: RefundRequest,
  now = Date.now(),
): Promise<RefundView> {
  const { db } = deps;
  const key = checkedIdempotencyKey(request.idempotencyKey);
  const order = await ownOrder(db, organizer.id, orderId);
  const ticketIds = [...new Set((request.ticketIds ?? []).map((id) => id.toLowerCase()))].sort();
  const idempotency = key
    ? {
        scope: `refund:${organizer.id}`,
        key,
        requestHash: await requestFingerprint({
          order_id: order.id,
          amount: request.amount ?? null,
          reason: request.reason ?? "",
          ticket_ids: ticketIds,
        }),
      }
    : undefined;
  if (idempotency) {
    const claim = await claimIdempotencyKey(db, idempotency, now);
    if (claim.kind === "replay") return StoredRefundViewSchema.parse(claim.result);
    if (claim.kind === "in_progress") {
      throw new DomainError("conflict", "A request with this Idempotency-Key is still being processed.");
    }
    if (claim.kind === "conflict") {
      throw new DomainError(
        "idempotency_conflict",
        "This Idempotency-Key was already used with a different request.",
      );
    }
  }

  let refund: Refund;
  try {
    refund = await recordOrganizerRefund(deps, organizer, order, { ...request, ticketIds }, now);
  } catch (error) {
    if (idempotency) await releaseIdempotencyKey(db, idempotency).catch(() => undefined);
    throw error;
  }
  // The answer as of now (PENDING, its tickets cancelled): what a replay answers too.
  const view = await getRefund(db, organizer.id, refund.id);
  if (idempotency) await completeIdempotencyKey(db, idempotency, view);
  await afterRecorded(deps, [refund.id], now);
  return view;
}

/** The rules of §13.2 and the conditional insert; throws the refusal when nothing fitted. */
async function recordOrganizerRefund(
  deps: RefundDeps,
  organizer: User,
  order: Order,
  request: RefundRequest & { ticketIds: string[] },
  now: number,
): Promise<Refund> {
  const { db } = deps;
  if (amountPaidOf(order) <= 0 || !REFUNDABLE_STATUSES.some((s) => s === order.status)) {
    throw new DomainError("not_refundable", "Only paid orders can be refunded.");
  }
  if (!b2cConfigured(deps.config)) {
    throw new DomainError("refunds_unavailable", "Refunds are not available: M-Pesa B2C is not configured.");
  }

  const { ticketIds } = request;
  let amount = request.amount ?? null;
  if (ticketIds.length > 0) {
    const rows = await db
      .select({
        id: tickets.id,
        seatIndex: tickets.seatIndex,
        status: tickets.status,
        pricePaid: tickets.pricePaid,
      })
      .from(tickets)
      .where(and(eq(tickets.orderId, order.id), inArray(tickets.id, ticketIds)));
    const active = rows.filter((t) => t.status === "ACTIVE");
    if (active.length !== ticketIds.length) {
      throw DomainError.field("ticket_ids", "Every ticket must be an ACTIVE ticket of this order.");
    }
    // What each seat cost as checkout froze it (§5 price_paid); tickets issued before prices
    // were frozen per seat fall back to an even share of the payment.
    amount ??= active.reduce(
      (sum, t) =>
        sum +
        (t.pricePaid ??
          ticketPricePaid({ amountPaid: amountPaidOf(order), quantity: order.quantity }, t.seatIndex)),
      0,
    );
  }

  const id = crypto.randomUUID();
  await runBatch(
    db,
    recordStatements(db, {
      id,
      orderId: order.id,
      amount,
      reason: request.reason ?? "",
      trigger: "ORGANIZER",
      createdBy: organizer.id,
      ticketIds,
      now,
    }),
  );
  const refund = await db.query.refunds.findFirst({ where: eq(refunds.id, id) });
  if (!refund) {
    // Nothing was written: say which rule refused it, from the state as it is now.
    const refundable = await refundableNow(db, order.id);
    if (amount !== null && amount > refundable) {
      throw DomainError.field("amount", `At most KES ${refundable} can be refunded.`, "amount_too_high");
    }
    if (refundable <= 0) {
      throw DomainError.field("amount", "At most KES 0 can be refunded.", "amount_too_high");
    }
    if (ticketIds.length > 0) {
      throw DomainError.field("ticket_ids", "Every ticket must be an ACTIVE ticket of this order.");
    }
    throw new DomainError("not_refundable", "Only paid orders can be refunded.");
  }
  return refund;
}

/**
 * A system refund of everything still refundable (§13.3 rules 3–5): at most one per
 * (order, trigger), so a redelivered message or a second sweep never refunds twice.
 * Returns the refund id, or null when nothing was (or is) left to refund.
 */
export async function createSystemRefund(
  deps: RefundDeps,
  orderId: string,
  trigger: Exclude<RefundTrigger, "ORGANIZER">,
  reason: string,
  now = Date.now(),
): Promise<string | null> {
  const id = crypto.randomUUID();
  try {
    await runBatch(
      deps.db,
      recordStatements(deps.db, {
        id,
        orderId,
        amount: null,
        reason,
        trigger,
        createdBy: null,
        ticketIds: [],
        now,
      }),
    );
  } catch (error) {
    if (String(error instanceof Error ? `${error.message} ${error.cause}` : error).includes("UNIQUE"))
      return null;
    throw error;
  }
  const created = await deps.db.query.refunds.findFirst({ where: eq(refunds.id, id), columns: { id: true } });
  if (!created) return null;
  await afterRecorded(deps, [id], now);
  return id;
}

/**
 * Event cancelled (§13.3 rule 3): in the cancellation's own transaction, a full refund for
 * every paid order with something left to refund, and the tickets each one cancels. To be
 * placed BEFORE the statement that cancels the event's tickets.
 */
export function eventCancellationRefundStatements(db: Database, eventId: string, now: number): Statement[] {
  return [
    batchableSql(
      db,
      sql`
      INSERT INTO refunds (id, order_id, event_id, amount, reason, "trigger", "full", status, phone, created_by, created_at, updated_at)
      SELECT ${SQL_UUID}, o.id, o.event_id, x.refundable, 'Event cancelled', 'EVENT_CANCELLED', 1, 'PENDING',
        COALESCE(NULLIF(o.paid_phone, ''), o.phone_number), NULL, ${now}, ${now}
      FROM orders o
      JOIN (SELECT id, CAST(COALESCE(paid_amount, 0) AS INTEGER) - ${reservedSql(sql`orders.id`)} AS refundable FROM orders WHERE event_id = ${eventId}) x ON x.id = o.id
      WHERE o.event_id = ${eventId} AND o.is_free = 0 AND o.status IN ('COMPLETED', 'PAID_UNFULFILLED')
        AND x.refundable > 0 AND COALESCE(NULLIF(o.paid_phone, ''), o.phone_number) IS NOT NULL
      ON CONFLICT DO NOTHING`,
    ),
    batchableSql(
      db,
      sql`
      INSERT INTO refund_tickets (refund_id, ticket_id)
      SELECT r.id, t.id FROM refunds r JOIN tickets t ON t.order_id = r.order_id
      WHERE r.event_id = ${eventId} AND r."trigger" = 'EVENT_CANCELLED' AND r.created_at = ${now}
        AND t.status IN ('ACTIVE', 'CHECKED_IN')
      ON CONFLICT DO NOTHING`,
    ),
  ];
}

/** The refunds an event cancellation created at `now` (to queue them after the commit). */
export async function refundsOfCancellation(db: Database, eventId: string, now: number): Promise<string[]> {
  const rows = await db
    .select({ id: refunds.id })
    .from(refunds)
    .where(
      and(eq(refunds.eventId, eventId), eq(refunds.trigger, "EVENT_CANCELLED"), eq(refunds.createdAt, now)),
    );
  return rows.map((r) => r.id);
}

/**
 * After the commit: seats back on sale (unless the event is cancelled or has started), the
 * buyer told their tickets are cancelled, and the sends queued. Each step is idempotent.
 */
export async function afterRecorded(deps: RefundDeps, refundIds: string[], now = Date.now()): Promise<void> {
  for (const refundId of refundIds) {
    const [row] = await deps.db
      .select({ refund: refunds, order: orders, event: events, buyer: users.username })
      .from(refunds)
      .innerJoin(orders, eq(orders.id, refunds.orderId))
      .innerJoin(events, eq(events.id, refunds.eventId))
      .innerJoin(users, eq(users.id, orders.userId))
      .where(eq(refunds.id, refundId))
      .limit(1);
    if (!row) continue;
    const cancelled = await deps.db
      .select({ id: tickets.id, tierId: tickets.tierId })
      .from(refundTickets)
      .innerJoin(tickets, eq(tickets.id, refundTickets.ticketId))
      .where(eq(refundTickets.refundId, refundId));
    if (cancelled.length > 0 && row.event.status === "ACTIVE" && row.event.startAt > now) {
      await returnSeats(deps, row.order.id, cancelled);
    }
    // An event cancellation has its own (earlier) email to every buyer: that is the first one.
    if (cancelled.length > 0 && row.refund.trigger !== "EVENT_CANCELLED") {
      const mail = refundTicketsCancelledMail({
        buyerName: row.order.buyerName || row.buyer,
        eventTitle: row.event.title,
        amount: row.refund.amount,
        maskedPhone: maskPhoneNumber(row.refund.phone),
        ticketCount: cancelled.length,
        orderReference: row.order.reference,
        reason: row.refund.reason,
      });
      await queueMail(deps.mail, {
        kind: "refund_tickets_cancelled",
        to: { email: row.order.buyerEmail, name: row.order.buyerName },
        ...mail,
        dedupeKey: `refund:${refundId}:cancelled`,
        orderId: row.order.id,
      });
    }
  }
  await queueRefundSends(deps.queue, refundIds);
}

async function returnSeats(
  deps: RefundDeps,
  orderId: string,
  cancelled: Array<{ id: string; tierId: string }>,
): Promise<void> {
  const byTier = new Map<string, string[]>();
  for (const t of cancelled) byTier.set(t.tierId, [...(byTier.get(t.tierId) ?? []), t.id]);
  for (const [tierId, ticketIds] of byTier) {
    const snapshot = await tierInventory(deps.inventory, tierId).returnTickets(orderId, ticketIds);
    await copyCountsStatement(deps.db, tierId, snapshot);
  }
}
