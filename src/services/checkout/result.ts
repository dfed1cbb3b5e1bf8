/**
 * What a checkout ends in, as domain data: a free booking, or a payment started on the
 * buyer's phone. The HTTP layer shapes it (201 BookingConfirmed / 202 PaymentInitiated); the
 * idempotency table keeps it, so a replay is shaped by the same code into the same bytes.
 */
import { z } from "zod";

/** A priced line as answered (§11.3); whole shillings. */
const AnsweredLine = z.object({
  tierId: z.string(),
  tierName: z.string(),
  quantity: z.number().int(),
  unitPrice: z.number().int(),
  discount: z.number().int(),
  lineTotal: z.number().int(),
});
export type AnsweredLine = z.infer<typeof AnsweredLine>;

/**
 * The order's lines and sums (§11.5). Optional: answers stored before §11 lack them (and are
 * rendered without them: a replay answers what the first request answered).
 */
const Lines = {
  items: z.array(AnsweredLine).optional(),
  subtotal: z.number().int().optional(),
  discount: z.number().int().optional(),
};

const Booked = z.object({
  kind: z.literal("booked"),
  /** `FREE-…`. */
  reference: z.string(),
  orderId: z.string().optional(),
  ...Lines,
  /** In seat order. */
  ticketIds: z.array(z.string()),
  quantity: z.number().int(),
});

const PaymentStarted = z.object({
  kind: z.literal("payment_started"),
  /** `TS-…`: the AccountReference of the push. */
  reference: z.string(),
  orderId: z.string(),
  checkoutRequestId: z.string(),
  /** Whole shillings. */
  amount: z.number().int(),
  /** Epoch ms: when the seats go back on sale unless paid. */
  holdExpiresAt: z.number(),
  ...Lines,
});

const CheckoutResultSchema = z.discriminatedUnion("kind", [Booked, PaymentStarted]);
export type CheckoutResult = z.infer<typeof CheckoutResultSchema>;

/**
 * Answers stored before checkout returned domain data: the response body itself (its status
 * in `response_status`). Read back into the result they describe, which renders to the same
 * body. Such rows expire within 24 hours of the deploy; this can go after that.
 */
/** The lines as a stored HTTP body has them (§11.5), back into the result's. */
const LegacyLines = {
  items: z
    .array(
      z.object({
        tier_id: z.string(),
        tier_name: z.string(),
        quantity: z.number().int(),
        unit_price: z.number().int(),
        discount: z.number().int(),
        line_total: z.number().int(),
      }),
    )
    .optional(),
  subtotal: z.number().int().optional(),
  discount: z.number().int().optional(),
};

function linesFromBody(body: {
  items?: Array<{
    tier_id: string;
    tier_name: string;
    quantity: number;
    unit_price: number;
    discount: number;
    line_total: number;
  }>;
  subtotal?: number;
  discount?: number;
}) {
  if (!body.items) return {};
  return {
    items: body.items.map((line) => ({
      tierId: line.tier_id,
      tierName: line.tier_name,
      quantity: line.quantity,
      unitPrice: line.unit_price,
      discount: line.discount,
      lineTotal: line.line_total,
    })),
    subtotal: body.subtotal ?? 0,
    discount: body.discount ?? 0,
  };
}

const LegacyStoredAnswer = z.union([
  z
    .object({
      status: z.literal("Booking Confirmed"),
      transaction_ref: z.string(),
      order_id: z.string().optional(),
      ticket_ids: z.array(z.string()),
      quantity: z.number().int(),
      ...LegacyLines,
    })
    .transform(
      (body): CheckoutResult => ({
        kind: "booked",
        reference: body.transaction_ref,
        ...(body.order_id ? { orderId: body.order_id } : {}),
        ticketIds: body.ticket_ids,
        quantity: body.quantity,
        ...linesFromBody(body),
      }),
    ),
  z
    .object({
      status: z.literal("Payment Initiated"),
      transaction_ref: z.string(),
      order_id: z.string(),
      checkout_request_id: z.string(),
      amount: z.number().int(),
      expires_at: z.string(),
      ...LegacyLines,
    })
    .transform(
      (body): CheckoutResult => ({
        kind: "payment_started",
        reference: body.transaction_ref,
        orderId: body.order_id,
        checkoutRequestId: body.checkout_request_id,
        amount: body.amount,
        // Rendered back to the same whole-second `+03:00` time it was rendered from.
        holdExpiresAt: Date.parse(body.expires_at),
        ...linesFromBody(body),
      }),
    ),
]);

/** A stored answer (either format) as the result it records. */
export const StoredCheckoutResultSchema = z.union([CheckoutResultSchema, LegacyStoredAnswer]);
