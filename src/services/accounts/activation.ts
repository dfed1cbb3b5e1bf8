/**
 * `guest/activate/` (contract §2): using an activation link. It proves the inbox (the email
 * becomes verified, a shadow user a real account) and signs that browser in. A claim link
 * applies what was chosen at registration (password, username, organizer role) only when it
 * is used in the browser that registered, i.e. that browser's claim cookie matches the
 * link's binding: whoever registered a shadow user's address may not be its owner, and the
 * owner clicking the mail elsewhere must not activate a password somebody else chose (she
 * sets her own by password reset). Single use: every other pending activation link of the
 * user dies with it.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { accountTokens, users } from "../../db/schema";
import { decodeUid, sha256Hex, timingSafeEqualStrings } from "../../lib/crypto";
import { DomainError } from "../../lib/errors";
import { type SessionDeps, type SessionMeta, type SignedIn, signIn } from "../sessions";
import type { ActivationPayload } from "./account-links";
import { usernameTaken } from "./users";

const INVALID_LINK = "Invalid or expired activation link.";

export interface ActivationInput {
  uid: string;
  token: string;
  /** The claim cookie this browser sent, if any. */
  claimBinding?: string | undefined;
}

/** Whether the choices a claim link carries were made in this browser. */
async function madeInThisBrowser(
  payload: ActivationPayload,
  claimBinding: string | undefined,
): Promise<boolean> {
  if (!payload.claimBindingHash || !claimBinding) return false;
  return timingSafeEqualStrings(await sha256Hex(claimBinding), payload.claimBindingHash);
}

export async function activate(
  deps: SessionDeps,
  input: ActivationInput,
  meta: SessionMeta,
  now = Date.now(),
): Promise<SignedIn> {
  const { uid, token } = input;
  const { db } = deps;
  const invalid = new DomainError("invalid_link", INVALID_LINK);
  const userId = decodeUid(uid);
  if (!userId || !token) throw invalid;

  const [used] = await db
    .update(accountTokens)
    .set({ usedAt: now })
    .where(
      and(
        eq(accountTokens.tokenHash, await sha256Hex(token)),
        eq(accountTokens.userId, userId),
        eq(accountTokens.purpose, "activate"),
        isNull(accountTokens.usedAt),
        sql`${accountTokens.expiresAt} > ${now}`,
      ),
    )
    .returning();
  if (!used) throw invalid;

  const payload = used.payload ? (JSON.parse(used.payload) as ActivationPayload) : {};
  const changes: Partial<typeof users.$inferInsert> = { isVerified: true, isGuest: false, updatedAt: now };
  // A link issued before claims were bound carries no binding: its choices never apply.
  if (await madeInThisBrowser(payload, input.claimBinding)) {
    if (payload.passwordHash) {
      changes.passwordHash = payload.passwordHash;
      changes.passwordChangedAt = now;
    }
    if (payload.username && !(await usernameTaken(db, payload.username, userId)))
      changes.username = payload.username;
    if (payload.role === "ORGANIZER") changes.role = "ORGANIZER";
  }

  const [, [user]] = await db.batch([
    // Any other pending activation link for this user dies with this one.
    db
      .update(accountTokens)
      .set({ usedAt: now })
      .where(
        and(
          eq(accountTokens.userId, userId),
          eq(accountTokens.purpose, "activate"),
          isNull(accountTokens.usedAt),
        ),
      ),
    db.update(users).set(changes).where(eq(users.id, userId)).returning(),
  ]);
  if (!user?.isActive) throw invalid;
  return signIn(deps, user, meta, now);
}
