/**
 * Case-insensitive user lookups and the uniqueness rules every account flow shares:
 * usernames and emails are unique ignoring case, and a parallel insert that loses the race
 * surfaces as a unique-constraint failure that must read like the ordinary "taken" error.
 */
import { and, ne, sql } from "drizzle-orm";
import type { Database } from "../../db/client";
import { type User, users } from "../../db/schema";

export const USERNAME_TAKEN = "A user with that username already exists.";
export const EMAIL_TAKEN = "A user with that email already exists.";

export async function findUserByEmail(db: Database, email: string): Promise<User | undefined> {
  return db.query.users.findFirst({ where: sql`lower(${users.email}) = ${email.trim().toLowerCase()}` });
}

export async function findUserByUsername(db: Database, username: string): Promise<User | undefined> {
  return db.query.users.findFirst({
    where: sql`lower(${users.username}) = ${username.trim().toLowerCase()}`,
  });
}

/** Whether another user (not `exceptUserId`) already has this username, ignoring case. */
export async function usernameTaken(db: Database, username: string, exceptUserId?: string): Promise<boolean> {
  const found = await db
    .select({ id: users.id })
    .from(users)
    .where(
      and(
        sql`lower(${users.username}) = ${username.toLowerCase()}`,
        exceptUserId ? ne(users.id, exceptUserId) : undefined,
      ),
    )
    .limit(1);
  return found.length > 0;
}

export async function emailTaken(db: Database, email: string): Promise<boolean> {
  const found = await db
    .select({ id: users.id })
    .from(users)
    .where(sql`lower(${users.email}) = ${email.toLowerCase()}`)
    .limit(1);
  return found.length > 0;
}

/** D1's UNIQUE failure on `users.<column>` (the message may sit in the error's cause). */
export function isUniqueViolation(error: unknown, column: "email" | "username"): boolean {
  const message = String(error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : error);
  return /UNIQUE constraint failed/i.test(message) && message.includes(column);
}
