/**
 * Checkout (contract §4): hold seats on the tier's Durable Object, then either issue free
 * tickets at once or start an M-Pesa STK push; Daraja's callback (or settlement's STK
 * query) decides the order (settlement.ts). Every rule of the request lives here — the
 * guest's name and email, the phone, the Idempotency-Key — so the route only reads it.
 */
import { and, eq, sql } from "drizzle-orm";
import type { Config } from "../../config";
import { type Database, runBatch } from "../../db/client";
import { type Order, orders, type User, users } from "../../db/schema";
import { type DarajaClient, DarajaError } from "../../integrations/mpesa/types";
import { confirmSeats, seedFromTier, tierInventory } from "../../inventory/client";
import type { TierInventory } from "../../inventory/tier-inventory";
import { DomainError, type ErrorCode } from "../../lib/errors";
import { normalizeKenyanPhone } from "../../lib/phone";
import { isUuid } from "../../lib/uuid";
import type { MailDeps } from "../../mail/mailer";
import { findUserByEmail } from "../accounts/users";
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  type IdempotencyScope,
  releaseIdempotencyKey,
  requestFingerprint,
} from "../idempotency";
import { queueTicketEmail } from "../ticket-delivery";
import { ensureTicketsIssued } from "../ticket-issuance";
import { copyCountsStatement } from "../tier-counts";
import { isTierOnSale } from "../tier-rules";
import { tierSaleFacts } from "../tier-sale-cache";
import { endReplacedHolds, holdBuyerKeys } from "./buyer-holds";
import { reserveRecipientBooking } from "./recipient-limit";
import { type CheckoutResult, StoredCheckoutResultSchema } from "./result";

export interface CheckoutDeps {
  db: Database;
  config: Config;
  inventory: DurableObjectNamespace<TierInventory>;
  mail: MailDeps;
  /** Created on first use: the free path and sold-out answers never need Daraja. */
  daraja: () => DarajaClient;
}

/** A purchase as the buyer asked for it, before any check. */
export interface CheckoutRequest {
  /** As sent: anything but a UUID is an unknown tier. */
  tierId: string;
  quantity: number;
  /** As typed, in any usual Kenyan form. */
  phoneNumber: string;
  /** Required of guests. */
  email?: string | undefined;
  /** Required of guests. */
  name?: string | undefined;
  /** The `Idempotency-Key` header, as sent. */
  idempotencyKey?: string | undefined;
  /**
   * The signed-in buyer, or null for a guest. Asked for only once the tier id is well formed:
   * resolving a session may rotate its tokens, which a malformed request never does.
   */
  currentUser: () => Promise<User | null>;
}

interface CheckedRequest {
  /** Lower case. */
  tierId: string;
  quantity: number;
  /** Normalised to 2547…/2541…. */
  phoneNumber: string;
  user: User | null;
  email: string | undefined;
  name: string | undefined;
  idempotency: IdempotencyScope | undefined;
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

/**
 * Who may not buy, checked on the buyer the order will name (contract §4 steps 1–2), before
 * any seat is touched: the event's organizer, signed in or as a guest with their own email;
 * and, for a guest, an address of a gate-staff (SCANNER) account, which never receives
 * guest tickets (an organizer typed that address; nobody proved it). A guest whose email
 * has no account yet is a new shadow user: nothing to refuse.
 */
async function refuseBuyer(db: Database, input: CheckedRequest, organizerId: string): Promise<void> {
  const buyer = input.user ?? (await findUserByEmail(db, input.email ?? ""));
  if (buyer?.id === organizerId)
    throw refuse("permission_denied", "You cannot buy tickets for your own event.");
  if (!input.user && buyer?.role === "SCANNER") {
    throw DomainError.field("email", "This address cannot receive tickets.");
  }
}

/**
 * The buyer's request, checked: a well-formed tier id, a guest's name and email, a Kenyan
 * phone (normalised), a usable Idempotency-Key. Field errors are reported together, as DRF does.
 */
async function checkedRequest(request: CheckoutRequest): Promise<CheckedRequest> {
  if (!isUuid(request.tierId)) throw refuse("not_found", "Ticket tier not found.");
  const user = await request.currentUser();
  const fields: Record<string, string[]> = {};
  if (!user) {
    if (!request.email) fields.email = ["This field is required."];
    if (!request.name) fields.name = ["This field is required."];
  }
  const phone = normalizeKenyanPhone(request.phoneNumber);
  if (!phone) fields.phone_number = ["Enter a valid Kenyan mobile number, e.g. 0712 345 678."];
  if (Object.keys(fields).length > 0) {
    throw DomainError.validation(
      fields,
      fields.phone_number && Object.keys(fields).length === 1 ? "invalid_phone" : "validation_error",
    );
  }

  const key = request.idempotencyKey?.trim();
  if (key !== undefined && (key.length === 0 || key.length > 255)) {
    throw DomainError.field("Idempotency-Key", "Must be between 1 and 255 characters.");
  }
  const tierId = request.tierId.toLowerCase();
  const checked = {
    tierId,
    quantity: request.quantity,
    phoneNumber: phone ?? "",
    user,
    email: request.email,
    name: request.name,
  };
  if (!key) return { ...checked, idempotency: undefined };
  // Keys are the caller's own: a signed-in buyer's, or a guest email's. The fingerprint is of
  // the request as understood (normalised phone, lower-case email), so equivalent spellings
  // of the same purchase replay rather than conflict.
  const scope = user ? `user:${user.id}` : `guest:${(request.email ?? "").toLowerCase()}`;
  return {
    ...checked,
    idempotency: {
      scope,
      key,
      requestHash: await requestFingerprint({
        tier_id: tierId,
        quantity: request.quantity,
        phone_number: phone,
        email: request.email?.toLowerCase(),
        name: request.name,
      }),
    },
  };
}

/**
 * Checkout (contract §4): hold the seats, then book a free tier at once or start an M-Pesa
 * STK push for a paid one. With an Idempotency-Key, the same request answers its first result
 * and charges once; the same key with another request is refused.
 */
export async function initiateCheckout(
  deps: CheckoutDeps,
  request: CheckoutRequest,
  now = Date.now(),
): Promise<CheckoutResult> {
  const input = await checkedRequest(request);
  const { db, config } = deps;
  const found = await tierSaleFacts(db, input.tierId, now);
  if (!found?.event.isPublished || found.event.status !== "ACTIVE") {
    throw refuse("not_found", "Ticket tier not found.");
  }
  const { tier, event } = found;
  if (!isTierOnSale(event, tier, now)) throw refuse("not_on_sale", "This ticket tier is not on sale.");
  await refuseBuyer(db, input, event.organizerId);
  if (input.quantity > tier.maxPerOrder) {
    throw new DomainError("validation_error", `You can buy at most ${tier.maxPerOrder} tickets per order.`, {
      fields: { quantity: [`Ensure this value is less than or equal to ${tier.maxPerOrder}.`] },
    });
  }
  const email = input.user?.email ?? input.email ?? "";
  const name = input.user
    ? `${input.user.firstName} ${input.user.lastName}`.trim() || input.user.username
    : (input.name ?? "");

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

  const stub = tierInventory(deps.inventory, tier.id);
  try {
    // Bookings (ticket emails) per recipient per hour: after the key's replay (a replay is
    // answered, not counted) and before any seat is touched.
    await reserveRecipientBooking(deps, input.user, email, now);

    // The seats. A sold-out answer comes from the object alone and writes nothing to D1. The
    // buyer's earlier open hold on this tier, if any, is replaced by this one.
    const buyerKeys = holdBuyerKeys({
      userId: input.user?.id ?? null,
      email,
      phone: input.phoneNumber,
      paid: tier.price > 0,
    });
    const held = await stub.reserve(
      orderId,
      input.quantity,
      config.holdSeconds * 1000,
      seedFromTier(tier),
      buyerKeys,
    );
    if (!held.ok) {
      throw refuse("sold_out", `Only ${held.available} tickets are available.`, {
        available: held.available,
      });
    }
    // Never for a fresh id; should the object know the order as sold, hold and charge nothing.
    if (held.alreadyConfirmed) throw refuse("conflict", "This order is already complete.");
    const replaced = held.replaced.length > 0 ? [endReplacedHolds(db, held.replaced, now)] : [];

    // Guests must give a name (checkedRequest); a signed-in buyer's falls back to the username.
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
      // What the wallet needs to know (services/ticket-access): a guest's tickets land on the
      // account holding the email, visible there only once that account proves the email.
      placedAsGuest: input.user === null,
      createdAt: now,
      updatedAt: now,
    };

    if (tier.price === 0) {
      return await completeFreeOrder(deps, base, buyer, replaced, input.idempotency, now);
    }

    // One round trip records the buyer, the order, the replaced orders and the new counts.
    await runBatch(db, [
      ...buyer.statements,
      ...replaced,
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
    // Never keep seats for an order that could not be recorded. A refusal held nothing.
    if (!(error instanceof DomainError)) await stub.release(orderId).catch(() => undefined);
    // Either way nothing was answered for the key: a retry with it may try again.
    if (input.idempotency) await releaseIdempotencyKey(db, input.idempotency).catch(() => undefined);
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
  replaced: ReturnType<typeof endReplacedHolds>[],
  idempotency: IdempotencyScope | undefined,
  now: number,
): Promise<CheckoutResult> {
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
    ...replaced,
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
  const result: CheckoutResult = { kind: "booked", reference, ticketIds, quantity: row.quantity };
  if (idempotency) await completeIdempotencyKey(db, idempotency, result);
  return result;
}

async function startPayment(
  deps: CheckoutDeps,
  order: NewOrder & { id: string; reference: string; amount: number; holdExpiresAt: number },
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
      callbackUrl: `${config.publicBaseUrl}/api/pay/callback/${config.mpesa.callbackToken}/`,
    });
    const result: CheckoutResult = {
      kind: "payment_started",
      reference: order.reference,
      orderId: order.id,
      checkoutRequestId: accepted.checkoutRequestId,
      amount: order.amount,
      holdExpiresAt: order.holdExpiresAt,
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
      ...(idempotency ? [completeIdempotencyKey(db, idempotency, result)] : []),
    ]);
    return result;
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
