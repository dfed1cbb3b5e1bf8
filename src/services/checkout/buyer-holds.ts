/**
 * One buyer, one open hold per tier (contract §4.3): who a checkout's buyer is, as the tier's
 * seat object compares buyers, and what happens in D1 to the orders whose holds a buyer's
 * new initiate replaced.
 */
import { and, eq, gt, inArray } from "drizzle-orm";
import type { Database } from "../../db/client";
import { orders } from "../../db/schema";
import type { BuyerKey } from "../../inventory/types";
import { inboxKey } from "../../lib/inbox-key";

export interface HoldBuyer {
  /** The signed-in account, if any. */
  userId: string | null;
  /** The account's email, or the guest's as typed. */
  email: string;
  /** Normalised (2547…/2541…). */
  phone: string;
  /** A free order has no M-Pesa phone: what the client sends there (the web client sends the
   * placeholder 254700000000 for everyone) identifies nobody. */
  paid: boolean;
}

/**
 * The keys of a buyer (contract §15.2): the account, the email normalised to its inbox (lower
 * case, no +tag, Gmail dots folded: `+1` addresses are the cheapest way around a per-email
 * cap) and, on a paid order, the phone the STK push goes to. On a paid order every phone
 * counts, the placeholder too: that is the number prompted, and exempting it would let one
 * client hold a tier with many emails. The same keys serve the open-hold rule (§4.3) and
 * the buyer limits (§15), both matched inside the tier's object.
 */
export function holdBuyerKeys(buyer: HoldBuyer): BuyerKey[] {
  const keys: BuyerKey[] = [];
  if (buyer.userId) keys.push(`user:${buyer.userId}`);
  const email = inboxKey(buyer.email);
  if (email) keys.push(`email:${email}`);
  if (buyer.paid && buyer.phone) keys.push(`phone:${buyer.phone}`);
  return keys;
}

/**
 * The orders whose holds were replaced no longer hold seats, but stay PENDING: their STK
 * prompt may still be on the buyer's phone and be paid. PENDING (with the hold ended now)
 * hands them to the cron's STK query, which settles a lost callback too; a payment follows
 * the late-confirm path (tickets if seats remain, else PAID_UNFULFILLED for refund). FAILED
 * would drop them from that query, and a paid prompt whose callback was lost would be
 * money with no order to show for it.
 */
export function endReplacedHolds(db: Database, orderIds: string[], now: number) {
  return db
    .update(orders)
    .set({ holdExpiresAt: now, updatedAt: now })
    .where(and(inArray(orders.id, orderIds), eq(orders.status, "PENDING"), gt(orders.holdExpiresAt, now)));
}
