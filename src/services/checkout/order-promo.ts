/**
 * An order's promo uses follow its seats (contract §11.4, §12.3): wherever checkout or
 * settlement releases an order's tier holds, it calls `releaseOrderPromo` too, so one call
 * site cannot forget the code. Orders without a code cost nothing (no object is touched).
 */
import { and, inArray, isNotNull } from "drizzle-orm";
import { orders } from "../../db/schema";
import { type CheckoutPromoDeps, releasePromoUses } from "../promo-codes/at-checkout";

export interface OrderPromoRef {
  id: string;
  promoCodeId: string | null;
}

/** The order's hold ended: its reserved uses go back (idempotent; never undoes a consume). */
export async function releaseOrderPromo(deps: CheckoutPromoDeps, order: OrderPromoRef): Promise<void> {
  if (order.promoCodeId) await releasePromoUses(deps, order.promoCodeId, [order.id]);
}

/** Orders replaced by a buyer's new initiate (§11.4): their uses go with their seats. */
export async function releaseReplacedOrdersPromo(
  deps: CheckoutPromoDeps,
  orderIds: readonly string[],
): Promise<void> {
  if (orderIds.length === 0) return;
  const rows = await deps.db
    .select({ id: orders.id, promoCodeId: orders.promoCodeId })
    .from(orders)
    .where(and(inArray(orders.id, [...orderIds]), isNotNull(orders.promoCodeId)));
  for (const row of rows) await releaseOrderPromo(deps, row);
}
