/**
 * Ticket QR codes: `qr_code_hash` is a compact JWS (alg EdDSA, Ed25519) signed with the
 * platform's ticket key, `kid` = the first 16 characters of the RFC 7638 thumbprint of its
 * public JWK. The payload names
 * ticket, event and tier and carries no personal data, so a scanner can verify a code
 * offline with the published public keys and any JOSE library.
 *
 * Format: header `{"alg":"EdDSA","kid":"<16-char thumbprint prefix>"}`, payload
 * `{"t":"<ticket id>","e":"<event id>","r":"<tier id>","i":<issued, epoch seconds>,"v":<version>}`.
 * `v` is the token version (contract v3 §14.3): absent means 1 (every token issued with its
 * ticket, before transfers existed too), and each re-issue (a transfer) signs the next one.
 * Ed25519 signatures are deterministic, so without it a re-issue within the same second
 * would give the very same token. Deliberately terse: every character makes the QR code denser, slower to render and harder
 * to scan in a dark venue.
 */
import { CompactSign, calculateJwkThumbprint, compactVerify, decodeProtectedHeader } from "jose";
import { sha256Hex } from "./crypto";

export interface TicketClaims {
  ticketId: string;
  eventId: string;
  tierId: string;
  /** The token version: 1 when the payload has no `v`. */
  version?: number;
}

/** The largest version a token may carry (far beyond MAX_TRANSFERS_PER_TICKET). */
const MAX_TOKEN_VERSION = 1_000_000;

/** The public half as scanners fetch it: an Ed25519 JWK with its key id. */
export interface PublicTicketJwk {
  kty: "OKP";
  crv: "Ed25519";
  x: string;
  kid: string;
  alg: "EdDSA";
  use: "sig";
}

export interface TicketKey {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: PublicTicketJwk;
}

const keyCache = new Map<string, Promise<TicketKey>>();

/** The key from TICKET_SIGNING_KEY: PKCS#8 DER in base64, or a PEM block. */
export function loadTicketKey(secret: string): Promise<TicketKey> {
  let cached = keyCache.get(secret);
  if (!cached) {
    cached = importTicketKey(secret);
    keyCache.set(secret, cached);
    cached.catch(() => keyCache.delete(secret));
  }
  return cached;
}

async function importTicketKey(secret: string): Promise<TicketKey> {
  const body = secret.replace(/-----(BEGIN|END) PRIVATE KEY-----/g, "").replace(/\s+/g, "");
  if (!body) throw new Error("TICKET_SIGNING_KEY is not set");
  const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  // Extractable only to derive the public half; the private key object used to sign is not.
  const extractable = (await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, true, [
    "sign",
  ])) as CryptoKey;
  const jwk = (await crypto.subtle.exportKey("jwk", extractable)) as JsonWebKey;
  const publicJwk = { kty: "OKP", crv: "Ed25519", x: jwk.x ?? "" } as const;
  const kid = (await calculateJwkThumbprint(publicJwk)).slice(0, 16);
  const privateKey = (await crypto.subtle.importKey("pkcs8", der, { name: "Ed25519" }, false, [
    "sign",
  ])) as CryptoKey;
  const publicKey = (await crypto.subtle.importKey(
    "jwk",
    publicJwk as JsonWebKey,
    { name: "Ed25519" },
    true,
    ["verify"],
  )) as CryptoKey;
  return { kid, privateKey, publicKey, publicJwk: { ...publicJwk, kid, alg: "EdDSA", use: "sig" } };
}

/**
 * Every key a scanner should trust: the current one first, then retired ones still valid
 * for tickets issued before a rotation (TICKET_PREVIOUS_SIGNING_KEYS, comma-separated).
 */
export async function loadVerificationKeys(current: string, previous: string): Promise<TicketKey[]> {
  const secrets = [current, ...previous.split(",")].map((k) => k.trim()).filter(Boolean);
  return Promise.all(secrets.map((secret) => loadTicketKey(secret)));
}

export async function signTicket(key: TicketKey, claims: TicketClaims, nowMs = Date.now()): Promise<string> {
  const payload = JSON.stringify({
    t: claims.ticketId,
    e: claims.eventId,
    r: claims.tierId,
    i: Math.floor(nowMs / 1000),
    // Version 1 stays implicit: a first token is as short as it always was.
    ...(claims.version !== undefined && claims.version !== 1 ? { v: claims.version } : {}),
  });
  return new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ alg: "EdDSA", kid: key.kid })
    .sign(key.privateKey);
}

/** Verify a scanned code against the known keys; null for anything forged, altered or foreign. */
export async function verifyTicket(keys: TicketKey[], token: string): Promise<TicketClaims | null> {
  if (typeof token !== "string" || token.length > 2048 || token.split(".").length !== 3) return null;
  try {
    const header = decodeProtectedHeader(token);
    const key = keys.find((k) => k.kid === header.kid);
    if (!key || header.alg !== "EdDSA") return null;
    const { payload } = await compactVerify(token, key.publicKey, { algorithms: ["EdDSA"] });
    const claims = JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;
    if (typeof claims.t !== "string" || typeof claims.e !== "string" || typeof claims.r !== "string")
      return null;
    const version = claims.v ?? 1;
    if (
      typeof version !== "number" ||
      !Number.isInteger(version) ||
      version < 1 ||
      version > MAX_TOKEN_VERSION
    )
      return null;
    return { ticketId: claims.t, eventId: claims.e, tierId: claims.r, version };
  } catch {
    return null;
  }
}

/** `ticket_hash` for attendee lists: lowercase hex SHA-256 of the code string. */
export function ticketHash(qrCodeHash: string): Promise<string> {
  return sha256Hex(qrCodeHash);
}
