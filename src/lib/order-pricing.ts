/**
 * An order's prices (contract §11.3), computed on the server only and frozen on the order:
 * a line per tier, then the order's subtotal, discount and amount. Pure, so checkout, tests
 * and the promo code step (§12.3) agree on every shilling.
 *
 * The seam for discounts: `priceOrder(lines, discounts)` takes, per line, how many of its
 * seats are discounted and by how much each (what a promo code's object grants, §12.3); with
 * none every line is at full price. A discount is clamped so no seat goes below 0.
 */

export interface LineToPrice {
  tierId: string;
  tierName: string;
  quantity: number;
  /** The tier's price now, whole shillings. */
  unitPrice: number;
}

/** What a discount step grants one line: `seats` of its seats, each `perSeat` shillings off. */
export interface LineDiscount {
  seats: number;
  perSeat: number;
}

export interface PricedLine extends LineToPrice {
  /** The line's total discount. */
  discount: number;
  /** How many seats carry it (each the same amount off). */
  discountedSeats: number;
  lineTotal: number;
}

export interface PricedOrder {
  lines: PricedLine[];
  subtotal: number;
  discount: number;
  /** What the buyer pays: subtotal − discount, never below 0. 0 = the free path. */
  amount: number;
}

export function priceOrder(
  lines: readonly LineToPrice[],
  discounts: readonly (LineDiscount | undefined)[] = [],
): PricedOrder {
  const priced = lines.map((line, i): PricedLine => {
    const grant = discounts[i];
    const seats = grant ? Math.max(0, Math.min(line.quantity, Math.floor(grant.seats))) : 0;
    const perSeat = grant ? Math.max(0, Math.min(line.unitPrice, Math.floor(grant.perSeat))) : 0;
    const discount = seats * perSeat;
    return {
      ...line,
      discount,
      discountedSeats: perSeat > 0 ? seats : 0,
      lineTotal: line.unitPrice * line.quantity - discount,
    };
  });
  const subtotal = priced.reduce((sum, line) => sum + line.unitPrice * line.quantity, 0);
  const discount = priced.reduce((sum, line) => sum + line.discount, 0);
  return { lines: priced, subtotal, discount, amount: Math.max(0, subtotal - discount) };
}

/**
 * What each seat of a line was paid (a ticket's `price_paid`): the discounted seats first,
 * each `discount / discountedSeats` off, then the rest at the unit price.
 */
export function seatPrices(line: {
  quantity: number;
  unitPrice: number;
  discount: number;
  discountedSeats: number;
}): number[] {
  const perSeat = line.discountedSeats > 0 ? Math.floor(line.discount / line.discountedSeats) : 0;
  return Array.from({ length: line.quantity }, (_, seat) =>
    seat < line.discountedSeats ? line.unitPrice - perSeat : line.unitPrice,
  );
}
