/**
 * The one place an order is priced (contract §11.3, §12.3), pure: lines in, frozen amounts
 * out, so checkout, ticket issuance, the public check and tests agree on every shilling.
 * Checkout calls it twice: `eligibleSeats` before reserving uses (the most the order can ask
 * the code's object for), then `priceOrder` with the k uses the object granted (no code:
 * `priceOrder(lines, null, 0)`, every line at full price).
 *
 * Rules: an eligible seat is a seat of a covered tier (`tierIds` empty = every tier) with a
 * unit price above 0. Per eligible seat, PERCENT takes floor(unit_price × value / 100) (never
 * a fraction of a shilling: M-Pesa moves whole shillings, and rounding down never charges
 * the buyer more than the organizer promised), FIXED takes min(value, unit_price). The k
 * discounted seats are the most expensive first, ties in `items` order. Every discounted seat
 * of a line is off by the same whole amount, so a ticket's `price_paid` is exact (seatPrices).
 */

export type DiscountType = "PERCENT" | "FIXED";

export interface PromoTerms {
  discountType: DiscountType;
  /** PERCENT 1–100, FIXED ≥ 1 (KES off each eligible seat). */
  value: number;
  /** Covered tiers; empty = every tier of the event. */
  tierIds: readonly string[];
}

export interface OrderLineInput {
  tierId: string;
  tierName: string;
  quantity: number;
  /** The tier's price at initiate (whole KES). */
  unitPrice: number;
}

export interface PricedLine extends OrderLineInput {
  /** The line's total discount (KES). */
  discount: number;
  /** unit_price × quantity − discount. */
  lineTotal: number;
  /** How many of the line's seats carry the discount. */
  discountedSeats: number;
}

export interface PricedOrder {
  lines: PricedLine[];
  subtotal: number;
  discount: number;
  /** subtotal − discount, never below 0. */
  amount: number;
  /** Seats that carry the discount (≤ the k granted). */
  discountedSeats: number;
}

/** The discount on one eligible seat of price `unitPrice`. */
export function seatDiscount(unitPrice: number, terms: PromoTerms): number {
  if (!(unitPrice > 0)) return 0;
  const off =
    terms.discountType === "PERCENT"
      ? Math.floor((unitPrice * Math.min(100, Math.max(0, terms.value))) / 100)
      : Math.min(Math.max(0, terms.value), unitPrice);
  return Math.max(0, Math.min(unitPrice, Math.floor(off)));
}

function covers(terms: PromoTerms, line: OrderLineInput): boolean {
  return line.unitPrice > 0 && (terms.tierIds.length === 0 || terms.tierIds.includes(line.tierId));
}

/** Seats of the order the code could discount (what to ask the code's object for). */
export function eligibleSeats(lines: readonly OrderLineInput[], terms: PromoTerms): number {
  return lines.reduce((sum, line) => sum + (covers(terms, line) ? line.quantity : 0), 0);
}

/**
 * Price the order with `discountedSeats` (k, as granted by the code's object) discounted
 * seats, the most expensive first; no code (`terms` null) or k = 0 prices at full price.
 */
export function priceOrder(
  lines: readonly OrderLineInput[],
  terms: PromoTerms | null,
  discountedSeats: number,
): PricedOrder {
  const perLine = lines.map(() => 0);
  let left = terms ? Math.max(0, Math.floor(discountedSeats)) : 0;
  if (terms && left > 0) {
    // Stable sort: equal prices keep `items` order.
    const order = lines
      .map((line, index) => ({ line, index }))
      .filter(({ line }) => covers(terms, line))
      .sort((a, b) => b.line.unitPrice - a.line.unitPrice);
    for (const { line, index } of order) {
      if (left === 0) break;
      const seats = Math.min(left, line.quantity);
      perLine[index] = seats;
      left -= seats;
    }
  }
  const priced = lines.map((line, index): PricedLine => {
    const seats = perLine[index] ?? 0;
    const discount = terms ? seats * seatDiscount(line.unitPrice, terms) : 0;
    return {
      ...line,
      discount,
      lineTotal: line.unitPrice * line.quantity - discount,
      discountedSeats: seats,
    };
  });
  const subtotal = priced.reduce((sum, line) => sum + line.unitPrice * line.quantity, 0);
  const discount = priced.reduce((sum, line) => sum + line.discount, 0);
  return {
    lines: priced,
    subtotal,
    discount,
    amount: Math.max(0, subtotal - discount),
    discountedSeats: priced.reduce((sum, line) => sum + line.discountedSeats, 0),
  };
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
