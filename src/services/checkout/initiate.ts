/**
 * Checkout (contract §4, §11): hold seats on every tier's Durable Object, all or nothing,
 * then either issue free tickets at once or start ONE M-Pesa STK push for the order's total;
 * Daraja's callback (or settlement's STK query) decides the order (settlement.ts). Every rule
 * of the request lives here — the items, the guest's name and email, the phone, the
 * Idempotency-Key — so the route only reads it.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Config } from "../../config";
import { type Database, runBatch } from "../../db/client";
import { type Order, orderItems, orders, type User, users } from "../../db/schema";
import { type DarajaClient, DarajaError } from "../../integrations/mpesa/types";
import type { PromoCodeUses } from "../../inventory/promo-code-uses";
import type { TierInventory } from "../../inventory/tier-inventory";
import type { InventorySnapshot } from "../../inventory/types";
import { DomainError, type ErrorCode } from "../../lib/errors";
import { type PricedOrder, priceOrder } from "../../lib/order-pricing";
import type { MailDeps } from "../../mail/mailer";
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  type IdempotencyScope,
  releaseIdempotencyKey,
} from "../idempotency";
import { tiersOfOrders } from "../order-lines";
import {
  confirmOrderSeats,
  copyCountsStatements,
  peekOrderSeats,
  releaseOnTiers,
  releaseOrderSeats,
  reserveOrderSeats,
  returnOnTiers,
} from "../order-seats";
import {
  type CheckoutPromo,
  consumePromoUses,
  promoExhausted,
  promoLikelyUsedUp,
  releasePromoUses,
  reservePromoUses,
  resolveCheckoutPromo,
  returnPromoUses,
  usedUpFor,
} from "../promo-codes/at-checkout";
import { queueTicketEmail } from "../ticket-delivery";
import { ticketInsertStatements, ticketRowsFor } from "../ticket-issuance";
import { orderCompletedEvent } from "../webhooks/events";
import { announcement, outboxStatements } from "../webhooks/outbox";
import { endReplacedHolds, holdBuyerKeys } from "./buyer-holds";
import { releaseReplacedOrdersPromo } from "./order-promo";
import { type CheckedOrder, checkedOrder } from "./order-request";
import { type RecipientBooking, recipientBooking, recipientPrecheck } from "./recipient-limit";
import { type CheckoutResult, StoredCheckoutResultSchema } from "./result";

export type { CheckoutRequest } from "./order-request";

export interface CheckoutDeps {
  db: Database;
  config: Config;
  inventory: DurableObjectNamespace<TierInventory>;
  /** The promo code uses objects (§12.3). */
  promoCodes: DurableObjectNamespace<PromoCodeUses>;
  mail: MailDeps;
  /** Created on first use: the free path and sold-out answers never need Daraja. */
  daraja: () => DarajaClient;
  /** The nearest copy of D1 for the checks' reads (compose.ts). */
  nearDb?: Database;
  /** Work that must finish but need not delay the answer (waitUntil); absent: awaited. */
  defer?: (task: Promise<unknown>) => void;
}

/** Runs `task` after the answer when the runtime allows it, else before. */
async function afterAnswer(deps: CheckoutDeps, task: () => Promise<unknown>): Promise<void> {
  if (deps.defer) deps.defer(task());
  else await task();
}

const ORDER_REFERENCE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

/** `TS-XXXXXXXX`: 11 characters, within Daraja's 12 for AccountReference, no look-alikes. */
function newOrderReference(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `TS-${[...bytes].map((b) => ORDER_REFERENCE_ALPHABET[b % ORDER_REFERENCE_ALPHABET.length]).join("")}`;
}

function refuse(code: ErrorCode, message: string, extra?: Record<string, unknown>) {
  return new DomainError(code, message, extra ? { extra } : {});
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

/** The 409 for a refused reservation, naming the tier (§11.4, §15.4). */
function refusalError(
  input: CheckedOrder,
  tierId: string,
  refusal: Extract<Awaited<ReturnType<typeof reserveOrderSeats>>, { ok: false }>["refusal"],
): DomainError {
  const tierName = input.lines.find((line) => line.tier.id === tierId)?.tier.name ?? "";
  if (refusal.reason === "buyer_limit") {
    return refuse("buyer_limit", `You can buy at most ${refusal.limit} tickets for ${tierName}.`, {
      tier_id: tierId,
      tier_name: tierName,
      limit: refusal.limit,
      remaining: refusal.remaining,
    });
  }
  // Never for a fresh id; should an object know the order as sold, hold and charge nothing.
  if (refusal.reason === "already_confirmed") return refuse("conflict", "This order is already complete.");
  // The same buyer's parallel initiate won the tier; theirs is the checkout that stands.
  if (refusal.reason === "replaced")
    return refuse("conflict", "A newer checkout by the same buyer replaced this one.", {
      tier_id: tierId,
      tier_name: tierName,
    });
  // The single-tier form keeps its message (§11.4).
  const message =
    input.form === "single"
      ? `Only ${refusal.available} tickets are available.`
      : `Only ${refusal.available} tickets are available for ${tierName}.`;
  return refuse("sold_out", message, { available: refusal.available, tier_id: tierId, tier_name: tierName });
}

/**
 * Orders whose hold on some tier a buyer's new initiate replaced are replaced whole (§11.4):
 * their holds on every other tier go too, and D1 ends their holds (they stay PENDING for a
 * late payment, see endReplacedHolds).
 */
async function endReplacedOrders(
  deps: CheckoutDeps,
  replaced: readonly string[],
  ownTierIds: readonly string[],
  now: number,
) {
  if (replaced.length === 0) return [];
  // Their promo uses go with their seats (a reservation of the same code below would also
  // end them; this covers another code or none).
  await releaseReplacedOrdersPromo(deps, replaced);
  // A replaced order still being initiated in parallel is not in D1 yet: it is released on
  // this order's tiers too (the tiers a same-buyer race shares), and the tier objects refuse
  // it any tier it reaches after that (TierInventory.endOrder).
  const known = await tiersOfOrders(deps.db, replaced);
  const snapshots = new Map<string, InventorySnapshot>();
  for (const orderId of replaced) {
    const tierIds = [...new Set([...(known.get(orderId) ?? []), ...ownTierIds])];
    for (const [tierId, snapshot] of await releaseOnTiers(deps, orderId, tierIds)) {
      const seen = snapshots.get(tierId);
      if (!seen || seen.version < snapshot.version) snapshots.set(tierId, snapshot);
    }
  }
  return [endReplacedHolds(deps.db, [...replaced], now), ...copyCountsStatements(deps.db, snapshots)];
}

/**
 * Checkout (contract §4, §11): hold the seats of every line, then book a free order at once
 * or start an M-Pesa STK push for a paid one. With an Idempotency-Key, the same request
 * answers its first result and charges once; the same key with another request is refused.
 */
export async function initiateCheckout(
  deps: CheckoutDeps,
  request: Parameters<typeof checkedOrder>[1],
  now = Date.now(),
): Promise<CheckoutResult> {
  const { db, config } = deps;
  // Read beside the checks' own reads (recipient-limit.ts): no round trip of its own.
  const precheck = recipientPrecheck(deps, request.email, now);
  const input = await checkedOrder(deps, request, now);
  const { event, user } = input;
  const email = user?.email ?? input.email ?? "";
  const name = user ? `${user.firstName} ${user.lastName}`.trim() || user.username : (input.name ?? "");

  // Prices come from the tiers as checkout read them, never from the client (§11.3); a
  // promo code's discount is priced in once its object granted the uses (below).
  const lineInputs = input.lines.map(({ tier, quantity }) => ({
    tierId: tier.id,
    tierName: tier.name,
    quantity,
    unitPrice: tier.price,
  }));
  let priced = priceOrder(lineInputs, null, 0);

  // A fresh order per attempt, with or without a key: the key's claim (below) is what makes a
  // repeat answer the first result, and a key released after a failure (Daraja down) must
  // be able to start a new order rather than collide with the failed one.
  const orderId = crypto.randomUUID();

  // The key is answered before any seat is touched (contract §4.3): a replay of a fulfilled
  // order must not hold its seats again, and a refused key must not hold any.
  if (input.idempotency) {
    const claim = await claimIdempotencyKey(db, input.idempotency, now);
    if (claim.kind === "replay") return StoredCheckoutResultSchema.parse(claim.result);
    if (claim.kind === "in_progress") {
      throw refuse("conflict", "A request with this Idempotency-Key is still being processed.");
    }
    if (claim.kind === "conflict") {
      throw refuse("idempotency_conflict", "This Idempotency-Key was already used with a different request.");
    }
  }

  const tierIds = input.lines.map((line) => line.tier.id);
  let holding = false;
  let promo: CheckoutPromo | null = null;
  let promoHeld = false;
  try {
    // §11.2 step 7: the code, before any seat is touched (a bad one holds nothing).
    promo = await resolveCheckoutPromo(
      deps,
      {
        eventId: event.id,
        eventEndAt: event.endAt,
        promoCode: input.promoCode,
        clientAddress: input.clientAddress,
        lines: lineInputs,
      },
      now,
    );

    // Bookings (ticket emails) per recipient per hour: after the key's replay (a replay is
    // answered, not counted). Used up as the nearest copy saw it: 429 here, before any seat.
    // Else the take rides first in the order's own batch (no D1 round trip of its own; a
    // sold-out answer writes none); refused there, that batch writes nothing and the catch
    // below gives back the seats just held (recipient-limit.ts).
    const booking = await recipientBooking(deps, user, email, now, precheck);

    // The seats, every tier or none. A refusal comes from the objects alone and writes
    // nothing to D1 but the counts. The buyer's earlier open holds are replaced by this order.
    const buyerKeys = holdBuyerKeys({
      userId: user?.id ?? null,
      email,
      phone: input.phoneNumber,
      paid: priced.amount > 0,
    });
    // A code this isolate saw used up: the tiers' answer and the code's, read-only and side by
    // side, before any seat is held (§11.4's order of answers kept: tiers, then the code).
    if (promo && promoLikelyUsedUp(promo.id)) {
      const [seats, usedUp] = await Promise.all([
        peekOrderSeats(deps, input.lines, buyerKeys),
        usedUpFor(deps, promo, buyerKeys),
      ]);
      if (seats && !seats.ok) throw refusalError(input, seats.tierId, seats.refusal);
      if (seats && usedUp) throw promoExhausted();
    }

    holding = true;
    const held = await reserveOrderSeats(deps, orderId, input.lines, config.holdSeconds * 1000, buyerKeys);
    const replaced = await endReplacedOrders(
      deps,
      held.replaced,
      input.lines.map((line) => line.tier.id),
      now,
    );
    if (!held.ok) {
      holding = false;
      // The refusal is the object's word: its counts' copy for listings need not delay the
      // sold-out answer (no D1 on that path), unless replaced orders' holds end with it.
      const counts = copyCountsStatements(db, held.snapshots);
      if (replaced.length === 0) await afterAnswer(deps, () => runBatch(db, counts));
      else await runBatch(db, [...replaced, ...counts]);
      throw refusalError(input, held.tierId, held.refusal);
    }

    // §11.2 step 8, last: the code's uses, with the order's one expires_at. A refusal takes
    // nothing; the catch below gives back the seats just held.
    if (promo) {
      const reserved = await reservePromoUses(deps, promo, {
        orderId,
        lines: lineInputs,
        buyerKeys,
        expiresAt: held.expiresAt,
        replaces: held.replaced,
      });
      if (!reserved.ok) {
        const [first, ...rest] = replaced;
        if (first) await db.batch([first, ...rest]);
        throw reserved.error;
      }
      promoHeld = true;
      priced = reserved.priced;
    }

    // Guests must give a name (checkedOrder); a signed-in buyer's falls back to the username.
    const buyer = buyerFor(db, user, email, name, now);
    const [firstLine] = priced.lines;
    const base = {
      id: orderId,
      reference: newOrderReference(),
      eventId: event.id,
      // The first line's tier and price: single-tier readers see the order as before.
      tierId: firstLine?.tierId ?? "",
      quantity: priced.lines.reduce((sum, line) => sum + line.quantity, 0),
      unitPrice: firstLine?.unitPrice ?? 0,
      amount: priced.amount,
      promoCodeId: promo?.id ?? null,
      promoCode: promo?.code ?? null,
      discount: priced.discount,
      discountedSeats: priced.discountedSeats,
      buyerName: name,
      phoneNumber: input.phoneNumber,
      // What the wallet needs to know (services/ticket-access): a guest's tickets land on the
      // account holding the email, visible there only once that account proves the email.
      placedAsGuest: input.user === null,
      createdAt: now,
      updatedAt: now,
    };
    const items = db.insert(orderItems).values(
      priced.lines.map((line, position) => ({
        orderId,
        tierId: line.tierId,
        position,
        quantity: line.quantity,
        unitPrice: line.unitPrice,
        discount: line.discount,
        discountedSeats: line.discountedSeats,
      })),
    );
    const order = { ...base, priced };

    if (priced.amount === 0) {
      return await completeFreeOrder(
        deps,
        order,
        buyer,
        { booking, replaced },
        [...replaced, items],
        buyerKeys,
        input.idempotency,
        now,
      );
    }

    // One round trip takes the recipient's booking and records the buyer, the order and its
    // lines, the replaced orders and the counts: all of it, or (the booking refused) none.
    await runBatch(db, [
      ...booking.statements,
      ...buyer.statements,
      ...replaced,
      db.insert(orders).values({
        ...base,
        userId: buyer.id,
        buyerEmail: buyer.email,
        status: "PENDING",
        holdExpiresAt: held.expiresAt,
      }),
      items,
      ...copyCountsStatements(db, held.snapshots),
    ]).catch((error) => orderBatchFailed(deps, { booking, replaced }, error));
    return await startPayment(
      deps,
      { ...order, tierIds, holdExpiresAt: held.expiresAt },
      input.idempotency,
      now,
    );
  } catch (error) {
    // Never keep seats for an order that could not be recorded (release is idempotent and
    // never undoes a sale). A refusal already gave back what it took.
    if (holding) {
      await releaseOrderSeats(deps, orderId, tierIds).catch(() => undefined);
    }
    if (promo && promoHeld) await releasePromoUses(deps, promo.id, [orderId]).catch(() => undefined);
    // Either way nothing was answered for the key: a retry with it may try again.
    if (input.idempotency) await releaseIdempotencyKey(db, input.idempotency).catch(() => undefined);
    throw error;
  }
}

type NewOrder = Omit<typeof orders.$inferInsert, "status" | "userId" | "buyerEmail"> & {
  id: string;
  reference: string;
  quantity: number;
  amount: number;
  priced: PricedOrder;
};
/** The buyer's id and email: values, or subqueries resolved inside the batch. */
type OrderOwner = ReturnType<typeof buyerFor>;
/** Statements recorded with the order in its batch (its lines, replaced orders). */
type Recorded = Parameters<typeof runBatch>[1];

/** What the order's batch took with it, and what must be recorded even when it was refused. */
interface OrderBatchGuard {
  booking: RecipientBooking;
  /** The replaced orders' holds, which the objects already ended. */
  replaced: Recorded;
}

/**
 * The order's batch failed. The recipient limit's refusal wrote nothing: give back what
 * `giveBack` names (a free order's seats sold a moment ago), record the replaced orders'
 * holds the objects ended and the counts, and answer the 429; the caller's catch releases
 * the holds, promo uses and the key. Any other failure is thrown as it was.
 */
async function orderBatchFailed(
  deps: CheckoutDeps,
  guard: OrderBatchGuard,
  error: unknown,
  giveBack: () => Promise<Map<string, InventorySnapshot>> = async () => new Map(),
): Promise<never> {
  const refused = await guard.booking.refusal(error);
  if (!refused) throw error;
  const snapshots = await giveBack();
  await runBatch(deps.db, [...guard.replaced, ...copyCountsStatements(deps.db, snapshots)]);
  throw refused;
}

/** The lines as checkout answers them (§11.5). */
function answeredLines(priced: PricedOrder) {
  return {
    items: priced.lines.map((line) => ({
      tierId: line.tierId,
      tierName: line.tierName,
      quantity: line.quantity,
      unitPrice: line.unitPrice,
      discount: line.discount,
      lineTotal: line.lineTotal,
    })),
    subtotal: priced.subtotal,
    discount: priced.discount,
  };
}

async function completeFreeOrder(
  deps: CheckoutDeps,
  order: NewOrder,
  buyer: OrderOwner,
  guard: OrderBatchGuard,
  recorded: Recorded,
  buyerKeys: Parameters<typeof confirmOrderSeats>[3],
  idempotency: IdempotencyScope | undefined,
  now: number,
): Promise<CheckoutResult> {
  const { db, config } = deps;
  const { priced, ...base } = order;
  // The holds just made initialised the objects: no seed is ever needed here.
  const confirmed = await confirmOrderSeats(
    deps,
    base.id,
    priced.lines.map((line) => ({ tierId: line.tierId, quantity: line.quantity, maxPerBuyer: null })),
    buyerKeys,
    async () => undefined,
  );
  if (!confirmed.ok) throw refuse("sold_out", "These tickets are no longer available.");
  // A 100 % code (§11.5): the uses are consumed with the seats, before the order is written.
  if (base.promoCodeId) {
    const consumed = await consumePromoUses(deps, base.promoCodeId, base.id, {
      seats: priced.discountedSeats,
      discount: priced.discount,
      buyerKeys,
    });
    if (!consumed.ok) throw refuse("promo_exhausted", "This promo code has been used up.");
  }
  const reference = `FREE-${base.reference.slice(3)}`;
  const results = await runBatch(db, [
    ...guard.booking.statements,
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
    ...recorded,
    ...copyCountsStatements(db, confirmed.snapshots),
  ]).catch((error) =>
    // Refused: the seats and uses this call just consumed go back (nothing was issued).
    orderBatchFailed(deps, guard, error, async () => {
      const snapshots = await returnOnTiers(deps, base.id, [...confirmed.snapshots.keys()]);
      if (base.promoCodeId) await returnPromoUses(deps, base.promoCodeId, base.id);
      return snapshots;
    }),
  );
  const row = (
    results[guard.booking.statements.length + buyer.statements.length] as Order[] | undefined
  )?.[0];
  if (!row) throw new Error("free order insert returned nothing");
  // Its tickets, and the organizer's `order.completed` with them (contract v3 §16.2), in one
  // batch: the event is written if and only if the tickets are.
  const tickets = await ticketRowsFor(config.ticketSigningKey, row, priced.lines, row.buyerName, now);
  const ticketIds = tickets.map((ticket) => ticket.id);
  const outbox = outboxStatements(db, orderCompletedEvent(row, priced.lines, ticketIds), now);
  const issued = await runBatch(db, [...ticketInsertStatements(db, tickets), ...outbox.statements]);
  await queueTicketEmail(deps.mail, db, row.id, announcement(outbox, issued.at(-1)));
  const result: CheckoutResult = {
    kind: "booked",
    reference,
    orderId: row.id,
    ticketIds,
    quantity: row.quantity,
    ...answeredLines(priced),
  };
  if (idempotency) await completeIdempotencyKey(db, idempotency, result);
  return result;
}

async function startPayment(
  deps: CheckoutDeps,
  order: NewOrder & { holdExpiresAt: number; tierIds: string[] },
  idempotency: IdempotencyScope | undefined,
  now: number,
): Promise<CheckoutResult> {
  const { db, config } = deps;
  try {
    const accepted = await deps.daraja().stkPush({
      phoneNumber: order.phoneNumber ?? "",
      amount: order.amount,
      accountReference: order.reference,
      transactionDesc: "Tickets",
      // The URL names the order, so the callback finds it without the CheckoutRequestID.
      callbackUrl: `${config.publicBaseUrl}/api/pay/callback/${config.mpesa.callbackToken}/${order.id}/`,
    });
    const result: CheckoutResult = {
      kind: "payment_started",
      reference: order.reference,
      orderId: order.id,
      checkoutRequestId: accepted.checkoutRequestId,
      amount: order.amount,
      holdExpiresAt: order.holdExpiresAt,
      ...answeredLines(order.priced),
    };
    // The CheckoutRequestID and the idempotent answer, together, after the answer (issue 15
    // part 3: the fan waits for one D1 round trip, the order's INSERT, not two). Nothing waits
    // on it: the callback finds the order by the id in its URL and records the push itself;
    // a replay of the Idempotency-Key meanwhile is told the first request is still running.
    // The cron's STK query needs it (an order that never got it fails after 2 minutes as a
    // push that never went out; a payment that still arrives is a late payment, §11.6).
    await afterAnswer(deps, () =>
      runBatch(db, [
        db
          .update(orders)
          .set({
            checkoutRequestId: accepted.checkoutRequestId,
            merchantRequestId: accepted.merchantRequestId,
            updatedAt: now,
          })
          .where(eq(orders.id, order.id)),
        ...(idempotency ? [completeIdempotencyKey(db, idempotency, result)] : []),
      ]),
    );
    return result;
  } catch (error) {
    if (!(error instanceof DarajaError)) throw error;
    // No push went out (or we cannot know it did): give every tier's seats back, fail the
    // order, and let the same Idempotency-Key try again.
    const snapshots = await releaseOnTiers(deps, order.id, order.tierIds);
    if (order.promoCodeId) await releasePromoUses(deps, order.promoCodeId, [order.id]);
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
      ...copyCountsStatements(db, snapshots),
      ...(idempotency ? [releaseIdempotencyKey(db, idempotency)] : []),
    ]);
    throw refuse("payment_gateway_error", "Payment service unavailable.");
  }
}
