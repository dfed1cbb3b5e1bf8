/**
 * Field parsers shared by JSON and multipart bodies. Multipart sends everything as strings
 * (`"true"`, `"2026-12-05T18:00"`), JSON sends real types; both must mean the same thing.
 */
import { z } from "@hono/zod-openapi";
import { MAX_PRICE_KES } from "../lib/money";
import { parseDateTime } from "../lib/time";

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/** DRF BooleanField: true/false, or their usual string spellings. */
export const BooleanInput = z.union([z.boolean(), z.string(), z.number()]).transform((value, ctx) => {
  if (typeof value === "boolean") return value;
  const text = String(value).trim().toLowerCase();
  if (TRUE.has(text)) return true;
  if (FALSE.has(text)) return false;
  ctx.addIssue({ code: "custom", message: "Must be a valid boolean." });
  return z.NEVER;
});

/** ISO 8601 with any offset (a bare local time is Nairobi time) → epoch ms. */
export const DateTimeInput = z.string().transform((value, ctx) => {
  const ms = parseDateTime(value);
  if (ms === null) {
    ctx.addIssue({
      code: "custom",
      message:
        "Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
    });
    return z.NEVER;
  }
  return ms;
});

/** Whole number from JSON or a form string. */
export function IntegerInput(min: number, max: number) {
  return z.union([z.number(), z.string().trim()]).transform((value, ctx) => {
    const text = String(value);
    if (!/^-?\d{1,12}$/.test(text)) {
      ctx.addIssue({ code: "custom", message: "A valid integer is required." });
      return z.NEVER;
    }
    const n = Number(text);
    if (n < min)
      ctx.addIssue({ code: "custom", message: `Ensure this value is greater than or equal to ${min}.` });
    else if (n > max)
      ctx.addIssue({ code: "custom", message: `Ensure this value is less than or equal to ${max}.` });
    else return n;
    return z.NEVER;
  });
}

/** A URL (http/https) or empty. */
export const OptionalLink = z.union([
  z.literal(""),
  z
    .string()
    .trim()
    .max(500)
    .pipe(z.url({ protocol: /^https?$/, error: "Enter a valid URL." })),
]);

/** A file field (multipart) — validated by lib/images; "" or null means none/remove. */
export const FileInput = z.any().openapi({ type: "string", format: "binary" });

/** An optional form field left blank (`""`) or sent as null counts as not sent. */
export const emptyToUndefined = (value: unknown) => (value === "" || value === null ? undefined : value);

/** Django's username validator, for registration and for scanner accounts alike. */
export const Username = z
  .string()
  .trim()
  .min(1)
  .max(150)
  .regex(/^[\w.@+-]+$/, {
    error: "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
  });

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
