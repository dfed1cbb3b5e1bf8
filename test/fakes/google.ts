/** Google's tokeninfo endpoint: `GET /tokeninfo?access_token=…`, answers as Google does (strings). */
import { GoogleTokenInfo, GoogleTokenInfoError } from "../../src/integrations/google";
import type { FakeUpstream } from "./network";

interface FakeGoogleToken {
  email: string;
  sub?: string;
  aud?: string;
  azp?: string;
  emailVerified?: boolean;
  /** Seconds since epoch. */
  exp?: number;
}

const TEST_GOOGLE_CLIENT_ID = "ticketsafi-test.apps.googleusercontent.com";

export class GoogleFake implements FakeUpstream {
  readonly hosts = ["oauth2.googleapis.com"];
  private readonly tokens = new Map<string, Required<FakeGoogleToken>>();
  /** Answer every request with 503 (Google down). */
  down = false;

  issueToken(token: FakeGoogleToken): string {
    const accessToken = `ya29.${crypto.randomUUID().replace(/-/g, "")}`;
    const sub = token.sub ?? String(100000000000000000000 + Math.floor(Math.random() * 1e15));
    this.tokens.set(accessToken, {
      email: token.email,
      sub,
      aud: token.aud ?? TEST_GOOGLE_CLIENT_ID,
      azp: token.azp ?? token.aud ?? TEST_GOOGLE_CLIENT_ID,
      emailVerified: token.emailVerified ?? true,
      exp: token.exp ?? Math.floor(Date.now() / 1000) + 3300,
    });
    return accessToken;
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (this.down) return new Response("Service Unavailable", { status: 503 });
    if (url.pathname !== "/tokeninfo") return new Response("Not Found", { status: 404 });
    const token = this.tokens.get(url.searchParams.get("access_token") ?? "");
    const now = Math.floor(Date.now() / 1000);
    if (!token || token.exp <= now) {
      return Response.json(
        GoogleTokenInfoError.parse({ error: "invalid_token", error_description: "Invalid Value" }),
        { status: 400 },
      );
    }
    // Parsed with the client's own schema, so the fake cannot drift from what the client reads.
    return Response.json(
      GoogleTokenInfo.parse({
        azp: token.azp,
        aud: token.aud,
        sub: token.sub,
        scope:
          "openid https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
        exp: String(token.exp),
        expires_in: String(token.exp - now),
        email: token.email,
        email_verified: token.emailVerified ? "true" : "false",
        access_type: "online",
      }),
    );
  }

  reset(): void {
    this.down = false;
  }
}
