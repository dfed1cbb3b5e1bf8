/**
 * A replaced order (contract §4.3) stays PENDING with its hold ended, so the cron's STK query
 * settles it when its callback is lost: money paid on the old prompt is never lost. (A file
 * of its own: the cron queries every due order of the file's database.)
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countRows } from "./helpers/accounts";
import {
  DARAJA,
  eventWithTiers,
  type Initiated,
  networkFakes,
  runCron,
  seatsOf,
  uniquePhone,
} from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";

function guestInitiate(body: Record<string, unknown>) {
  return new TestClient(DARAJA).post<Initiated>("/api/pay/initiate/", { name: "Wanjiku Kamau", ...body });
}

async function orderRow(id: string) {
  return env.DB.prepare("SELECT status, hold_expires_at FROM orders WHERE id = ?")
    .bind(id)
    .first<{ status: string; hold_expires_at: number | null }>();
}

describe("a replaced order's lost callback", () => {
  it("settles a replaced order whose callback never came by the cron's STK query, as a late payment", async () => {
    const { tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 10, max_per_order: 4 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const fan = {
      tier_id: tierId,
      phone_number: uniquePhone(),
      quantity: 2,
      email: `${uniqueName("fan")}@example.com`,
    };
    const missed = await guestInitiate(fan);
    const retry = await guestInitiate(fan);
    expect([missed.status, retry.status]).toEqual([202, 202]);
    // The fan did pay the first prompt after all, and its callback was lost.
    networkFakes.daraja.queryAnswers.set(missed.body.checkout_request_id, { resultCode: 0 });
    // A minute on, the replaced order is due for its query; the new hold still runs.
    await runCron(1);
    expect(await orderRow(missed.body.order_id)).toMatchObject({ status: "COMPLETED" });
    expect(await countRows("tickets", "order_id = ?", missed.body.order_id)).toBe(2);
    expect(await orderRow(retry.body.order_id)).toMatchObject({ status: "PENDING" });
    expect(await seatsOf(tierId)).toMatchObject({ sold: 2, held: 2, available: 6 });
  });
});
