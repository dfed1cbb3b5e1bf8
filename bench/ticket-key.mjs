/**
 * A bench-only Ed25519 ticket signing key and the real ticket signer of
 * src/lib/ticket-signing.ts, bundled for Node: the QR codes a benchmark seeds are exactly
 * what checkout (or a transfer) issues, whatever the token format becomes.
 */
import crypto from "node:crypto";
import path from "node:path";
import { PROJECT_ROOT } from "../scripts/wrangler.mjs";
import { bundleSource } from "./common.mjs";

/**
 * @param {string} name the benchmark, for the bundle's place under bench/.state/
 * @returns the key as the Worker takes it (`pkcs8`, PKCS#8 DER in base64), its `kid`, and
 *   `sign(claims, nowMs)` / `hash(token)` from the real signer
 */
export async function benchKey(name) {
  const { privateKey } = crypto.generateKeyPairSync("ed25519");
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "der" }).toString("base64");
  const signing = await bundleSource(
    'export { loadTicketKey, signTicket, ticketHash } from "./src/lib/ticket-signing.ts";',
    path.join(PROJECT_ROOT, "bench", ".state", `${name}-signing`, "signing.bundle.mjs"),
  );
  const ticketKey = await signing.loadTicketKey(pkcs8);
  return {
    pkcs8,
    kid: ticketKey.kid,
    sign: (claims, nowMs) => signing.signTicket(ticketKey, claims, nowMs),
    hash: (token) => signing.ticketHash(token),
  };
}
