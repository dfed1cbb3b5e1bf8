/**
 * Settlement: orders still PENDING after their hold are asked about with Daraja's STK query,
 * so a lost callback loses neither money nor seats. "Still processing" is not a failure:
 * the order is asked again later, less often each time.
 */
import { and, asc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { orders } from "../db/schema";
import { DarajaError } from "../integrations/mpesa/types";
import { tierInventory } from "../inventory/client";
import type { Logger } from "../lib/logger";
import { type CheckoutDeps, copyCountsStatement, settleOrder } from "./checkout";

const MINUTE = 60 * 1000;
const BATCH = 25;
/** A push that never got a CheckoutRequestID this long after the order: it never went out. */
const UNSENT_PUSH_MS = 2 * MINUTE;

/** 1, 2, 3 … up to 30 minutes between queries of the same order. */
export function queryBackoffMs(attempts: number): number {
  return Math.min(30, attempts + 1) * MINUTE;
}

export interface SettlementReport {
  queried: number;
  completed: number;
  failed: number;
  still_pending: number;
  errors: number;
}

export async function settlePendingOrders(
  deps: CheckoutDeps,
  log: Logger,
  now = Date.now(),
): Promise<SettlementReport> {
  const { db } = deps;
  const report: SettlementReport = { queried: 0, completed: 0, failed: 0, still_pending: 0, errors: 0 };
  const due = await db
    .select()
    .from(orders)
    .where(
      and(
        eq(orders.status, "PENDING"),
        lt(orders.holdExpiresAt, now),
        or(
          isNull(orders.lastQueriedAt),
          sql`${orders.lastQueriedAt} + (MIN(${orders.queryAttempts} + 1, 30) * ${MINUTE}) <= ${now}`,
        ),
      ),
    )
    .orderBy(asc(orders.holdExpiresAt))
    .limit(BATCH);

  for (const order of due) {
    try {
      if (!order.checkoutRequestId) {
        if (order.createdAt > now - UNSENT_PUSH_MS) continue;
        const [failed] = await db
          .update(orders)
          .set({ status: "FAILED", failureReason: "payment_gateway_error", updatedAt: now })
          .where(and(eq(orders.id, order.id), eq(orders.status, "PENDING")))
          .returning({ id: orders.id });
        if (failed) {
          const snapshot = await tierInventory(deps.inventory, order.tierId).release(order.id);
          await copyCountsStatement(db, order.tierId, snapshot);
          report.failed++;
        }
        continue;
      }
      report.queried++;
      const answer = await deps.daraja().stkQuery(order.checkoutRequestId);
      if (answer.state === "pending") {
        await db
          .update(orders)
          .set({ lastQueriedAt: now, queryAttempts: sql`${orders.queryAttempts} + 1` })
          .where(eq(orders.id, order.id));
        report.still_pending++;
        continue;
      }
      const outcome = await settleOrder(
        deps,
        order,
        {
          resultCode: answer.resultCode,
          resultDesc: answer.resultDesc,
          // The query does not echo the amount: Daraja charged what the push asked for.
          amount: answer.resultCode === 0 ? order.amount : null,
          receipt: null,
          transactionDate: null,
          phone: null,
        },
        now,
      );
      if (outcome === "completed" || outcome === "paid_unfulfilled") report.completed++;
      else if (outcome === "failed") report.failed++;
    } catch (error) {
      report.errors++;
      await db
        .update(orders)
        .set({ lastQueriedAt: now, queryAttempts: sql`${orders.queryAttempts} + 1` })
        .where(eq(orders.id, order.id));
      log.warn("settlement query failed", {
        order_id: order.id,
        kind: error instanceof DarajaError ? error.kind : "unexpected",
        error_message: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return report;
}
