/**
 * An order's seats across its tiers' Durable Objects (contract §11.4/§11.6): taken in
 * ascending tier id, all or nothing, and given back together. Each object is one writer for
 * its tier; the order is the unit of all-or-nothing, kept here: a refusal on any tier
 * releases what the order already holds on the others before the caller answers.
 */
import type { Database } from "../db/client";
import { confirmSeats, seedFromTier, tierInventory } from "../inventory/client";
import type { TierInventory } from "../inventory/tier-inventory";
import type { BuyerKey, InventorySnapshot, TierSeed } from "../inventory/types";
import { copyCountsStatement } from "./tier-counts";

export interface SeatDeps {
  db: Database;
  inventory: DurableObjectNamespace<TierInventory>;
}

export interface SeatRequest {
  tier: { id: string; quantityAllocated: number; quantitySold: number; maxPerBuyer: number | null };
  quantity: number;
}

export type OrderReservation =
  | {
      ok: true;
      /** The earliest of the tiers' hold expiries: the order's `expires_at`. */
      expiresAt: number;
      /** Orders of this buyer whose holds on some tier were replaced by this one. */
      replaced: string[];
      snapshots: Map<string, InventorySnapshot>;
    }
  | {
      ok: false;
      /** The first tier (ascending id) that refused. */
      tierId: string;
      refusal:
        | { reason: "sold_out"; available: number }
        | { reason: "buyer_limit"; limit: number; remaining: number }
        | { reason: "already_confirmed" }
        /** A newer initiate of the same buyer replaced this order on some tier meanwhile. */
        | { reason: "replaced" };
      /** Orders whose holds on the tiers taken before the refusal were replaced. */
      replaced: string[];
      snapshots: Map<string, InventorySnapshot>;
    };

/** Ascending tier id: every order takes its tiers in the same order (§11.4). */
function inTierOrder<T extends { tierId: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.tierId < b.tierId ? -1 : a.tierId > b.tierId ? 1 : 0));
}

/**
 * Hold every line's seats for `orderId`, or none: on a refusal the tiers already taken are
 * released before returning. Each tier checks the buyer's limit before its capacity.
 */
export async function reserveOrderSeats(
  deps: SeatDeps,
  orderId: string,
  requests: readonly SeatRequest[],
  holdMs: number,
  buyerKeys: readonly BuyerKey[],
): Promise<OrderReservation> {
  const snapshots = new Map<string, InventorySnapshot>();
  const replaced = new Set<string>();
  const taken: string[] = [];
  let expiresAt = Number.POSITIVE_INFINITY;
  for (const { tier, quantity } of inTierOrder(requests.map((r) => ({ ...r, tierId: r.tier.id })))) {
    const held = await tierInventory(deps.inventory, tier.id).reserve(
      orderId,
      quantity,
      holdMs,
      seedFromTier(tier),
      buyerKeys,
      tier.maxPerBuyer,
    );
    snapshots.set(tier.id, held.snapshot);
    if (held.ok && !held.alreadyConfirmed) {
      taken.push(tier.id);
      for (const id of held.replaced) replaced.add(id);
      expiresAt = Math.min(expiresAt, held.expiresAt);
      continue;
    }
    // Refused (or, never for a fresh id, already sold here): give back what was taken.
    const refusal = held.ok
      ? ({ reason: "already_confirmed" } as const)
      : held.reason === "sold_out"
        ? ({ reason: "sold_out", available: held.available } as const)
        : held.reason === "ended"
          ? ({ reason: "replaced" } as const)
          : ({ reason: "buyer_limit", limit: held.limit, remaining: held.remaining } as const);
    for (const [id, snapshot] of await releaseOnTiers(deps, orderId, taken)) snapshots.set(id, snapshot);
    return { ok: false, tierId: tier.id, refusal, replaced: [...replaced], snapshots };
  }
  return { ok: true, expiresAt, replaced: [...replaced], snapshots };
}

export type SeatPeek =
  | { ok: true }
  | {
      ok: false;
      /** The first tier (ascending id) that would refuse, as reserveOrderSeats would name it. */
      tierId: string;
      refusal:
        | { reason: "sold_out"; available: number }
        | { reason: "buyer_limit"; limit: number; remaining: number };
    };

/**
 * What reserveOrderSeats would answer a new order now, holding nothing: every tier asked at
 * once (read-only, so order does not matter) and the first refusal in ascending tier id
 * reported. null when some tier cannot say in one call (a sharded tier).
 */
export async function peekOrderSeats(
  deps: SeatDeps,
  requests: readonly SeatRequest[],
  buyerKeys: readonly BuyerKey[],
): Promise<SeatPeek | null> {
  const ordered = inTierOrder(requests.map((r) => ({ ...r, tierId: r.tier.id })));
  const answers = await Promise.all(
    ordered.map(({ tier, quantity }) =>
      tierInventory(deps.inventory, tier.id).peek(quantity, seedFromTier(tier), buyerKeys, tier.maxPerBuyer),
    ),
  );
  for (const [i, answer] of answers.entries()) {
    if (answer === null) return null;
    if (answer.ok) continue;
    const tierId = ordered[i]?.tierId ?? "";
    return answer.reason === "sold_out"
      ? { ok: false, tierId, refusal: { reason: "sold_out", available: answer.available } }
      : {
          ok: false,
          tierId,
          refusal: { reason: "buyer_limit", limit: answer.limit, remaining: answer.remaining },
        };
  }
  return { ok: true };
}

/** One call per tier, side by side; each tier's snapshot after it. */
async function onEveryTier(
  deps: SeatDeps,
  tierIds: readonly string[],
  call: (tier: ReturnType<typeof tierInventory>) => Promise<InventorySnapshot>,
): Promise<Map<string, InventorySnapshot>> {
  const snapshots = await Promise.all(
    tierIds.map(async (tierId) => [tierId, await call(tierInventory(deps.inventory, tierId))] as const),
  );
  return new Map(snapshots);
}

/** Release `orderId`'s holds on `tierIds` (idempotent); the objects' snapshots after. */
export function releaseOnTiers(deps: SeatDeps, orderId: string, tierIds: readonly string[]) {
  return onEveryTier(deps, tierIds, (tier) => tier.release(orderId));
}

/** Put `orderId`'s sold seats on `tierIds` back on sale (idempotent); the objects' snapshots after. */
export function returnOnTiers(deps: SeatDeps, orderId: string, tierIds: readonly string[]) {
  return onEveryTier(deps, tierIds, (tier) => tier.returnSeats(orderId));
}

/** D1's copies of the counts, one statement per tier (to run in a batch). */
export function copyCountsStatements(db: Database, snapshots: Map<string, InventorySnapshot>) {
  return [...snapshots].map(([tierId, snapshot]) => copyCountsStatement(db, tierId, snapshot));
}

/** Release and copy the counts to D1 at once: the common "give the order's seats back". */
export async function releaseOrderSeats(deps: SeatDeps, orderId: string, tierIds: readonly string[]) {
  const snapshots = await releaseOnTiers(deps, orderId, tierIds);
  const [first, ...rest] = copyCountsStatements(deps.db, snapshots);
  if (first) await deps.db.batch([first, ...rest]);
}

export interface SeatsToConfirm {
  tierId: string;
  quantity: number;
  maxPerBuyer: number | null;
}

export type OrderConfirmation =
  | { ok: true; snapshots: Map<string, InventorySnapshot> }
  | { ok: false; reason: "seats_gone" | "buyer_limit"; snapshots: Map<string, InventorySnapshot> };

/**
 * The order is paid: every line's hold becomes sold, or, paid late with some tier's seats gone
 * (or the buyer over a limit), none is kept — the seats sold a moment ago by this call go
 * back, the other holds are released (§11.6: three tickets of four friends' order is worse
 * than the money back).
 */
export async function confirmOrderSeats(
  deps: SeatDeps,
  orderId: string,
  lines: readonly SeatsToConfirm[],
  buyerKeys: readonly BuyerKey[],
  loadSeed: (tierId: string) => Promise<TierSeed | undefined>,
): Promise<OrderConfirmation> {
  const snapshots = new Map<string, InventorySnapshot>();
  const soldNow: string[] = [];
  const ordered = inTierOrder(lines);
  for (const [i, line] of ordered.entries()) {
    const confirmed = await confirmSeats(
      deps.inventory,
      line.tierId,
      orderId,
      line.quantity,
      () => loadSeed(line.tierId),
      { keys: buyerKeys, maxPerBuyer: line.maxPerBuyer },
    );
    snapshots.set(line.tierId, confirmed.snapshot);
    if (confirmed.ok) {
      if (!confirmed.alreadyConfirmed) soldNow.push(line.tierId);
      continue;
    }
    const rest = ordered.slice(i + 1).map((l) => l.tierId);
    const returned = await returnOnTiers(deps, orderId, soldNow);
    for (const [tierId, snapshot] of [...returned, ...(await releaseOnTiers(deps, orderId, rest))]) {
      snapshots.set(tierId, snapshot);
    }
    return { ok: false, reason: confirmed.reason, snapshots };
  }
  return { ok: true, snapshots };
}
