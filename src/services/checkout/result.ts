/**
 * What a checkout ends in, as domain data: a free booking, or a payment started on the
 * buyer's phone. The HTTP layer shapes it (201 BookingConfirmed / 202 PaymentInitiated); the
 * idempotency table keeps it, so a replay is shaped by the same code into the same bytes.
 */
import { z } from "zod";

const Booked = z.object({
  kind: z.literal("booked"),
  /** `FREE-…`. */
  reference: z.string(),
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
});

const CheckoutResultSchema = z.discriminatedUnion("kind", [Booked, PaymentStarted]);
export type CheckoutResult = z.infer<typeof CheckoutResultSchema>;

/**
 * Answers stored before checkout returned domain data: the response body itself (its status
 * in `response_status`). Read back into the result they describe, which renders to the same
 * body. Such rows expire within 24 hours of the deploy; this can go after that.
 */
const LegacyStoredAnswer = z.union([
  z
    .object({
      status: z.literal("Booking Confirmed"),
      transaction_ref: z.string(),
      ticket_ids: z.array(z.string()),
      quantity: z.number().int(),
    })
    .transform(
      (body): CheckoutResult => ({
        kind: "booked",
        reference: body.transaction_ref,
        ticketIds: body.ticket_ids,
        quantity: body.quantity,
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
      }),
    ),
]);

/** A stored answer (either format) as the result it records. */
export const StoredCheckoutResultSchema = z.union([CheckoutResultSchema, LegacyStoredAnswer]);
