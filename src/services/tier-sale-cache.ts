/**
 * The tier and event rows a checkout needs (price, limits, sale window, publication), kept per
 * isolate for a couple of seconds.
 *
 * Why: in a flash sale a thousand buyers ask about one tier in the same second. Seats are the
 * Durable Object's business and never come from here; this only saves every buyer the same D1
 * read, so a sold-out answer costs one object call and nothing else.
 *
 * What staleness can do, bounded by TIER_SALE_TTL_MS: an organizer's price or publication
 * change reaches other isolates up to that long after it is saved (this isolate forgets at
 * once: organizer edits call `forgetEventSaleFacts`). Sale windows are still judged against
 * the clock on every request, and cancelling an event closes the tier's object, so nothing
 * is sold for a cancelled event whatever a cache says.
 *
 * A miss reads the nearest copy of D1 when one is given (issue 15 part 3: the checkout's
 * critical path crosses no ocean for these rows), and the primary only when the copy does not
 * know the tier yet (one created a moment ago). A copy trails the primary by replication lag,
 * normally well under a second: within the same bound as this cache's own staleness.
 */
import { eq } from "drizzle-orm";
import type { Database } from "../db/client";
import { events, tiers } from "../db/schema";
import { LruMap } from "../lib/lru";

const TIER_SALE_TTL_MS = 2_000;
const MAX_ENTRIES = 512;

interface TierSaleFacts {
  tier: typeof tiers.$inferSelect;
  event: typeof events.$inferSelect;
}

interface Entry {
  facts: TierSaleFacts;
  loadedAt: number;
}

const entries = new LruMap<string, Entry>(MAX_ENTRIES);

/** The tier with its event, or null when no such tier exists; at most TIER_SALE_TTL_MS old. */
export async function tierSaleFacts(
  db: Database,
  tierId: string,
  now = Date.now(),
  nearDb?: Database,
): Promise<TierSaleFacts | null> {
  const cached = entries.get(tierId);
  if (cached && now >= cached.loadedAt && now - cached.loadedAt < TIER_SALE_TTL_MS) return cached.facts;
  // No sharing of a read in flight between requests: a Worker must not await I/O that
  // belongs to another request (it may be cancelled with it). A miss costs one read each.
  const found = (nearDb && (await readFacts(nearDb, tierId))) || (await readFacts(db, tierId));
  // Unknown tiers are not remembered: random ids must not crowd out real ones.
  if (found) entries.set(tierId, { facts: found, loadedAt: now });
  return found ?? null;
}

async function readFacts(db: Database, tierId: string): Promise<TierSaleFacts | undefined> {
  const [found] = await db
    .select({ tier: tiers, event: events })
    .from(tiers)
    .innerJoin(events, eq(events.id, tiers.eventId))
    .where(eq(tiers.id, tierId))
    .limit(1);
  return found;
}

/** An organizer changed the event or its tiers: this isolate stops using what it kept. */
export function forgetEventSaleFacts(eventId: string): void {
  for (const [tierId, entry] of entries) {
    if (entry.facts.event.id === eventId) entries.delete(tierId);
  }
}
