/**
 * Google sign-in with an access token: ask tokeninfo who the token belongs to and accept it
 * only when it was minted for *our* client id (`aud` or `azp`), the email is verified and
 * the token has not expired. A token for any other app must never log anyone in.
 *
 * The wire format (docs/upstreams.md) is described once, here, as zod schemas: this client
 * reads Google's answers with them and the test fake (test/fakes/google.ts) writes its
 * answers with them.
 */
import { z } from "zod";

/**
 * `GET {GOOGLE_TOKENINFO_URL}?access_token=…` → 200. Google sends every value as a string
 * (`"exp": "1764253000"`, `"email_verified": "true"`); real booleans and numbers are
 * accepted too. Every field is optional here: which missing field refuses the token, and
 * why, is decided in `checkGoogleAccessToken`.
 */
export const GoogleTokenInfo = z.object({
  azp: z.string().optional(),
  aud: z.string().optional(),
  sub: z.string().optional(),
  scope: z.string().optional(),
  exp: z.union([z.string(), z.number()]).optional(),
  expires_in: z.union([z.string(), z.number()]).optional(),
  email: z.string().optional(),
  email_verified: z.union([z.string(), z.boolean()]).optional(),
  access_type: z.string().optional(),
});
export type GoogleTokenInfo = z.infer<typeof GoogleTokenInfo>;

/** An invalid or expired token → 400 `{"error": "invalid_token", "error_description": "Invalid Value"}`. */
export const GoogleTokenInfoError = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});
export type GoogleTokenInfoError = z.infer<typeof GoogleTokenInfoError>;

interface GoogleIdentity {
  sub: string;
  email: string;
}

export type GoogleRejection = "invalid_token" | "wrong_audience" | "email_unverified" | "expired";

type GoogleCheck =
  | { ok: true; identity: GoogleIdentity }
  | { ok: false; reason: GoogleRejection | "unavailable" };

interface GoogleClientOptions {
  tokeninfoUrl: string;
  clientId: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

export async function checkGoogleAccessToken(
  options: GoogleClientOptions,
  accessToken: string,
  now = Date.now(),
): Promise<GoogleCheck> {
  const url = new URL(options.tokeninfoUrl);
  url.searchParams.set("access_token", accessToken);
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch {
    return { ok: false, reason: "unavailable" };
  }
  if (response.status >= 500) return { ok: false, reason: "unavailable" };
  let json: unknown;
  try {
    json = await response.json();
  } catch {
    return { ok: false, reason: response.ok ? "unavailable" : "invalid_token" };
  }
  if (!response.ok) return { ok: false, reason: "invalid_token" };
  const parsed = GoogleTokenInfo.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "invalid_token" };
  const info = parsed.data;

  const clientId = options.clientId.trim();
  if (!clientId || (info.aud !== clientId && info.azp !== clientId))
    return { ok: false, reason: "wrong_audience" };
  if (info.email_verified !== "true" && info.email_verified !== true)
    return { ok: false, reason: "email_unverified" };
  const exp = Number(info.exp);
  if (!Number.isFinite(exp) || exp * 1000 <= now) return { ok: false, reason: "expired" };
  if (!info.sub || !info.email?.includes("@")) return { ok: false, reason: "invalid_token" };
  return { ok: true, identity: { sub: info.sub, email: info.email } };
}
