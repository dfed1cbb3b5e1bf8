/**
 * Settlement: Daraja's word on a push decides its order. Two sources say it — Daraja's
 * callback, and the STK query the cron asks for orders still PENDING after their hold, so a
 * lost callback loses neither money nor seats — and both settle through `settleOrder`.
 *
 * Money follows Daraja: every order state change is a conditional update on the state it
 * expects, so duplicates and races change nothing. "Still processing" from the query is not a
 * failure: the order is asked again later, less often each time.
 */
import { and, asc, desc, eq, gt, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Config } from "../config";
import { type Database, runBatch } from "../db/client";
import { type Order, orders, tiers } from "../db/schema";
import type { StkCallback } from "../integrations/mpesa/schemas";
import { type DarajaClient, DarajaError } from "../integrations/mpesa/types";
import { seedFromTier, tierInventory } from "../inventory/client";
import { saleEntryStatements } from "../inventory/ledger-store";
import type { PromoCodeUses } from "../inventory/promo-code-uses";
import type { TierInventory } from "../inventory/tier-inventory";
import type { Logger } from "../lib/logger";
import { isUuid } from "../lib/uuid";
import type { MailDeps } from "../mail/mailer";
import { holdBuyerKeys } from "./checkout/buyer-holds";
import { releaseOrderPromo } from "./checkout/order-promo";
import { type OrderLine, orderLines, storedLinesQuery } from "./order-lines";
import { confirmOrderSeats, copyCountsStatements, releaseOrderSeats } from "./order-seats";
import { consumePromoUses, returnPromoUses } from "./promo-codes/at-checkout";
import { createSystemRefund } from "./refunds/record";
import { queueTicketEmail } from "./ticket-delivery";
import { ensureTicketsIssued, ticketInsertStatements, ticketRowsFor } from "./ticket-issuance";
import { orderCompletedEvent } from "./webhooks/events";
import { announcement, outboxStatements } from "./webhooks/outbox";

export interface SettlementDeps {
  db: Database;
  /** The nearest copy of D1 (compose.ts): where a callback first looks for the order it names. */
  nearDb?: Database;
  config: Config;
  inventory: DurableObjectNamespace<TierInventory>;
  /** The promo code uses objects: an order's uses follow its seats (§12.3). */
  promoCodes: DurableObjectNamespace<PromoCodeUses>;
  mail: MailDeps;
  /** Only the cron's STK query calls Daraja; a callback never does. */
  daraja: () => DarajaClient;
}

/** §13.3 rule 4: the refund a PAID_UNFULFILLED order gets (the cron picks up any it missed). */
export const PAID_UNFULFILLED_REASON = "Sold out before your payment arrived";

/** A failure result code → the reason shown by `verify/`. Unknown codes are failures too. */
function failureReason(resultCode: number): string {
  switch (resultCode) {
    case 1032:
      return "cancelled_by_user";
    case 1:
      return "insufficient_funds";
    case 1037:
      return "timeout";
    case 2001:
      return "wrong_pin";
    case 1001:
      return "subscriber_busy";
    case 1019:
      return "expired";
    default:
      return "payment_failed";
  }
}

type SettlementOutcome =
  | "unknown_order"
  | "duplicate"
  | "completed"
  | "failed"
  | "paid_unfulfilled"
  | "under_review";

interface PaymentResult {
  resultCode: number;
  resultDesc: string;
  amount: number | null;
  receipt: string | null;
  transactionDate: string | null;
  phone: string | null;
  /** The push the result is about, recorded on an order that does not know it yet. */
  checkoutRequestId?: string;
}

/**
 * The order a callback URL names (initiate puts the order id in it), with its lines: one read
 * of the nearest copy of D1, so the callback's critical path crosses the ocean once, for the
 * batch that settles it (issue 15 part 3). The copy is trusted only for an order it shows
 * still PENDING for this very push: every change settlement makes is conditional on the
 * primary (`… WHERE status IN (…)`), so a copy that is a moment behind can at worst start a
 * settlement that the primary then answers as a duplicate. Anything else is read again from
 * the primary. The order's CheckoutRequestID must be this push's, or not known yet (initiate
 * records it after answering the fan).
 */
async function orderNamedByCallback(
  deps: SettlementDeps,
  orderId: string,
  checkoutRequestId: string,
): Promise<{ order: Order; lines?: OrderLine[] } | undefined> {
  if (!isUuid(orderId)) return undefined;
  const id = orderId.toLowerCase();
  const forThisPush = (order: Order | undefined): order is Order =>
    Boolean(order && (order.checkoutRequestId === null || order.checkoutRequestId === checkoutRequestId));
  if (deps.nearDb) {
    const near = deps.nearDb;
    const [[order], lines] = await near.batch([
      near.select().from(orders).where(eq(orders.id, id)).limit(1),
      storedLinesQuery(near, id),
    ]);
    if (forThisPush(order) && order.status === "PENDING" && lines.length > 0) return { order, lines };
  }
  const order = await deps.db.query.orders.findFirst({ where: eq(orders.id, id) });
  return forThisPush(order) ? { order } : undefined;
}

/**
 * Daraja's callback → the order's fate. Safe to run any number of times. `orderId` is the
 * order the callback URL names (callbacks of pushes started before URLs named orders, and
 * any URL whose order does not match the push, are found by their CheckoutRequestID).
 */
export async function settleStkCallback(
  deps: SettlementDeps,
  callback: StkCallback,
  now = Date.now(),
  orderId?: string,
): Promise<SettlementOutcome> {
  const named = orderId ? await orderNamedByCallback(deps, orderId, callback.checkoutRequestId) : undefined;
  const order =
    named?.order ??
    (await deps.db.query.orders.findFirst({
      where: eq(orders.checkoutRequestId, callback.checkoutRequestId),
    })) ??
    (callback.resultCode === 0 ? await adoptOrphanPayment(deps.db, callback, now) : undefined);
  if (!order) return "unknown_order";
  return settleOrder(
    deps,
    order,
    {
      resultCode: callback.resultCode,
      resultDesc: callback.resultDesc,
      amount: callback.metadata?.amount ?? null,
      receipt: callback.metadata?.mpesaReceiptNumber ?? null,
      transactionDate: callback.metadata?.transactionDate ?? null,
      phone: callback.metadata?.phoneNumber ?? null,
      checkoutRequestId: callback.checkoutRequestId,
    },
    now,
    named?.lines,
  );
}

/**
 * A push that timed out on our side may still have reached the phone, and the customer may
 * pay: the callback then names a CheckoutRequestID we never learned. Rather than lose that
 * money, match it to the recent order that failed with a gateway error for the same phone
 * and amount, and settle it as a late payment (tickets if seats remain, else a refund).
 */
async function adoptOrphanPayment(
  db: Database,
  callback: StkCallback,
  now: number,
): Promise<Order | undefined> {
  const phone = callback.metadata?.phoneNumber;
  const amount = callback.metadata?.amount;
  if (!phone || amount === null || amount === undefined) return undefined;
  // Matched to the nearest shilling on purpose: a wrong amount is still money to account for,
  // so the order is adopted and settleOrder flags it for review rather than losing it.
  const [candidate] = await db
    .select()
    .from(orders)
    .where(
      and(
        // Failed by a gateway error, or still PENDING because the Worker died between
        // Daraja accepting the push and our saving its CheckoutRequestID.
        or(
          and(eq(orders.status, "FAILED"), eq(orders.failureReason, "payment_gateway_error")),
          eq(orders.status, "PENDING"),
        ),
        isNull(orders.checkoutRequestId),
        eq(orders.phoneNumber, phone),
        eq(orders.amount, Math.round(amount)),
        gt(orders.createdAt, now - 30 * 60 * 1000),
      ),
    )
    .orderBy(desc(orders.createdAt))
    .limit(1);
  if (!candidate) return undefined;
  const [adopted] = await db
    .update(orders)
    .set({
      checkoutRequestId: callback.checkoutRequestId,
      merchantRequestId: callback.merchantRequestId,
      updatedAt: now,
    })
    .where(and(eq(orders.id, candidate.id), isNull(orders.checkoutRequestId)))
    .returning();
  return adopted;
}

/**
 * Receipt numbers are unique across orders: a success naming a receipt another order already
 * holds is a replayed or forged callback (or a Daraja fault), never a second payment.
 */
function isReusedReceipt(error: unknown): boolean {
  const parts = [error instanceof Error ? error.message : String(error)];
  if (error instanceof Error && error.cause) parts.push(String(error.cause));
  const text = parts.join(" ");
  return text.includes("UNIQUE") && text.includes("mpesa_receipt_number");
}

/** Orders a success may still land on: waiting, or failed by a timeout and then paid late. */
const OPEN_STATUSES = ["PENDING", "FAILED"] as const;

export async function settleOrder(
  deps: SettlementDeps,
  order: Order,
  result: PaymentResult,
  now = Date.now(),
  knownLines?: OrderLine[],
): Promise<SettlementOutcome> {
  const { db, config } = deps;

  if (order.status === "COMPLETED") {
    // A repeat (or the callback after settlement already completed it): heal, never redo.
    await ensureTicketsIssued(db, config.ticketSigningKey, order, order.buyerName, now);
    if (result.resultCode === 0 && result.receipt && !order.mpesaReceiptNumber) {
      await db
        .update(orders)
        .set({ mpesaReceiptNumber: result.receipt, updatedAt: now })
        .where(and(eq(orders.id, order.id), sql`${orders.mpesaReceiptNumber} IS NULL`))
        .catch(() => undefined);
    }
    return "duplicate";
  }
  if (order.status === "PAID_UNFULFILLED" || order.status === "UNDER_REVIEW") return "duplicate";

  // Every line's tier: the order is settled whole (§11.6).
  const lines = knownLines ?? (await orderLines(db, order));
  const tierIds = lines.map((line) => line.tierId);

  const paidFields = {
    // An order the callback found by the id in its URL before initiate recorded the push.
    ...(order.checkoutRequestId === null && result.checkoutRequestId
      ? { checkoutRequestId: result.checkoutRequestId }
      : {}),
    resultCode: result.resultCode,
    resultDesc: result.resultDesc.slice(0, 200),
    // As Daraja reported it (500.4 stays 500.4): an order under review shows what was paid.
    paidAmount: result.amount,
    paidPhone: result.phone,
    transactionDate: result.transactionDate,
    updatedAt: now,
  };

  if (result.resultCode !== 0) {
    if (order.status !== "PENDING") return "duplicate";
    const [failed] = await db
      .update(orders)
      .set({ ...paidFields, status: "FAILED", failureReason: failureReason(result.resultCode) })
      .where(and(eq(orders.id, order.id), eq(orders.status, "PENDING")))
      .returning({ id: orders.id });
    if (!failed) return "duplicate";
    await releaseOrderSeats(deps, order.id, tierIds);
    await releaseOrderPromo(deps, order);
    return "failed";
  }

  // Paid. The amount must be exactly what was asked, in whole shillings (500.4 is not 500, and
  // rounding would let it pass); otherwise a human looks at it.
  const stillOpen = and(eq(orders.id, order.id), inArray(orders.status, [...OPEN_STATUSES]));
  /** Under review: no tickets; the receipt kept unless another order already holds it. */
  const flagForReview = async (reason: string) => {
    const review = { ...paidFields, status: "UNDER_REVIEW" as const, failureReason: reason, paidAt: now };
    try {
      return await db
        .update(orders)
        .set({ ...review, mpesaReceiptNumber: result.receipt })
        .where(stillOpen)
        .returning({ id: orders.id });
    } catch (error) {
      if (!isReusedReceipt(error)) throw error;
      return db
        .update(orders)
        .set({ ...review, failureReason: "duplicate_receipt" })
        .where(stillOpen)
        .returning({ id: orders.id });
    }
  };

  if (result.amount === null || result.amount !== order.amount) {
    const [flagged] = await flagForReview("amount_mismatch");
    if (!flagged) return "duplicate";
    await releaseOrderSeats(deps, order.id, tierIds);
    await releaseOrderPromo(deps, order);
    return "under_review";
  }

  // The buyer as initiate named them: a late payment re-reserves within their limits (§15).
  const buyerKeys = holdBuyerKeys({
    userId: order.userId,
    email: order.buyerEmail,
    phone: order.phoneNumber ?? "",
    paid: order.amount > 0,
  });
  let confirmed = await confirmOrderSeats(deps, order.id, lines, buyerKeys, async (tierId) => {
    const tier = await db.query.tiers.findFirst({ where: eq(tiers.id, tierId) });
    return tier ? seedFromTier(tier) : undefined;
  });
  if (!confirmed.ok) {
    await releaseOrderPromo(deps, order);
  } else if (order.promoCodeId) {
    // The seats are sold to the order: its promo uses are consumed with them (a late payment
    // takes the same k again only if still free). If they are gone, the seats go back too:
    // the buyer was prompted for the discounted amount, never the full one (§11.6).
    const consumed = await consumePromoUses(deps, order.promoCodeId, order.id, {
      seats: order.discountedSeats,
      discount: order.discount,
      buyerKeys,
    });
    if (!consumed.ok) {
      const returned = await Promise.all(
        tierIds.map(
          async (tierId) =>
            [tierId, await tierInventory(deps.inventory, tierId).returnSeats(order.id)] as const,
        ),
      );
      confirmed = { ok: false, reason: "seats_gone", snapshots: new Map(returned) };
    }
  }
  const countStatements = () => copyCountsStatements(db, confirmed.snapshots);
  if (!confirmed.ok) {
    // Paid after the hold lapsed and some tier's seats went to someone else (or the buyer
    // reached a limit meanwhile): none kept, refund, never oversell (§11.6).
    let outcome: SettlementOutcome = "paid_unfulfilled";
    const [unfulfilled] = await db
      .update(orders)
      .set({
        ...paidFields,
        status: "PAID_UNFULFILLED",
        refundStatus: "PENDING",
        paidAt: now,
        mpesaReceiptNumber: result.receipt,
      })
      .where(stillOpen)
      .returning({ id: orders.id })
      .catch(async (error: unknown) => {
        // Nothing to refund for a receipt another order holds: a human looks at it.
        if (!isReusedReceipt(error)) throw error;
        outcome = "under_review";
        return flagForReview("duplicate_receipt");
      });
    await runBatch(db, countStatements());
    if (unfulfilled && outcome === "paid_unfulfilled") {
      // Sent from the delivery queue (the one the mail module already writes to).
      const refundDeps = { ...deps, queue: deps.mail.queue };
      await createSystemRefund(refundDeps, order.id, "PAID_UNFULFILLED", PAID_UNFULFILLED_REASON, now);
    }
    return unfulfilled ? outcome : "duplicate";
  }

  // One round trip completes the order, copies the counts, issues the tickets and writes the
  // ledger; tickets and entries are guarded on the order being COMPLETED (see
  // ticketInsertStatements).
  const rows = await ticketRowsFor(config.ticketSigningKey, order, lines, order.buyerName, now);
  const completion = {
    ...paidFields,
    status: "COMPLETED" as const,
    failureReason: null,
    paidAt: now,
    mpesaReceiptNumber: result.receipt,
    deliveryStatus: "PENDING" as const,
  };
  // The organizer's webhooks hear of it from the same transaction (contract v3 §16.2).
  const outbox = outboxStatements(
    db,
    orderCompletedEvent(
      { ...order, ...completion },
      lines,
      rows.map((row) => row.id),
    ),
    now,
  );
  let completed: { id: string }[];
  let results: unknown[];
  try {
    results = await runBatch(db, [
      db.update(orders).set(completion).where(stillOpen).returning({ id: orders.id }),
      ...countStatements(),
      ...ticketInsertStatements(db, rows, { onlyIfCompleted: true }),
      // The organizer's SALE (and FEE) in the same transaction (contract §17): an order is
      // never paid without its ledger entries, and a repeat inserts none (dedupe keys).
      ...saleEntryStatements(db, order.id, {
        feeBasisPoints: config.wallet.platformFeeBasisPoints,
        holdMs: config.wallet.payoutHoldMs,
        now,
      }),
      ...outbox.statements,
    ]);
    completed = results[0] as { id: string }[];
  } catch (error) {
    if (isReusedReceipt(error)) {
      // The seats were sold to this order a moment ago: they go back on sale with the flag,
      // and only then (if the order moved on meanwhile, its seats are its own).
      const [flagged] = await flagForReview("duplicate_receipt");
      if (!flagged) return "duplicate";
      const returned = await Promise.all(
        tierIds.map(
          async (tierId) =>
            [tierId, await tierInventory(deps.inventory, tierId).returnSeats(order.id)] as const,
        ),
      );
      await runBatch(db, copyCountsStatements(db, new Map(returned)));
      if (order.promoCodeId) await returnPromoUses(deps, order.promoCodeId, order.id);
      return "under_review";
    }
    // A concurrent settlement moved the order to review or refund first: nothing to do.
    const current = await db.query.orders.findFirst({
      where: eq(orders.id, order.id),
      columns: { status: true },
    });
    if (current && (current.status === "UNDER_REVIEW" || current.status === "PAID_UNFULFILLED"))
      return "duplicate";
    throw error;
  }
  if (completed.length === 0) return "duplicate";
  await queueTicketEmail(deps.mail, db, order.id, announcement(outbox, results.at(-1)));
  return "completed";
}

// ---------------------------------------------------------------------------------------
// The cron: orders whose hold lapsed without a callback
// ---------------------------------------------------------------------------------------

const MINUTE = 60 * 1000;
const BATCH = 25;
/** A push that never got a CheckoutRequestID this long after the order: it never went out. */
const UNSENT_PUSH_MS = 2 * MINUTE;

interface SettlementReport {
  queried: number;
  completed: number;
  failed: number;
  still_pending: number;
  errors: number;
}

export async function settlePendingOrders(
  deps: SettlementDeps,
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
        // Backoff: 1, 2, 3 … up to 30 minutes between queries of the same order.
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
          const lines = await orderLines(db, order);
          await releaseOrderSeats(
            deps,
            order.id,
            lines.map((line) => line.tierId),
          );
          await releaseOrderPromo(deps, order);
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
