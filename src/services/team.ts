/**
 * Gate staff (contract §6): SCANNER accounts an organizer creates for their door team. A
 * scanner belongs to that organizer (`users.organizer_id`), logs in like anyone else, and
 * may only scan that organizer's events; it has no email of its own unless one is given.
 */
import { and, asc, eq, sql } from "drizzle-orm";
import type { Database } from "../db/client";
import { type User, users } from "../db/schema";
import { DomainError, type FieldErrors } from "../lib/errors";
import { passwordProblems } from "../lib/password-policy";
import { hashPassword } from "../lib/passwords";
import { EMAIL_TAKEN, emailTaken, isUniqueViolation, USERNAME_TAKEN, usernameTaken } from "./accounts/users";

/**
 * `users.email` is required and unique, and a door account often has no address: such an
 * account gets a unique address in the reserved `.invalid` domain (RFC 2606), which no mail
 * can reach and which is shown as "" wherever team members are listed.
 */
const PLACEHOLDER_DOMAIN = "@scanners.ticketsafi.invalid";

/** The address to show for a team member: "" for a placeholder. */
export function publicEmail(email: string): string {
  return email.toLowerCase().endsWith(PLACEHOLDER_DOMAIN) ? "" : email;
}

export async function listScanners(
  deps: { db: Database },
  organizerId: string,
  page: { limit: number; offset: number },
) {
  const { db } = deps;
  const rows = await db
    .select({
      id: users.id,
      username: users.username,
      email: users.email,
      isActive: users.isActive,
      createdAt: users.createdAt,
      total: sql<number>`COUNT(*) OVER ()`,
    })
    .from(users)
    .where(and(eq(users.organizerId, organizerId), eq(users.role, "SCANNER")))
    .orderBy(asc(users.createdAt), asc(users.id))
    .limit(page.limit)
    .offset(page.offset);
  return { total: rows[0]?.total ?? 0, rows };
}

interface NewScanner {
  username: string;
  email?: string | undefined;
  password: string;
}

/** Create a door account for `organizer`. Names and addresses are unique case-insensitively. */
export async function createScanner(
  deps: { db: Database },
  organizer: User,
  input: NewScanner,
  now = Date.now(),
): Promise<User> {
  const { db } = deps;
  const username = input.username.trim();
  const email = input.email?.trim() ?? "";
  const errors: FieldErrors = {};

  const [nameIsTaken, emailIsTaken] = await Promise.all([
    usernameTaken(db, username),
    email ? emailTaken(db, email) : Promise.resolve(false),
  ]);
  if (nameIsTaken) errors.username = [USERNAME_TAKEN];
  if (emailIsTaken) errors.email = [EMAIL_TAKEN];
  const problems = passwordProblems(input.password, { username, email: email || null });
  if (problems.length > 0) errors.password = problems;
  if (Object.keys(errors).length > 0) throw DomainError.validation(errors);

  const id = crypto.randomUUID();
  try {
    const [created] = await db
      .insert(users)
      .values({
        id,
        username,
        email: email || `scanner-${id}${PLACEHOLDER_DOMAIN}`,
        passwordHash: await hashPassword(input.password),
        role: "SCANNER",
        organizerId: organizer.id,
        passwordChangedAt: now,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
    if (!created) throw new Error("scanner insert returned nothing");
    return created;
  } catch (error) {
    // Lost a race with a parallel registration of the same name or address.
    if (isUniqueViolation(error, "email")) throw DomainError.field("email", EMAIL_TAKEN);
    if (isUniqueViolation(error, "username")) throw DomainError.field("username", USERNAME_TAKEN);
    throw error;
  }
}
