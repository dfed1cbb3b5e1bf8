/**
 * What each ticket of an order cost, for per-ticket refunds (contract §5 `price_paid`, §13.2),
 * when the ticket has no `price_paid` (issued before checkout froze a price per seat): the
 * payment split evenly, the odd shillings going to the first seats, so the shares always add
 * up to exactly what was paid.
 */
export interface PaidOrder {
  /** What M-Pesa actually paid (whole shillings; a fractional review amount rounds down). */
  amountPaid: number;
  quantity: number;
}

export function ticketPricePaid(order: PaidOrder, seatIndex: number): number {
  const quantity = Math.max(1, order.quantity);
  const paid = Math.max(0, Math.floor(order.amountPaid));
  const base = Math.floor(paid / quantity);
  return base + (seatIndex < paid % quantity ? 1 : 0);
}

/** The whole shillings a buyer paid for an order: the callback's Amount (0 unpaid or free). */
export function amountPaidOf(order: { status: string; paidAmount: number | null; isFree: boolean }): number {
  if (order.isFree) return 0;
  if (!["COMPLETED", "PAID_UNFULFILLED", "UNDER_REVIEW"].includes(order.status)) return 0;
  return Math.max(0, Math.floor(order.paidAmount ?? 0));
}
