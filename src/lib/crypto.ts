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

const hmacKeys = new Map<string, Promise<CryptoKey>>();

/** The HMAC-SHA256 key for `secret` and `purpose` (domain-separated), imported once per isolate. */
function hmacKey(secret: string, purpose: string): Promise<CryptoKey> {
  const id = `${purpose}\u0000${secret}`;
  let key = hmacKeys.get(id);
  if (!key) {
    key = crypto.subtle.importKey("raw", encoder.encode(id), { name: "HMAC", hash: "SHA-256" }, false, [
      "sign",
      "verify",
    ]);
    hmacKeys.set(id, key);
  }
  return key;
}

/** `value.<base64url HMAC>`: a value we hand a client and later accept back only if untouched. */
export async function signValue(secret: string, purpose: string, value: string): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await hmacKey(secret, purpose), encoder.encode(value));
  return `${value}.${base64url.encode(new Uint8Array(mac))}`;
}

/** The value of a `signValue` string made with the same secret and purpose, else null. */
export async function verifySignedValue(
  secret: string,
  purpose: string,
  signed: string,
): Promise<string | null> {
  const dot = signed.lastIndexOf(".");
  if (dot <= 0) return null;
  const value = signed.slice(0, dot);
  let mac: Uint8Array;
  try {
    mac = base64url.decode(signed.slice(dot + 1));
  } catch {
    return null;
  }
  const ok = await crypto.subtle.verify("HMAC", await hmacKey(secret, purpose), mac, encoder.encode(value));
  return ok ? value : null;
}
