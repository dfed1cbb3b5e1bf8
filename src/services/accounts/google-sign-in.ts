/**
 * `google/` (contract §2): sign in with a Google access token. The token is checked at
 * tokeninfo (integrations/google); the account is the one linked to that Google id, else
 * the one with that email (Google vouches for the inbox, so a shadow user becomes a
 * verified account), else a new one with the role asked for.
 */
import { eq } from "drizzle-orm";
import type { Config } from "../../config";
import { type User, users } from "../../db/schema";
import { checkGoogleAccessToken, type GoogleRejection } from "../../integrations/google";
import { DomainError } from "../../lib/errors";
import {
  revokeAllSessionsForUser,
  type SessionDeps,
  type SessionMeta,
  type SignedIn,
  signIn,
} from "../sessions";
import { consumeInvitation, INVALID_INVITATION, releaseInvitation } from "./invitation-codes";
import { INVALID_CREDENTIALS } from "./login";
import { findUserByEmail, usernameTaken } from "./users";

interface GoogleSignInDeps extends SessionDeps {
  config: Pick<Config, "jwtSecret" | "google" | "organizerInviteRequired">;
  fetch?: typeof fetch;
}

interface GoogleInput {
  accessToken: string;
  role: "ATTENDEE" | "ORGANIZER";
  invitationCode?: string | undefined;
}

const GOOGLE_REJECTIONS: Record<GoogleRejection, string> = {
  invalid_token: "Invalid Google token.",
  wrong_audience: "This Google token was not issued for TicketSafi.",
  email_unverified: "Your Google email address is not verified.",
  expired: "This Google token has expired.",
};

/** A username from the email's local part, made unique with a short suffix if needed. */
async function freshUsername(db: SessionDeps["db"], email: string): Promise<string> {
  const base = (email.split("@")[0] ?? "").replace(/[^\w.@+-]/g, "").slice(0, 30) || "user";
  if (!(await usernameTaken(db, base))) return base;
  for (let attempt = 0; attempt < 5; attempt++) {
    const candidate = `${base}${Math.floor(1000 + Math.random() * 9000)}`;
    if (!(await usernameTaken(db, candidate))) return candidate;
  }
  return `${base}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function signInWithGoogle(
  deps: GoogleSignInDeps,
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
    throw DomainError.nonField(GOOGLE_REJECTIONS[check.reason]);
  }
  const { sub, email } = check.identity;

  const existing =
    (await db.query.users.findFirst({ where: eq(users.googleSub, sub) })) ??
    (await findUserByEmail(db, email));
  if (existing) {
    if (!existing.isActive) throw DomainError.nonField(INVALID_CREDENTIALS);
    // Google vouches for the inbox: a shadow user becomes a verified account. An account that
    // never proved its email may have been registered by someone else with this address: its
    // password is cleared and its sessions end, so only the inbox's owner keeps it (she can
    // set a password by reset).
    const takenOver = !existing.isVerified;
    const changes: Partial<typeof users.$inferInsert> = {
      googleSub: existing.googleSub ?? sub,
      isVerified: true,
      isGuest: false,
      updatedAt: now,
    };
    if (takenOver) {
      changes.passwordHash = null;
      changes.passwordChangedAt = now;
    }
    const [user] = await db.update(users).set(changes).where(eq(users.id, existing.id)).returning();
    if (takenOver) await revokeAllSessionsForUser(db, existing.id, "google_takeover", now);
    return signIn(deps, user ?? existing, meta, now);
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
  return signIn(deps, created, meta, now);
}
