/** Small crypto helpers on WebCrypto. */
import { base64url } from "jose";

const encoder = new TextEncoder();

export function randomToken(bytes = 32): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(bytes)));
}

export async function sha256Hex(value: string | Uint8Array): Promise<string> {
  const data = typeof value === "string" ? encoder.encode(value) : value;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Constant-time comparison (for secrets in URLs and hashes). Uses workerd's
 * `crypto.subtle.timingSafeEqual`; lengths are compared first, which leaks only length.
 */
export function timingSafeEqualStrings(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  if (left.byteLength !== right.byteLength) return false;
  return crypto.subtle.timingSafeEqual(left, right);
}

/** Django-style uid in account links: base64url of the user id. */
export function encodeUid(userId: string): string {
  return base64url.encode(userId);
}

export function decodeUid(uid: string): string | null {
  try {
    const decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(base64url.decode(uid));
    return /^[0-9a-f-]{36}$/i.test(decoded) ? decoded.toLowerCase() : null;
  } catch {
    return null;
  }
}
