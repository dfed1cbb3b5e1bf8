/**
 * A tier and its event as the catalogue, the organizer portal and checkout read them, and the
 * rules about them that every one of those must agree on: how many seats are left to show, and
 * whether the tier is on sale now.
 */
import type { EVENT_CATEGORIES } from "../db/schema";

export interface TierRow {
  id: string;
  name: string;
  description: string;
  price: number;
  quantityAllocated: number;
  quantitySold: number;
  quantityHeld: number;
  maxPerOrder: number;
  maxPerBuyer: number | null;
  salesStart: number | null;
  salesEnd: number | null;
  position: number;
}

export interface EventRow {
  id: string;
  organizerId: string;
  storeId: string | null;
  title: string;
  description: string;
  category: (typeof EVENT_CATEGORIES)[number];
  locationName: string;
  startAt: number;
  endAt: number;
  posterKey: string | null;
  isPublished: boolean;
  isPrivate: boolean;
  /** Holders may transfer tickets (contract v3 §14.5). */
  allowTransfers: boolean;
  status: "ACTIVE" | "CANCELLED";
}

export function availableSeats(
  tier: Pick<TierRow, "quantityAllocated" | "quantitySold" | "quantityHeld">,
): number {
  return Math.max(0, tier.quantityAllocated - tier.quantitySold - tier.quantityHeld);
}

/** On sale = the event can sell (published, active, not ended) and the tier's window is open. */
export function isTierOnSale(
  event: Pick<EventRow, "isPublished" | "status" | "endAt">,
  tier: Pick<TierRow, "salesStart" | "salesEnd">,
  now: number,
): boolean {
  if (!event.isPublished || event.status !== "ACTIVE" || event.endAt <= now) return false;
  if (tier.salesStart !== null && tier.salesStart > now) return false;
  if (tier.salesEnd !== null && tier.salesEnd <= now) return false;
  return true;
}
