import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LoginResponse } from "../src/http/views/session";
import { networkFakes } from "./fakes/network";
import {
  countRows,
  createShadowUser,
  GOOD_PASSWORD,
  latestLink,
  outboxFor,
  registerUser,
} from "./helpers/accounts";
import { TestClient, uniqueName } from "./helpers/client";

describe("GET|PATCH /api/auth/user/", () => {
  it("updates names, username and avatar, and ignores read-only fields", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    const newName = uniqueName("renamed");
    const res = await client.patch("/api/auth/user/", {
      first_name: "Achieng",
      last_name: "Otieno",
      username: newName,
      avatar_url: "https://cdn.example.com/a.png",
      role: "ADMIN",
      email: "hijack@example.com",
      is_verified: true,
      wallet_id: "w-1",
      id: crypto.randomUUID(),
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      id: user.id,
      username: newName,
      email: user.email,
      role: "ATTENDEE",
      first_name: "Achieng",
      last_name: "Otieno",
      avatar_url: "https://cdn.example.com/a.png",
      is_verified: false,
      wallet_id: null,
    });
    const stored = await env.DB.prepare("SELECT role, email FROM users WHERE id = ?").bind(user.id).first();
    expect(stored).toEqual({ role: "ATTENDEE", email: user.email });
  });

  it("refuses a taken username, a bad avatar URL and wrong types, changing nothing", async () => {
    const other = await registerUser(new TestClient());
    const client = new TestClient();
    const user = await registerUser(client);
    const taken = await client.patch("/api/auth/user/", {
      username: other.username.toUpperCase(),
      first_name: "X",
    });
    expect(taken.status).toBe(400);
    expect(taken.body.username).toEqual(["A user with that username already exists."]);
    const badUrl = await client.patch("/api/auth/user/", { avatar_url: "javascript:alert(1)" });
    expect(badUrl.status).toBe(400);
    expect(badUrl.body.avatar_url).toBeDefined();
    const wrongType = await client.patch("/api/auth/user/", { first_name: ["a"] });
    expect(wrongType.status).toBe(400);
    const me = await client.get("/api/auth/user/");
    expect(me.body).toMatchObject({ username: user.username, first_name: "", avatar_url: "" });
  });

  it("answers PUT with 405 and an Allow header", async () => {
    const res = await new TestClient().request("PUT", "/api/auth/user/", { json: {} });
    expect(res.status).toBe(405);
    expect(res.body).toEqual({ detail: 'Method "PUT" not allowed.' });
    expect(res.headers.get("allow")).toContain("PATCH");
  });
});

describe("POST /api/auth/google/", () => {
  it("creates a verified account for a new Google user with the role asked for", async () => {
    const email = `${uniqueName("gfan")}@gmail.com`;
    const token = networkFakes.google.issueToken({ email });
    const client = new TestClient();
    const res = await client.post(
      "/api/auth/google/",
      { access_token: token, role: "ORGANIZER" },
      { schema: LoginResponse },
    );
    expect(res.status).toBe(200);
    expect(res.body.refresh).toBe("");
    expect(res.body.user).toMatchObject({ email, role: "ORGANIZER", is_verified: true });
    expect((await client.get("/api/auth/user/")).status).toBe(200);
    expect(
      networkFakes.requests.some((r) =>
        r.url.startsWith("https://oauth2.googleapis.com/tokeninfo?access_token="),
      ),
    ).toBe(true);
  });

  it("accepts the token as a query parameter (the original web client's way)", async () => {
    const email = `${uniqueName("gq")}@gmail.com`;
    const token = networkFakes.google.issueToken({ email });
    const res = await new TestClient().post(`/api/auth/google/?access_token=${encodeURIComponent(token)}`);
    expect(res.status).toBe(200);
  });

  it("links to the existing account with that email and turns a shadow user into a verified account", async () => {
    const email = `${uniqueName("gshadow")}@gmail.com`;
    const shadowId = await createShadowUser(email);
    const token = networkFakes.google.issueToken({ email: email.toUpperCase() });
    const res = await new TestClient().post(
      "/api/auth/google/",
      { access_token: token },
      { schema: LoginResponse },
    );
    expect(res.status).toBe(200);
    expect(res.body.user).toMatchObject({ id: shadowId, is_verified: true, role: "ATTENDEE" });
    const row = await env.DB.prepare("SELECT is_guest FROM users WHERE id = ?").bind(shadowId).first();
    expect(row).toEqual({ is_guest: 0 });
  });

  it.each([
    ["a token minted for another app", { aud: "someone-else.apps.googleusercontent.com" }],
    ["an unverified email", { emailVerified: false }],
    ["an expired token", { exp: Math.floor(Date.now() / 1000) - 10 }],
  ])("rejects %s and creates nobody", async (_label, overrides) => {
    const email = `${uniqueName("gbad")}@gmail.com`;
    const token = networkFakes.google.issueToken({ email, ...overrides });
    const res = await new TestClient().post("/api/auth/google/", { access_token: token });
    expect(res.status).toBe(400);
    expect(res.body.non_field_errors).toHaveLength(1);
    expect(res.setCookies).toEqual([]);
    expect(await countRows("users", "email = ?", email)).toBe(0);
  });

  it("rejects an unknown token, a missing token and a bad role", async () => {
    const client = new TestClient();
    expect((await client.post("/api/auth/google/", { access_token: "ya29.unknown" })).status).toBe(400);
    const missing = await client.post("/api/auth/google/", {});
    expect(missing.status).toBe(400);
    expect(missing.body.access_token).toEqual(["This field is required."]);
    const admin = await client.post("/api/auth/google/", { access_token: "x", role: "ADMIN" });
    expect(admin.status).toBe(400);
    expect(admin.body.role).toEqual(['"ADMIN" is not a valid choice.']);
  });

  it("answers 502 when Google is down", async () => {
    networkFakes.google.down = true;
    const res = await new TestClient().post("/api/auth/google/", { access_token: "ya29.whatever" });
    expect(res.status).toBe(502);
    expect(res.body.detail).toMatch(/Google/);
  });

  it("requires an invitation for a new organizer when invitations are on", async () => {
    const email = `${uniqueName("gorg")}@gmail.com`;
    const token = networkFakes.google.issueToken({ email });
    const res = await new TestClient({ ORGANIZER_INVITE_REQUIRED: "true" }).post("/api/auth/google/", {
      access_token: token,
      role: "ORGANIZER",
    });
    expect(res.status).toBe(400);
    expect(res.body.invitation_code).toEqual(["Invalid or expired invitation code."]);
    expect(await countRows("users", "email = ?", email)).toBe(0);
  });
});

describe("password reset", () => {
  it("always answers 200, and mails a link only to a known address", async () => {
    const client = new TestClient();
    const unknown = `${uniqueName("nobody")}@example.com`;
    const res = await client.post("/api/auth/password/reset/", { email: unknown });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ detail: "Password reset e-mail has been sent." });
    expect(await outboxFor(client, unknown)).toEqual([]);

    const user = await registerUser(new TestClient());
    const known = await client.post("/api/auth/password/reset/", { email: user.email.toUpperCase() });
    expect(known.status).toBe(200);
    const mails = await outboxFor(client, user.email);
    expect(
      mails.some(
        (m) =>
          m.kind === "password_reset" && m.text.includes("https://ticketsafi.test/password-reset/confirm/"),
      ),
    ).toBe(true);
  });

  it("refuses a malformed email with 400", async () => {
    const res = await new TestClient().post("/api/auth/password/reset/", { email: "nope" });
    expect(res.status).toBe(400);
    expect(res.body.email).toEqual(["Enter a valid email address."]);
  });

  it("sets the new password once, ends every session, and the link dies", async () => {
    const session = new TestClient();
    const user = await registerUser(session);
    await new TestClient().post("/api/auth/password/reset/", { email: user.email });
    const link = await latestLink(session, user.email, "password-reset");
    const newPassword = "Brand-New-Secret-77";

    const res = await new TestClient().post("/api/auth/password/reset/confirm/", {
      ...link,
      new_password1: newPassword,
      new_password2: newPassword,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ detail: "Password has been reset with the new password." });

    // The session from registration is over; the old password no longer works; the new one does.
    expect((await session.get("/api/auth/user/")).status).toBe(401);
    expect(
      (await new TestClient().post("/api/auth/login/", { username: user.username, password: user.password }))
        .status,
    ).toBe(400);
    expect(
      (await new TestClient().post("/api/auth/login/", { username: user.username, password: newPassword }))
        .status,
    ).toBe(200);

    const reuse = await new TestClient().post("/api/auth/password/reset/confirm/", {
      ...link,
      new_password1: "Another-Secret-88",
      new_password2: "Another-Secret-88",
    });
    expect(reuse.status).toBe(400);
    expect(reuse.body.token).toEqual(["Invalid value"]);
  });

  it("kills a link issued before the password last changed", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    await client.post("/api/auth/password/reset/", { email: user.email });
    const link = await latestLink(client, user.email, "password-reset");
    await env.DB.prepare("UPDATE users SET password_changed_at = ? WHERE id = ?")
      .bind(Date.now() + 1000, user.id)
      .run();
    const res = await client.post("/api/auth/password/reset/confirm/", {
      ...link,
      new_password1: "Fresh-Secret-91",
      new_password2: "Fresh-Secret-91",
    });
    expect(res.status).toBe(400);
    expect(res.body.token).toEqual(["Invalid value"]);
  });

  it("refuses an expired link, a bad uid, mismatched and weak passwords without using the link", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    await client.post("/api/auth/password/reset/", { email: user.email });
    const link = await latestLink(client, user.email, "password-reset");

    const badUid = await client.post("/api/auth/password/reset/confirm/", {
      uid: "zzz",
      token: link.token,
      new_password1: "a",
      new_password2: "a",
    });
    expect(badUid.status).toBe(400);
    expect(badUid.body.uid).toEqual(["Invalid value"]);

    const mismatch = await client.post("/api/auth/password/reset/confirm/", {
      ...link,
      new_password1: "Fresh-Secret-91",
      new_password2: "Fresh-Secret-92",
    });
    expect(mismatch.status).toBe(400);
    expect(mismatch.body.new_password2).toEqual(["The two password fields didn’t match."]);

    const weak = await client.post("/api/auth/password/reset/confirm/", {
      ...link,
      new_password1: "12345678",
      new_password2: "12345678",
    });
    expect(weak.status).toBe(400);
    expect(weak.body.new_password2).toContain("This password is entirely numeric.");

    const missing = await client.post("/api/auth/password/reset/confirm/", { uid: link.uid });
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({
      token: ["This field is required."],
      new_password1: ["This field is required."],
    });

    // None of that used the link up.
    const ok = await client.post("/api/auth/password/reset/confirm/", {
      ...link,
      new_password1: "Fresh-Secret-91",
      new_password2: "Fresh-Secret-91",
    });
    expect(ok.status).toBe(200);

    await client.post("/api/auth/password/reset/", { email: user.email });
    const second = await latestLink(client, user.email, "password-reset");
    await env.DB.prepare("UPDATE account_tokens SET expires_at = 1 WHERE user_id = ? AND used_at IS NULL")
      .bind(user.id)
      .run();
    const expired = await client.post("/api/auth/password/reset/confirm/", {
      ...second,
      new_password1: "Other-Secret-93",
      new_password2: "Other-Secret-93",
    });
    expect(expired.status).toBe(400);
    expect(expired.body.token).toEqual(["Invalid value"]);
  });

  it("turns a shadow user who resets into a normal account that can log in", async () => {
    const client = new TestClient();
    const email = `${uniqueName("shadowreset")}@example.com`;
    await createShadowUser(email);
    await client.post("/api/auth/password/reset/", { email });
    const link = await latestLink(client, email, "password-reset");
    const res = await client.post("/api/auth/password/reset/confirm/", {
      ...link,
      new_password1: GOOD_PASSWORD,
      new_password2: GOOD_PASSWORD,
    });
    expect(res.status).toBe(200);
    const login = await new TestClient().post(
      "/api/auth/login/",
      { email, password: GOOD_PASSWORD },
      { schema: LoginResponse },
    );
    expect(login.status).toBe(200);
    expect(login.body.user.is_verified).toBe(true);
  });

  it("sends at most 3 reset emails an hour to one address", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    for (let i = 0; i < 5; i++)
      expect((await client.post("/api/auth/password/reset/", { email: user.email })).status).toBe(200);
    const resets = (await outboxFor(client, user.email)).filter((m) => m.kind === "password_reset");
    expect(resets).toHaveLength(3);
  });
});
