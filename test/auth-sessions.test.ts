import { env } from "cloudflare:workers";
import { base64url, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { LoginResponse, RefreshResponse } from "../src/http/views/session";
import { GOOD_PASSWORD, registerUser } from "./helpers/accounts";
import { TestClient } from "./helpers/client";

const SECRET = new TextEncoder().encode(env.JWT_SECRET ?? "");

async function signedToken(
  claims: Record<string, unknown>,
  options: { secret?: Uint8Array; exp?: number } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuer("ticketsafi")
    .setAudience("ticketsafi-api")
    .setIssuedAt(now - 3600)
    .setExpirationTime(options.exp ?? now + 600)
    .sign(options.secret ?? SECRET);
}

function claimsOf(token: string): Record<string, unknown> {
  const [, payload] = token.split(".");
  return JSON.parse(new TextDecoder().decode(base64url.decode(payload ?? "")));
}

async function loggedIn() {
  const client = new TestClient();
  const user = await registerUser(client);
  const login = await client.post(
    "/api/auth/login/",
    { username: user.username, password: user.password },
    { schema: LoginResponse },
  );
  expect(login.status).toBe(200);
  return { client, user, access: login.body.access };
}

describe("POST /api/auth/login/", () => {
  it("logs in by username or email, case-insensitively, with the contract's body and cookies", async () => {
    const signup = new TestClient();
    const user = await registerUser(signup);
    for (const credentials of [
      { username: user.username.toUpperCase(), password: user.password },
      { email: user.email.toUpperCase(), password: user.password },
      { username: user.email, password: user.password },
    ]) {
      const client = new TestClient();
      const res = await client.post("/api/auth/login/", credentials, { schema: LoginResponse });
      expect(res.status, JSON.stringify(credentials)).toBe(200);
      expect(res.body.refresh).toBe("");
      expect(res.body.user.id).toBe(user.id);
      expect(claimsOf(res.body.access)).toMatchObject({ sub: user.id, typ: "access" });
      expect(client.cookies.has("ticketsafi-auth")).toBe(true);
      expect(client.cookies.has("ticketsafi-refresh")).toBe(true);
    }
  });

  it("answers a wrong password and an unknown user the same way", async () => {
    const user = await registerUser(new TestClient());
    const wrong = await new TestClient().post("/api/auth/login/", {
      username: user.username,
      password: "Wrong-Password-1",
    });
    const unknown = await new TestClient().post("/api/auth/login/", {
      username: "nobody-here",
      password: "Wrong-Password-1",
    });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ non_field_errors: ["Unable to log in with provided credentials."] });
      expect(res.setCookies).toEqual([]);
    }
  });

  it("names missing fields", async () => {
    const client = new TestClient();
    const noPassword = await client.post("/api/auth/login/", { username: "someone" });
    expect(noPassword.status).toBe(400);
    expect(noPassword.body.password).toEqual(["This field is required."]);
    const noIdentifier = await client.post("/api/auth/login/", { password: "whatever-123" });
    expect(noIdentifier.status).toBe(400);
    expect(noIdentifier.body.non_field_errors).toEqual(['Must include "username" and "password".']);
    const wrongType = await client.post("/api/auth/login/", { username: { $ne: null }, password: 1 });
    expect(wrongType.status).toBe(400);
  });

  it("locks an account after 5 failures, before checking the password, with Retry-After", async () => {
    const user = await registerUser(new TestClient());
    for (let attempt = 0; attempt < 5; attempt++) {
      // A different address each time: the per-account limit is what trips.
      const res = await new TestClient().post("/api/auth/login/", {
        username: user.username,
        password: `nope-${attempt}-x`,
      });
      expect(res.status).toBe(400);
    }
    const locked = await new TestClient().post("/api/auth/login/", {
      username: user.username,
      password: user.password,
    });
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(locked.body.detail).toMatch(/throttled/);
    expect(locked.setCookies).toEqual([]);
  });

  it("limits failures per client address across accounts", async () => {
    const client = new TestClient({}, `192.0.2.${Math.floor(Math.random() * 250)}`);
    let last = 0;
    for (let attempt = 0; attempt < 31; attempt++) {
      const res = await client.post("/api/auth/login/", {
        username: `ghost${attempt}`,
        password: "Nope-nope-1",
      });
      last = res.status;
      if (attempt < 30) expect(res.status).toBe(400);
    }
    expect(last).toBe(429);
  });

  it("refuses a shadow (guest) user, who has no password yet", async () => {
    const email = `guest${crypto.randomUUID().slice(0, 8)}@example.com`;
    await env.DB.prepare(
      "INSERT INTO users (id, username, email, password_hash, is_guest) VALUES (?, ?, ?, NULL, 1)",
    )
      .bind(crypto.randomUUID(), `g${crypto.randomUUID().slice(0, 8)}`, email)
      .run();
    const res = await new TestClient().post("/api/auth/login/", { email, password: "" });
    expect(res.status).toBe(400);
    const again = await new TestClient().post("/api/auth/login/", { email, password: GOOD_PASSWORD });
    expect(again.body).toEqual({ non_field_errors: ["Unable to log in with provided credentials."] });
  });
});

describe("authentication on protected endpoints", () => {
  it("answers 401 without credentials, in DRF's words", async () => {
    const res = await new TestClient().get("/api/auth/user/");
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ detail: "Authentication credentials were not provided." });
  });

  it("accepts the access token as a Bearer token (mobile scanner)", async () => {
    const { user, access } = await loggedIn();
    const res = await new TestClient().get("/api/auth/user/", { bearer: access });
    expect(res.status).toBe(200);
    expect(res.body.id).toBe(user.id);
  });

  it("rejects forged, alg:none, expired and wrong-type tokens", async () => {
    const { user, access } = await loggedIn();
    const claims = claimsOf(access);
    const forged = await signedToken(claims, {
      secret: new TextEncoder().encode("not-the-secret-not-the-secret-000"),
    });
    const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }));
    const none = `${header}.${base64url.encode(JSON.stringify(claims))}.`;
    const expired = await signedToken(
      { ...claims, jti: crypto.randomUUID() },
      { exp: Math.floor(Date.now() / 1000) - 5 },
    );
    const refreshAsAccess = await signedToken({ ...claims, typ: "refresh" });
    for (const token of [forged, none, expired, refreshAsAccess, "garbage", `${access}x`]) {
      const res = await new TestClient().get("/api/auth/user/", { bearer: token });
      expect(res.status, token).toBe(401);
      expect(res.body.detail).toBeTypeOf("string");
    }
    // The same junk in a cookie on a public endpoint is ignored.
    const health = await new TestClient().get("/api/health/", {
      headers: { cookie: `ticketsafi-auth=${none}` },
    });
    expect(health.status).toBe(200);
    expect(user.id).toBeTruthy();
  });

  it("silently renews from the refresh cookie when the access cookie is missing or expired", async () => {
    const { client, user } = await loggedIn();
    client.cookies.delete("ticketsafi-auth");
    const renewed = await client.get("/api/auth/user/");
    expect(renewed.status).toBe(200);
    expect(renewed.body.id).toBe(user.id);
    expect(renewed.setCookies.some((c) => c.startsWith("ticketsafi-auth="))).toBe(true);
    expect(renewed.setCookies.some((c) => c.startsWith("ticketsafi-refresh="))).toBe(true);

    const current = claimsOf(client.cookies.get("ticketsafi-auth") ?? "");
    const expired = await signedToken(
      { ...current, jti: crypto.randomUUID() },
      { exp: Math.floor(Date.now() / 1000) - 60 },
    );
    client.cookies.set("ticketsafi-auth", expired);
    const again = await client.get("/api/auth/user/");
    expect(again.status).toBe(200);
  });
});

describe("refresh rotation", () => {
  it("rotates the refresh token and tolerates the old one for 30 seconds (parallel requests)", async () => {
    const { client } = await loggedIn();
    const oldRefresh = client.cookies.get("ticketsafi-refresh") ?? "";
    const rotated = await client.post("/api/auth/token/refresh/", undefined, { schema: RefreshResponse });
    expect(rotated.status).toBe(200);
    expect(rotated.body.refresh).toBe("");
    const newRefresh = client.cookies.get("ticketsafi-refresh");
    expect(newRefresh).toBeTruthy();
    expect(newRefresh).not.toBe(oldRefresh);

    // A parallel request still carrying the previous refresh cookie is served.
    const parallel = new TestClient();
    parallel.cookies.set("ticketsafi-refresh", oldRefresh);
    const res = await parallel.get("/api/auth/user/");
    expect(res.status).toBe(200);
  });

  it("ends the whole session when a rotated refresh token is replayed after the grace period", async () => {
    const { client, user, access } = await loggedIn();
    const oldRefresh = client.cookies.get("ticketsafi-refresh") ?? "";
    expect((await client.post("/api/auth/token/refresh/")).status).toBe(200);
    await env.DB.prepare("UPDATE auth_sessions SET rotated_at = rotated_at - 60000 WHERE user_id = ?")
      .bind(user.id)
      .run();

    const attacker = new TestClient();
    const replay = await attacker.post("/api/auth/token/refresh/", { refresh: oldRefresh });
    expect(replay.status).toBe(401);

    // Everything from that login is dead now: the legitimate refresh cookie, the access token.
    expect((await client.post("/api/auth/token/refresh/")).status).toBe(401);
    expect((await new TestClient().get("/api/auth/user/", { bearer: access })).status).toBe(401);
    client.cookies.delete("ticketsafi-auth");
    expect((await client.get("/api/auth/user/")).status).toBe(401);
  });

  it("returns the new refresh token in the body when it came in the body", async () => {
    const { client } = await loggedIn();
    const refresh = client.cookies.get("ticketsafi-refresh") ?? "";
    const mobile = new TestClient();
    const res = await mobile.post("/api/auth/token/refresh/", { refresh }, { schema: RefreshResponse });
    expect(res.status).toBe(200);
    expect(res.body.refresh).not.toBe("");
    expect(res.body.refresh).not.toBe(refresh);
    expect((await new TestClient().get("/api/auth/user/", { bearer: res.body.access })).status).toBe(200);
  });

  it("refuses a missing, malformed or access-typed refresh token", async () => {
    const { access } = await loggedIn();
    const client = new TestClient();
    expect((await client.post("/api/auth/token/refresh/")).status).toBe(401);
    expect((await client.post("/api/auth/token/refresh/", { refresh: "junk" })).status).toBe(401);
    expect((await client.post("/api/auth/token/refresh/", { refresh: access })).status).toBe(401);
    expect((await client.post("/api/auth/token/refresh/", { refresh: 42 })).status).toBe(400);
  });
});

describe("POST /api/auth/logout/", () => {
  it("clears the cookies and kills both the cookie and the Bearer use of the old tokens", async () => {
    const { client, access } = await loggedIn();
    const oldCookies = new Map(client.cookies);
    const res = await client.post("/api/auth/logout/");
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ detail: "Successfully logged out." });
    expect(res.setCookies.filter((c) => /Max-Age=0/.test(c))).toHaveLength(2);
    expect(client.cookies.size).toBe(0);

    expect((await new TestClient().get("/api/auth/user/", { bearer: access })).status).toBe(401);
    const replay = new TestClient();
    for (const [name, value] of oldCookies) replay.cookies.set(name, value);
    const replayed = await replay.get("/api/auth/user/");
    expect(replayed.status).toBe(401);
    expect(replayed.setCookies.some((c) => c.startsWith("ticketsafi-auth=") && !/Max-Age=0/.test(c))).toBe(
      false,
    );

    const jti = claimsOf(access).jti;
    const row = await env.DB.prepare("SELECT jti FROM blacklisted_tokens WHERE jti = ?").bind(jti).first();
    expect(row).not.toBeNull();
  });

  it("succeeds without a session", async () => {
    const res = await new TestClient().post("/api/auth/logout/");
    expect(res.status).toBe(200);
  });
});

describe("CSRF origin check", () => {
  it("refuses a cookie-authenticated unsafe request from an untrusted origin, and allows a trusted one", async () => {
    const { client } = await loggedIn();
    const evil = await client.patch(
      "/api/auth/user/",
      { first_name: "Evil" },
      { headers: { origin: "https://evil.example" } },
    );
    expect(evil.status).toBe(403);
    expect(evil.body.detail).toMatch(/CSRF/);
    const me = await client.get("/api/auth/user/");
    expect(me.body.first_name).toBe("");

    const good = await client.patch(
      "/api/auth/user/",
      { first_name: "Achieng" },
      { headers: { origin: "https://ticketsafi.test" } },
    );
    expect(good.status).toBe(200);
    expect(good.body.first_name).toBe("Achieng");
  });
});
