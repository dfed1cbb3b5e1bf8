/**
 * Password hashing: PBKDF2-SHA256 with a per-user salt, stored as a versioned string
 * `pbkdf2_sha256$<iterations>$<salt b64>$<hash b64>` (Django's format, so the iteration
 * count can be raised later and old hashes upgraded on login).
 *
 * 100,000 iterations is the most the production Workers runtime allows for PBKDF2 (more
 * works in local workerd and fails in production), so it is the ceiling, not a default.
 */
import { base64url } from "jose";
import { timingSafeEqualStrings } from "./crypto";

const PBKDF2_ITERATIONS = 100_000;
const ALGORITHM = "pbkdf2_sha256";
const SALT_BYTES = 16;
const HASH_BITS = 256;

async function derive(password: string, salt: Uint8Array, iterations: number): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, [
    "deriveBits",
  ]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt, iterations },
    key,
    HASH_BITS,
  );
  return base64url.encode(new Uint8Array(bits));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await derive(password, salt, PBKDF2_ITERATIONS);
  return `${ALGORITHM}$${PBKDF2_ITERATIONS}$${base64url.encode(salt)}$${hash}`;
}

interface VerifyResult {
  valid: boolean;
  /** The stored hash uses outdated parameters and should be replaced. */
  needsRehash: boolean;
}

export async function verifyPassword(
  password: string,
  stored: string | null | undefined,
): Promise<VerifyResult> {
  const parts = (stored ?? "").split("$");
  const [algorithm, iterationsText, saltText, hashText] = parts;
  const iterations = Number(iterationsText);
  if (
    parts.length !== 4 ||
    algorithm !== ALGORITHM ||
    !Number.isInteger(iterations) ||
    iterations < 1 ||
    iterations > PBKDF2_ITERATIONS ||
    !saltText ||
    !hashText
  ) {
    // Burn comparable time so unknown users and unusable hashes are not distinguishable.
    await burnTime(password);
    return { valid: false, needsRehash: false };
  }
  let salt: Uint8Array;
  try {
    salt = base64url.decode(saltText);
  } catch {
    await burnTime(password);
    return { valid: false, needsRehash: false };
  }
  const candidate = await derive(password, salt, iterations);
  const valid = timingSafeEqualStrings(candidate, hashText);
  return { valid, needsRehash: valid && iterations !== PBKDF2_ITERATIONS };
}

const BURN_SALT = new Uint8Array(SALT_BYTES);
/** Same cost as a real check; used when there is no real hash to check against. */
async function burnTime(password: string): Promise<void> {
  await derive(password, BURN_SALT, PBKDF2_ITERATIONS);
}
