/**
 * The organizer's orders (issue #12 part 4, contract §11.7): an event's orders, newest first,
 * filtered and searched, and one order with its lines and tickets; nobody else's.
 */
import { describe, expect, it } from "vitest";
import { OrganizerOrderDetailSchema, OrganizerOrderPageSchema } from "../src/http/views/organizer-order";
import { registerUser } from "./helpers/accounts";
import {
  DARAJA,
  eventWithTiers,
  guestCheckout,
  networkFakes,
  postCallback,
  uniquePhone,
} from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";

async function eventWithOrders() {
  const made = await eventWithTiers([
    { name: "VIP", price: 5000, quantity_allocated: 20 },
    { name: "Regular", price: 1500, quantity_allocated: 50 },
  ]);
  const [vip, regular] = made.tiers.map((t) => t.id);
  const email = `${uniqueName("wanjiku")}@example.com`;
  const phone = uniquePhone();
  const paid = await guestCheckout({
    items: [{ tier_id: vip }, { tier_id: regular, quantity: 2 }],
    phone_number: phone,
    email,
  });
  expect(paid.status, paid.text).toBe(202);
  const receipt = `R${String(Math.floor(Math.random() * 1e9)).padStart(9, "0")}`;
  await postCallback(
    networkFakes.daraja.callbackFor(paid.body.checkout_request_id, { resultCode: 0, receipt }),
  );
  const pending = await guestCheckout({
    tier_id: regular,
    phone_number: uniquePhone(),
    email: `${uniqueName("other")}@example.com`,
  });
  expect(pending.status, pending.text).toBe(202);
  return { ...made, vip, regular, email, phone, receipt, paid: paid.body, pending: pending.body };
}

describe("GET /api/organizer/events/{id}/orders/", () => {
  it("lists the event's orders newest first with lines, sums, payment and tickets", async () => {
    const { organizer, eventId, vip, regular, paid, pending, receipt, phone, email } =
      await eventWithOrders();
    const res = await organizer.get(`/api/organizer/events/${eventId}/orders/`, {
      schema: OrganizerOrderPageSchema,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.count).toBe(2);
    expect(res.body.results.map((o) => o.id)).toEqual([pending.order_id, paid.order_id]);
    const order = res.body.results[1];
    expect(order).toMatchObject({
      reference: paid.transaction_ref,
      event_id: eventId,
      status: "COMPLETED",
      refund_status: "NONE",
      buyer_email: email,
      buyer_phone: `254${phone.slice(1)}`,
      items: [
        { tier_id: vip, tier_name: "VIP", quantity: 1, unit_price: 5000, discount: 0, line_total: 5000 },
        {
          tier_id: regular,
          tier_name: "Regular",
          quantity: 2,
          unit_price: 1500,
          discount: 0,
          line_total: 3000,
        },
      ],
      subtotal: 8000,
      discount: 0,
      amount: 8000,
      amount_paid: 8000,
      amount_refunded: 0,
      promo_code: null,
      mpesa_receipt: receipt,
      delivery_failed: false,
    });
    expect(order?.ticket_ids).toHaveLength(3);
    expect(res.body.results[0]).toMatchObject({ status: "PENDING", amount_paid: 0, paid_at: null });
  });

  it("filters by status and finds an order by reference, receipt, email or phone in any form", async () => {
    const { organizer, eventId, paid, receipt, phone, email } = await eventWithOrders();
    const find = async (query: string) => {
      const res = await organizer.get(`/api/organizer/events/${eventId}/orders/?${query}`, {
        schema: OrganizerOrderPageSchema,
      });
      expect(res.status, res.text).toBe(200);
      return res.body.results.map((o) => o.id);
    };
    expect(await find("status=COMPLETED")).toEqual([paid.order_id]);
    expect(await find(`q=${paid.transaction_ref.toLowerCase()}`)).toEqual([paid.order_id]);
    expect(await find(`q=${receipt}`)).toEqual([paid.order_id]);
    expect(await find(`q=${encodeURIComponent(email.toUpperCase())}`)).toEqual([paid.order_id]);
    expect(await find(`q=${encodeURIComponent(`+254 ${phone.slice(1)}`)}`)).toEqual([paid.order_id]);
    expect(await find(`q=${phone}`)).toEqual([paid.order_id]);
    expect(await find("q=nobody%40example.com")).toEqual([]);
    const bad = await organizer.get(`/api/organizer/events/${eventId}/orders/?status=LOST`);
    expect(bad.status).toBe(400);
  });

  it("is 404 for another organizer's event and 403 for a fan", async () => {
    const { eventId } = await eventWithOrders();
    const other = new TestClient(DARAJA);
    await registerUser(other, { role: "ORGANIZER" });
    expect((await other.get(`/api/organizer/events/${eventId}/orders/`)).status).toBe(404);
    const fan = new TestClient(DARAJA);
    await registerUser(fan);
    expect((await fan.get(`/api/organizer/events/${eventId}/orders/`)).status).toBe(403);
  });
});

describe("GET /api/organizer/orders/{order_id}/", () => {
  it("shows one order with its tickets, to its organizer only", async () => {
    const { organizer, paid } = await eventWithOrders();
    const res = await organizer.get(`/api/organizer/orders/${paid.order_id}/`, {
      schema: OrganizerOrderDetailSchema,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.refunds).toEqual([]);
    expect(res.body.tickets.map((t) => t.tier_name)).toEqual(["VIP", "Regular", "Regular"]);
    expect(res.body.tickets.map((t) => t.id)).toEqual(res.body.ticket_ids);
    expect(res.body.tickets[0]).toMatchObject({
      status: "ACTIVE",
      attendee_name: "Wanjiku Kamau",
      transfer_count: 0,
    });

    const other = new TestClient(DARAJA);
    await registerUser(other, { role: "ORGANIZER" });
    expect((await other.get(`/api/organizer/orders/${paid.order_id}/`)).status).toBe(404);
    expect((await organizer.get("/api/organizer/orders/00000000-0000-4000-8000-000000000000/")).status).toBe(
      404,
    );
    expect((await organizer.get("/api/organizer/orders/not-a-uuid/")).status).toBe(404);
  });
});
