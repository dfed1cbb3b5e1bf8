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

/**
 * `users.email` is required and unique, and a door account often has no address: such an
 * account gets a unique address in the reserved `.invalid` domain (RFC 2606), which no mail
 * can reach and which is shown as "" wherever team members are listed.
 */
const PLACEHOLDER_DOMAIN = "@scanners.ticketsafi.invalid";

export function isPlaceholderEmail(email: string): boolean {
  return email.toLowerCase().endsWith(PLACEHOLDER_DOMAIN);
}

export function publicEmail(email: string): string {
  return isPlaceholderEmail(email) ? "" : email;
}

export async function listScanners(
  db: Database,
  organizerId: string,
  page: { limit: number; offset: number },
) {
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

export interface NewScanner {
  username: string;
  email?: string | undefined;
  password: string;
}

function isUniqueViolation(error: unknown, column: string): boolean {
  const message = String(error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : error);
  return /UNIQUE constraint failed/i.test(message) && message.includes(column);
}

const USERNAME_TAKEN = "A user with that username already exists.";
const EMAIL_TAKEN = "A user with that email already exists.";

/** Create a door account for `organizer`. Names and addresses are unique case-insensitively. */
export async function createScanner(
  db: Database,
  organizer: User,
  input: NewScanner,
  now = Date.now(),
): Promise<User> {
  const username = input.username.trim();
  const email = input.email?.trim() ?? "";
  const errors: FieldErrors = {};

  const [nameTaken, emailTaken] = await Promise.all([
    db
      .select({ id: users.id })
      .from(users)
      .where(sql`lower(${users.username}) = ${username.toLowerCase()}`)
      .limit(1),
    email
      ? db
          .select({ id: users.id })
          .from(users)
          .where(sql`lower(${users.email}) = ${email.toLowerCase()}`)
          .limit(1)
      : Promise.resolve([]),
  ]);
  if (nameTaken.length > 0) errors.username = [USERNAME_TAKEN];
  if (emailTaken.length > 0) errors.email = [EMAIL_TAKEN];
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
