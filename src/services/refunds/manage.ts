/**
 * The organizer's refund desk (contract §13.2): read refunds, retry a FAILED one, or resolve
 * it by hand. Only refunds of the organizer's own events are visible (others: 404).
 */
import { and, count, desc, eq, inArray, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Database } from "../../db/client";
import {
  events,
  orders,
  REFUND_RESOLUTIONS,
  REFUND_REVIEW_REASONS,
  REFUND_STATUSES,
  REFUND_TRIGGERS,
  type Refund,
  type RefundStatus,
  refunds,
  refundTickets,
} from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { afterCompleted, type OutcomeDeps } from "./outcome";
import { queueRefundSends } from "./queue";
import type { RefundView } from "./snapshot";

export type { RefundView };

const nullableString = z.string().nullable();
const nullableTime = z.number().nullable();

/**
 * A RefundView as the idempotency table keeps it (JSON of the domain data, §13.2's
 * `Idempotency-Key`): read back and checked before a replay is shaped like the first answer.
 */
export const StoredRefundViewSchema = z.object({
  refund: z.object({
    id: z.string(),
    orderId: z.string(),
    eventId: z.string(),
    amount: z.number().int(),
    reason: z.string(),
    trigger: z.enum(REFUND_TRIGGERS),
    full: z.boolean(),
    status: z.enum(REFUND_STATUSES),
    phone: z.string(),
    mpesaReceipt: nullableString,
    attempts: z.number().int(),
    currentAttemptId: nullableString,
    failureCode: nullableString,
    failureReason: nullableString,
    retryable: z.boolean(),
    autoRetries: z.number().int(),
    nextRetryAt: nullableTime,
    resolution: z.enum(REFUND_RESOLUTIONS).nullable(),
    resolutionNote: nullableString,
    reviewReason: z.enum(REFUND_REVIEW_REASONS).nullable(),
    createdBy: nullableString,
    createdAt: z.number(),
    sentAt: nullableTime,
    failedAt: nullableTime,
    completedAt: nullableTime,
    updatedAt: z.number(),
  }),
  orderReference: z.string(),
  ticketIds: z.array(z.string()),
}) satisfies z.ZodType<RefundView>;

async function withDetails(db: Database, rows: Refund[]): Promise<RefundView[]> {
  if (rows.length === 0) return [];
  const ids = rows.map((r) => r.id);
  const [refs, cancelled] = await Promise.all([
    db
      .select({ id: orders.id, reference: orders.reference })
      .from(orders)
      .where(inArray(orders.id, [...new Set(rows.map((r) => r.orderId))])),
    db.select().from(refundTickets).where(inArray(refundTickets.refundId, ids)),
  ]);
  const referenceOf = new Map(refs.map((o) => [o.id, o.reference]));
  return rows.map((refund) => ({
    refund,
    orderReference: referenceOf.get(refund.orderId) ?? "",
    ticketIds: cancelled.filter((t) => t.refundId === refund.id).map((t) => t.ticketId),
  }));
}

export async function refundViewsOfOrder(db: Database, orderId: string): Promise<RefundView[]> {
  const rows = await db
    .select()
    .from(refunds)
    .where(eq(refunds.orderId, orderId))
    .orderBy(desc(refunds.createdAt), desc(refunds.id));
  return withDetails(db, rows);
}

async function ownRefund(db: Database, organizerId: string, refundId: string): Promise<Refund> {
  const [row] = await db
    .select({ refund: refunds })
    .from(refunds)
    .innerJoin(events, eq(events.id, refunds.eventId))
    .where(and(eq(refunds.id, refundId.toLowerCase()), eq(events.organizerId, organizerId)))
    .limit(1);
  if (!row) throw DomainError.notFound("Refund not found.");
  return row.refund;
}

export async function getRefund(db: Database, organizerId: string, refundId: string): Promise<RefundView> {
  const refund = await ownRefund(db, organizerId, refundId);
  const [view] = await withDetails(db, [refund]);
  return view as RefundView;
}

export async function listEventRefunds(
  db: Database,
  organizerId: string,
  eventId: string,
  status: RefundStatus | undefined,
  page: { offset: number; limit: number },
): Promise<{ total: number; rows: RefundView[] }> {
  const event = await db.query.events.findFirst({
    where: and(eq(events.id, eventId.toLowerCase()), eq(events.organizerId, organizerId)),
    columns: { id: true },
  });
  if (!event) throw DomainError.notFound();
  const where = and(eq(refunds.eventId, event.id), status ? eq(refunds.status, status) : undefined);
  const [[total], rows] = await Promise.all([
    db.select({ n: count() }).from(refunds).where(where),
    db
      .select()
      .from(refunds)
      .where(where)
      .orderBy(desc(refunds.createdAt), desc(refunds.id))
      .limit(page.limit)
      .offset(page.offset),
  ]);
  return { total: total?.n ?? 0, rows: await withDetails(db, rows) };
}

/** §13.2: a timeout may still complete on its own; give Daraja an hour before sending again. */
const TIMEOUT_RETRY_FACTOR = 6;

/** `retry/`: FAILED and unresolved → PENDING, sent again with a new attempt. */
export async function retryRefund(
  deps: OutcomeDeps,
  organizerId: string,
  refundId: string,
  now = Date.now(),
): Promise<RefundView> {
  const refund = await ownRefund(deps.db, organizerId, refundId);
  if (refund.status !== "FAILED" || refund.resolution) {
    throw new DomainError("invalid_state", `A ${refund.status} refund cannot be retried.`);
  }
  const waitMs = TIMEOUT_RETRY_FACTOR * deps.config.mpesa.b2c.retryBaseSeconds * 1000;
  if (refund.failureCode === "timeout" && (refund.failedAt ?? 0) > now - waitMs) {
    const seconds = Math.ceil(((refund.failedAt ?? now) + waitMs - now) / 1000);
    throw new DomainError(
      "retry_too_soon",
      "This refund timed out recently and may still complete: try again later.",
      { retryAfterSeconds: seconds },
    );
  }
  const [reopened] = await deps.db
    .update(refunds)
    .set({ status: "PENDING", currentAttemptId: null, nextRetryAt: null, updatedAt: now })
    .where(
      and(
        eq(refunds.id, refund.id),
        eq(refunds.status, "FAILED"),
        isNull(refunds.resolution),
        refund.currentAttemptId === null ? undefined : eq(refunds.currentAttemptId, refund.currentAttemptId),
      ),
    )
    .returning();
  if (!reopened) throw new DomainError("invalid_state", "This refund changed meanwhile.");
  await queueRefundSends(deps.queue, [reopened.id]);
  return getRefund(deps.db, organizerId, reopened.id);
}

export interface Resolution {
  resolution: "MANUAL" | "ABANDONED";
  mpesaReceipt?: string | undefined;
  note?: string | undefined;
}

/**
 * `resolve/`, FAILED only. MANUAL: the money went out another way → COMPLETED, counted, the
 * buyer emailed. ABANDONED: its amount is free for another refund; tickets stay cancelled.
 */
export async function resolveRefund(
  deps: OutcomeDeps,
  organizerId: string,
  refundId: string,
  input: Resolution,
  now = Date.now(),
): Promise<RefundView> {
  const refund = await ownRefund(deps.db, organizerId, refundId);
  if (refund.status !== "FAILED" || refund.resolution) {
    throw new DomainError("invalid_state", `A ${refund.status} refund cannot be resolved.`);
  }
  const manual = input.resolution === "MANUAL";
  const [resolved] = await deps.db
    .update(refunds)
    .set({
      resolution: input.resolution,
      resolutionNote: input.note ?? null,
      nextRetryAt: null,
      ...(manual
        ? { status: "COMPLETED" as const, completedAt: now, mpesaReceipt: input.mpesaReceipt ?? null }
        : {}),
      updatedAt: now,
    })
    .where(and(eq(refunds.id, refund.id), eq(refunds.status, "FAILED"), isNull(refunds.resolution)))
    .returning();
  if (!resolved) throw new DomainError("invalid_state", "This refund changed meanwhile.");
  if (manual) await afterCompleted(deps, resolved, now);
  return getRefund(deps.db, organizerId, resolved.id);
}
