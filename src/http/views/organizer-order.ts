/** The organizer's view of an order (contract §11.7): unmasked, money as numbers. */
import { z } from "@hono/zod-openapi";
import { ORDER_STATUSES } from "../../db/schema";
import { toNairobiIso } from "../../lib/time";
import type { OrganizerOrder, OrganizerOrderDetail } from "../../services/organizer-orders";
import { pageSchema } from "../pagination";
import { OrderLineSchema } from "./payment";
import { RefundSchema, toRefund } from "./refund";

export const OrganizerOrderSchema = z
  .object({
    id: z.string(),
    reference: z.string(),
    event_id: z.string(),
    event_title: z.string(),
    status: z.enum(ORDER_STATUSES),
    refund_status: z.enum(["NONE", "PARTIAL", "FULL"]),
    buyer_name: z.string(),
    buyer_email: z.string(),
    buyer_phone: z.string().nullable(),
    items: z.array(OrderLineSchema),
    subtotal: z.number(),
    discount: z.number(),
    amount: z.number(),
    amount_paid: z.number(),
    amount_refunded: z.number(),
    refundable: z.number(),
    promo_code: z.string().nullable(),
    mpesa_receipt: z.string().nullable(),
    ticket_ids: z.array(z.string()),
    delivery_failed: z.boolean(),
    created_at: z.string(),
    paid_at: z.string().nullable(),
  })
  .openapi("OrganizerOrder");

export const OrganizerOrderPageSchema = pageSchema(OrganizerOrderSchema).openapi("OrganizerOrderPage");

export const OrganizerOrderDetailSchema = OrganizerOrderSchema.extend({
  refunds: z.array(RefundSchema).openapi({ description: "Every refund of the order, newest first (§13.1)" }),
  tickets: z.array(
    z.object({
      id: z.string(),
      tier_name: z.string(),
      status: z.string(),
      attendee_name: z.string(),
      transfer_count: z.number().int(),
    }),
  ),
}).openapi("OrganizerOrderDetail");

/** §13.2: the orders a refund may be asked for. */
const REFUNDABLE = new Set(["COMPLETED", "PAID_UNFULFILLED", "UNDER_REVIEW"]);

/** §11.7: `FULL` when everything paid came back, `PARTIAL` when some did. */
function refundStatusOf(amountPaid: number, refunded: number): "NONE" | "PARTIAL" | "FULL" {
  if (refunded <= 0) return "NONE";
  return amountPaid > 0 && refunded >= amountPaid ? "FULL" : "PARTIAL";
}

export function toOrganizerOrder({
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

export function toOrganizerOrderDetail(detail: OrganizerOrderDetail) {
  return {
    ...toOrganizerOrder(detail),
    refunds: detail.refunds.map(toRefund),
    tickets: detail.tickets.map((t) => ({
      id: t.id,
      tier_name: t.tierName,
      status: t.status,
      attendee_name: t.attendeeName,
      transfer_count: 0,
    })),
  };
}
