/**
 * The organizer's events: create (event + tiers + poster, all or nothing), edit with the
 * tier rules of contract §6, delete or cancel. Seat allocations change only through the
 * tier's Durable Object, which refuses to go below what is sold or held.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import { type EventCategory, events, orders, stores, tickets, tiers, type User } from "../db/schema";
import type { DeliveryJob } from "../delivery/jobs";
import { seedFromTier, tierInventory } from "../inventory/client";
import type { TierInventory } from "../inventory/tier-inventory";
import { DomainError, type FieldErrors } from "../lib/errors";
import type { Logger } from "../lib/logger";
import type { MailDeps } from "../mail/mailer";
import { deleteImages, storeImage, type ValidImage } from "./images";
import { forgetEventCodes } from "./promo-codes/code-cache";
import { deactivateCodesWithoutTiers } from "./promo-codes/tier-removal";
import { queueRefundSends } from "./refunds/queue";
import { eventCancellationRefundStatements, refundsOfCancellation } from "./refunds/record";
import type { EventRow, TierRow } from "./tier-rules";
import { forgetEventSaleFacts } from "./tier-sale-cache";
import { eventCancelledEvent } from "./webhooks/events";
import { announcement, enqueueAnnouncement, outboxStatements } from "./webhooks/outbox";

export interface OrganizerEventDeps {
  db: Database;
  config: Config;
  media: R2Bucket;
  inventory: DurableObjectNamespace<TierInventory>;
  mail: MailDeps;
  /** Refunds of a cancelled event (and its webhook event) are sent from the delivery queue. */
  queue: Queue<DeliveryJob>;
  log: Logger;
}

export interface TierInput {
  id?: string | undefined;
  name: string;
  description: string;
  price: number;
  quantityAllocated: number;
  maxPerOrder?: number | undefined;
  /** null = no limit; undefined = unchanged (edit) or none (create). */
  maxPerBuyer?: number | null | undefined;
  salesStart?: number | null | undefined;
  salesEnd?: number | null | undefined;
}

export interface EventFields {
  title: string;
  description: string;
  category: EventCategory;
  locationName: string;
  startAt: number;
  endAt: number;
  isPublished: boolean;
  isPrivate: boolean;
  /** Default true (contract v3 §14.5); turning it off blocks new transfers only. */
  allowTransfers: boolean;
}

export interface CreateEventInput extends EventFields {
  /** A store id, `null` for none, `undefined` for "the organizer's only store, if any". */
  storeId: string | null | undefined;
  poster: ValidImage | null;
  tiers: TierInput[];
}

export interface UpdateEventInput extends Partial<EventFields> {
  storeId?: string | null | undefined;
  /** A new poster, `null` to remove it, `undefined` to keep it. */
  poster?: ValidImage | null | undefined;
  tiers?: TierInput[] | undefined;
}

const DEFAULT_MAX_PER_ORDER = 10;

// ---------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------

/** The organizer's own event with its tiers; anyone else's is "not found", never "forbidden". */
export async function loadOwnEvent(
  db: Database,
  organizerId: string,
  eventId: string,
): Promise<{ event: EventRow; tiers: TierRow[] }> {
  const [event, eventTiers] = await db.batch([
    db
      .select()
      .from(events)
      .where(and(eq(events.id, eventId), eq(events.organizerId, organizerId)))
      .limit(1),
    db.select().from(tiers).where(eq(tiers.eventId, eventId)).orderBy(tiers.position),
  ]);
  const row = event[0];
  if (!row) throw DomainError.notFound();
  return { event: row, tiers: eventTiers };
}

// ---------------------------------------------------------------------------------------
// Validation shared by create and update
// ---------------------------------------------------------------------------------------

function validateWindow(fields: FieldErrors, startAt: number, endAt: number): void {
  if (endAt <= startAt) fields.end_datetime = ["End must be after start."];
}

function validateTiers(fields: FieldErrors, input: TierInput[], required: boolean): void {
  if (required && input.length === 0) {
    fields.tiers = ["Add at least one ticket tier."];
    return;
  }
  const problems: string[] = [];
  input.forEach((tier, index) => {
    if (tier.salesStart != null && tier.salesEnd != null && tier.salesEnd <= tier.salesStart) {
      problems.push(`Tier ${index + 1} (${tier.name}): sales_end must be after sales_start.`);
    }
  });
  const ids = input.map((t) => t.id).filter(Boolean);
  if (new Set(ids).size !== ids.length) problems.push("The same tier id appears twice.");
  if (problems.length > 0) fields.tiers = problems;
}

async function resolveStore(
  db: Database,
  organizerId: string,
  storeId: string | null | undefined,
): Promise<string | null> {
  if (storeId === null) return null;
  const own = await db
    .select({ id: stores.id })
    .from(stores)
    .where(eq(stores.organizerId, organizerId))
    .orderBy(stores.createdAt);
  if (storeId === undefined) return own.length === 1 ? (own[0]?.id ?? null) : null;
  if (!own.some((s) => s.id === storeId)) {
    throw DomainError.field("store", `Invalid pk "${storeId}" - object does not exist.`);
  }
  return storeId;
}

function priceRange(input: Array<{ price: number }>): {
  lowestPrice: number | null;
  highestPrice: number | null;
} {
  if (input.length === 0) return { lowestPrice: null, highestPrice: null };
  const prices = input.map((t) => t.price);
  return { lowestPrice: Math.min(...prices), highestPrice: Math.max(...prices) };
}

// ---------------------------------------------------------------------------------------
// Create
// ---------------------------------------------------------------------------------------

export async function createEvent(
  deps: OrganizerEventDeps,
  organizer: User,
  input: CreateEventInput,
  now = Date.now(),
) {
  const { db } = deps;
  const fields: FieldErrors = {};
  validateWindow(fields, input.startAt, input.endAt);
  validateTiers(fields, input.tiers, true);
  if (input.tiers.some((t) => t.id))
    fields.tiers = [...(fields.tiers ?? []), "New tiers cannot carry an id."];
  if (Object.keys(fields).length > 0) throw DomainError.validation(fields);
  const storeId = await resolveStore(db, organizer.id, input.storeId);

  const eventId = crypto.randomUUID();
  // The poster goes first: if the rows fail to write, the object is removed again, so an
  // event exists with its tiers and poster, or not at all.
  const posterKey = input.poster ? await storeImage(deps.media, "posters", input.poster) : null;
  try {
    await db.batch([
      db.insert(events).values({
        id: eventId,
        organizerId: organizer.id,
        storeId,
        title: input.title,
        description: input.description,
        category: input.category,
        locationName: input.locationName,
        startAt: input.startAt,
        endAt: input.endAt,
        posterKey,
        isPublished: input.isPublished,
        isPrivate: input.isPrivate,
        allowTransfers: input.allowTransfers,
        ...priceRange(input.tiers),
        createdAt: now,
        updatedAt: now,
      }),
      db.insert(tiers).values(
        input.tiers.map((tier, position) => ({
          id: crypto.randomUUID(),
          eventId,
          name: tier.name,
          description: tier.description,
          price: tier.price,
          quantityAllocated: tier.quantityAllocated,
          maxPerOrder: tier.maxPerOrder ?? DEFAULT_MAX_PER_ORDER,
          maxPerBuyer: tier.maxPerBuyer ?? null,
          salesStart: tier.salesStart ?? null,
          salesEnd: tier.salesEnd ?? null,
          position,
          createdAt: now,
          updatedAt: now,
        })),
      ),
    ]);
  } catch (error) {
    await deleteImages(deps.media, [posterKey]);
    throw error;
  }
  return loadOwnEvent(db, organizer.id, eventId);
}

// ---------------------------------------------------------------------------------------
// Update
// ---------------------------------------------------------------------------------------

interface AllocationChange {
  tier: TierRow;
  from: number;
  to: number;
}

/** Apply allocation changes through the objects; undo the applied ones if any is refused. */
async function applyAllocations(deps: OrganizerEventDeps, changes: AllocationChange[]): Promise<void> {
  const applied: AllocationChange[] = [];
  for (const change of changes) {
    const stub = tierInventory(deps.inventory, change.tier.id);
    const result = await stub.setAllocation(change.to, seedFromTier(change.tier));
    if (!result.ok) {
      for (const done of applied.reverse()) {
        await tierInventory(deps.inventory, done.tier.id).setAllocation(done.from, seedFromTier(done.tier));
      }
      throw DomainError.field(
        "tiers",
        `${change.tier.name}: quantity_allocated cannot go below the ${result.minimum} tickets already sold or held.`,
      );
    }
    applied.push(change);
  }
}

export async function updateEvent(
  deps: OrganizerEventDeps,
  organizer: User,
  eventId: string,
  input: UpdateEventInput,
  now = Date.now(),
) {
  const { db } = deps;
  const { event, tiers: current } = await loadOwnEvent(db, organizer.id, eventId);
  if (event.status === "CANCELLED") throw DomainError.nonField("A cancelled event cannot be edited.");

  const fields: FieldErrors = {};
  const startAt = input.startAt ?? event.startAt;
  const endAt = input.endAt ?? event.endAt;
  validateWindow(fields, startAt, endAt);
  if (input.tiers) validateTiers(fields, input.tiers, true);

  const hasSales = current.some((t) => t.quantitySold > 0);
  if (input.isPublished === false && event.isPublished && hasSales) {
    fields.is_published = ["An event with sales cannot be unpublished; cancel it instead."];
  }

  const byId = new Map(current.map((t) => [t.id, t]));
  const updates: Array<{ tier: TierRow; input: TierInput }> = [];
  const creates: TierInput[] = [];
  const allocationChanges: AllocationChange[] = [];
  let removals: TierRow[] = [];
  if (input.tiers) {
    for (const tier of input.tiers) {
      if (!tier.id) {
        creates.push(tier);
        continue;
      }
      const existing = byId.get(tier.id);
      if (!existing) {
        fields.tiers = [...(fields.tiers ?? []), `Tier ${tier.id} does not belong to this event.`];
        continue;
      }
      updates.push({ tier: existing, input: tier });
      if (tier.quantityAllocated !== existing.quantityAllocated) {
        allocationChanges.push({
          tier: existing,
          from: existing.quantityAllocated,
          to: tier.quantityAllocated,
        });
      }
    }
    const kept = new Set(input.tiers.map((t) => t.id).filter(Boolean));
    removals = current.filter((t) => !kept.has(t.id));
  }
  if (Object.keys(fields).length > 0) throw DomainError.validation(fields);

  const storeId =
    input.storeId === undefined ? event.storeId : await resolveStore(db, organizer.id, input.storeId);

  // Seats first (the objects are the authority), then rows.
  await applyAllocations(deps, allocationChanges);
  // A tier left out is deleted only when nothing was ever sold or held on it: closing its
  // allocation to 0 succeeds only then, and also stops any sale racing this edit.
  const deletable: TierRow[] = [];
  for (const tier of removals) {
    const result = await tierInventory(deps.inventory, tier.id).setAllocation(0, seedFromTier(tier));
    if (result.ok && tier.quantitySold === 0) deletable.push(tier);
    else if (result.ok)
      await tierInventory(deps.inventory, tier.id).setAllocation(tier.quantityAllocated, seedFromTier(tier));
  }

  const posterKey =
    input.poster === undefined
      ? event.posterKey
      : input.poster === null
        ? null
        : await storeImage(deps.media, "posters", input.poster);

  const remaining = [
    ...current
      .filter((t) => !deletable.includes(t))
      .map((t) => updates.find((u) => u.tier.id === t.id)?.input ?? t),
    ...creates,
  ];
  const nextPosition = current.reduce((max, t) => Math.max(max, t.position), -1) + 1;
  const statements = [
    db
      .update(events)
      .set({
        title: input.title ?? event.title,
        description: input.description ?? event.description,
        category: input.category ?? event.category,
        locationName: input.locationName ?? event.locationName,
        startAt,
        endAt,
        isPublished: input.isPublished ?? event.isPublished,
        isPrivate: input.isPrivate ?? event.isPrivate,
        allowTransfers: input.allowTransfers ?? event.allowTransfers,
        storeId,
        posterKey,
        ...priceRange(remaining),
        updatedAt: now,
      })
      .where(eq(events.id, event.id)),
    ...updates.map(({ tier, input: change }) =>
      db
        .update(tiers)
        .set({
          name: change.name,
          description: change.description,
          price: change.price,
          quantityAllocated: change.quantityAllocated,
          maxPerOrder: change.maxPerOrder ?? tier.maxPerOrder,
          maxPerBuyer: change.maxPerBuyer === undefined ? tier.maxPerBuyer : change.maxPerBuyer,
          salesStart: change.salesStart === undefined ? tier.salesStart : change.salesStart,
          salesEnd: change.salesEnd === undefined ? tier.salesEnd : change.salesEnd,
          updatedAt: now,
        })
        .where(eq(tiers.id, tier.id)),
    ),
    ...(deletable.length > 0
      ? [
          db.delete(tiers).where(
            inArray(
              tiers.id,
              deletable.map((t) => t.id),
            ),
          ),
          // Their promo_code_tiers rows went with them (cascade); §12.1: a code left with none is off.
          deactivateCodesWithoutTiers(db, event.id, now),
        ]
      : []),
    ...(creates.length > 0
      ? [
          db.insert(tiers).values(
            creates.map((tier, i) => ({
              id: crypto.randomUUID(),
              eventId: event.id,
              name: tier.name,
              description: tier.description,
              price: tier.price,
              quantityAllocated: tier.quantityAllocated,
              maxPerOrder: tier.maxPerOrder ?? DEFAULT_MAX_PER_ORDER,
              maxPerBuyer: tier.maxPerBuyer ?? null,
              salesStart: tier.salesStart ?? null,
              salesEnd: tier.salesEnd ?? null,
              position: nextPosition + i,
              createdAt: now,
              updatedAt: now,
            })),
          ),
        ]
      : []),
  ];
  try {
    const [first, ...rest] = statements;
    if (first) await db.batch([first, ...rest]);
    forgetEventSaleFacts(event.id);
    forgetEventCodes(event.id);
  } catch (error) {
    if (posterKey !== event.posterKey) await deleteImages(deps.media, [posterKey]);
    throw error;
  }
  if (posterKey !== event.posterKey) await deleteImages(deps.media, [event.posterKey]);
  return loadOwnEvent(db, organizer.id, event.id);
}

// ---------------------------------------------------------------------------------------
// Delete or cancel
// ---------------------------------------------------------------------------------------

export interface RefundItem {
  order_id: string;
  reference: string;
  amount: number;
  buyer_email: string;
  phone_number: string | null;
  mpesa_receipt_number: string | null;
}

export type RemoveResult =
  | { outcome: "deleted" }
  | { outcome: "cancelled"; ticketsCancelled: number; ordersToRefund: RefundItem[] };

/**
 * No sales and no payment history: the event is deleted. Otherwise it is cancelled: sales
 * stop at the objects, tickets are cancelled, paid orders are marked for refund and buyers
 * are told by email.
 */
export async function removeEvent(
  deps: OrganizerEventDeps,
  organizer: User,
  eventId: string,
  now = Date.now(),
): Promise<RemoveResult> {
  const { db } = deps;
  const { event, tiers: eventTiers } = await loadOwnEvent(db, organizer.id, eventId);
  const [orderCount] = await db
    .select({ n: sql<number>`count(*)` })
    .from(orders)
    .where(eq(orders.eventId, event.id));

  // Stop new holds first; what the objects report decides between delete and cancel.
  const snapshots = await Promise.all(
    eventTiers.map((t) => tierInventory(deps.inventory, t.id).close(seedFromTier(t))),
  );
  const soldAnywhere = snapshots.some((s) => s.sold > 0) || eventTiers.some((t) => t.quantitySold > 0);

  if (!soldAnywhere && (orderCount?.n ?? 0) === 0) {
    await db.delete(events).where(eq(events.id, event.id));
    forgetEventSaleFacts(event.id);
    forgetEventCodes(event.id);
    await deleteImages(deps.media, [event.posterKey]);
    return { outcome: "deleted" };
  }
  if (event.status === "CANCELLED") throw DomainError.nonField("This event is already cancelled.");

  // One transaction: the event, a full refund per paid order (contract v3 §13.3 rule 3) with
  // the tickets each cancels recorded, then the tickets themselves.
  const [refundRows, refundTicketRows] = eventCancellationRefundStatements(db, event.id, now);
  // The organizer's `event.cancelled` (contract v3 §16.2), with the refunds this batch makes.
  const outbox = outboxStatements(db, eventCancelledEvent(event, now), now);
  const [, , , cancelledTickets, refundOrders, , fanOut] = await db.batch([
    db
      .update(events)
      .set({ status: "CANCELLED", cancelledAt: now, updatedAt: now })
      .where(eq(events.id, event.id)),
    refundRows as NonNullable<typeof refundRows>,
    refundTicketRows as NonNullable<typeof refundTicketRows>,
    db
      .update(tickets)
      .set({ status: "CANCELLED", updatedAt: now })
      .where(and(eq(tickets.eventId, event.id), inArray(tickets.status, ["ACTIVE", "CHECKED_IN"])))
      .returning({ id: tickets.id }),
    db
      .update(orders)
      .set({ refundStatus: "PENDING", updatedAt: now })
      .where(and(eq(orders.eventId, event.id), inArray(orders.status, ["COMPLETED", "PAID_UNFULFILLED"])))
      .returning(),
    ...outbox.statements,
  ]);
  await enqueueAnnouncement(deps, announcement(outbox, fanOut));

  forgetEventSaleFacts(event.id);

  forgetEventCodes(event.id);

  // The buyers' emails go out from the queue, a page at a time (never thousands of round
  // trips in this request), queued ahead of the refund sends.
  await deps.queue.send({ type: "event_cancelled_mail", eventId: event.id });
  // A cancellation's refunds return no seats and send no per-refund email: only the sends.
  await queueRefundSends(deps.queue, await refundsOfCancellation(db, event.id, now));

  return {
    outcome: "cancelled",
    ticketsCancelled: cancelledTickets.length,
    ordersToRefund: refundOrders.map((o) => ({
      order_id: o.id,
      reference: o.reference,
      amount: o.amount,
      buyer_email: o.buyerEmail,
      phone_number: o.phoneNumber,
      mpesa_receipt_number: o.mpesaReceiptNumber,
    })),
  };
}
