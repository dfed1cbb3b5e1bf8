/** Cron housekeeping for `account_tokens`, the single-use links mailed to users (src/services/accounts.ts). */
import { lt } from "drizzle-orm";
import type { Database } from "../db/client";
import { accountTokens } from "../db/schema";

const DAY = 24 * 60 * 60 * 1000;

/** Tokens expired for more than a day. Returns how many rows it deleted. */
export async function purgeAccountTokens(db: Database, now: number): Promise<number> {
  const rows = await db
    .delete(accountTokens)
    .where(lt(accountTokens.expiresAt, now - DAY))
    .returning({ id: accountTokens.id });
  return rows.length;
}
