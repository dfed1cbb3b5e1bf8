/**
 * Organizer invitation codes (contract §2, `check-code/`). With ORGANIZER_INVITE_REQUIRED
 * off, any non-empty code passes the web client's gate; with it on, only an active,
 * unexpired code with uses left, compared case-insensitively. Codes are created by
 * `npm run invite:create` (scripts/invite-create.mjs).
 */
import { and, eq, sql } from "drizzle-orm";
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { invitationCodes } from "../../db/schema";

export const INVALID_INVITATION = "Invalid or expired invitation code.";

export async function findUsableInvitation(db: Database, code: string, now: number) {
  const row = await db.query.invitationCodes.findFirst({
    where: sql`upper(${invitationCodes.code}) = ${code.trim().toUpperCase()}`,
  });
  if (!row?.isActive) return null;
  if (row.expiresAt !== null && row.expiresAt <= now) return null;
  if (row.maxUses !== null && row.useCount >= row.maxUses) return null;
  return row;
}

/** `check-code/`: with invitations off any non-empty code passes (the web client's gate). */
export async function isInvitationCodeValid(
  deps: { db: Database; config: Pick<Config, "organizerInviteRequired"> },
  code: string,
  now = Date.now(),
): Promise<boolean> {
  if (!deps.config.organizerInviteRequired) return true;
  return (await findUsableInvitation(deps.db, code, now)) !== null;
}

/**
 * Take one use of a code, atomically: the UPDATE re-checks every condition itself, so
 * parallel registrations racing for the last use get it once (never more uses than
 * `max_uses`). Every path that makes an organizer spends its code here.
 */
export async function consumeInvitation(db: Database, code: string, now: number): Promise<string | null> {
  const row = await findUsableInvitation(db, code, now);
  if (!row) return null;
  const updated = await db
    .update(invitationCodes)
    .set({ useCount: sql`${invitationCodes.useCount} + 1` })
    .where(
      and(
        eq(invitationCodes.id, row.id),
        eq(invitationCodes.isActive, true),
        sql`(${invitationCodes.expiresAt} IS NULL OR ${invitationCodes.expiresAt} > ${now})`,
        sql`(${invitationCodes.maxUses} IS NULL OR ${invitationCodes.useCount} < ${invitationCodes.maxUses})`,
      ),
    )
    .returning({ id: invitationCodes.id });
  return updated[0]?.id ?? null;
}

/** Give back a use taken by `consumeInvitation` when the account it admitted was not created. */
export async function releaseInvitation(db: Database, invitationId: string): Promise<void> {
  await db
    .update(invitationCodes)
    .set({ useCount: sql`max(${invitationCodes.useCount} - 1, 0)` })
    .where(eq(invitationCodes.id, invitationId));
}
