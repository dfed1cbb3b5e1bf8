/**
 * What the organizer reads about money back (contract v3 §0 on §6, §11.7, §12.5, §13.1): the
 * dashboard's gross, refunded, net, discounts and refund counts, per event and per day; the
 * event list's refunded and discounts; and the order detail's real list of refunds.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { pageSchema } from "../src/http/pagination";
import { DashboardSchema } from "../src/http/routes/organizer-events";
import { OrganizerEventItemSchema } from "../src/http/views/event-list-item";
import { OrganizerOrderDetailSchema } from "../src/http/views/organizer-order";
import { registerUser } from "./helpers/accounts";
import { CALLBACK_PATH, type Initiated, networkFakes, seatsOf, uniquePhone } from "./helpers/checkout";
import { TestClient } from "./helpers/client";
import { createCode } from "./helpers/promo-codes";
import {
  attemptsOf,
  b2cCallback,
  type PaidOrder,
  paidOrder,
  RESULT_PATH,
  type RefundWorld,
  refundOf,
  refundWorld,
} from "./helpers/refunds";

function dashboardOf(organizer: TestClient) {
  return organizer.get("/api/organizer/dashboard/", { schema: DashboardSchema });
}

/** Drain the queue (the consumer sends the B2C requests), then Daraja's Result for each refund. */
async function settle(world: RefundWorld, outcomes: Record<string, "success" | "failure">) {
  await world.drain();
  for (const [refundId, outcome] of Object.entries(outcomes)) {
    const attempts = await attemptsOf(refundId);
    const last = attempts.at(-1);
    expect(last, `an attempt for ${refundId}`).toBeDefined();
    const result = await b2cCallback(last?.id ?? "", outcome);
    const posted = await new TestClient().post(RESULT_PATH, result.body);
    expect(posted.status, posted.text).toBe(200);
  }
}

/** A guest's paid order on `order`'s tier with a promo code (the fake Daraja takes the payment). */
async function paidWithCode(world: RefundWorld, order: PaidOrder, code: string): Promise<Initiated> {
  const buyer = new TestClient({ ...world.darajaVars, BOOKINGS_PER_RECIPIENT_PER_HOUR: "1000" } as never);
  const res = await buyer.post<Initiated & { amount: number; discount: number }>("/api/pay/initiate/", {
    tier_id: order.tierId,
    phone_number: uniquePhone(),
    email: `${crypto.randomUUID()}@example.com`,
    name: "Achieng Otieno",
    promo_code: code,
  });
  expect(res.status, res.text).toBe(202);
  const paid = await new TestClient(world.darajaVars).post(
    CALLBACK_PATH,
    networkFakes.daraja.callbackFor(res.body.checkout_request_id, { resultCode: 0, amount: res.body.amount }),
  );
  expect(paid.status, paid.text).toBe(200);
  return res.body;
}

const todayInNairobi = () => new Date(Date.now() + 3 * 60 * 60 * 1000).toISOString().slice(0, 10);

describe("the dashboard with refunds and discounts", () => {
  it("shows gross, refunded and net revenue, discounts and refund counts as refunds move", async () => {
    const world = refundWorld();
    const a = await paidOrder(world, { price: 1000, quantity: 2, allocation: 10 });
    const organizer = a.organizer;
    const b = await paidOrder(world, {
      price: 500,
      quantity: 3,
      allocation: 10,
      organizer: { client: organizer, id: a.organizerId },
    });
    await createCode(organizer, a.eventId, { code: "HALFOFF", value: 50, max_uses: 1 });
    const promo = await paidWithCode(world, a, "halfoff");
    expect(promo).toMatchObject({ amount: 500, discount: 500 });

    const before = await dashboardOf(organizer);
    expect(before.status, before.text).toBe(200);
    expect(before.body).toMatchObject({
      total_revenue: 4000,
      gross_revenue: 4000,
      total_refunded: 0,
      total_discounts: 500,
      tickets_sold: 6,
      refunds_pending: 0,
      refunds_failed: 0,
    });

    // A partial refund of A and one of B's tickets: recorded, not yet paid out.
    const partial = await refundOf(organizer, { amount: 300 }, a.orderId);
    expect(partial.status, partial.text).toBe(202);
    const perTicket = await refundOf(organizer, { ticket_ids: [b.ticketIds[0]] }, b.orderId);
    expect(perTicket.status, perTicket.text).toBe(202);
    const recorded = await dashboardOf(organizer);
    expect(recorded.body).toMatchObject({
      total_revenue: 4000,
      total_refunded: 0,
      refunds_pending: 2,
      refunds_failed: 0,
      // The cancelled ticket is no longer sold, even before its money goes back.
      tickets_sold: 5,
    });

    await settle(world, { [partial.body.id]: "success", [perTicket.body.id]: "failure" });
    const after = await dashboardOf(organizer);
    expect(after.body).toMatchObject({
      total_revenue: 3700,
      gross_revenue: 4000,
      total_refunded: 300,
      total_discounts: 500,
      tickets_sold: 5,
      avg_ticket_price: 740,
      refunds_pending: 0,
      refunds_failed: 1,
      orders_pending: 0,
    });
    const byId = new Map(after.body.recent_events.map((e) => [e.id, e]));
    expect(byId.get(a.eventId)).toMatchObject({ sold: 3, revenue: 2200, refunded: 300, discounts: 500 });
    // B's refund failed: nothing came back yet, but the ticket it cancelled is not sold.
    expect(byId.get(b.eventId)).toMatchObject({ sold: 2, revenue: 1500, refunded: 0, discounts: 0 });
    const today = after.body.sales_last_7_days.at(-1);
    expect(today).toEqual({ date: todayInNairobi(), tickets: 6, revenue: 3700, refunded: 300 });
    expect(after.body.sales_last_7_days.reduce((sum, d) => sum + d.refunded, 0)).toBe(300);

    const list = await organizer.get("/api/organizer/events/", {
      schema: pageSchema(OrganizerEventItemSchema),
    });
    const listed = new Map(list.body.results.map((e) => [e.id, e]));
    expect(listed.get(a.eventId)).toMatchObject({
      tickets_sold: 3,
      revenue: 2200,
      refunded: 300,
      discounts: 500,
    });
    expect(listed.get(b.eventId)).toMatchObject({ tickets_sold: 2, revenue: 1500, refunded: 0 });

    // Abandoning the failed refund takes it off the "needs you" count; its ticket stays cancelled.
    const abandoned = await organizer.post(`/api/organizer/refunds/${perTicket.body.id}/resolve/`, {
      resolution: "ABANDONED",
    });
    expect(abandoned.status, abandoned.text).toBe(200);
    expect((await dashboardOf(organizer)).body).toMatchObject({ refunds_failed: 0, tickets_sold: 5 });
  });

  it("counts a refund flagged for review as failed", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 800 });
    const res = await refundOf(order.organizer, { amount: 100 }, order.orderId);
    await world.drain();
    await env.DB.prepare("UPDATE refunds SET review_reason = 'stale' WHERE id = ?").bind(res.body.id).run();
    expect((await dashboardOf(order.organizer)).body).toMatchObject({
      refunds_pending: 1,
      refunds_failed: 1,
      total_refunded: 0,
    });
  });

  it("a cancelled event sells nothing and keeps nothing once its refunds complete", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 1200, quantity: 2, allocation: 5 });
    const cancelled = await order.organizer.request("DELETE", `/api/organizer/events/${order.eventId}/edit/`);
    expect(cancelled.status, cancelled.text).toBe(200);
    // The seats stay counted at the tier (the event is over), but no ticket is sold any more.
    expect((await seatsOf(order.tierId)).sold).toBe(2);
    const during = await dashboardOf(order.organizer);
    expect(during.body).toMatchObject({ tickets_sold: 0, total_revenue: 2400, refunds_pending: 1 });
    expect(during.body.recent_events[0]).toMatchObject({ status: "Past", sold: 0, revenue: 2400 });

    const [refund] = (
      await env.DB.prepare("SELECT id FROM refunds WHERE order_id = ?")
        .bind(order.orderId)
        .all<{ id: string }>()
    ).results;
    await settle(world, { [refund?.id ?? ""]: "success" });
    const done = await dashboardOf(order.organizer);
    expect(done.body).toMatchObject({
      gross_revenue: 2400,
      total_refunded: 2400,
      total_revenue: 0,
      tickets_sold: 0,
      avg_ticket_price: 0,
      refunds_pending: 0,
    });
    expect(done.body.recent_events[0]).toMatchObject({ sold: 0, revenue: 0, refunded: 2400 });
  });

  it("an organizer without refunds sees the figures of before, plus zeros", async () => {
    const client = new TestClient();
    await registerUser(client, { role: "ORGANIZER" });
    const res = await dashboardOf(client);
    expect(res.body).toMatchObject({
      total_revenue: 0,
      gross_revenue: 0,
      total_refunded: 0,
      total_discounts: 0,
      refunds_pending: 0,
      refunds_failed: 0,
    });
    expect(res.body.sales_last_7_days.every((d) => d.refunded === 0 && d.revenue === 0)).toBe(true);
  });
});

describe("GET /api/organizer/orders/{id}/ refunds", () => {
  it("lists the order's refunds newest first, each the Refund object of §13.1", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 600, quantity: 3, allocation: 5 });
    const first = await refundOf(order.organizer, { amount: 100, reason: "Late start" }, order.orderId);
    const second = await refundOf(order.organizer, { ticket_ids: [order.ticketIds[2]] }, order.orderId);
    expect([first.status, second.status]).toEqual([202, 202]);
    await settle(world, { [first.body.id]: "success" });

    const res = await order.organizer.get(`/api/organizer/orders/${order.orderId}/`, {
      schema: OrganizerOrderDetailSchema,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      refund_status: "PARTIAL",
      amount_paid: 1800,
      amount_refunded: 100,
      refundable: 1100,
      ticket_ids: order.ticketIds.slice(0, 2),
    });
    expect(res.body.refunds.map((r) => r.id)).toEqual([second.body.id, first.body.id]);
    expect(res.body.refunds[1]).toMatchObject({
      order_id: order.orderId,
      order_reference: order.reference,
      event_id: order.eventId,
      amount: 100,
      reason: "Late start",
      trigger: "ORGANIZER",
      full: false,
      ticket_ids: [],
      status: "COMPLETED",
      phone: `${order.phone.slice(0, 4)}****${order.phone.slice(-3)}`,
      attempts: 1,
      resolution: null,
      created_by: order.organizerId,
    });
    expect(res.body.refunds[1]?.mpesa_receipt).toMatch(/^[A-Z0-9]{10}$/);
    expect(res.body.refunds[0]).toMatchObject({
      amount: 600,
      status: "SENT",
      ticket_ids: [order.ticketIds[2]],
    });
    expect(res.body.tickets.map((t) => t.status)).toEqual(["ACTIVE", "ACTIVE", "CANCELLED"]);
    // Each entry is exactly what the refund's own route answers.
    for (const refund of res.body.refunds) {
      const one = await order.organizer.get(`/api/organizer/refunds/${refund.id}/`);
      expect(one.body).toEqual(refund);
    }
    // Nobody else's: another organizer gets 404.
    const stranger = new TestClient();
    await registerUser(stranger, { role: "ORGANIZER" });
    expect((await stranger.get(`/api/organizer/orders/${order.orderId}/`)).status).toBe(404);
  });

  it("an order without refunds has an empty list", async () => {
    const world = refundWorld();
    const order = await paidOrder(world, { price: 600 });
    const res = await order.organizer.get(`/api/organizer/orders/${order.orderId}/`, {
      schema: OrganizerOrderDetailSchema,
    });
    expect(res.body).toMatchObject({ refunds: [], refund_status: "NONE", refundable: 600 });
  });
});
