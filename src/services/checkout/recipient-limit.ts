/**
 * Bookings per recipient email (issue #11 item 7): every booking ends in one tickets email to
 * its address, so a guest checkout could mail-bomb a stranger with "tickets" whose buyer name
 * carries phishing text. At most `config.bookingsPerRecipientPerHour` bookings to one inbox in
 * any hour; past it 429 `rate_limited` with Retry-After.
 *
 * The take rides in the order's own D1 batch, first (issue #15 part 3: a guest's purchase
 * waits for one D1 round trip, and a sold-out answer for none): the batch commits only with
 * the take (`limitTakeStatements` with `failBatch`; a D1 batch is one transaction), so a
 * refused booking writes nothing at all — no order, no guest user, no items, no hit — and
 * every accepted one took exactly one hit, however many run in parallel. The seats are held
 * before that batch: a refused booking gives back the seats (and promo uses) it held within
 * the same request, which the contract allows (api-contract-v3.md §11.4 "Observable": a
 * seat held and released within one failed request can briefly refuse another buyer).
 *
 * So that a refused booking still touches no seat in the usual case (nor replaces the same
 * inbox's open hold, §4.3), the nearest copy of D1 is asked first, beside the checks' own
 * reads (no round trip of its own): when it already shows the hour's bookings used up, the
 * 429 comes before any seat. A copy only lags (bookings' hits are never given back), so it
 * never refuses what the take would allow; what it has not seen yet, the take refuses.
 *
 * Not limited: a signed-in buyer whose address is proven (`is_verified`): the mail goes to
 * their own inbox, and guests using their address can then never lock them out of buying.
 */
import type { Config } from "../../config";
import type { Database, Statement } from "../../db/client";
import type { User } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { inboxKey } from "../../lib/inbox-key";
import {
  exceededLimit,
  isLimitRefusal,
  type Limit,
  limitTakeStatements,
  refusedRetryAfter,
} from "../rate-limit";

const HOUR_MS = 60 * 60 * 1000;

type Deps = { db: Database; config: Pick<Config, "bookingsPerRecipientPerHour"> };

function limitFor(deps: Deps, email: string): Limit {
  return {
    key: `bookings:to:${inboxKey(email)}`,
    max: deps.config.bookingsPerRecipientPerHour,
    windowMs: HOUR_MS,
  };
}

function refused(retryAfter: number): DomainError {
  return DomainError.rateLimited("Too many bookings for this email address.", retryAfter);
}

/** What the nearest copy of D1 says of an inbox's bookings this hour (never fails). */
export interface RecipientPrecheck {
  key: string;
  exceeded: Promise<{ retryAfter: number } | null>;
}

/** Start reading the limit of the email as sent, from the nearest copy, beside the checks' reads. */
export function recipientPrecheck(
  deps: Deps & { nearDb?: Database },
  email: string | undefined,
  now: number,
): RecipientPrecheck | null {
  if (!email || inboxKey(email) === "") return null;
  const limit = limitFor(deps, email);
  return {
    key: limit.key,
    // A copy that cannot be read leaves the decision to the take.
    exceeded: exceededLimit(deps.nearDb ?? deps.db, [limit], now).catch(() => null),
  };
}

export interface RecipientBooking {
  /** First in the order's batch (none for an exempt buyer): the batch commits only with them. */
  statements: Statement[];
  /** The 429 when `error`, the order batch's failure, is this take's refusal; else null. */
  refusal(error: unknown): Promise<DomainError | null>;
}

/**
 * One of the recipient's bookings this hour, taken by the order's batch or refusing it whole;
 * refused at once (429, nothing held yet) when the precheck already saw them used up.
 */
export async function recipientBooking(
  deps: Deps,
  buyer: User | null,
  email: string,
  now: number,
  precheck: RecipientPrecheck | null,
): Promise<RecipientBooking> {
  if (buyer?.isVerified && buyer.email.toLowerCase() === email.toLowerCase()) {
    return { statements: [], refusal: async () => null };
  }
  const limit = limitFor(deps, email);
  const early = precheck?.key === limit.key ? await precheck.exceeded : null;
  if (early) throw refused(early.retryAfter);
  const { statements } = limitTakeStatements(deps.db, [limit], now, { failBatch: true });
  return {
    statements: [...statements],
    refusal: async (error) =>
      isLimitRefusal(error) ? refused(await refusedRetryAfter(deps.db, [limit], now)) : null,
  };
}
