/**
 * `check-code/` with ORGANIZER_INVITE_REQUIRED on is an oracle for invitation codes, so each
 * client address gets a few lookups: the attempt is reserved atomically BEFORE the lookup
 * (parallel guesses get no more lookups than sequential ones, contract §2) and a valid code
 * gives it back, so only wrong guesses count. Past the limit: 429 `rate_limited`, Retry-After.
 */
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { DomainError } from "../../lib/errors";
import { consumeLimit, type Limit, releaseHit } from "../rate-limit";
import { isInvitationCodeValid } from "./invitation-codes";

/** Why 10 in 15 minutes: someone typing a code from a letter mistypes a few times; guessing is hopeless. */
const WRONG_CODES_PER_ADDRESS: Omit<Limit, "key"> = { max: 10, windowMs: 15 * 60 * 1000 };

export async function checkInvitationCode(
  deps: { db: Database; config: Pick<Config, "organizerInviteRequired"> },
  code: string,
  clientAddress: string,
  now = Date.now(),
): Promise<boolean> {
  // Invitations off: every non-empty code passes, there is nothing to guess.
  if (!deps.config.organizerInviteRequired) return isInvitationCodeValid(deps, code, now);
  const limit: Limit = { key: `invite_check:ip:${clientAddress}`, ...WRONG_CODES_PER_ADDRESS };
  const reserved = await consumeLimit(deps.db, limit, now);
  if (!reserved.allowed)
    throw DomainError.rateLimited("Too many invitation code checks.", reserved.retryAfter);
  const valid = await isInvitationCodeValid(deps, code, now);
  if (valid) await releaseHit(deps.db, limit, now);
  return valid;
}
