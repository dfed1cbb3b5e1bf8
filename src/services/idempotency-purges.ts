/** Cron housekeeping for `idempotency_keys` (src/services/idempotency.ts keeps them 24 hours). */
import { lt } from "drizzle-orm";
import type { Database } from "../db/client";
import { idempotencyKeys } from "../db/schema";

/** Keys past their expiry. Returns how many rows it deleted. */
export async function purgeIdempotencyKeys(db: Database, now: number): Promise<number> {
  const rows = await db
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.expiresAt, now))
    .returning({ key: idempotencyKeys.key });
  return rows.length;
}
