/**
 * The organizer ledger in D1 (contract §17): the statements every writer uses and the reads
 * the balances are summed from (lib/wallet-balance.ts). Shared by the organizer's ledger
 * object (the one writer of PAYOUT entries), settlement (SALE, FEE), refunds (REFUND) and
 * payouts (completion, PAYOUT_REVERSED).
 *
 * Every insert is `INSERT … SELECT … ON CONFLICT (dedupe_key) DO NOTHING`, guarded on the
 * state that justifies it (the order COMPLETED, the refund COMPLETED, the payout FAILED), so
 * a retried or repeated writer inserts nothing and a writer that lost a race inserts nothing.
 */
import { desc, eq, sql } from "drizzle-orm";
import { batchableSql, type Database, type Statement } from "../db/client";
import { events, type LedgerEntryRow, ledgerEntries } from "../db/schema";
import type { LedgerAmount } from "../lib/wallet-balance";

/**
 * The SALE (+ the order's total) and, when PLATFORM_FEE_PERCENT takes anything, the FEE
 * (− the fee rounded down) of an order, for the batch that settles it: each inserts only
 * while the order is COMPLETED, so they join the same transaction as that update.
 */
export function saleEntryStatements(
  db: Database,
  orderId: string,
  options: { feeBasisPoints: number; holdMs: number; now: number },
): Statement[] {
  const { feeBasisPoints, holdMs, now } = options;
  const statements = [
    batchableSql(
      db,
      sql`
      INSERT INTO ledger_entries (id, organizer_id, type, amount, status, reference, dedupe_key, event_id, order_id, available_at, created_at)
      SELECT ${crypto.randomUUID()}, e.organizer_id, 'SALE', o.amount, 'COMPLETED', o.reference, 'sale:' || o.id, o.event_id, o.id, e.end_datetime + ${holdMs}, ${now}
      FROM orders o JOIN events e ON e.id = o.event_id
      WHERE o.id = ${orderId} AND o.status = 'COMPLETED' AND o.amount > 0
      ON CONFLICT (dedupe_key) DO NOTHING`,
    ),
  ];
  if (feeBasisPoints > 0) {
    // Integer division of positive integers: the fee rounded down to the shilling (D1 binds
    // numbers as REAL, hence the CAST).
    statements.push(
      batchableSql(
        db,
        sql`
        INSERT INTO ledger_entries (id, organizer_id, type, amount, status, reference, dedupe_key, event_id, order_id, available_at, created_at)
        SELECT ${crypto.randomUUID()}, e.organizer_id, 'FEE', -(CAST(o.amount * ${feeBasisPoints} AS INTEGER) / 10000), 'COMPLETED', o.reference, 'fee:' || o.id, o.event_id, o.id, e.end_datetime + ${holdMs}, ${now}
        FROM orders o JOIN events e ON e.id = o.event_id
        WHERE o.id = ${orderId} AND o.status = 'COMPLETED' AND CAST(o.amount * ${feeBasisPoints} AS INTEGER) / 10000 > 0
        ON CONFLICT (dedupe_key) DO NOTHING`,
      ),
    );
  }
  return statements;
}

/**
 * The REFUND entry (− its amount) of a COMPLETED refund, only for an order whose SALE is in
 * the ledger: a refund of a payment that never became a sale (PAID_UNFULFILLED, UNDER_REVIEW)
 * was never the organizer's money, so it takes nothing from them.
 */
export function refundEntryStatement(db: Database, refundId: string, now: number): Statement {
  return batchableSql(
    db,
    sql`
    INSERT INTO ledger_entries (id, organizer_id, type, amount, status, reference, dedupe_key, event_id, order_id, refund_id, available_at, created_at)
    SELECT ${crypto.randomUUID()}, s.organizer_id, 'REFUND', -r.amount, 'COMPLETED', r.id, 'refund:' || r.id, s.event_id, r.order_id, r.id, s.available_at, ${now}
    FROM refunds r JOIN ledger_entries s ON s.dedupe_key = 'sale:' || r.order_id
    WHERE r.id = ${refundId} AND r.status = 'COMPLETED'
    ON CONFLICT (dedupe_key) DO NOTHING`,
  );
}

/** A withdrawal's PAYOUT entry (− amount, PENDING), written with its payouts row. */
export function payoutEntryStatement(
  db: Database,
  payout: { id: string; organizerId: string; reference: string; amount: number },
  now: number,
): Statement {
  return db.insert(ledgerEntries).values({
    id: crypto.randomUUID(),
    organizerId: payout.organizerId,
    type: "PAYOUT",
    amount: -payout.amount,
    status: "PENDING",
    reference: payout.reference,
    dedupeKey: `payout:${payout.id}`,
    payoutId: payout.id,
    createdAt: now,
  });
}

/** The PAYOUT entry follows its payout out of PENDING (only while the payout is in that state). */
export function settlePayoutEntryStatement(
  db: Database,
  payoutId: string,
  status: "COMPLETED" | "FAILED",
): Statement {
  return batchableSql(
    db,
    sql`
    UPDATE ledger_entries SET status = ${status}
    WHERE dedupe_key = ${`payout:${payoutId}`} AND status = 'PENDING'
      AND EXISTS (SELECT 1 FROM payouts p WHERE p.id = ${payoutId} AND p.status = ${status})`,
  );
}

/** PAYOUT_REVERSED (+ amount): the money M-Pesa did not send is the organizer's again. */
export function payoutReversedStatement(db: Database, payoutId: string, now: number): Statement {
  return batchableSql(
    db,
    sql`
    INSERT INTO ledger_entries (id, organizer_id, type, amount, status, reference, dedupe_key, payout_id, created_at)
    SELECT ${crypto.randomUUID()}, p.organizer_id, 'PAYOUT_REVERSED', p.amount, 'COMPLETED', p.reference, 'payout_reversed:' || p.id, p.id, ${now}
    FROM payouts p
    WHERE p.id = ${payoutId} AND p.status = 'FAILED'
      AND EXISTS (SELECT 1 FROM ledger_entries l WHERE l.dedupe_key = 'payout:' || p.id)
    ON CONFLICT (dedupe_key) DO NOTHING`,
  );
}

/**
 * The entry's event, aliased: drizzle maps a joined row's columns by name, and `status` is
 * both the entry's and the event's.
 */
const eventColumns = {
  endAt: sql<number | null>`${events.endAt}`.as("event_end_at"),
  eventStatus: sql<string | null>`${events.status}`.as("event_status"),
};

/**
 * An organizer's entries, summed per (type, status, event): what the balance needs, in rows
 * that grow with the organizer's events rather than their sales.
 */
export async function ledgerAmounts(db: Database, organizerId: string): Promise<LedgerAmount[]> {
  const rows = await db
    .select({
      type: ledgerEntries.type,
      status: ledgerEntries.status,
      amount: sql<number>`SUM(${ledgerEntries.amount})`,
      availableAt: sql<number | null>`MAX(${ledgerEntries.availableAt})`,
      ...eventColumns,
    })
    .from(ledgerEntries)
    .leftJoin(events, eq(events.id, ledgerEntries.eventId))
    .where(eq(ledgerEntries.organizerId, organizerId))
    .groupBy(ledgerEntries.type, ledgerEntries.status, ledgerEntries.eventId);
  return rows.map((row) => ({
    type: row.type,
    status: row.status,
    amount: Number(row.amount),
    availableAt: row.availableAt === null ? null : Number(row.availableAt),
    event:
      row.endAt === null || row.eventStatus === null
        ? null
        : { endAt: row.endAt, cancelled: row.eventStatus === "CANCELLED" },
  }));
}

export interface LedgerHistoryRow {
  entry: LedgerEntryRow;
  event: { endAt: number; cancelled: boolean } | null;
}

/** A page of an organizer's entries, newest first, and how many there are. */
export async function ledgerHistory(
  db: Database,
  organizerId: string,
  page: { limit: number; offset: number },
): Promise<{ total: number; rows: LedgerHistoryRow[] }> {
  const [counted, rows] = await db.batch([
    db
      .select({ n: sql<number>`COUNT(*)` })
      .from(ledgerEntries)
      .where(eq(ledgerEntries.organizerId, organizerId)),
    db
      .select({ entry: ledgerEntries, ...eventColumns })
      .from(ledgerEntries)
      .leftJoin(events, eq(events.id, ledgerEntries.eventId))
      .where(eq(ledgerEntries.organizerId, organizerId))
      .orderBy(desc(ledgerEntries.createdAt), desc(sql`ledger_entries.rowid`))
      .limit(page.limit)
      .offset(page.offset),
  ]);
  return {
    total: Number(counted[0]?.n ?? 0),
    rows: rows.map((row) => ({
      entry: row.entry,
      event:
        row.endAt === null || row.eventStatus === null
          ? null
          : { endAt: row.endAt, cancelled: row.eventStatus === "CANCELLED" },
    })),
  };
}
