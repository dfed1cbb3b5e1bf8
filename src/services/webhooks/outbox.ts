/**
 * The webhook outbox (contract v3 §16.2): an event is two statements a caller puts in the
 * SAME D1 batch as the change it reports, after that change's statements. The first writes
 * the event row (its body, the exact bytes every attempt sends), the second one PENDING
 * delivery per active endpoint of the organizer subscribed to its type. Both are
 * INSERT … SELECT, so they cost no read before the batch and no round trip of their own; a
 * batch that fails writes neither (nothing announced for a rolled-back change), and an
 * organizer with no endpoint for the type gets no row at all.
 *
 * The caller enqueues `announcement(results)` after the batch commits; if that send is lost
 * the cron sweep finds the PENDING deliveries (sweep.ts), so a committed change is never lost.
 */
import { type SQL, sql } from "drizzle-orm";
import { batchableSql, type Database, SQL_UUID, type Statement } from "../../db/client";
import type { DeliveryJob, WebhookEventJob } from "../../delivery/jobs";
import { describeError, type Logger } from "../../lib/logger";
import { toNairobiIso } from "../../lib/time";
import { eventBit, type WebhookEventType } from "./event-types";

/** Raw-SQL form of "endpoints of `organizer` hearing `bit`" for D1 statements (alias `w`). */
export function subscribedText(organizerExpr: string, bitExpr: string): string {
  return `w.organizer_id = ${organizerExpr} AND w.is_active = 1 AND w.deleted_at IS NULL AND (w.event_mask & ${bitExpr}) != 0`;
}

export interface OutboxEvent {
  type: WebhookEventType;
  /** Unique per change (`order.completed:<order id>`): a repeated change announces nothing. */
  dedupeKey: string;
  /** Whose endpoints hear it: the organizer, or the event (of theirs) the change belongs to. */
  organizer: { organizerId: string } | { eventId: string };
  /** The snapshot (§16.2 `data`). */
  data: Record<string, unknown>;
  /** Values only the batch knows, set into the body by SQL: JSON path → scalar subquery. */
  patches?: Array<{ path: string; value: SQL }>;
  /** The change must show in this state (a condition over the batch's own writes). */
  onlyIf?: SQL;
}

export interface OutboxWrite {
  eventId: string;
  statements: [Statement, Statement];
}

function organizerSql(organizer: OutboxEvent["organizer"]): SQL {
  return "organizerId" in organizer
    ? sql`${organizer.organizerId}`
    : sql`(SELECT organizer_id FROM events WHERE id = ${organizer.eventId})`;
}

/** The endpoints of `organizer` (an SQL value) that hear `bit`. */
function subscribed(organizerId: SQL, bit: number): SQL {
  return sql`w.organizer_id = ${organizerId} AND w.is_active = 1 AND w.deleted_at IS NULL AND (w.event_mask & ${bit}) != 0`;
}

export function outboxStatements(db: Database, event: OutboxEvent, now = Date.now()): OutboxWrite {
  const eventId = crypto.randomUUID();
  const bit = eventBit(event.type);
  const body = JSON.stringify({
    id: eventId,
    type: event.type,
    created: toNairobiIso(now),
    data: event.data,
  });
  let bodySql: SQL = sql`${body}`;
  for (const patch of event.patches ?? []) {
    bodySql = sql`json_set(${bodySql}, ${patch.path}, ${patch.value})`;
  }
  const guard = event.onlyIf ? sql` AND ${event.onlyIf}` : sql``;
  const insertEvent = batchableSql(
    db,
    sql`INSERT OR IGNORE INTO webhook_events (id, organizer_id, type, dedupe_key, body, created_at)
      SELECT ${eventId}, org.id, ${event.type}, ${event.dedupeKey}, ${bodySql}, ${now}
      FROM (SELECT ${organizerSql(event.organizer)} AS id) AS org
      WHERE org.id IS NOT NULL
        AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE ${subscribed(sql`org.id`, bit)})${guard}`,
  );
  const fanOut = batchableSql(
    db,
    sql`INSERT INTO webhook_deliveries (id, event_id, endpoint_id, type, status, attempts, created_at, next_attempt_at)
      SELECT ${SQL_UUID}, ev.id, w.id, ev.type, 'PENDING', 0, ${now}, ${now}
      FROM webhook_events ev JOIN webhook_endpoints w ON ${subscribed(sql`ev.organizer_id`, bit)}
      WHERE ev.id = ${eventId}`,
  );
  return { eventId, statements: [insertEvent, fanOut] };
}

/** Rows a batch statement wrote (D1's `meta.changes`). */
function changesOf(result: unknown): number {
  const meta = (result as { meta?: { changes?: number } } | undefined)?.meta;
  return typeof meta?.changes === "number" ? meta.changes : 0;
}

/**
 * The job to enqueue after the batch, given the fan-out statement's result: none when no
 * endpoint hears the event (or it was a repeat).
 */
export function announcement(write: OutboxWrite, fanOutResult: unknown): WebhookEventJob | undefined {
  return changesOf(fanOutResult) > 0 ? { type: "webhook_event", eventId: write.eventId } : undefined;
}

/**
 * Enqueue events' first attempts after their batch committed. Never fails the caller: a lost
 * send leaves PENDING deliveries in D1, which the cron sweep re-sends (sweep.ts).
 */
export async function enqueueAnnouncements(
  deps: { queue: Queue<DeliveryJob>; log: Logger },
  jobs: Array<WebhookEventJob | undefined>,
): Promise<void> {
  const due = jobs.filter((job): job is WebhookEventJob => job !== undefined);
  // Queues take at most 100 messages per sendBatch.
  for (let i = 0; i < due.length; i += 100) {
    try {
      await deps.queue.sendBatch(due.slice(i, i + 100).map((body) => ({ body })));
    } catch (error) {
      deps.log.warn("webhook event enqueue failed; the sweep will send it", {
        events: due.length,
        ...describeError(error),
      });
    }
  }
}

export function enqueueAnnouncement(
  deps: { queue: Queue<DeliveryJob>; log: Logger },
  job: WebhookEventJob | undefined,
): Promise<void> {
  return enqueueAnnouncements(deps, [job]);
}
