/**
 * Money: whole Kenyan shillings as integers inside; `"1500.00"` (DRF DecimalField) for
 * stored prices on the wire, a JSON number for computed amounts. M-Pesa moves whole
 * shillings, so a price with cents is refused on input.
 */
import { z } from "@hono/zod-openapi";

export const MAX_PRICE_KES = 1_000_000;

export function formatPrice(shillings: number): string {
  return `${shillings}.00`;
}

/** Accepts 1500, "1500", "1500.00", "1500.0"; refuses cents, negatives, junk. */
export const PriceInput = z.union([z.number(), z.string().trim()]).transform((value, ctx) => {
  const text = typeof value === "number" ? String(value) : value;
  const match = /^(\d{1,9})(?:\.(\d{1,2}))?$/.exec(text);
  if (!match) {
    ctx.addIssue({
      code: "custom",
      message: /^-\d/.test(text)
        ? "Ensure this value is greater than or equal to 0."
        : "A valid number is required.",
    });
    return z.NEVER;
  }
  if (match[2] && Number(match[2]) !== 0) {
    ctx.addIssue({ code: "custom", message: "M-Pesa takes whole shillings: the price cannot have cents." });
    return z.NEVER;
  }
  const shillings = Number(match[1]);
  if (shillings > MAX_PRICE_KES) {
    ctx.addIssue({ code: "custom", message: `Ensure this value is less than or equal to ${MAX_PRICE_KES}.` });
    return z.NEVER;
  }
  return shillings;
});
