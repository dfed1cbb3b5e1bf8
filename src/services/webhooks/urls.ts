/**
 * Which URLs an endpoint may have (contract v3 §16.1): `https://` with a public host, at most
 * 2,000 characters. `http://`, `localhost` and private or loopback IP literals only when the
 * deployment is local (development, test). The WHATWG parser has already normalised every
 * IPv4 spelling (`0x7f.1`, `2130706433`) to dotted decimal, so the checks see the real address.
 * (A public name that resolves to a private address is Cloudflare's to refuse: a Worker's
 * fetch does not reach private networks.)
 */
export const MAX_WEBHOOK_URL_LENGTH = 2000;
export const PUBLIC_URL_MESSAGE = "Enter a public https URL.";

function ipv4Private(host: string): boolean | null {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!match) return null;
  const [a, b] = [Number(match[1]), Number(match[2])];
  return (
    a === 0 || // "this network"
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) || // carrier-grade NAT
    (a === 169 && b === 254) || // link-local (cloud metadata)
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 192 && b === 0) || // IETF protocol assignments
    (a === 198 && (b === 18 || b === 19)) || // benchmarking
    a >= 224 // multicast, reserved, broadcast
  );
}

function ipv6Private(host: string): boolean | null {
  if (!host.startsWith("[")) return null;
  const address = host.slice(1, -1).toLowerCase();
  if (address === "::" || address === "::1") return true;
  // IPv4-mapped (::ffff:a.b.c.d, which the parser writes as ::ffff:xxxx:xxxx): judged as IPv4.
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(address);
  if (mapped) {
    const high = Number.parseInt(mapped[1] ?? "0", 16);
    const low = Number.parseInt(mapped[2] ?? "0", 16);
    return ipv4Private(`${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`) ?? true;
  }
  return (
    /^f[cd]/.test(address) || // unique local fc00::/7
    /^fe[89ab]/.test(address) || // link-local fe80::/10
    /^ff/.test(address) || // multicast
    address.startsWith("64:ff9b:") || // NAT64 can reach private IPv4
    address.startsWith("::") // other embedded or reserved forms
  );
}

function privateName(host: string): boolean {
  return (
    !host.includes(".") ||
    host === "localhost" ||
    /\.(localhost|local|internal|lan|home\.arpa)\.?$/.test(host)
  );
}

/** null when the URL may be an endpoint, else why not (the one message of §16.1). */
export function webhookUrlProblem(raw: string, allowLocal: boolean): string | null {
  if (raw.length > MAX_WEBHOOK_URL_LENGTH)
    return `Ensure this field has no more than ${MAX_WEBHOOK_URL_LENGTH} characters.`;
  const url = URL.canParse(raw) ? new URL(raw) : null;
  if (!url || url.username || url.password || !url.hostname) return PUBLIC_URL_MESSAGE;
  if (allowLocal) return url.protocol === "https:" || url.protocol === "http:" ? null : PUBLIC_URL_MESSAGE;
  if (url.protocol !== "https:") return PUBLIC_URL_MESSAGE;
  const host = url.hostname.toLowerCase().replace(/\.$/, "");
  const literal = ipv4Private(host) ?? ipv6Private(host);
  if (literal === true) return PUBLIC_URL_MESSAGE;
  if (literal === null && privateName(host)) return PUBLIC_URL_MESSAGE;
  return null;
}
