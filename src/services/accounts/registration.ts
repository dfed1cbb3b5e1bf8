/**
 * `registration/` (contract §2): a new attendee or organizer account, signed in at once and
 * sent a verification link. An email that belongs to a shadow (guest-checkout) user is the
 * claim flow instead: no session, a claim link, and `ACCOUNT_EXISTS_NEEDS_ACTIVATION`.
 */
import type { Config } from "../../config";
import { type User, users } from "../../db/schema";
import { randomToken, sha256Hex } from "../../lib/crypto";
import { DomainError, type FieldErrors } from "../../lib/errors";
import { passwordProblems } from "../../lib/password-policy";
import { hashPassword } from "../../lib/passwords";
import { type MailDeps, queueMail } from "../../mail/mailer";
import { claimAccountMail, verifyEmailMail } from "../../mail/templates";
import { type SessionDeps, type SessionMeta, type SignedIn, signIn } from "../sessions";
import {
  type AccountLinkDeps,
  type ActivationPayload,
  issueAccountLink,
  mayMailAccountLink,
} from "./account-links";
import {
  consumeInvitation,
  findUsableInvitation,
  INVALID_INVITATION,
  releaseInvitation,
} from "./invitation-codes";
import { EMAIL_TAKEN, findUserByEmail, isUniqueViolation, USERNAME_TAKEN, usernameTaken } from "./users";

/** The 400 a registration over a shadow user's email answers (the route throws it). */
export const ACCOUNT_EXISTS_NEEDS_ACTIVATION = "ACCOUNT_EXISTS_NEEDS_ACTIVATION";

/**
 * A registration either signs the new account in, or, over a shadow user's email, mails a
 * claim link and leaves `claimBinding` for the route to put in this browser's claim cookie
 * (null when no new link went out: the address had its claim mails for the hour).
 */
export type RegistrationOutcome =
  | { kind: "registered"; signedIn: SignedIn }
  | { kind: "claim_pending"; claimBinding: string | null };

interface RegistrationDeps extends SessionDeps, AccountLinkDeps {
  config: Pick<Config, "jwtSecret" | "frontendUrl" | "organizerInviteRequired">;
  mail: MailDeps;
}

interface RegisterInput {
  username: string;
  email: string;
  password: string;
  role: "ATTENDEE" | "ORGANIZER";
  invitationCode?: string | undefined;
}

export async function register(
  deps: RegistrationDeps,
  input: RegisterInput,
  meta: SessionMeta,
  now = Date.now(),
): Promise<RegistrationOutcome> {
  const { db, config } = deps;
  const email = input.email.trim();
  const username = input.username.trim();
  const errors: FieldErrors = {};

  const existing = await findUserByEmail(db, email);
  if (existing && !existing.isGuest) errors.email = [EMAIL_TAKEN];
  if (await usernameTaken(db, username, existing?.isGuest ? existing.id : undefined)) {
    errors.username = [USERNAME_TAKEN];
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

  // The invitation is spent here, on every path, by a conditional UPDATE: a single-use code
  // admits one organizer however many registrations race for it (a claim included).
  let invitationId: string | null = null;
  if (needsInvitation) {
    invitationId = await consumeInvitation(db, input.invitationCode ?? "", now);
    if (!invitationId) throw DomainError.field("invitation_code", INVALID_INVITATION);
  }

  if (existing?.isGuest) {
    // A guest checkout already made this account. Whoever registers now must prove they own
    // the inbox: no session here. The emailed link applies the chosen password, username and
    // role only in this browser (the claim cookie): anyone can type a stranger's address, and
    // the stranger clicking her own mail must not activate a password the registrant knows.
    if (!(await mayMailAccountLink(db, "claim", email, now))) {
      if (invitationId) await releaseInvitation(db, invitationId);
      return { kind: "claim_pending", claimBinding: null };
    }
    const claimBinding = randomToken(32);
    const payload: ActivationPayload = {
      passwordHash: await hashPassword(input.password),
      username,
      claimBindingHash: await sha256Hex(claimBinding),
    };
    if (input.role === "ORGANIZER") payload.role = "ORGANIZER";
    const link = await issueAccountLink(deps, existing, "activate", payload, now);
    await queueMail(deps.mail, {
      kind: "account_claim",
      to: { email: existing.email },
      ...claimAccountMail({ link }),
    });
    return { kind: "claim_pending", claimBinding };
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
    if (isUniqueViolation(error, "email")) throw DomainError.field("email", EMAIL_TAKEN);
    if (isUniqueViolation(error, "username")) throw DomainError.field("username", USERNAME_TAKEN);
    throw error;
  }
  if (!created) throw new Error("user insert returned nothing");

  const link = await issueAccountLink(deps, created, "activate", null, now);
  await queueMail(deps.mail, {
    kind: "verify_email",
    to: { email: created.email, name: created.username },
    ...verifyEmailMail({ username: created.username, link }),
  });
  return { kind: "registered", signedIn: await signIn(deps, created, meta, now) };
}
