import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ActivationResponse, RegistrationResponse } from "../src/http/views/session";
import {
  countRows,
  createShadowUser,
  GOOD_PASSWORD,
  latestLink,
  outboxFor,
  registerUser,
} from "./helpers/accounts";
import { TestClient, uniqueName } from "./helpers/client";

const USER_KEYS = [
  "avatar_url",
  "email",
  "first_name",
  "id",
  "is_verified",
  "last_name",
  "role",
  "username",
  "wallet_id",
];

describe("POST /api/auth/registration/", () => {
  it("creates an attendee, signs them in with the contract's cookies and mails a verification link", async () => {
    const client = new TestClient();
    const username = uniqueName("wanjiku");
    const res = await client.post(
      "/api/auth/registration/",
      {
        username,
        email: `${username}@Example.com`,
        password: GOOD_PASSWORD,
        password2: GOOD_PASSWORD,
        is_offline_ready: true,
      },
      { schema: RegistrationResponse },
    );
    expect(res.status).toBe(201);
    expect(Object.keys(res.body.user).sort()).toEqual(USER_KEYS);
    expect(res.body.user).toMatchObject({
      username,
      role: "ATTENDEE",
      is_verified: false,
      wallet_id: null,
      first_name: "",
    });

    const access = res.setCookies.find((c) => c.startsWith("ticketsafi-auth="));
    const refresh = res.setCookies.find((c) => c.startsWith("ticketsafi-refresh="));
    for (const cookie of [access, refresh]) {
      expect(cookie).toBeDefined();
      expect(cookie).toMatch(/HttpOnly/);
      expect(cookie).toMatch(/Secure/);
      expect(cookie).toMatch(/SameSite=Lax/);
      expect(cookie).toMatch(/Path=\//);
    }
    expect(access).toMatch(/Max-Age=900/);
    expect(refresh).toMatch(/Max-Age=604800/);

    const me = await client.get("/api/auth/user/");
    expect(me.status).toBe(200);
    expect(me.body.username).toBe(username);

    const [mail] = await outboxFor(client, `${username}@Example.com`);
    expect(mail?.kind).toBe("verify_email");
    expect(mail?.text).toMatch(/https:\/\/ticketsafi\.test\/activate\/[^/\s]+\/[^/\s]+/);
  });

  it("accepts password1 (the web client sends password, password1 and password2)", async () => {
    const username = uniqueName();
    const res = await new TestClient().post("/api/auth/registration/", {
      username,
      email: `${username}@example.com`,
      password1: GOOD_PASSWORD,
      password2: GOOD_PASSWORD,
    });
    expect(res.status).toBe(201);
  });

  it("accepts a multipart form like DRF does", async () => {
    const username = uniqueName();
    const form = new FormData();
    form.set("username", username);
    form.set("email", `${username}@example.com`);
    form.set("password", GOOD_PASSWORD);
    form.set("role", "ORGANIZER");
    const res = await new TestClient().request("POST", "/api/auth/registration/", {
      form,
      schema: RegistrationResponse,
    });
    expect(res.status).toBe(201);
    expect(res.body.user.role).toBe("ORGANIZER");
  });

  it.each(["ADMIN", "SCANNER", "admin", "superuser"])(
    "refuses to register with role %s and writes nothing",
    async (role) => {
      const username = uniqueName();
      const res = await new TestClient().post("/api/auth/registration/", {
        username,
        email: `${username}@example.com`,
        password: GOOD_PASSWORD,
        role,
      });
      expect(res.status).toBe(400);
      expect(res.body.role).toEqual([`"${role}" is not a valid choice.`]);
      expect(res.setCookies).toEqual([]);
      expect(await countRows("users", "username = ?", username)).toBe(0);
    },
  );

  it("ignores read-only fields sent at registration", async () => {
    const username = uniqueName();
    const res = await new TestClient().post(
      "/api/auth/registration/",
      {
        username,
        email: `${username}@example.com`,
        password: GOOD_PASSWORD,
        is_verified: true,
        is_staff: true,
        id: "00000000-0000-0000-0000-000000000001",
      },
      { schema: RegistrationResponse },
    );
    expect(res.status).toBe(201);
    expect(res.body.user.is_verified).toBe(false);
    expect(res.body.user.id).not.toBe("00000000-0000-0000-0000-000000000001");
  });

  it("refuses a taken username or email, whatever their case", async () => {
    const client = new TestClient();
    const first = await registerUser(client);
    const res = await new TestClient().post("/api/auth/registration/", {
      username: first.username.toUpperCase(),
      email: first.email.toUpperCase(),
      password: GOOD_PASSWORD,
    });
    expect(res.status).toBe(400);
    expect(res.body.username).toEqual(["A user with that username already exists."]);
    expect(res.body.email).toEqual(["A user with that email already exists."]);
  });

  it.each([
    ["short", "Ab1!x", "This password is too short. It must contain at least 8 characters."],
    ["all digits", "8675309123", "This password is entirely numeric."],
    ["common", "password123", "This password is too common."],
  ])("refuses a %s password", async (_label, password, message) => {
    const username = uniqueName();
    const res = await new TestClient().post("/api/auth/registration/", {
      username,
      email: `${username}@example.com`,
      password,
    });
    expect(res.status).toBe(400);
    expect(res.body.password).toContain(message);
    expect(await countRows("users", "username = ?", username)).toBe(0);
  });

  it("refuses a password that is like the username", async () => {
    const username = uniqueName("kamau");
    const res = await new TestClient().post("/api/auth/registration/", {
      username,
      email: `x${username}@example.com`,
      password: `${username}1`,
    });
    expect(res.status).toBe(400);
    expect(res.body.password).toContain("The password is too similar to the username.");
  });

  it("refuses mismatched passwords", async () => {
    const username = uniqueName();
    const res = await new TestClient().post("/api/auth/registration/", {
      username,
      email: `${username}@example.com`,
      password: GOOD_PASSWORD,
      password2: `${GOOD_PASSWORD}x`,
    });
    expect(res.status).toBe(400);
    expect(res.body.non_field_errors).toEqual(["The two password fields didn't match."]);
  });

  it("names every missing or mistyped field", async () => {
    const client = new TestClient();
    const missing = await client.post("/api/auth/registration/", {});
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({
      username: ["This field is required."],
      email: ["This field is required."],
      password: ["This field is required."],
    });

    const wrongTypes = await client.post("/api/auth/registration/", {
      username: 12345,
      email: "not-an-email",
      password: ["x"],
    });
    expect(wrongTypes.status).toBe(400);
    expect(wrongTypes.body.username).toEqual(["Not a valid string."]);
    expect(wrongTypes.body.email).toEqual(["Enter a valid email address."]);
    expect(wrongTypes.body.password).toEqual(["Not a valid string."]);

    const badName = await client.post("/api/auth/registration/", {
      username: "has spaces!",
      email: "a@example.com",
      password: GOOD_PASSWORD,
    });
    expect(badName.status).toBe(400);
    expect((badName.body.username as string[])[0]).toMatch(/Enter a valid username/);
  });

  it("answers broken, non-object, oversized and non-JSON bodies with 4xx and writes nothing", async () => {
    const client = new TestClient();
    const before = await countRows("users");
    const broken = await client.request("POST", "/api/auth/registration/", {
      rawBody: '{"username": "x",',
      headers: { "content-type": "application/json" },
    });
    expect(broken.status).toBe(400);
    expect(String(broken.body.detail)).toMatch(/^JSON parse error/);

    const list = await client.post("/api/auth/registration/", [1, 2, 3]);
    expect(list.status).toBe(400);
    expect(list.body.non_field_errors).toEqual(["Invalid data. Expected a dictionary, but got list."]);

    const huge = await client.post("/api/auth/registration/", {
      username: "big",
      email: "big@example.com",
      password: "x".repeat(200_000),
    });
    expect(huge.status).toBe(413);
    expect(huge.body.detail).toMatch(/too large/);

    const text = await client.request("POST", "/api/auth/registration/", {
      rawBody: "username=x",
      headers: { "content-type": "text/plain" },
    });
    expect(text.status).toBe(415);
    expect(text.body.detail).toBe('Unsupported media type "text/plain" in request.');
    expect(await countRows("users")).toBe(before);
  });
});

describe("shadow (guest) accounts", () => {
  it("sends a claim email instead of a session, and the link applies the chosen password once", async () => {
    const client = new TestClient();
    const email = `${uniqueName("guest")}@example.com`;
    const shadowId = await createShadowUser(email);
    const username = uniqueName("claimed");

    const res = await client.post("/api/auth/registration/", {
      username,
      email: email.toUpperCase(),
      password: GOOD_PASSWORD,
      password2: GOOD_PASSWORD,
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ non_field_errors: ["ACCOUNT_EXISTS_NEEDS_ACTIVATION"] });
    // No session; only the claim cookie binding the mailed link to this browser (contract §2).
    expect(res.setCookies.map((c) => c.split("=")[0])).toEqual(["ticketsafi-claim"]);

    // Not claimed yet: the guest still cannot log in with the new password.
    const early = await new TestClient().post("/api/auth/login/", { email, password: GOOD_PASSWORD });
    expect(early.status).toBe(400);

    const [mail] = await outboxFor(client, email);
    expect(mail?.kind).toBe("account_claim");
    const link = await latestLink(client, email, "activate");

    const activated = await client.post("/api/auth/guest/activate/", link, { schema: ActivationResponse });
    expect(activated.status).toBe(200);
    expect(activated.body.message).toBe("Account activated");
    expect(activated.body.user).toMatchObject({
      id: shadowId,
      username,
      is_verified: true,
      role: "ATTENDEE",
    });
    expect(activated.setCookies.some((c) => c.startsWith("ticketsafi-auth="))).toBe(true);

    const login = await new TestClient().post("/api/auth/login/", { email, password: GOOD_PASSWORD });
    expect(login.status).toBe(200);

    const again = await new TestClient().post("/api/auth/guest/activate/", link);
    expect(again.status).toBe(400);
    expect(again.body).toMatchObject({
      error: "Invalid or expired activation link.",
      detail: "Invalid or expired activation link.",
      code: "invalid_link",
    });
  });
});

describe("POST /api/auth/guest/activate/", () => {
  it("verifies a newly registered address", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    const link = await latestLink(client, user.email, "activate");
    const res = await new TestClient().post("/api/auth/guest/activate/", link, {
      schema: ActivationResponse,
    });
    expect(res.status).toBe(200);
    expect(res.body.user.is_verified).toBe(true);
  });

  it("answers bad links and bad input in the error+detail+code shape", async () => {
    const client = new TestClient();
    const garbage = await client.post("/api/auth/guest/activate/", { uid: "bm90LWEtdXNlcg", token: "nope" });
    expect(garbage.status).toBe(400);
    expect(garbage.body).toEqual({
      error: "Invalid or expired activation link.",
      detail: "Invalid or expired activation link.",
      code: "invalid_link",
    });

    const empty = await client.post("/api/auth/guest/activate/", { uid: "", token: 5 });
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({ code: "validation_error", uid: ["This field may not be blank."] });
    expect(typeof empty.body.error).toBe("string");
    expect(empty.body.error).toBe(empty.body.detail);
  });

  it("refuses an expired link", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    const link = await latestLink(client, user.email, "activate");
    await env.DB.prepare("UPDATE account_tokens SET expires_at = 0 WHERE user_id = ?").bind(user.id).run();
    const res = await client.post("/api/auth/guest/activate/", link);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe("invalid_link");
  });
});

describe("organizer invitations", () => {
  const required = { ORGANIZER_INVITE_REQUIRED: "true" } as const;

  async function createCode(code: string, maxUses: number | null = null) {
    await env.DB.prepare("INSERT INTO invitation_codes (id, code, max_uses) VALUES (?, ?, ?)")
      .bind(crypto.randomUUID(), code, maxUses)
      .run();
  }

  it("accepts any non-empty code while invitations are off", async () => {
    const res = await new TestClient().post("/api/auth/check-code/", { code: "ANYTHING" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ valid: true });
  });

  it("answers an empty code with 400 in the error+detail+code shape", async () => {
    const res = await new TestClient().post("/api/auth/check-code/", { code: "   " });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe("This field may not be blank.");
    expect(res.body.detail).toBe("This field may not be blank.");
    expect(res.body.code).toBe("validation_error");
  });

  it("checks codes against the table when invitations are required", async () => {
    const code = `TS-${uniqueName("").toUpperCase()}`;
    await createCode(code);
    const client = new TestClient(required);
    const valid = await client.post("/api/auth/check-code/", { code: code.toLowerCase() });
    expect(valid.status).toBe(200);
    expect(valid.body).toEqual({ valid: true });

    const invalid = await client.post("/api/auth/check-code/", { code: "NOT-A-CODE" });
    expect(invalid.status).toBe(404);
    expect(invalid.body).toEqual({
      valid: false,
      error: "Invalid or expired code.",
      detail: "Invalid or expired code.",
      code: "invalid_code",
    });
  });

  it("requires a usable code to register as an organizer, and counts its uses", async () => {
    const code = `TS-${uniqueName("").toUpperCase()}`;
    await createCode(code, 1);
    const client = new TestClient(required);

    const withoutCode = await client.post("/api/auth/registration/", {
      username: uniqueName("org"),
      email: `${uniqueName("org")}@example.com`,
      password: GOOD_PASSWORD,
      role: "ORGANIZER",
    });
    expect(withoutCode.status).toBe(400);
    expect(withoutCode.body.invitation_code).toBeDefined();

    const organizer = await registerUser(new TestClient(required), {
      role: "ORGANIZER",
      invitation_code: code,
    });
    expect(organizer.role).toBe("ORGANIZER");

    const exhausted = await new TestClient(required).post("/api/auth/registration/", {
      username: uniqueName("org"),
      email: `${uniqueName("org")}@example.com`,
      password: GOOD_PASSWORD,
      role: "ORGANIZER",
      invitation_code: code,
    });
    expect(exhausted.status).toBe(400);
    expect(exhausted.body.invitation_code).toEqual(["Invalid or expired invitation code."]);

    // Attendees never need a code.
    const attendee = await registerUser(new TestClient(required));
    expect(attendee.role).toBe("ATTENDEE");
  });
});
