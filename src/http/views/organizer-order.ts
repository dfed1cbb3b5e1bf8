/** The organizer's view of an order (contract §11.7): unmasked, money as numbers. */
import { z } from "@hono/zod-openapi";
import { ORDER_STATUSES } from "../../db/schema";
import { organizerOrderSnapshot } from "../../services/order-snapshot";
import type { OrganizerOrderDetail } from "../../services/organizer-orders";
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

/** The mapping lives with the services: webhook events carry the same snapshot (§16.2). */
export const toOrganizerOrder = organizerOrderSnapshot;

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
