/**
 * Checkout's answers on the wire (contract §4): the free booking (201), the started payment
 * (202) and the payment status that verify/ polls. Field names and order are the original
 * backend's; an idempotent replay is shaped here from the stored result, into the same bytes.
 */
import { z } from "@hono/zod-openapi";
import { toNairobiIso } from "../../lib/time";
import type { CheckoutResult } from "../../services/checkout/result";
import type { PaymentStatus } from "../../services/payment-status";

/** One priced line of an order (contract §11.3). */
export const OrderLineSchema = z
  .object({
    tier_id: z.string(),
    tier_name: z.string(),
    quantity: z.number().int(),
    unit_price: z.number(),
    discount: z.number(),
    line_total: z.number(),
  })
  .openapi("OrderLine");

/** The order's lines and sums; absent only from answers replayed from before §11. */
const OrderSums = {
  items: z.array(OrderLineSchema).optional(),
  subtotal: z.number().optional(),
  discount: z.number().optional(),
};

export const BookingConfirmedSchema = z
  .object({
    status: z.literal("Booking Confirmed"),
    transaction_ref: z.string(),
    order_id: z.string().optional(),
    ticket_id: z.string().nullable(),
    ticket_ids: z.array(z.string()),
    quantity: z.number().int().openapi({ description: "The order's total seats" }),
    ...OrderSums,
    amount: z.number().optional().openapi({ description: "0: nothing to pay" }),
  })
  .openapi("BookingConfirmed");

export const PaymentInitiatedSchema = z
  .object({
    status: z.literal("Payment Initiated"),
    transaction_ref: z.string(),
    order_id: z.string(),
    checkout_request_id: z.string(),
    amount: z.number().openapi({ description: "What the STK push asks for: subtotal − discount" }),
    expires_at: z.string(),
    ...OrderSums,
    authorization_url: z.string().openapi({
      description:
        "The web client's payment status page for this order (`{FRONTEND_URL}/payment/callback?reference=<transaction_ref>`, which polls verify/). The web client redirects the browser there while the customer confirms the STK prompt on their phone.",
    }),
  })
  .openapi("PaymentInitiated");

/** The lines and sums as answered, when the result has them. */
function orderSums(result: CheckoutResult) {
  if (!result.items) return {};
  return {
    items: result.items.map((line) => ({
      tier_id: line.tierId,
      tier_name: line.tierName,
      quantity: line.quantity,
      unit_price: line.unitPrice,
      discount: line.discount,
      line_total: line.lineTotal,
    })),
    subtotal: result.subtotal ?? 0,
    discount: result.discount ?? 0,
  };
}

export function toBookingConfirmed(
  result: Extract<CheckoutResult, { kind: "booked" }>,
): z.infer<typeof BookingConfirmedSchema> {
  return {
    status: "Booking Confirmed",
    transaction_ref: result.reference,
    ...(result.orderId ? { order_id: result.orderId } : {}),
    ticket_id: result.ticketIds[0] ?? null,
    ticket_ids: result.ticketIds,
    quantity: result.quantity,
    ...orderSums(result),
    ...(result.items ? { amount: 0 } : {}),
  };
}

export function toPaymentInitiated(
  frontendUrl: string,
  result: Extract<CheckoutResult, { kind: "payment_started" }>,
): z.infer<typeof PaymentInitiatedSchema> {
  return {
    status: "Payment Initiated",
    transaction_ref: result.reference,
    order_id: result.orderId,
    checkout_request_id: result.checkoutRequestId,
    amount: result.amount,
    expires_at: toNairobiIso(result.holdExpiresAt),
    ...orderSums(result),
    // The web client sends the browser here (its own polling page); see the schema.
    authorization_url: `${frontendUrl}/payment/callback?reference=${encodeURIComponent(result.reference)}`,
  };
}

export const PaymentStatusSchema = z
  .object({
    status: z.enum(["PENDING", "COMPLETED", "FAILED"]),
    reference: z.string(),
    reason: z.string().nullable(),
    ticket_ids: z.array(z.string()),
    amount_refunded: z.number(),
  })
  .openapi("PaymentStatus");

export function toPaymentStatus(status: PaymentStatus): z.infer<typeof PaymentStatusSchema> {
  return {
    status: status.state,
    reference: status.reference,
    reason: status.reason,
    ticket_ids: status.ticketIds,
    amount_refunded: status.amountRefunded,
  };
}
