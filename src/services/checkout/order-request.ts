/**
 * What a buyer asked for, checked (contract §4, §11.1–§11.2): the items (or the original
 * `tier_id` + `quantity`), the tiers and their event, the guest's details, the phone and the
 * Idempotency-Key. Nothing here touches a seat; the first failed check answers.
 *
 * The original form keeps its own order of checks and its own answers (404 `not_found`,
 * `quantity` field errors), so the web client sees exactly what it saw before; `items`
 * follows §11.2 step by step.
 */
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import type { User } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { normalizeKenyanPhone } from "../../lib/phone";
import { isUuid } from "../../lib/uuid";
import { findUserByEmail } from "../accounts/users";
import { checkedIdempotencyKey, type IdempotencyScope, requestFingerprint } from "../idempotency";
import { isTierOnSale } from "../tier-rules";
import { tierSaleFacts } from "../tier-sale-cache";

/** A purchase as the buyer asked for it, before any check. */
export interface CheckoutRequest {
  /** The original form: as sent (anything but a UUID is an unknown tier). */
  tierId?: string | undefined;
  /** The original form's quantity (ignored beside `items`). */
  quantity?: number | undefined;
  /** §11.1, as sent (checked here): `[{tier_id, quantity}]`. */
  items?: unknown;
  /** As typed, in any usual Kenyan form. */
  phoneNumber: string;
  /** Required of guests. */
  email?: string | undefined;
  /** Required of guests. */
  name?: string | undefined;
  /** §12.2, as sent (any type; checked by checkout before any seat is held). */
  promoCode?: unknown;
  /** The caller's address: the promo check limit (§12.4). */
  clientAddress?: string | undefined;
  /** The `Idempotency-Key` header, as sent. */
  idempotencyKey?: string | undefined;
  /**
   * The signed-in buyer, or null for a guest. Asked for only once the tiers are well formed:
   * resolving a session may rotate its tokens, which a malformed request never does.
   */
  currentUser: () => Promise<User | null>;
}

type SaleFacts = NonNullable<Awaited<ReturnType<typeof tierSaleFacts>>>;

export interface CheckedOrder {
  form: "single" | "items";
  event: SaleFacts["event"];
  /** In the buyer's order. */
  lines: Array<{ tier: SaleFacts["tier"]; quantity: number }>;
  /** Normalised to 2547…/2541…. */
  phoneNumber: string;
  user: User | null;
  email: string | undefined;
  name: string | undefined;
  idempotency: IdempotencyScope | undefined;
  /** As sent; resolved by checkout (§11.2 step 7). */
  promoCode: unknown;
  clientAddress: string;
}

interface Deps {
  db: Database;
  /** The nearest copy of D1 for the checks' reads (compose.ts); the primary when absent. */
  nearDb?: Database;
  config: Pick<Config, "maxSeatsPerOrder">;
}

/**
 * The reads the checks need that do not depend on one another — who is signed in, the tiers,
 * and the account a guest's email names — started together (issue 15 part 3: one round trip
 * before the seats, not three in a row), from the nearest copy of D1.
 */
async function checkReads<T>(deps: Deps, request: CheckoutRequest, tiers: () => Promise<T>) {
  const email = request.email;
  const [user, found, emailAccount] = await Promise.all([
    request.currentUser(),
    tiers(),
    email ? findUserByEmail(deps.nearDb ?? deps.db, email) : Promise.resolve(undefined),
  ]);
  return { user, found, emailAccount };
}

function invalidItems(message: string) {
  return DomainError.validation({ items: [message] }, "invalid_items");
}

/** §11.2 step 1: the shape of `items`. Tier ids stay as sent (lower-cased when well formed). */
function parseItems(raw: unknown, maxSeats: number): Array<{ tierId: string; quantity: number }> {
  if (!Array.isArray(raw) || raw.length === 0) throw invalidItems("Choose at least one ticket tier.");
  if (raw.length > 50) throw invalidItems("Too many items.");
  const items = raw.map((entry) => {
    if (typeof entry !== "object" || entry === null || Array.isArray(entry)) {
      throw invalidItems('Each item is {"tier_id", "quantity"}.');
    }
    const { tier_id: tierId, quantity = 1, ...unknown } = entry as Record<string, unknown>;
    if (Object.keys(unknown).length > 0) {
      throw invalidItems(`Unknown field in an item: ${Object.keys(unknown)[0]?.slice(0, 40)}.`);
    }
    if (typeof tierId !== "string" || tierId.length === 0 || tierId.length > 64) {
      throw invalidItems("Each item needs a tier_id.");
    }
    const text = typeof quantity === "number" || typeof quantity === "string" ? String(quantity).trim() : "";
    if (!/^\d{1,6}$/.test(text) || Number(text) < 1) {
      throw invalidItems("Each quantity must be a whole number of at least 1.");
    }
    return { tierId: isUuid(tierId) ? tierId.toLowerCase() : tierId, quantity: Number(text) };
  });
  if (new Set(items.map((item) => item.tierId)).size !== items.length) {
    throw invalidItems("Each tier may appear only once.");
  }
  const seats = items.reduce((sum, item) => sum + item.quantity, 0);
  if (seats > maxSeats) {
    throw DomainError.validation({ items: [`At most ${maxSeats} tickets per order.`] }, "too_many_seats");
  }
  return items;
}

/** The guest's name and email and the phone, reported together as DRF does. */
function checkBuyerFields(request: CheckoutRequest, user: User | null): string {
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
  return phone ?? "";
}

function checkKey(request: CheckoutRequest): string | undefined {
  return checkedIdempotencyKey(request.idempotencyKey);
}

/**
 * Keys are the caller's own: a signed-in buyer's, or a guest email's. The fingerprint is of
 * the request as understood (normalised phone, lower-case email), so equivalent spellings of
 * the same purchase replay rather than conflict. The original form keeps its fingerprint.
 */
function promoFingerprint(promoCode: unknown): Record<string, unknown> {
  if (promoCode === undefined || promoCode === null) return {};
  if (typeof promoCode !== "string") return { promo_code: promoCode };
  const typed = promoCode.trim().toUpperCase();
  return typed === "" ? {} : { promo_code: typed };
}

async function idempotencyScope(
  key: string | undefined,
  user: User | null,
  request: CheckoutRequest,
  purchase: Record<string, unknown>,
  phone: string,
): Promise<IdempotencyScope | undefined> {
  if (!key) return undefined;
  const scope = user ? `user:${user.id}` : `guest:${(request.email ?? "").toLowerCase()}`;
  return {
    scope,
    key,
    requestHash: await requestFingerprint({
      ...purchase,
      // The same key with another code is another request; absent/blank = none (as before).
      ...promoFingerprint(request.promoCode),
      phone_number: phone,
      email: request.email?.toLowerCase(),
      name: request.name,
    }),
  };
}

/**
 * Who may not buy, checked on the buyer the order will name (contract §4 steps 1–2), before
 * any seat is touched: the event's organizer, signed in or as a guest with their own email;
 * and, for a guest, an address of a gate-staff (SCANNER) account, which never receives
 * guest tickets (an organizer typed that address; nobody proved it). A guest whose email
 * has no account yet is a new shadow user: nothing to refuse.
 */
function refuseBuyer(user: User | null, emailAccount: User | undefined, event: SaleFacts["event"]) {
  const buyer = user ?? emailAccount;
  if (buyer?.id === event.organizerId) {
    throw new DomainError("permission_denied", "You cannot buy tickets for your own event.");
  }
  if (!user && buyer?.role === "SCANNER") {
    throw DomainError.field("email", "This address cannot receive tickets.");
  }
}

const isLive = (facts: SaleFacts | null): facts is SaleFacts =>
  Boolean(facts?.event.isPublished && facts.event.status === "ACTIVE");

/** The original `tier_id` + `quantity` request, checked exactly as before §11. */
async function checkedSingle(
  deps: Deps,
  request: CheckoutRequest,
  rawTierId: string,
  now: number,
): Promise<CheckedOrder> {
  if (!isUuid(rawTierId)) throw new DomainError("not_found", "Ticket tier not found.");
  const tierId = rawTierId.toLowerCase();
  const { user, found, emailAccount } = await checkReads(deps, request, () =>
    tierSaleFacts(deps.db, tierId, now, deps.nearDb),
  );
  const phone = checkBuyerFields(request, user);
  const key = checkKey(request);
  const quantity = request.quantity ?? 1;
  if (!isLive(found)) throw new DomainError("not_found", "Ticket tier not found.");
  const { tier, event } = found;
  if (!isTierOnSale(event, tier, now))
    throw new DomainError("not_on_sale", "This ticket tier is not on sale.");
  refuseBuyer(user, emailAccount, event);
  if (quantity > tier.maxPerOrder) {
    throw new DomainError("validation_error", `You can buy at most ${tier.maxPerOrder} tickets per order.`, {
      fields: { quantity: [`Ensure this value is less than or equal to ${tier.maxPerOrder}.`] },
    });
  }
  return {
    form: "single",
    event,
    lines: [{ tier, quantity }],
    phoneNumber: phone,
    user,
    email: request.email,
    name: request.name,
    promoCode: request.promoCode,
    clientAddress: request.clientAddress ?? "unknown",
    idempotency: await idempotencyScope(key, user, request, { tier_id: tierId, quantity }, phone),
  };
}

/** An `items` request, checked in the order of §11.2 (steps 1–6). */
async function checkedItems(deps: Deps, request: CheckoutRequest, now: number): Promise<CheckedOrder> {
  // 1. Shape.
  if (request.tierId !== undefined) throw invalidItems("Send either items or tier_id, not both.");
  const items = parseItems(request.items, deps.config.maxSeatsPerOrder);
  // 2. Every tier exists and its event is published.
  const {
    user,
    found: facts,
    emailAccount,
  } = await checkReads(deps, request, () =>
    Promise.all(
      items.map((item) =>
        isUuid(item.tierId) ? tierSaleFacts(deps.db, item.tierId, now, deps.nearDb) : null,
      ),
    ),
  );
  const unknown = items.find((_, i) => !isLive(facts[i] ?? null));
  if (unknown) {
    throw new DomainError("tier_not_found", "Not found.", { extra: { tier_id: unknown.tierId } });
  }
  const found = facts as SaleFacts[];
  // 3. One event.
  const event = found[0]?.event;
  if (!event || found.some((f) => f.event.id !== event.id)) {
    throw invalidItemsOf("mixed_events", "All tickets in one order must be for the same event.");
  }
  // 4. Each quantity within its tier's max_per_order.
  const lines = found.map((f, i) => ({ tier: f.tier, quantity: items[i]?.quantity ?? 0 }));
  const tooMany = lines.find((line) => line.quantity > line.tier.maxPerOrder);
  if (tooMany) {
    throw invalidItems(`At most ${tooMany.tier.maxPerOrder} tickets of ${tooMany.tier.name} per order.`);
  }
  // 5. On sale, every tier within its window.
  const closed = lines.find((line) => !isTierOnSale(event, line.tier, now));
  if (closed) {
    throw new DomainError("not_on_sale", "This ticket tier is not on sale.", {
      extra: { tier_id: closed.tier.id },
    });
  }
  // 6. The buyer: not the organizer; the phone; a guest's details.
  refuseBuyer(user, emailAccount, event);
  const phone = checkBuyerFields(request, user);
  const key = checkKey(request);
  const purchase = { items: lines.map((line) => ({ tier_id: line.tier.id, quantity: line.quantity })) };
  return {
    form: "items",
    event,
    lines,
    phoneNumber: phone,
    user,
    email: request.email,
    name: request.name,
    promoCode: request.promoCode,
    clientAddress: request.clientAddress ?? "unknown",
    idempotency: await idempotencyScope(key, user, request, purchase, phone),
  };
}

function invalidItemsOf(code: "mixed_events", message: string) {
  return DomainError.validation({ items: [message] }, code);
}

/** The request, checked: `items` per §11.2, or the original single-tier form as before. */
export function checkedOrder(deps: Deps, request: CheckoutRequest, now: number): Promise<CheckedOrder> {
  if (request.items !== undefined) return checkedItems(deps, request, now);
  if (request.tierId === undefined) {
    return Promise.reject(DomainError.field("tier_id", "This field is required."));
  }
  return checkedSingle(deps, request, request.tierId, now);
}
