/**
 * `password/reset/` and `password/reset/confirm/` (contract §2). Asking always succeeds (no
 * account enumeration); a known address gets a link. Confirming is single use, dies when
 * the password changes after the link was issued, expires after 3 days, ends every session
 * of the user, and turns a shadow user into a normal, verified account (the inbox is proven).
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "../../db/client";
import { accountTokens, users } from "../../db/schema";
import { decodeUid, sha256Hex } from "../../lib/crypto";
import { DomainError } from "../../lib/errors";
import { passwordProblems } from "../../lib/password-policy";
import { hashPassword } from "../../lib/passwords";
import { type MailDeps, queueMail } from "../../mail/mailer";
import { passwordResetMail } from "../../mail/templates";
import { revokeAllSessionsForUser } from "../sessions";
import { type AccountLinkDeps, issueAccountLink, mayMailAccountLink } from "./account-links";
import { findUserByEmail } from "./users";

interface PasswordResetRequestDeps extends AccountLinkDeps {
  mail: MailDeps;
}

/** Always succeeds from the caller's point of view: no user enumeration. */
export async function requestPasswordReset(
  deps: PasswordResetRequestDeps,
  email: string,
  now = Date.now(),
): Promise<void> {
  const user = await findUserByEmail(deps.db, email);
  if (!user?.isActive) return;
  if (!(await mayMailAccountLink(deps.db, "reset", user.email, now))) return;
  const link = await issueAccountLink(deps, user, "password_reset", null, now);
  await queueMail(deps.mail, {
    kind: "password_reset",
    to: { email: user.email, name: user.username },
    ...passwordResetMail({ username: user.username, link }),
  });
}

interface ResetConfirmInput {
  uid: string;
  token: string;
  newPassword1: string;
  newPassword2: string;
}

export async function confirmPasswordReset(
  deps: { db: Database },
  input: ResetConfirmInput,
  now = Date.now(),
): Promise<void> {
  const { db } = deps;
  const userId = decodeUid(input.uid);
  const user = userId ? await db.query.users.findFirst({ where: eq(users.id, userId) }) : undefined;
  if (!user?.isActive) throw DomainError.field("uid", "Invalid value");

  const tokenHash = await sha256Hex(input.token);
  const row = await db.query.accountTokens.findFirst({
    where: and(
      eq(accountTokens.tokenHash, tokenHash),
      eq(accountTokens.userId, user.id),
      eq(accountTokens.purpose, "password_reset"),
    ),
  });
  const tokenValid =
    row !== undefined &&
    row.usedAt === null &&
    row.expiresAt > now &&
    // A link dies when the password changes after it was issued.
    (user.passwordChangedAt === null || row.createdAt >= user.passwordChangedAt);
  if (!tokenValid) throw DomainError.field("token", "Invalid value");

  if (input.newPassword1 !== input.newPassword2) {
    throw DomainError.field("new_password2", "The two password fields didn’t match.");
  }
  const problems = passwordProblems(input.newPassword1, { username: user.username, email: user.email });
  if (problems.length > 0) throw DomainError.validation({ new_password2: problems });

  const passwordHash = await hashPassword(input.newPassword1);
  const [consumed] = await db
    .update(accountTokens)
    .set({ usedAt: now })
    .where(and(eq(accountTokens.id, row.id), isNull(accountTokens.usedAt)))
    .returning({ id: accountTokens.id });
  if (!consumed) throw DomainError.field("token", "Invalid value");

  await db.batch([
    db
      .update(users)
      .set({ passwordHash, passwordChangedAt: now, isGuest: false, isVerified: true, updatedAt: now })
      .where(eq(users.id, user.id)),
    db
      .update(accountTokens)
      .set({ usedAt: now })
      .where(
        and(
          eq(accountTokens.userId, user.id),
          eq(accountTokens.purpose, "password_reset"),
          isNull(accountTokens.usedAt),
        ),
      ),
  ]);
  await revokeAllSessionsForUser(db, user.id, "password_reset", now);
}
