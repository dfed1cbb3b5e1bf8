/**
 * Secrets we must use again but never show again (webhook signing secrets, §16.1), kept in D1
 * only encrypted: AES-256-GCM under a key derived (HKDF-SHA256, per purpose) from a Worker
 * secret. Stored as base64url(12-byte IV ‖ ciphertext ‖ tag). A database dump alone reveals
 * nothing; a wrong key or a tampered value fails to open (GCM's tag), never decrypts to junk.
 */
import { base64url } from "jose";

const encoder = new TextEncoder();
const keys = new Map<string, Promise<CryptoKey>>();

function boxKey(material: string, purpose: string): Promise<CryptoKey> {
  const id = `${purpose}\u0000${material}`;
  let key = keys.get(id);
  if (!key) {
    key = crypto.subtle
      .importKey("raw", encoder.encode(material), "HKDF", false, ["deriveKey"])
      .then((base) =>
        crypto.subtle.deriveKey(
          { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info: encoder.encode(purpose) },
          base,
          { name: "AES-GCM", length: 256 },
          false,
          ["encrypt", "decrypt"],
        ),
      );
    keys.set(id, key);
  }
  return key;
}

export async function sealSecret(material: string, purpose: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    await boxKey(material, purpose),
    encoder.encode(plaintext),
  );
  const out = new Uint8Array(iv.byteLength + sealed.byteLength);
  out.set(iv, 0);
  out.set(new Uint8Array(sealed), iv.byteLength);
  return base64url.encode(out);
}

/** The plaintext, or null when the value was not sealed under this key (or was altered). */
export async function openSecret(material: string, purpose: string, sealed: string): Promise<string | null> {
  try {
    const bytes = base64url.decode(sealed);
    if (bytes.byteLength < 12 + 16) return null;
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.slice(0, 12) },
      await boxKey(material, purpose),
      bytes.slice(12),
    );
    return new TextDecoder().decode(plain);
  } catch {
    return null;
  }
}
