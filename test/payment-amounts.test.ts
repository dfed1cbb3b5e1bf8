/**
 * Money is exact (issue 11, item 9; contract §4): a success callback's Amount must be the
 * order total in whole shillings exactly. Anything else (500.4 for 500) issues no tickets and
 * flags the order for review; verify/ answers FAILED with reason under_review.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { StkCallbackBody } from "../src/integrations/mpesa/schemas";
import { countRows } from "./helpers/accounts";
import {
  DARAJA,
  eventWithTiers,
  type Initiated,
  networkFakes,
  postCallback,
  seatsOf,
  uniquePhone,
} from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";

/** A KES 500 order of one seat, its STK push sent. */
async function orderOf500() {
  const { tiers } = await eventWithTiers([{ name: "Regular", price: 500, quantity_allocated: 5 }]);
  const tierId = tiers[0]?.id ?? "";
  const init = await new TestClient(DARAJA).post<Initiated>("/api/pay/initiate/", {
    tier_id: tierId,
    phone_number: uniquePhone(),
    email: `${uniqueName("fan")}@example.com`,
    name: "Otieno Odhiambo",
  });
  expect(init.status, init.text).toBe(202);
  expect(init.body.amount).toBe(500);
  return { tierId, init: init.body };
}

/** Daraja's success callback for the push, with its Amount item's value replaced by `value`. */
function successWithAmount(checkoutRequestId: string, value: number | string): StkCallbackBody {
  const body = networkFakes.daraja.callbackFor(checkoutRequestId, { resultCode: 0 });
  for (const item of body.Body.stkCallback.CallbackMetadata?.Item ?? []) {
    if (item.Name === "Amount") item.Value = value;
  }
  return body;
}

describe("a success callback's Amount must equal the order total exactly", () => {
  it.each<[string, number | string]>([
    ["500.4 for 500", 500.4],
    ["499.6 for 500 (rounds to 500)", 499.6],
    ["500.01 for 500", 500.01],
    ["the string 500.4", "500.4"],
    ["501 for 500", 501],
  ])("flags %s for review, with no tickets and the seats back on sale", async (_label, amount) => {
    const { tierId, init } = await orderOf500();
    const answer = await postCallback(successWithAmount(init.checkout_request_id, amount));
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ ResultCode: 0, ResultDesc: "Accepted" });

    const verify = await new TestClient().get(`/api/pay/verify/${init.transaction_ref}/`);
    expect(verify.body).toEqual({
      status: "FAILED",
      reference: init.transaction_ref,
      reason: "under_review",
      ticket_ids: [],
      amount_refunded: 0,
    });
    expect(await countRows("tickets", "order_id = ?", init.order_id)).toBe(0);
    const row = await env.DB.prepare(
      "SELECT status, failure_reason, paid_amount, delivery_status FROM orders WHERE id = ?",
    )
      .bind(init.order_id)
      .first();
    // What was paid is kept as paid, for the human who looks at it.
    expect(row).toEqual({
      status: "UNDER_REVIEW",
      failure_reason: "amount_mismatch",
      paid_amount: Number(amount),
      delivery_status: null,
    });
    expect(await seatsOf(tierId)).toMatchObject({ sold: 0, held: 0, available: 5 });
    // A repeat of the callback changes nothing.
    await postCallback(successWithAmount(init.checkout_request_id, amount));
    expect(await countRows("tickets", "order_id = ?", init.order_id)).toBe(0);
  });

  it.each<[string, number | string]>([
    ["the number 500", 500],
    ["the string 500", "500"],
    ["500.00", "500.00"],
  ])("completes the order for %s", async (_label, amount) => {
    const { tierId, init } = await orderOf500();
    await postCallback(successWithAmount(init.checkout_request_id, amount));
    const verify = await new TestClient().get<{ status: string; ticket_ids: string[] }>(
      `/api/pay/verify/${init.transaction_ref}/`,
    );
    expect(verify.body.status).toBe("COMPLETED");
    expect(verify.body.ticket_ids).toHaveLength(1);
    expect(await seatsOf(tierId)).toMatchObject({ sold: 1, held: 0 });
  });
});
