/**
 * Builders for checkout tests: an organizer's published event with the tiers asked for,
 * clients that reach real Daraja (the fake at the network edge) instead of the simulator,
 * Daraja's callback, and the tier's counts as its Durable Object and D1 know them.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { createDarajaClient } from "../../src/integrations/mpesa/daraja";
import type { InventorySnapshot } from "../../src/inventory/types";
import { runScheduled } from "../../src/scheduled";
import { networkFakes } from "../fakes/network";
import { registerUser } from "./accounts";
import { TestClient, uniqueName } from "./client";
import { servicesFor } from "./services";

const DAY = 24 * 60 * 60 * 1000;

/** Real Daraja (the fake at the network edge) instead of the local simulator. */
export const DARAJA = {
  MPESA_CONSUMER_KEY: "test-consumer-key",
  MPESA_CONSUMER_SECRET: "test-consumer-secret",
} as const;

export const CALLBACK_PATH = "/api/pay/callback/test-callback-token-0123456789abcdef/";

/** The 202 body of a paid initiate. */
export interface Initiated {
  status: string;
  transaction_ref: string;
  order_id: string;
  checkout_request_id: string;
  amount: number;
  expires_at: string;
  /** §11.5: the order's priced lines and sums. */
  items?: Array<{
    tier_id: string;
    tier_name: string;
    quantity: number;
    unit_price: number;
    discount: number;
    line_total: number;
  }>;
  subtotal?: number;
  discount?: number;
}

/** A published, on-sale event of a fresh organizer with `tiers` (create-event tier JSON). */
export async function eventWithTiers(tiers: Array<Record<string, unknown>>) {
  const organizer = new TestClient(DARAJA);
  await registerUser(organizer, { role: "ORGANIZER" });
  const start = Date.now() + 7 * DAY;
  const res = await organizer.post<{ id: string; tiers: Array<{ id: string; name: string }> }>(
    "/api/organizer/events/create/",
    {
      title: uniqueName("Gig "),
      category: "CONCERT",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 4 * 60 * 60 * 1000).toISOString(),
      tiers,
    },
  );
  expect(res.status, res.text).toBe(201);
  return { organizer, eventId: res.body.id, tiers: res.body.tiers };
}

/**
 * Daraja posting its callback (`networkFakes.daraja.callbackFor(…)`) to the CallBackURL the
 * push named (the order's own, `…/{token}/{order}/`), or to the bare route for a push the
 * fake never saw.
 */
export function postCallback(body: unknown) {
  const id = (body as { Body?: { stkCallback?: { CheckoutRequestID?: unknown } } })?.Body?.stkCallback
    ?.CheckoutRequestID;
  const path = typeof id === "string" ? networkFakes.daraja.callbackPathFor(id) : undefined;
  return new TestClient(DARAJA).post(path ?? CALLBACK_PATH, body);
}

/** The tier's live counts, from its Durable Object (the authority). */
export function seatsOf(tierId: string): Promise<InventorySnapshot> {
  return env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tierId}`)).snapshot();
}

/** `available_qty` of a tier as the public event detail shows it (D1's copy of the counts). */
export async function availableQty(eventId: string, tierId: string): Promise<number | undefined> {
  const res = await new TestClient().get<{ tiers: Array<{ id: string; available_qty: number }> }>(
    `/api/events/${eventId}/`,
  );
  expect(res.status, res.text).toBe(200);
  return res.body.tiers.find((t) => t.id === tierId)?.available_qty;
}

/** A Kenyan mobile number unique to this test run (`07…`). */
export function uniquePhone(): string {
  return `07${String(Math.floor(Math.random() * 1e8)).padStart(8, "0")}`;
}

/** The scheduled job (STK-query settlement and the rest) as if `minutesLater` had passed. */
export function runCron(minutesLater: number) {
  const fake = networkFakes.daraja;
  const daraja = createDarajaClient({
    baseUrl: "https://sandbox.safaricom.co.ke",
    shortcode: fake.shortcode,
    passkey: fake.passkey,
    consumerKey: fake.consumerKey,
    consumerSecret: fake.consumerSecret,
  });
  return runScheduled(
    servicesFor({ ...env, ...DARAJA } as Env, { daraja }),
    Date.now() + minutesLater * 60 * 1000,
  );
}

export { networkFakes };

/** The tier's open holds lapse now (as if HOLD_SECONDS had passed), in its object. */
export async function expireHolds(tierId: string): Promise<void> {
  const stub = env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`tier:${tierId}`));
  await runInDurableObject(stub, (_instance, state) => {
    state.storage.sql.exec("UPDATE holds SET expires_at = ?", Date.now() - 1);
  });
}

/**
 * A guest's initiate through the real app against the Daraja fake (name given), with the
 * per-recipient booking limit lifted unless `vars` says otherwise: it is its own rule.
 */
export function guestCheckout(body: Record<string, unknown>, vars: Record<string, string> = {}) {
  return new TestClient({ ...DARAJA, BOOKINGS_PER_RECIPIENT_PER_HOUR: "1000", ...vars }).post<Initiated>(
    "/api/pay/initiate/",
    { name: "Wanjiku Kamau", ...body },
  );
}
