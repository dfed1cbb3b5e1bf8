/**
 * Session JWTs (HS256, jose). Every token carries `jti` (blacklisting), `sid` (the login it
 * belongs to, for rotation and revocation) and `typ` (an access token is never accepted
 * where a refresh token is expected, and vice versa). Verification pins the algorithm, so
 * `alg: none` and key-confusion tokens are rejected.
 */
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";

export const ACCESS_TOKEN_TTL_SECONDS = 15 * 60;
export const REFRESH_TOKEN_TTL_SECONDS = 7 * 24 * 60 * 60;
const ISSUER = "ticketsafi";
const AUDIENCE = "ticketsafi-api";

export type TokenType = "access" | "refresh";

export interface TokenClaims {
  sub: string;
  sid: string;
  jti: string;
  typ: TokenType;
  exp: number;
}

const keys = new Map<string, Uint8Array>();
function keyFor(secret: string): Uint8Array {
  let key = keys.get(secret);
  if (!key) {
    key = new TextEncoder().encode(secret);
    keys.set(secret, key);
  }
  return key;
}

export async function signToken(
  secret: string,
  claims: { sub: string; sid: string; jti: string; typ: TokenType },
  nowSeconds = Math.floor(Date.now() / 1000),
): Promise<string> {
  const ttl = claims.typ === "access" ? ACCESS_TOKEN_TTL_SECONDS : REFRESH_TOKEN_TTL_SECONDS;
  const exp = nowSeconds + ttl;
  return new SignJWT({ sid: claims.sid, typ: claims.typ })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(claims.sub)
    .setJti(claims.jti)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(exp)
    .sign(keyFor(secret));
}

type VerifyFailure = "expired" | "invalid";

export async function verifyToken(
  secret: string,
  token: string,
  expected: TokenType,
  options: { allowExpired?: boolean } = {},
): Promise<{ ok: true; claims: TokenClaims } | { ok: false; reason: VerifyFailure }> {
  if (!token || token.length > 4096) return { ok: false, reason: "invalid" };
  try {
    const { payload } = await jwtVerify(token, keyFor(secret), {
      algorithms: ["HS256"],
      issuer: ISSUER,
      audience: AUDIENCE,
      // Logout blacklists even an expired access token's jti; nothing else skips expiry.
      ...(options.allowExpired ? { currentDate: new Date(0) } : {}),
    });
    const { sub, jti, exp } = payload;
    const sid = payload.sid;
    if (
      typeof sub !== "string" ||
      typeof jti !== "string" ||
      typeof sid !== "string" ||
      typeof exp !== "number" ||
      payload.typ !== expected
    ) {
      return { ok: false, reason: "invalid" };
    }
    return { ok: true, claims: { sub, jti, sid, exp, typ: expected } };
  } catch (error) {
    if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: "expired" };
    return { ok: false, reason: "invalid" };
  }
}
