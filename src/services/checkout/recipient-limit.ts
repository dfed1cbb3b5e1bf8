/**
 * Bookings per recipient email (issue #11 item 7): every booking ends in one tickets email to
 * its address, so a guest checkout could mail-bomb a stranger with "tickets" whose buyer name
 * carries phishing text. At most `config.bookingsPerRecipientPerHour` bookings to one inbox in
 * any hour, reserved atomically before any seat is touched; past it 429 `rate_limited` with
 * Retry-After.
 *
 * Not limited: a signed-in buyer whose address is proven (`is_verified`): the mail goes to
 * their own inbox, and guests using their address can then never lock them out of buying.
 */
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import type { User } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { inboxKey } from "../../lib/inbox-key";
import { consumeLimit } from "../rate-limit";

const HOUR_MS = 60 * 60 * 1000;
/** Take one of the recipient's bookings this hour, or refuse the checkout (nothing held yet). */
export async function reserveRecipientBooking(
  deps: { db: Database; config: Pick<Config, "bookingsPerRecipientPerHour"> },
  buyer: User | null,
  email: string,
  now: number,
): Promise<void> {
  if (buyer?.isVerified && buyer.email.toLowerCase() === email.toLowerCase()) return;
  const { allowed, retryAfter } = await consumeLimit(
    deps.db,
    {
      key: `bookings:to:${inboxKey(email)}`,
      max: deps.config.bookingsPerRecipientPerHour,
      windowMs: HOUR_MS,
    },
    now,
  );
  if (!allowed) throw DomainError.rateLimited("Too many bookings for this email address.", retryAfter);
}
