/**
 * `login/` (contract §2): username or email (an identifier with `@` is an email, both
 * case-insensitive) and password. Failed attempts are limited per account and per client
 * address; shadow users cannot log in with a password until they claim the account.
 */
import { eq } from "drizzle-orm";
import { users } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { hashPassword, verifyPassword } from "../../lib/passwords";
import { clearLimits, consumeLimits, type Limit, releaseHit } from "../rate-limit";
import { type SessionDeps, type SessionMeta, type SignedIn, signIn } from "../sessions";
import { findUserByEmail, findUserByUsername } from "./users";

const LOGIN_FAILURES_PER_ACCOUNT: Omit<Limit, "key"> = { max: 5, windowMs: 15 * 60 * 1000 };
const LOGIN_FAILURES_PER_ADDRESS: Omit<Limit, "key"> = { max: 30, windowMs: 15 * 60 * 1000 };

/** The one answer for every failed login, unknown users included (no account enumeration). */
export const INVALID_CREDENTIALS = "Unable to log in with provided credentials.";

interface LoginInput {
  identifier: string;
  password: string;
  clientAddress: string;
}

export async function login(
  deps: SessionDeps,
  input: LoginInput,
  meta: SessionMeta,
  now = Date.now(),
): Promise<SignedIn> {
  const { db } = deps;
  const identifier = input.identifier.trim();
  const user = identifier.includes("@")
    ? await findUserByEmail(db, identifier)
    : await findUserByUsername(db, identifier);

  // Each attempt is reserved (counted as a failure) atomically BEFORE the password is
  // checked, so parallel guesses get no more checks than sequential ones (contract §2); a
  // locked account cannot be probed further. A success gives its reservation back.
  const perAccount: Limit = {
    key: `login:acct:${user?.id ?? identifier.toLowerCase()}`,
    ...LOGIN_FAILURES_PER_ACCOUNT,
  };
  const perAddress: Limit = { key: `login:ip:${input.clientAddress}`, ...LOGIN_FAILURES_PER_ADDRESS };
  const reserved = await consumeLimits(db, [perAccount, perAddress], now);
  if (!reserved.allowed) throw DomainError.throttled(reserved.retryAfter);

  const check = await verifyPassword(input.password, user?.passwordHash);
  if (!user || !check.valid || !user.isActive || user.isGuest) {
    throw DomainError.nonField(INVALID_CREDENTIALS);
  }

  // Success: the account's failures are forgiven (contract §2); the address only gets this
  // attempt back, so one office NAT's successful logins never lock it out.
  await clearLimits(db, [perAccount.key]);
  await releaseHit(db, perAddress, now);
  if (check.needsRehash) {
    await db
      .update(users)
      .set({ passwordHash: await hashPassword(input.password) })
      .where(eq(users.id, user.id));
  }
  return signIn(deps, user, meta, now);
}
