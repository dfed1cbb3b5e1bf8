/**
 * `guest/activate/` (contract §2): using an activation link. It proves the inbox (the email
 * becomes verified, a shadow user a real account) and, for a claim link, applies what was
 * chosen at registration (password, username, organizer role). Single use: every other
 * pending activation link of the user dies with it.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { accountTokens, users } from "../../db/schema";
import { decodeUid, sha256Hex } from "../../lib/crypto";
import { DomainError } from "../../lib/errors";
import { type SessionDeps, type SessionMeta, type SignedIn, signIn } from "../sessions";
import type { ActivationPayload } from "./account-links";
import { usernameTaken } from "./users";

const INVALID_LINK = "Invalid or expired activation link.";

export async function activate(
  deps: SessionDeps,
  uid: string,
  token: string,
  meta: SessionMeta,
  now = Date.now(),
): Promise<SignedIn> {
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
  if (payload.passwordHash) {
    changes.passwordHash = payload.passwordHash;
    changes.passwordChangedAt = now;
  }
  if (payload.username && !(await usernameTaken(db, payload.username, userId)))
    changes.username = payload.username;
  if (payload.role === "ORGANIZER") changes.role = "ORGANIZER";

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
