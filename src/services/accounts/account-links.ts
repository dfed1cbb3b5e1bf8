/**
 * One-time account links, mailed: `{FRONTEND_URL}/activate/{uid}/{token}` (email
 * verification, guest-account claim) and `{FRONTEND_URL}/password-reset/confirm/{uid}/{token}/`.
 * Only the token's SHA-256 is stored; a link lives 3 days and is used once. The uid is the
 * Django-style base64url of the user id (lib/crypto).
 */
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { type AccountTokenPurpose, accountTokens, type User, type UserRole } from "../../db/schema";
import { encodeUid, randomToken, sha256Hex } from "../../lib/crypto";
import { consumeLimit, type Limit } from "../rate-limit";

const LINK_TTL_MS = 3 * 24 * 60 * 60 * 1000;
const ACCOUNT_MAILS_PER_HOUR: Omit<Limit, "key"> = { max: 3, windowMs: 60 * 60 * 1000 };

export interface AccountLinkDeps {
  db: Database;
  config: Pick<Config, "frontendUrl">;
}

/**
 * What a claim link carries: the choices made at registration, applied when it is used, and
 * only in the browser that made them: `claimBindingHash` is the SHA-256 of the secret that
 * registration left in that browser's claim cookie (contract §2 `guest/activate/`).
 */
export interface ActivationPayload {
  passwordHash?: string;
  username?: string;
  role?: UserRole;
  claimBindingHash?: string;
}

export async function issueAccountLink(
  deps: AccountLinkDeps,
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
export async function mayMailAccountLink(
  db: Database,
  kind: "claim" | "reset",
  email: string,
  now: number,
): Promise<boolean> {
  const { allowed } = await consumeLimit(
    db,
    { key: `mail:${kind}:${email.toLowerCase()}`, ...ACCOUNT_MAILS_PER_HOUR },
    now,
  );
  return allowed;
}
