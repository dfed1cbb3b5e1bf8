/**
 * `TicketSafi-Signature` (contract v3 §16.3, Stripe's scheme): `t=<unix seconds>,v1=<hex>`,
 * hex = lowercase HMAC-SHA256 keyed by the UTF-8 bytes of the whole `whsec_…` secret over
 * `"<t>.<raw body>"`. Pure: the delivery signs with it, and tests check it against an
 * independent implementation.
 */
const encoder = new TextEncoder();

function toHex(bytes: ArrayBuffer): string {
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export async function webhookSignature(secret: string, body: string, unixSeconds: number): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${unixSeconds}.${body}`));
  return `t=${unixSeconds},v1=${toHex(mac)}`;
}
