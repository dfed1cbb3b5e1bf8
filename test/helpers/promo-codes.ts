/** Builders for promo code tests: an organizer's event with tiers, its codes, and a code's object. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { PromoCodeResponse } from "../../src/http/views/promo-code";
import { promoCodeUses } from "../../src/inventory/promo-client";
import type { BuyerKey } from "../../src/inventory/types";
import { eventWithTiers } from "./checkout";
import type { TestClient } from "./client";

export type PromoCodeBody = PromoCodeResponse;

/** A published event of a fresh organizer: Regular (1500), VIP (5000), Free (0). */
export async function promoEvent() {
  const made = await eventWithTiers([
    { name: "Regular", price: 1500, quantity_allocated: 100 },
    { name: "VIP", price: 5000, quantity_allocated: 20 },
    { name: "Free", price: 0, quantity_allocated: 50 },
  ]);
  const tier = (name: string) => {
    const found = made.tiers.find((t) => t.name === name);
    if (!found) throw new Error(`no tier ${name}`);
    return found.id;
  };
  return { ...made, regular: tier("Regular"), vip: tier("VIP"), free: tier("Free") };
}

export const codesPath = (eventId: string) => `/api/organizer/events/${eventId}/promo-codes/`;
export const codePath = (eventId: string, codeId: string) => `${codesPath(eventId)}${codeId}/`;

export async function createCode(
  organizer: TestClient,
  eventId: string,
  body: Record<string, unknown> = {},
): Promise<PromoCodeBody> {
  const res = await organizer.post<PromoCodeBody>(codesPath(eventId), {
    code: `c${crypto.randomUUID().slice(0, 8)}`,
    discount_type: "PERCENT",
    value: 20,
    ...body,
  });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

/** The code's object, as checkout will reach it. */
export function usesOf(codeId: string) {
  return promoCodeUses(env.PROMO_CODE_USES, codeId);
}

/** Hold `seats` uses for a fresh order, as a checkout would (returns the order id). */
export async function holdUses(code: PromoCodeBody, seats: number, buyerKeys?: BuyerKey[]): Promise<string> {
  const orderId = crypto.randomUUID();
  const result = await usesOf(code.id).reserve(
    orderId,
    {
      seats,
      buyerKeys: buyerKeys ?? [`email:${orderId}@example.com`],
      expiresAt: Date.now() + 5 * 60_000,
    },
    { maxUses: code.max_uses, maxUsesPerBuyer: code.max_uses_per_buyer, promoCodeId: code.id },
  );
  expect(result.ok).toBe(true);
  return orderId;
}
