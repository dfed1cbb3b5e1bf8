/**
 * The organizer's view of an order (contract §11.7) as plain data: the organizer order routes
 * answer it, and `order.completed` / `order.refunded` webhook events carry it as their
 * snapshot (§16.2). Unmasked (the organizer's own record), money as numbers.
 */
import { toNairobiIso } from "../lib/time";
import type { OrganizerOrder } from "./organizer-order-rows";

/** §13.2: the orders a refund may be asked for. */
const REFUNDABLE = new Set(["COMPLETED", "PAID_UNFULFILLED", "UNDER_REVIEW"]);

/** §11.7: `FULL` when everything paid came back, `PARTIAL` when some did. */
function refundStatusOf(amountPaid: number, refunded: number): "NONE" | "PARTIAL" | "FULL" {
  if (refunded <= 0) return "NONE";
  return amountPaid > 0 && refunded >= amountPaid ? "FULL" : "PARTIAL";
}

export function organizerOrderSnapshot({
  order,
  eventTitle,
  lines,
  ticketIds,
  refunded,
  reserved,
}: OrganizerOrder) {
  const items = lines.map((line) => ({
    tier_id: line.tierId,
    tier_name: line.tierName,
    quantity: line.quantity,
    unit_price: line.unitPrice,
    discount: line.discount,
    line_total: line.unitPrice * line.quantity - line.discount,
  }));
  const subtotal = items.reduce((sum, line) => sum + line.unit_price * line.quantity, 0);
  const discount = items.reduce((sum, line) => sum + line.discount, 0);
  // What the callback reported (0 unpaid or free); an amount under review shows what came.
  const amountPaid = order.paidAt !== null && !order.isFree ? (order.paidAmount ?? 0) : 0;
  return {
    id: order.id,
    reference: order.reference,
    event_id: order.eventId,
    event_title: eventTitle,
    status: order.status,
    refund_status: refundStatusOf(amountPaid, refunded),
    buyer_name: order.buyerName,
    buyer_email: order.buyerEmail,
    buyer_phone: order.paidPhone ?? order.phoneNumber,
    items,
    subtotal,
    discount,
    amount: order.amount,
    amount_paid: amountPaid,
    amount_refunded: refunded,
    // §13.1: what is paid less what refunds still reserve; only paid orders can be refunded.
    refundable: REFUNDABLE.has(order.status) ? Math.max(0, amountPaid - reserved) : 0,
    promo_code: order.promoCode,
    mpesa_receipt: order.mpesaReceiptNumber,
    ticket_ids: ticketIds,
    delivery_failed: order.deliveryStatus === "FAILED",
    created_at: toNairobiIso(order.createdAt) ?? "",
    paid_at: toNairobiIso(order.paidAt),
  };
}
