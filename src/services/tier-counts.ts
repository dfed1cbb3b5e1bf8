/**
 * D1's copy of a tier's seat counts (`quantity_sold`, `quantity_held`), which listings read.
 * The tier's Durable Object is the authority; D1 only ever takes a newer snapshot of it.
 */
import { and, eq, lt } from "drizzle-orm";
import type { Database } from "../db/client";
import { tiers } from "../db/schema";
import type { InventorySnapshot } from "../inventory/types";

/** Copy the object's counts into D1 for listings, never rolling back to an older snapshot. */
export function copyCountsStatement(db: Database, tierId: string, snapshot: InventorySnapshot) {
  return db
    .update(tiers)
    .set({ quantitySold: snapshot.sold, quantityHeld: snapshot.held, inventoryVersion: snapshot.version })
    .where(and(eq(tiers.id, tierId), lt(tiers.inventoryVersion, snapshot.version)));
}
