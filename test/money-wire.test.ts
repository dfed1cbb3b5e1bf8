/**
 * Issue #11 item 15, contract §1: computed money (`tier_price` in the wallet, the ticket
 * detail and the guest list) is a JSON number; the CSV export keeps the DRF decimal text.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { AttendeePageSchema } from "../src/http/views/attendee";
import { PaymentInitiatedSchema } from "../src/http/views/payment";
import { TicketSchema } from "../src/http/views/ticket";
import { registerUser } from "./helpers/accounts";
import { CALLBACK_PATH, DARAJA, eventWithTiers, networkFakes } from "./helpers/checkout";
import { type PageOf, TestClient } from "./helpers/client";

describe("tier_price on the wire", () => {
  it("is the number 1500 in wallet, detail and guest list; the CSV says 1500.00", async () => {
    const { organizer, eventId, tiers } = await eventWithTiers([
      { name: "VIP", price: 1500, quantity_allocated: 20 },
    ]);
    const buyer = new TestClient(DARAJA);
    await registerUser(buyer);
    const init = await buyer.post(
      "/api/pay/initiate/",
      { tier_id: tiers[0]?.id, phone_number: "0712345678" },
      {
        schema: PaymentInitiatedSchema,
      },
    );
    expect(init.status, init.text).toBe(202);
    const callback = networkFakes.daraja.callbackFor(init.body.checkout_request_id, { resultCode: 0 });
    expect((await new TestClient(DARAJA).post(CALLBACK_PATH, callback)).status).toBe(200);
    const row = await env.DB.prepare("SELECT id FROM tickets WHERE order_id = ?")
      .bind(init.body.order_id)
      .first<{ id: string }>();
    const ticketId = row?.id ?? "";
    expect(ticketId).not.toBe("");

    const wallet = await buyer.get<PageOf<typeof TicketSchema>>("/api/tickets/");
    expect(wallet.status, wallet.text).toBe(200);
    expect(wallet.body.results.find((t) => t.id === ticketId)?.tier_price).toBe(1500);

    const detail = await buyer.get(`/api/tickets/${ticketId}/`, { schema: TicketSchema });
    expect(detail.status, detail.text).toBe(200);
    expect(detail.body.tier_price).toBe(1500);

    const guests = await organizer.get(`/api/organizer/events/${eventId}/attendees/`, {
      schema: AttendeePageSchema,
    });
    expect(guests.status, guests.text).toBe(200);
    expect(guests.body.results.map((a) => a.tier_price)).toEqual([1500]);

    const csv = await organizer.get(`/api/organizer/events/${eventId}/export/`);
    expect(csv.status, csv.text).toBe(200);
    expect(csv.text).toContain(",VIP,1500.00,");
  });
});
