/**
 * Valid promo codes this isolate looked up, kept for a couple of seconds (as tier facts are,
 * services/tier-sale-cache.ts).
 *
 * Why: "the first 100 fans get 20 % off on radio" means hundreds of checkouts a second typing
 * the same code. §12.4 counts only failures, so a code this isolate has just seen valid needs
 * no attempt taken and given back on D1's primary: the checkout reads the address's count (to
 * answer 429 past the limit, as the contract says even for a valid code) from the nearest
 * copy and goes on. Unknown, inactive or expired codes are never kept: every failure still
 * takes its attempt atomically before its lookup, so guessing costs exactly what it did.
 *
 * What staleness can do, bounded by CODE_TTL_MS: an organizer's edit (deactivation, new value,
 * window, tiers) reaches other isolates up to that long after it is saved (this isolate forgets
 * at once: promo and event edits call `forgetEventCodes`). Uses are never cached: the code's
 * object decides every reservation, and a deleted code's object is retired, so nothing is
 * over-redeemed whatever a cache says.
 */
import type { PromoCodeRow } from "../../db/schema";
import { LruMap } from "../../lib/lru";

const CODE_TTL_MS = 2_000;
const MAX_ENTRIES = 512;

export interface KnownCode {
  row: PromoCodeRow;
  /** The code's tiers ([] = every tier). */
  tierIds: string[];
}

interface Entry {
  eventId: string;
  found: KnownCode;
  loadedAt: number;
}

const entries = new LruMap<string, Entry>(MAX_ENTRIES);

const keyOf = (eventId: string, code: string) => `${eventId}\u0000${code}`;

/** The code (normalised) as last found valid for the event, at most CODE_TTL_MS ago. */
export function recentlyValidCode(eventId: string, code: string, now: number): KnownCode | undefined {
  const entry = entries.get(keyOf(eventId, code));
  if (!entry || now < entry.loadedAt || now - entry.loadedAt >= CODE_TTL_MS) return undefined;
  return entry.found;
}

/** Keep a code that was just found valid for an order of the event. */
export function rememberValidCode(eventId: string, code: string, found: KnownCode, now: number): void {
  entries.set(keyOf(eventId, code), { eventId, found, loadedAt: now });
}

/** An organizer changed the event, its tiers or its codes: this isolate stops using what it kept. */
export function forgetEventCodes(eventId: string): void {
  for (const [key, entry] of entries) {
    if (entry.eventId === eventId) entries.delete(key);
  }
}
