/**
 * Money: whole Kenyan shillings as integers inside; `"1500.00"` (DRF DecimalField) for
 * stored prices on the wire, a JSON number for computed amounts. M-Pesa moves whole
 * shillings, so a price with cents is refused on input.
 */

export const MAX_PRICE_KES = 1_000_000;

export function formatPrice(shillings: number): string {
  return `${shillings}.00`;
}
