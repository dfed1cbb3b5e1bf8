/**
 * How the rest of the Worker reaches a promo code's uses object: by the code's id (a
 * renamed code keeps its object and its counts). Callers pass what D1 knows about the code,
 * used only to bootstrap a new object.
 */
import type { PromoCodeUses } from "./promo-code-uses";
import type { PromoSeed } from "./promo-types";

export function promoCodeUses(
  namespace: DurableObjectNamespace<PromoCodeUses>,
  promoCodeId: string,
): DurableObjectStub<PromoCodeUses> {
  return namespace.get(namespace.idFromName(`promo:${promoCodeId}`));
}

export function seedFromPromoCode(code: {
  id: string;
  maxUses: number | null;
  maxUsesPerBuyer: number | null;
}): PromoSeed {
  return { maxUses: code.maxUses, maxUsesPerBuyer: code.maxUsesPerBuyer, promoCodeId: code.id };
}
