/**
 * `PATCH user/` (contract §2): names, username and avatar. Role, email, verification and id
 * are never changed here (the route does not even pass them).
 */
import { eq } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type User, users } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { isUniqueViolation, USERNAME_TAKEN, usernameTaken } from "./users";

interface ProfilePatch {
  firstName?: string | undefined;
  lastName?: string | undefined;
  username?: string | undefined;
  avatarUrl?: string | undefined;
}

export async function updateProfile(
  deps: { db: Database },
  user: User,
  patch: ProfilePatch,
  now = Date.now(),
): Promise<User> {
  const { db } = deps;
  const changes: Partial<typeof users.$inferInsert> = {};
  if (patch.firstName !== undefined) changes.firstName = patch.firstName;
  if (patch.lastName !== undefined) changes.lastName = patch.lastName;
  if (patch.avatarUrl !== undefined) changes.avatarUrl = patch.avatarUrl;
  if (patch.username !== undefined && patch.username !== user.username) {
    if (await usernameTaken(db, patch.username, user.id)) throw DomainError.field("username", USERNAME_TAKEN);
    changes.username = patch.username;
  }
  if (Object.keys(changes).length === 0) return user;
  try {
    const [updated] = await db
      .update(users)
      .set({ ...changes, updatedAt: now })
      .where(eq(users.id, user.id))
      .returning();
    return updated ?? user;
  } catch (error) {
    if (isUniqueViolation(error, "username")) throw DomainError.field("username", USERNAME_TAKEN);
    throw error;
  }
}
