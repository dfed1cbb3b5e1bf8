/**
 * `ticket.checked_in` (contract v3 §16.2): a ticket's FIRST check-in, online or from an offline
 * batch. Set-based, like the check-in itself: one statement writes an event for every ticket
 * the batch's own UPDATE just checked in (same scan time, device and code, touched at `now`),
 * built in SQL from the ticket row; one more fans them out; a third names the events that have
 * deliveries, to enqueue. All three join the check-in's D1 batch, after its UPDATE. The dedupe
 * key (one per ticket) keeps a later, earlier-dated offline scan from announcing it again.
 */
import { SQL_UUID_TEXT } from "../../db/client";
import type { WebhookEventJob } from "../../delivery/jobs";
import { toNairobiIso } from "../../lib/time";
import { eventBit } from "./event-types";
import { subscribedText } from "./outbox";

export interface CheckedInCandidate {
  /** Ticket id, scanned code's hash, scan time, device: as the check-in UPDATE used them. */
  tid: string;
  h: string;
  t: number;
  d: string;
}

const BIT = eventBit("ticket.checked_in");
const NAIROBI_ISO = (column: string) =>
  `strftime('%Y-%m-%dT%H:%M:%S', ${column} / 1000, 'unixepoch', '+3 hours') || '+03:00'`;

export function checkedInStatements(
  d1: D1Database,
  input: { eventId: string; candidates: CheckedInCandidate[]; now: number; online: boolean },
): {
  statements: D1PreparedStatement[];
  jobsFrom: (result: D1Result<{ id: string }> | undefined) => WebhookEventJob[];
} {
  const rows = JSON.stringify(input.candidates.map((c) => ({ ...c, eid: crypto.randomUUID() })));
  const ids = `(SELECT json_extract(value, '$.eid') FROM json_each(?1))`;
  const statements = [
    d1
      .prepare(
        `INSERT OR IGNORE INTO webhook_events (id, organizer_id, type, dedupe_key, body, created_at)
         SELECT json_extract(s.value, '$.eid'), e.organizer_id, 'ticket.checked_in', 'ticket.checked_in:' || t.id,
           json_object('id', json_extract(s.value, '$.eid'), 'type', 'ticket.checked_in', 'created', ?2,
             'data', json_object('ticket', json_object(
               'id', t.id, 'event_id', t.event_id, 'order_id', t.order_id, 'tier_id', t.tier_id,
               'tier_name', tiers.name, 'attendee_name', t.attendee_name,
               'checked_in_at', ${NAIROBI_ISO("t.checked_in_at")},
               'device_id', CASE WHEN ?5 THEN NULL ELSE t.checked_in_device END))),
           ?3
         FROM json_each(?1) AS s
         JOIN tickets AS t ON t.id = json_extract(s.value, '$.tid')
         JOIN tiers ON tiers.id = t.tier_id
         JOIN events AS e ON e.id = t.event_id
         WHERE +t.event_id = ?4 AND t.status = 'CHECKED_IN' AND t.updated_at = ?3
           AND t.ticket_hash = json_extract(s.value, '$.h')
           AND t.checked_in_at = json_extract(s.value, '$.t')
           AND t.checked_in_device = json_extract(s.value, '$.d')
           AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE ${subscribedText("e.organizer_id", String(BIT))})`,
      )
      .bind(rows, toNairobiIso(input.now), input.now, input.eventId, input.online ? 1 : 0),
    d1
      .prepare(
        `INSERT INTO webhook_deliveries (id, event_id, endpoint_id, type, status, attempts, created_at, next_attempt_at)
         SELECT ${SQL_UUID_TEXT}, ev.id, w.id, ev.type, 'PENDING', 0, ?2, ?2
         FROM webhook_events ev JOIN webhook_endpoints w ON ${subscribedText("ev.organizer_id", String(BIT))}
         WHERE ev.id IN ${ids}`,
      )
      .bind(rows, input.now),
    d1
      .prepare(
        `SELECT ev.id FROM webhook_events ev
         WHERE ev.id IN ${ids} AND EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = ev.id)`,
      )
      .bind(rows),
  ];
  return {
    statements,
    jobsFrom: (result) => (result?.results ?? []).map((row) => ({ type: "webhook_event", eventId: row.id })),
  };
}
