/**
 * Accounts: registration (with the shadow-user claim flow and organizer invitations),
 * activation, password login, Google sign-in, password reset and profile updates.
 * Plain arguments in, domain results out; routes shape the HTTP answers.
 */
import { and, eq, isNull, ne, sql } from "drizzle-orm";
import type { Config } from "../config";
import type { Database } from "../db/client";
import {
  type AccountTokenPurpose,
  accountTokens,
  invitationCodes,
  type User,
  type UserRole,
  users,
} from "../db/schema";
import { checkGoogleAccessToken } from "../integrations/google";
import { decodeUid, encodeUid, randomToken, sha256Hex } from "../lib/crypto";
import { DomainError, type FieldErrors } from "../lib/errors";
import { passwordProblems } from "../lib/password-policy";
import { hashPassword, verifyPassword } from "../lib/passwords";
import { type MailDeps, queueMail } from "../mail/mailer";
import { claimAccountMail, passwordResetMail, verifyEmailMail } from "../mail/templates";
import { clearLimits, consumeLimit, exceededLimit, type Limit, recordHits } from "./rate-limit";
import { type IssuedTokens, revokeAllSessionsForUser, type SessionMeta, startSession } from "./sessions";

export interface AccountDeps {
  db: Database;
  config: Config;
  mail: MailDeps;
  fetch?: typeof fetch;
}

export interface SignedIn {
  user: User;
  tokens: IssuedTokens;
}

const LINK_TTL_MS = 3 * 24 * 60 * 60 * 1000;
const LOGIN_FAILURES_PER_ACCOUNT: Omit<Limit, "key"> = { max: 5, windowMs: 15 * 60 * 1000 };
const LOGIN_FAILURES_PER_ADDRESS: Omit<Limit, "key"> = { max: 30, windowMs: 15 * 60 * 1000 };
const ACCOUNT_MAILS_PER_HOUR: Omit<Limit, "key"> = { max: 3, windowMs: 60 * 60 * 1000 };

export const INVALID_CREDENTIALS = "Unable to log in with provided credentials.";
export const ACCOUNT_EXISTS_NEEDS_ACTIVATION = "ACCOUNT_EXISTS_NEEDS_ACTIVATION";

// ---------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------

export async function findUserByEmail(db: Database, email: string): Promise<User | undefined> {
  return db.query.users.findFirst({ where: sql`lower(${users.email}) = ${email.trim().toLowerCase()}` });
}

export async function findUserByUsername(db: Database, username: string): Promise<User | undefined> {
  return db.query.users.findFirst({
    where: sql`lower(${users.username}) = ${username.trim().toLowerCase()}`,
  });
}

async function usernameTaken(db: Database, username: string, exceptUserId?: string): Promise<boolean> {
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

function isUniqueViolation(error: unknown, column: string): boolean {
  const message = String(error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : error);
  return /UNIQUE constraint failed/i.test(message) && message.includes(column);
}

// ---------------------------------------------------------------------------------------
// Invitation codes
// ---------------------------------------------------------------------------------------

async function findUsableInvitation(db: Database, code: string, now: number) {
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
  deps: { db: Database; config: Config },
  code: string,
  now = Date.now(),
) {
  if (!deps.config.organizerInviteRequired) return true;
  return (await findUsableInvitation(deps.db, code, now)) !== null;
}

/** Take one use of a code, atomically (never more uses than `max_uses`). */
async function consumeInvitation(db: Database, code: string, now: number): Promise<string | null> {
  const row = await findUsableInvitation(db, code, now);
  if (!row) return null;
  const updated = await db
    .update(invitationCodes)
    .set({ useCount: sql`${invitationCodes.useCount} + 1` })
    .where(
      and(
        eq(invitationCodes.id, row.id),
        eq(invitationCodes.isActive, true),
        sql`(${invitationCodes.maxUses} IS NULL OR ${invitationCodes.useCount} < ${invitationCodes.maxUses})`,
      ),
    )
    .returning({ id: invitationCodes.id });
  return updated[0]?.id ?? null;
}

async function releaseInvitation(db: Database, invitationId: string): Promise<void> {
  await db
    .update(invitationCodes)
    .set({ useCount: sql`max(${invitationCodes.useCount} - 1, 0)` })
    .where(eq(invitationCodes.id, invitationId));
}

const INVALID_INVITATION = "Invalid or expired invitation code.";

// ---------------------------------------------------------------------------------------
// One-time links
// ---------------------------------------------------------------------------------------

interface ActivationPayload {
  passwordHash?: string;
  username?: string;
  role?: UserRole;
}

async function createAccountLink(
  deps: AccountDeps,
  user: User,
  purpose: AccountTokenPurpose,
  payload: ActivationPayload | null,
  now: number,
): Promise<string> {
  const secret = randomToken(32);
  await deps.db.insert(accountTokens).values({
    id: crypto.randomUUID(),
    userId: user.id,
    purpose,
    tokenHash: await sha256Hex(secret),
    payload: payload ? JSON.stringify(payload) : null,
    expiresAt: now + LINK_TTL_MS,
    createdAt: now,
  });
  const uid = encodeUid(user.id);
  return purpose === "activate"
    ? `${deps.config.frontendUrl}/activate/${uid}/${secret}`
    : `${deps.config.frontendUrl}/password-reset/confirm/${uid}/${secret}/`;
}

/** At most a few account emails an hour per address, so the forms cannot mail-bomb anyone. */
async function mayMail(db: Database, kind: string, email: string, now: number): Promise<boolean> {
  const { allowed } = await consumeLimit(
    db,
    { key: `mail:${kind}:${email.toLowerCase()}`, ...ACCOUNT_MAILS_PER_HOUR },
    now,
  );
  return allowed;
}

// ---------------------------------------------------------------------------------------
// Registration and activation
// ---------------------------------------------------------------------------------------

export interface RegisterInput {
  username: string;
  email: string;
  password: string;
  role: "ATTENDEE" | "ORGANIZER";
  invitationCode?: string | undefined;
}

export async function register(
  deps: AccountDeps,
  input: RegisterInput,
  meta: SessionMeta,
  now = Date.now(),
): Promise<SignedIn> {
  const { db, config } = deps;
  const email = input.email.trim();
  const username = input.username.trim();
  const errors: FieldErrors = {};

  const existing = await findUserByEmail(db, email);
  if (existing && !existing.isGuest) errors.email = ["A user with that email already exists."];
  if (await usernameTaken(db, username, existing?.isGuest ? existing.id : undefined)) {
    errors.username = ["A user with that username already exists."];
  }
  const problems = passwordProblems(input.password, { username, email });
  if (problems.length > 0) errors.password = problems;

  const needsInvitation = input.role === "ORGANIZER" && config.organizerInviteRequired;
  if (needsInvitation) {
    const code = input.invitationCode?.trim() ?? "";
    if (!code) errors.invitation_code = ["An invitation code is required to register as an organizer."];
    else if (!(await findUsableInvitation(db, code, now))) errors.invitation_code = [INVALID_INVITATION];
  }
  if (Object.keys(errors).length > 0) throw DomainError.validation(errors);

  if (existing?.isGuest) {
    // A guest checkout already made this account. Whoever registers now must prove they own
    // the inbox: no session here; the emailed link applies the chosen password and username.
    const payload: ActivationPayload = { passwordHash: await hashPassword(input.password), username };
    if (input.role === "ORGANIZER") payload.role = "ORGANIZER";
    if (await mayMail(db, "claim", email, now)) {
      const link = await createAccountLink(deps, existing, "activate", payload, now);
      await queueMail(deps.mail, {
        kind: "account_claim",
        to: { email: existing.email },
        ...claimAccountMail({ link }),
      });
    }
    throw DomainError.nonField(ACCOUNT_EXISTS_NEEDS_ACTIVATION);
  }

  let invitationId: string | null = null;
  if (needsInvitation) {
    invitationId = await consumeInvitation(db, input.invitationCode ?? "", now);
    if (!invitationId) throw DomainError.field("invitation_code", INVALID_INVITATION);
  }

  const user: typeof users.$inferInsert = {
    id: crypto.randomUUID(),
    username,
    email,
    passwordHash: await hashPassword(input.password),
    role: input.role,
    passwordChangedAt: now,
    createdAt: now,
    updatedAt: now,
  };
  let created: User | undefined;
  try {
    [created] = await db.insert(users).values(user).returning();
  } catch (error) {
    if (invitationId) await releaseInvitation(db, invitationId);
    // Lost a race with a parallel registration for the same name or address.
    if (isUniqueViolation(error, "email"))
      throw DomainError.field("email", "A user with that email already exists.");
    if (isUniqueViolation(error, "username"))
      throw DomainError.field("username", "A user with that username already exists.");
    throw error;
  }
  if (!created) throw new Error("user insert returned nothing");

  const link = await createAccountLink(deps, created, "activate", null, now);
  await queueMail(deps.mail, {
    kind: "verify_email",
    to: { email: created.email, name: created.username },
    ...verifyEmailMail({ username: created.username, link }),
  });
  const tokens = await startSession(db, config.jwtSecret, created.id, meta, now);
  return { user: created, tokens };
}

const INVALID_LINK = "Invalid or expired activation link.";

/** `guest/activate/`: verify the email and, for a claim, apply the password chosen then. */
export async function activate(
  deps: AccountDeps,
  uid: string,
  token: string,
  meta: SessionMeta,
  now = Date.now(),
): Promise<SignedIn> {
  const { db, config } = deps;
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
  const tokens = await startSession(db, config.jwtSecret, user.id, meta, now);
  return { user, tokens };
}

// ---------------------------------------------------------------------------------------
// Login
// ---------------------------------------------------------------------------------------

export interface LoginInput {
  identifier: string;
  password: string;
  clientAddress: string;
}

export async function login(
  deps: AccountDeps,
  input: LoginInput,
  meta: SessionMeta,
  now = Date.now(),
): Promise<SignedIn> {
  const { db, config } = deps;
  const identifier = input.identifier.trim();
  const user = identifier.includes("@")
    ? await findUserByEmail(db, identifier)
    : await findUserByUsername(db, identifier);

  // Limits are checked before the password, so a locked account cannot be probed further.
  const limits: Limit[] = [
    { key: `login:acct:${user?.id ?? identifier.toLowerCase()}`, ...LOGIN_FAILURES_PER_ACCOUNT },
    { key: `login:ip:${input.clientAddress}`, ...LOGIN_FAILURES_PER_ADDRESS },
  ];
  const blocked = await exceededLimit(db, limits, now);
  if (blocked) throw DomainError.throttled(blocked.retryAfter);

  const check = await verifyPassword(input.password, user?.passwordHash);
  if (!user || !check.valid || !user.isActive || user.isGuest) {
    await recordHits(db, limits, now);
    throw DomainError.nonField(INVALID_CREDENTIALS);
  }

  await clearLimits(db, [limits[0]?.key ?? ""]);
  if (check.needsRehash) {
    await db
      .update(users)
      .set({ passwordHash: await hashPassword(input.password) })
      .where(eq(users.id, user.id));
  }
  const tokens = await startSession(db, config.jwtSecret, user.id, meta, now);
  return { user, tokens };
}

// ---------------------------------------------------------------------------------------
// Google
// ---------------------------------------------------------------------------------------

export interface GoogleInput {
  accessToken: string;
  role: "ATTENDEE" | "ORGANIZER";
  invitationCode?: string | undefined;
}

const GOOGLE_REJECTIONS: Record<string, string> = {
  invalid_token: "Invalid Google token.",
  wrong_audience: "This Google token was not issued for TicketSafi.",
  email_unverified: "Your Google email address is not verified.",
  expired: "This Google token has expired.",
};

/** A username from the email's local part, made unique with a short suffix if needed. */
async function freshUsername(db: Database, email: string): Promise<string> {
  const base = (email.split("@")[0] ?? "").replace(/[^\w.@+-]/g, "").slice(0, 30) || "user";
  if (!(await usernameTaken(db, base))) return base;
  for (let attempt = 0; attempt < 5; attempt++) {
    const candidate = `${base}${Math.floor(1000 + Math.random() * 9000)}`;
    if (!(await usernameTaken(db, candidate))) return candidate;
  }
  return `${base}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function signInWithGoogle(
  deps: AccountDeps,
  input: GoogleInput,
  meta: SessionMeta,
  now = Date.now(),
): Promise<SignedIn> {
  const { db, config } = deps;
  const check = await checkGoogleAccessToken(
    {
      tokeninfoUrl: config.google.tokeninfoUrl,
      clientId: config.google.clientId,
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
    },
    input.accessToken,
    now,
  );
  if (!check.ok) {
    if (check.reason === "unavailable") {
      throw new DomainError("upstream_error", "Google sign-in is unavailable right now. Please try again.");
    }
    throw DomainError.nonField(GOOGLE_REJECTIONS[check.reason] ?? "Invalid Google token.");
  }
  const { sub, email } = check.identity;

  const existing =
    (await db.query.users.findFirst({ where: eq(users.googleSub, sub) })) ??
    (await findUserByEmail(db, email));
  if (existing) {
    if (!existing.isActive) throw DomainError.nonField(INVALID_CREDENTIALS);
    // Google vouches for the inbox: a shadow user becomes a verified account.
    const [user] = await db
      .update(users)
      .set({ googleSub: existing.googleSub ?? sub, isVerified: true, isGuest: false, updatedAt: now })
      .where(eq(users.id, existing.id))
      .returning();
    const signedIn = user ?? existing;
    return { user: signedIn, tokens: await startSession(db, config.jwtSecret, signedIn.id, meta, now) };
  }

  let invitationId: string | null = null;
  if (input.role === "ORGANIZER" && config.organizerInviteRequired) {
    invitationId = await consumeInvitation(db, input.invitationCode ?? "", now);
    if (!invitationId) throw DomainError.field("invitation_code", INVALID_INVITATION);
  }
  let created: User | undefined;
  try {
    [created] = await db
      .insert(users)
      .values({
        id: crypto.randomUUID(),
        username: await freshUsername(db, email),
        email,
        passwordHash: null,
        role: input.role,
        isVerified: true,
        googleSub: sub,
        createdAt: now,
        updatedAt: now,
      })
      .returning();
  } catch (error) {
    if (invitationId) await releaseInvitation(db, invitationId);
    throw error;
  }
  if (!created) throw new Error("user insert returned nothing");
  return { user: created, tokens: await startSession(db, config.jwtSecret, created.id, meta, now) };
}

// ---------------------------------------------------------------------------------------
// Password reset
// ---------------------------------------------------------------------------------------

/** Always succeeds from the caller's point of view: no user enumeration. */
export async function requestPasswordReset(
  deps: AccountDeps,
  email: string,
  now = Date.now(),
): Promise<void> {
  const user = await findUserByEmail(deps.db, email);
  if (!user?.isActive) return;
  if (!(await mayMail(deps.db, "reset", user.email, now))) return;
  const link = await createAccountLink(deps, user, "password_reset", null, now);
  await queueMail(deps.mail, {
    kind: "password_reset",
    to: { email: user.email, name: user.username },
    ...passwordResetMail({ username: user.username, link }),
  });
}

export interface ResetConfirmInput {
  uid: string;
  token: string;
  newPassword1: string;
  newPassword2: string;
}

export async function confirmPasswordReset(
  deps: AccountDeps,
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

// ---------------------------------------------------------------------------------------
// Profile
// ---------------------------------------------------------------------------------------

export interface ProfilePatch {
  firstName?: string | undefined;
  lastName?: string | undefined;
  username?: string | undefined;
  avatarUrl?: string | undefined;
}

export async function updateProfile(
  db: Database,
  user: User,
  patch: ProfilePatch,
  now = Date.now(),
): Promise<User> {
  const changes: Partial<typeof users.$inferInsert> = {};
  if (patch.firstName !== undefined) changes.firstName = patch.firstName;
  if (patch.lastName !== undefined) changes.lastName = patch.lastName;
  if (patch.avatarUrl !== undefined) changes.avatarUrl = patch.avatarUrl;
  if (patch.username !== undefined && patch.username !== user.username) {
    if (await usernameTaken(db, patch.username, user.id)) {
      throw DomainError.field("username", "A user with that username already exists.");
    }
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
    if (isUniqueViolation(error, "username"))
      throw DomainError.field("username", "A user with that username already exists.");
    throw error;
  }
}
