/**
 * The public promo check (contract §12.4): is this code good for this event right now?
 * Advisory only — the buyer's own limit and the final number of discounted seats are decided
 * by the code's object at checkout. Every attempt counts against the per-address limit.
 */
import type { PromoSnapshot } from "../../inventory/promo-types";
import { DomainError } from "../../lib/errors";
import { eligibleSeats, type PromoTerms } from "../../lib/order-pricing";
import { getPublicEvent } from "../event-catalogue";
import { type PromoCodeDeps, usageOf } from "./codes";
import {
  CODE_USED_UP,
  INVALID_CODE,
  isUsableNow,
  promoAttemptLimit,
  takeAttemptAndFind,
  termsOf,
} from "./validity";

export interface PromoCheckInput {
  eventId: string;
  code: unknown;
  clientAddress: string;
}

export async function checkPromoCode(
  deps: PromoCodeDeps,
  input: PromoCheckInput,
  now = Date.now(),
): Promise<PromoTerms> {
  // The event as §3 shows it (published, not cancelled; private ones by link), else 404.
  const { event, tiers } = await getPublicEvent(deps.db, input.eventId);
  const typed = typeof input.code === "string" ? input.code.trim() : "";
  if (typed === "") throw new DomainError("invalid_promo_code", "Enter a promo code.");

  // The attempt (every one counts here) and the lookup, in one round trip.
  const found = await takeAttemptAndFind(
    deps.db,
    promoAttemptLimit(input.clientAddress, event.id),
    event.id,
    typed,
    now,
  );
  if (!found || !isUsableNow(found.row, event.endAt, now))
    throw new DomainError("promo_check_invalid", INVALID_CODE);
  const terms = termsOf(found.row, found.tierIds);
  // A code that can discount no seat of this event (only free tiers) is no code at all.
  const lines = tiers.map((t) => ({ tierId: t.id, tierName: t.name, quantity: 1, unitPrice: t.price }));
  if (eligibleSeats(lines, terms) === 0) throw new DomainError("promo_check_invalid", INVALID_CODE);

  // The object's limits, not D1's copy: they are the ones enforced.
  const usage: PromoSnapshot = await usageOf(deps, found.row);
  if (usage.retired || (usage.maxUses !== null && usage.used + usage.held >= usage.maxUses)) {
    throw new DomainError("promo_check_exhausted", CODE_USED_UP);
  }
  return terms;
}
