/**
 * An order's lines (contract §11): one per tier, with the prices frozen at initiate. Orders
 * made before lines existed have none stored; they are their own single line, read from the
 * order row (its tier, total seats and unit price), so every reader sees lines either way.
 */
import { asc, eq, inArray } from "drizzle-orm";
import type { Database } from "../db/client";
import { type Order, orderItems, orders, tiers } from "../db/schema";

export interface OrderLine {
  tierId: string;
  tierName: string;
  quantity: number;
  unitPrice: number;
  discount: number;
  discountedSeats: number;
  /** The tier's limit now (§15); a late payment re-reserves against it. */
  maxPerBuyer: number | null;
}

/** The order's lines in the buyer's `items` order. */
export async function orderLines(
  db: Database,
  order: Pick<Order, "id" | "tierId" | "quantity" | "unitPrice">,
): Promise<OrderLine[]> {
  const stored = await storedLinesQuery(db, order.id);
  if (stored.length > 0) return stored;
  return [await ownLine(db, order)];
}

/**
 * The order's stored lines as one statement (a batch can carry it beside the order's own
 * read); an order made before lines existed has none: `ownLine` is its line.
 */
export function storedLinesQuery(db: Database, orderId: string) {
  return db
    .select({
      tierId: orderItems.tierId,
      tierName: tiers.name,
      quantity: orderItems.quantity,
      unitPrice: orderItems.unitPrice,
      discount: orderItems.discount,
      discountedSeats: orderItems.discountedSeats,
      maxPerBuyer: tiers.maxPerBuyer,
    })
    .from(orderItems)
    .innerJoin(tiers, eq(tiers.id, orderItems.tierId))
    .where(eq(orderItems.orderId, orderId))
    .orderBy(asc(orderItems.position));
}

async function ownLine(
  db: Database,
  order: Pick<Order, "id" | "tierId" | "quantity" | "unitPrice">,
): Promise<OrderLine> {
  const tier = await db.query.tiers.findFirst({
    where: eq(tiers.id, order.tierId),
    columns: { name: true, maxPerBuyer: true },
  });
  return {
    tierId: order.tierId,
    tierName: tier?.name ?? "",
    quantity: order.quantity,
    unitPrice: order.unitPrice,
    discount: 0,
    discountedSeats: 0,
    maxPerBuyer: tier?.maxPerBuyer ?? null,
  };
}

/** The tiers each of `orderIds` holds seats on (its lines', or its own for an old order). */
export async function tiersOfOrders(
  db: Database,
  orderIds: readonly string[],
): Promise<Map<string, string[]>> {
  const byOrder = new Map<string, Set<string>>();
  if (orderIds.length === 0) return new Map();
  const [lines, rows] = await Promise.all([
    db
      .select({ orderId: orderItems.orderId, tierId: orderItems.tierId })
      .from(orderItems)
      .where(inArray(orderItems.orderId, [...orderIds])),
    db
      .select({ orderId: orders.id, tierId: orders.tierId })
      .from(orders)
      .where(inArray(orders.id, [...orderIds])),
  ]);
  for (const { orderId, tierId } of [...lines, ...rows]) {
    const set = byOrder.get(orderId) ?? new Set<string>();
    set.add(tierId);
    byOrder.set(orderId, set);
  }
  return new Map([...byOrder].map(([id, set]) => [id, [...set]]));
}
