/**
 * Checkout (contract §4): hold seats on the tier's Durable Object, then either issue free
 * tickets at once or start an M-Pesa STK push; Daraja's callback (or settlement's STK
 * query) decides the order. Money follows the callback: every order state change is a
 * conditional update on the state it expects, so duplicates and races change nothing.
 */
import { and, desc, eq, gt, inArray, isNull, lt, or, sql } from "drizzle-orm";
import type { Config } from "../config";
import { type Database, runBatch } from "../db/client";
import { type Order, orders, tiers, type User, users } from "../db/schema";
import { isTierOnSale } from "../http/views/event";
import { type DarajaClient, DarajaError, type StkCallback } from "../integrations/mpesa/types";
import { confirmSeats, seedFromTier, tierInventory } from "../inventory/client";
import type { InventorySnapshot, TierInventory } from "../inventory/tier-inventory";
import { DomainError, type ErrorCode } from "../lib/errors";
import { toNairobiIso } from "../lib/time";
import type { MailDeps } from "../mail/mailer";
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  type IdempotencyScope,
  idempotentOrderId,
  releaseIdempotencyKey,
} from "./idempotency";
import { queueTicketEmail } from "./ticket-delivery";
import { ensureTicketsIssued, ticketInsertStatements, ticketRowsFor } from "./ticket-issuance";
import { tierSaleFacts } from "./tier-sale-cache";

export interface CheckoutDeps {
  db: Database;
  config: Config;
  inventory: DurableObjectNamespace<TierInventory>;
  mail: MailDeps;
  /** Created on first use: the free path and sold-out answers never need Daraja. */
  daraja: () => DarajaClient;
}

export interface InitiateInput {
  tierId: string;
  quantity: number;
  /** Already normalised to 2547…/2541…. */
  phoneNumber: string;
  user: User | null;
  email?: string | undefined;
  name?: string | undefined;
  idempotency?: IdempotencyScope | undefined;
}

export type InitiateResult =
  | { status: 201; body: Record<string, unknown> }
  | { status: 202; body: Record<string, unknown> }
  | { status: number; body: unknown; replayed: true };

const ORDER_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/** `TS-XXXXXXXX`: 11 characters, within Daraja's 12 for AccountReference, no look-alikes. */
export function newOrderReference(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `TS-${[...bytes].map((b) => ORDER_REFERENCE_ALPHABET[b % ORDER_REFERENCE_ALPHABET.length]).join("")}`;
}

/** A failure result code → the reason shown by `verify/`. Unknown codes are failures too. */
export function failureReason(resultCode: number): string {
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

function refuse(code: ErrorCode, message: string, extra?: Record<string, unknown>) {
  return new DomainError(code, message, extra ? { extra } : {});
}

/** Copy the object's counts into D1 for listings, never rolling back to an older snapshot. */
export function copyCountsStatement(db: Database, tierId: string, snapshot: InventorySnapshot) {
  return db
    .update(tiers)
    .set({ quantitySold: snapshot.sold, quantityHeld: snapshot.held, inventoryVersion: snapshot.version })
    .where(and(eq(tiers.id, tierId), lt(tiers.inventoryVersion, snapshot.version)));
}

/**
 * Who the order belongs to, as SQL for the order's INSERT: a signed-in buyer is themself; a
 * guest is the account with that email, created as a shadow (guest) user if there is none.
 * The shadow-user INSERT rides in the same batch as the order (a D1 batch is one
 * transaction), and `ON CONFLICT DO NOTHING` lets a parallel checkout with the same email,
 * or an existing account, win: the order then names whichever row holds the email.
 */
function buyerFor(db: Database, user: User | null, email: string, name: string, now: number) {
  if (user) return { statements: [], id: user.id, email: user.email };
  const [first = "", ...rest] = name.trim().split(/\s+/);
  const byEmail = (column: "id" | "email") =>
    sql`(SELECT ${sql.identifier(column)} FROM ${users} WHERE lower(${sql.identifier("email")}) = ${email.toLowerCase()})`;
  return {
    statements: [
      db
        .insert(users)
        .values({
          id: crypto.randomUUID(),
          username: `guest-${crypto.randomUUID().slice(0, 12)}`,
          email,
          passwordHash: null,
          isGuest: true,
          firstName: first.slice(0, 150),
          lastName: rest.join(" ").slice(0, 150),
          createdAt: now,
          updatedAt: now,
        })
        .onConflictDoNothing(),
    ],
    id: byEmail("id"),
    email: byEmail("email"),
  };
}

export async function initiateCheckout(
  deps: CheckoutDeps,
  input: InitiateInput,
  now = Date.now(),
): Promise<InitiateResult> {
  const { db, config } = deps;
  const found = await tierSaleFacts(db, input.tierId, now);
  if (!found?.event.isPublished || found.event.status !== "ACTIVE") {
    throw refuse("not_found", "Ticket tier not found.");
  }
  const { tier, event } = found;
  if (!isTierOnSale(event, tier, now)) throw refuse("not_on_sale", "This ticket tier is not on sale.");
  if (input.user && input.user.id === event.organizerId) {
    throw refuse("permission_denied", "You cannot buy tickets for your own event.");
  }
  if (input.quantity > tier.maxPerOrder) {
    throw new DomainError("validation_error", `You can buy at most ${tier.maxPerOrder} tickets per order.`, {
      fields: { quantity: [`Ensure this value is less than or equal to ${tier.maxPerOrder}.`] },
    });
  }
  const email = input.user?.email ?? input.email ?? "";
  const name = input.user
    ? `${input.user.firstName} ${input.user.lastName}`.trim() || input.user.username
    : (input.name ?? "");

  const orderId = input.idempotency
    ? await idempotentOrderId(input.idempotency.scope, input.idempotency.key)
    : crypto.randomUUID();

  // The seats. A sold-out answer comes from the object alone and writes nothing to D1.
  const stub = tierInventory(deps.inventory, tier.id);
  const held = await stub.reserve(orderId, input.quantity, config.holdSeconds * 1000, seedFromTier(tier));
  if (!held.ok) {
    throw refuse("sold_out", `Only ${held.available} tickets are available.`, {
      available: held.available,
    });
  }

  if (input.idempotency) {
    const claim = await claimIdempotencyKey(db, input.idempotency, now);
    if (claim.kind === "replay") return { status: claim.status, body: claim.body, replayed: true };
    if (claim.kind === "in_progress") {
      throw refuse("conflict", "A request with this Idempotency-Key is still being processed.");
    }
    if (claim.kind === "conflict") {
      // The key belongs to another request; drop the hold unless that request owns it.
      const owner = await db.query.orders.findFirst({ where: eq(orders.id, orderId), columns: { id: true } });
      if (!owner) await stub.release(orderId);
      throw refuse("idempotency_conflict", "This Idempotency-Key was already used with a different request.");
    }
  }

  try {
    // Guests must give a name (the route checks); a signed-in buyer's falls back to the username.
    const buyer = buyerFor(db, input.user, email, name, now);
    const base = {
      id: orderId,
      reference: newOrderReference(),
      eventId: event.id,
      tierId: tier.id,
      quantity: input.quantity,
      unitPrice: tier.price,
      amount: tier.price * input.quantity,
      buyerName: name,
      phoneNumber: input.phoneNumber,
      createdAt: now,
      updatedAt: now,
    };

    if (tier.price === 0) {
      return await completeFreeOrder(deps, base, buyer, input.idempotency, now);
    }

    // One round trip records the buyer, the order and the new counts.
    await runBatch(db, [
      ...buyer.statements,
      db.insert(orders).values({
        ...base,
        userId: buyer.id,
        buyerEmail: buyer.email,
        status: "PENDING",
        holdExpiresAt: held.expiresAt,
      }),
      copyCountsStatement(db, tier.id, held.snapshot),
    ]);
    return await startPayment(deps, { ...base, holdExpiresAt: held.expiresAt }, input.idempotency, now);
  } catch (error) {
    if (!(error instanceof DomainError)) {
      // Never keep seats for an order that could not be recorded.
      await stub.release(orderId).catch(() => undefined);
      if (input.idempotency) await releaseIdempotencyKey(db, input.idempotency).catch(() => undefined);
    }
    throw error;
  }
}

type NewOrder = Omit<typeof orders.$inferInsert, "status" | "userId" | "buyerEmail">;
/** The buyer's id and email: values, or subqueries resolved inside the batch. */
type OrderOwner = ReturnType<typeof buyerFor>;

async function completeFreeOrder(
  deps: CheckoutDeps,
  base: NewOrder & { id: string; quantity: number },
  buyer: OrderOwner,
  idempotency: IdempotencyScope | undefined,
  now: number,
): Promise<InitiateResult> {
  const { db, config } = deps;
  // The hold just made initialised the object: no seed is ever needed here.
  const confirmed = await confirmSeats(
    deps.inventory,
    base.tierId,
    base.id,
    base.quantity,
    async () => undefined,
  );
  if (!confirmed.ok) throw refuse("sold_out", `Only ${confirmed.snapshot.available} tickets are available.`);
  const reference = `FREE-${base.reference.slice(3)}`;
  const results = await runBatch(db, [
    ...buyer.statements,
    db
      .insert(orders)
      .values({
        ...base,
        userId: buyer.id,
        buyerEmail: buyer.email,
        reference,
        status: "COMPLETED",
        isFree: true,
        paidAt: now,
        deliveryStatus: "PENDING",
      })
      .returning(),
    copyCountsStatement(db, base.tierId, confirmed.snapshot),
  ]);
  const row = (results.at(-2) as Order[] | undefined)?.[0];
  if (!row) throw new Error("free order insert returned nothing");
  const ticketIds = await ensureTicketsIssued(db, config.ticketSigningKey, row, row.buyerName, now);
  await queueTicketEmail(deps.mail, db, row.id);
  const body = {
    status: "Booking Confirmed",
    transaction_ref: reference,
    ticket_id: ticketIds[0] ?? null,
    ticket_ids: ticketIds,
    quantity: row.quantity,
  };
  if (idempotency) await completeIdempotencyKey(db, idempotency, 201, body);
  return { status: 201, body };
}

async function startPayment(
  deps: CheckoutDeps,
  order: NewOrder & { id: string; reference: string; amount: number; holdExpiresAt: number },
  idempotency: IdempotencyScope | undefined,
  now: number,
): Promise<InitiateResult> {
  const { db, config } = deps;
  try {
    const accepted = await deps.daraja().stkPush({
      phoneNumber: order.phoneNumber ?? "",
      amount: order.amount,
      accountReference: order.reference,
      transactionDesc: "Tickets",
      callbackUrl: `${config.publicBaseUrl}/api/pay/callback/${config.mpesa.callbackToken}/`,
    });
    const body = {
      status: "Payment Initiated",
      transaction_ref: order.reference,
      order_id: order.id,
      checkout_request_id: accepted.checkoutRequestId,
      amount: order.amount,
      expires_at: toNairobiIso(order.holdExpiresAt),
      // The web client sends the browser here (its own polling page); see the route's schema.
      authorization_url: `${config.frontendUrl}/payment/callback?reference=${encodeURIComponent(order.reference)}`,
    };
    // The CheckoutRequestID (what the callback names) and the idempotent answer, together.
    await runBatch(db, [
      db
        .update(orders)
        .set({
          checkoutRequestId: accepted.checkoutRequestId,
          merchantRequestId: accepted.merchantRequestId,
          updatedAt: now,
        })
        .where(eq(orders.id, order.id)),
      ...(idempotency ? [completeIdempotencyKey(db, idempotency, 202, body)] : []),
    ]);
    return { status: 202, body };
  } catch (error) {
    if (!(error instanceof DarajaError)) throw error;
    // No push went out (or we cannot know it did): give the seats back, fail the order,
    // and let the same Idempotency-Key try again.
    const snapshot = await tierInventory(deps.inventory, order.tierId).release(order.id);
    await db.batch([
      db
        .update(orders)
        .set({
          status: "FAILED",
          failureReason: "payment_gateway_error",
          resultDesc: error.message.slice(0, 200),
          updatedAt: now,
        })
        .where(and(eq(orders.id, order.id), eq(orders.status, "PENDING"))),
      copyCountsStatement(db, order.tierId, snapshot),
      ...(idempotency ? [releaseIdempotencyKey(db, idempotency)] : []),
    ]);
    throw refuse("payment_gateway_error", "Payment service unavailable.");
  }
}

// ---------------------------------------------------------------------------------------
// Callback and settlement
// ---------------------------------------------------------------------------------------

export type SettlementOutcome =
  | "unknown_order"
  | "duplicate"
  | "completed"
  | "failed"
  | "paid_unfulfilled"
  | "under_review";

export interface PaymentResult {
  resultCode: number;
  resultDesc: string;
  amount: number | null;
  receipt: string | null;
  transactionDate: string | null;
  phone: string | null;
}

/** Daraja's callback → the order's fate. Safe to run any number of times. */
export async function processStkCallback(
  deps: CheckoutDeps,
  callback: StkCallback,
  now = Date.now(),
): Promise<SettlementOutcome> {
  const order =
    (await deps.db.query.orders.findFirst({
      where: eq(orders.checkoutRequestId, callback.checkoutRequestId),
    })) ?? (callback.resultCode === 0 ? await adoptOrphanPayment(deps.db, callback, now) : undefined);
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
    },
    now,
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
  deps: CheckoutDeps,
  order: Order,
  result: PaymentResult,
  now = Date.now(),
): Promise<SettlementOutcome> {
  const { db, config } = deps;
  const stub = tierInventory(deps.inventory, order.tierId);

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

  const paidFields = {
    resultCode: result.resultCode,
    resultDesc: result.resultDesc.slice(0, 200),
    paidAmount: result.amount === null ? null : Math.round(result.amount),
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
    const snapshot = await stub.release(order.id);
    await copyCountsStatement(db, order.tierId, snapshot);
    return "failed";
  }

  // Paid. The amount must be exactly what was asked; otherwise a human looks at it.
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

  if (result.amount === null || Math.round(result.amount) !== order.amount) {
    const [flagged] = await flagForReview("amount_mismatch");
    if (!flagged) return "duplicate";
    const snapshot = await stub.release(order.id);
    await copyCountsStatement(db, order.tierId, snapshot);
    return "under_review";
  }

  const confirmed = await confirmSeats(deps.inventory, order.tierId, order.id, order.quantity, async () => {
    const tier = await db.query.tiers.findFirst({ where: eq(tiers.id, order.tierId) });
    return tier ? seedFromTier(tier) : undefined;
  });
  if (!confirmed.ok) {
    // Paid after the hold lapsed and the seats went to someone else: refund, never oversell.
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
    await copyCountsStatement(db, order.tierId, confirmed.snapshot);
    return unfulfilled ? outcome : "duplicate";
  }

  // One round trip completes the order, copies the counts and issues the tickets; the
  // tickets are guarded on the order being COMPLETED (see ticketInsertStatements).
  const rows = await ticketRowsFor(config.ticketSigningKey, order, order.buyerName, now);
  let completed: { id: string }[];
  try {
    [completed] = (await runBatch(db, [
      db
        .update(orders)
        .set({
          ...paidFields,
          status: "COMPLETED",
          failureReason: null,
          paidAt: now,
          mpesaReceiptNumber: result.receipt,
          deliveryStatus: "PENDING",
        })
        .where(stillOpen)
        .returning({ id: orders.id }),
      copyCountsStatement(db, order.tierId, confirmed.snapshot),
      ...ticketInsertStatements(db, rows, { onlyIfCompleted: true }),
    ])) as [{ id: string }[]];
  } catch (error) {
    if (isReusedReceipt(error)) {
      // The seats were sold to this order a moment ago: they go back on sale with the flag,
      // and only then (if the order moved on meanwhile, its seats are its own).
      const [flagged] = await flagForReview("duplicate_receipt");
      if (!flagged) return "duplicate";
      const snapshot = await stub.returnSeats(order.id);
      await copyCountsStatement(db, order.tierId, snapshot);
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
  await queueTicketEmail(deps.mail, db, order.id);
  return "completed";
}
