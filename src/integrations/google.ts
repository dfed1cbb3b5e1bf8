/**
 * Google sign-in with an access token: ask tokeninfo who the token belongs to and accept it
 * only when it was minted for *our* client id (`aud` or `azp`), the email is verified and
 * the token has not expired. A token for any other app must never log anyone in.
 */

export interface GoogleIdentity {
  sub: string;
  email: string;
}

export type GoogleCheck =
  | { ok: true; identity: GoogleIdentity }
  | {
      ok: false;
      reason: "invalid_token" | "wrong_audience" | "email_unverified" | "expired" | "unavailable";
    };

export interface GoogleClientOptions {
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
  let info: Record<string, unknown>;
  try {
    info = (await response.json()) as Record<string, unknown>;
  } catch {
    return { ok: false, reason: response.ok ? "unavailable" : "invalid_token" };
  }
  if (!response.ok || typeof info !== "object" || info === null)
    return { ok: false, reason: "invalid_token" };

  const clientId = options.clientId.trim();
  if (!clientId || (info.aud !== clientId && info.azp !== clientId))
    return { ok: false, reason: "wrong_audience" };
  // tokeninfo sends strings ("true", "1764253000"); accept real booleans/numbers too.
  if (info.email_verified !== "true" && info.email_verified !== true)
    return { ok: false, reason: "email_unverified" };
  const exp = Number(info.exp);
  if (!Number.isFinite(exp) || exp * 1000 <= now) return { ok: false, reason: "expired" };
  if (
    typeof info.sub !== "string" ||
    !info.sub ||
    typeof info.email !== "string" ||
    !info.email.includes("@")
  ) {
    return { ok: false, reason: "invalid_token" };
  }
  return { ok: true, identity: { sub: info.sub, email: info.email } };
}
