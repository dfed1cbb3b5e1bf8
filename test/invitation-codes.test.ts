/**
 * Single-use organizer invitation codes stay single-use on every path that creates an
 * organizer (issue #11 item 4, contract §2): a plain registration, a registration over a
 * shadow (guest) account's email (the claim link grants the role later), and Google
 * sign-in. One code with one use, 24+ parallel attempts: exactly one organizer.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { networkFakes } from "./fakes/network";
import { countRows, createShadowUser, GOOD_PASSWORD, latestLink } from "./helpers/accounts";
import { TestClient, uniqueName } from "./helpers/client";

const REQUIRED = { ORGANIZER_INVITE_REQUIRED: "true" } as const;
const PARALLEL = 24;

async function singleUseCode(): Promise<string> {
  const code = `ONE-${uniqueName("").toUpperCase()}`;
  await env.DB.prepare("INSERT INTO invitation_codes (id, code, max_uses) VALUES (?, ?, 1)")
    .bind(crypto.randomUUID(), code)
    .run();
  return code;
}

async function useCount(code: string): Promise<number> {
  const row = await env.DB.prepare("SELECT use_count FROM invitation_codes WHERE code = ?")
    .bind(code)
    .first<{ use_count: number }>();
  return row?.use_count ?? -1;
}

function organizerRegistration(code: string, email = `${uniqueName("org")}@example.com`) {
  return new TestClient(REQUIRED).post<{ user?: { role: string } }>("/api/auth/registration/", {
    username: uniqueName("org"),
    email,
    password: GOOD_PASSWORD,
    password2: GOOD_PASSWORD,
    role: "ORGANIZER",
    invitation_code: code,
  });
}

describe("one single-use code, many organizer registrations at once", () => {
  it("makes exactly one organizer from 24 parallel plain registrations", async () => {
    const code = await singleUseCode();
    const answers = await Promise.all(Array.from({ length: PARALLEL }, () => organizerRegistration(code)));
    const created = answers.filter((a) => a.status === 201);
    expect(created).toHaveLength(1);
    expect(created[0]?.body.user?.role).toBe("ORGANIZER");
    for (const refused of answers.filter((a) => a.status !== 201)) {
      expect(refused.status, refused.text).toBe(400);
      expect(refused.body).toMatchObject({ invitation_code: ["Invalid or expired invitation code."] });
    }
    expect(await useCount(code)).toBe(1);
  });

  it("makes exactly one organizer when the code is used on shadow accounts' emails", async () => {
    const code = await singleUseCode();
    const emails = Array.from({ length: PARALLEL }, () => `${uniqueName("shadoworg")}@example.com`);
    const shadowIds = await Promise.all(emails.map((email) => createShadowUser(email)));

    // Each registration is a claim (no account yet); the code must be spent by one of them only.
    const answers = await Promise.all(
      emails.map(async (email) => {
        const browser = new TestClient(REQUIRED);
        const res = await browser.post("/api/auth/registration/", {
          username: uniqueName("org"),
          email,
          password: GOOD_PASSWORD,
          password2: GOOD_PASSWORD,
          role: "ORGANIZER",
          invitation_code: code,
        });
        return { email, browser, res };
      }),
    );
    const claims = answers.filter((a) => a.res.body.non_field_errors !== undefined);
    expect(claims).toHaveLength(1);
    for (const other of answers.filter((a) => a.res.body.non_field_errors === undefined)) {
      expect(other.res.status, other.res.text).toBe(400);
      expect(other.res.body).toMatchObject({ invitation_code: ["Invalid or expired invitation code."] });
    }
    expect(await useCount(code)).toBe(1);

    // Every shadow user that got a link uses it: one organizer in all.
    for (const { email, browser } of claims) {
      const activated = await browser.post(
        "/api/auth/guest/activate/",
        await latestLink(browser, email, "activate"),
      );
      expect(activated.status, activated.text).toBe(200);
    }
    const placeholders = shadowIds.map(() => "?").join(", ");
    expect(await countRows("users", `role = 'ORGANIZER' AND id IN (${placeholders})`, ...shadowIds)).toBe(1);
  });

  it("makes exactly one organizer from 24 parallel Google sign-ups", async () => {
    const code = await singleUseCode();
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, () =>
        new TestClient(REQUIRED).post<{ user?: { role: string } }>("/api/auth/google/", {
          access_token: networkFakes.google.issueToken({ email: `${uniqueName("gorg")}@gmail.com` }),
          role: "ORGANIZER",
          invitation_code: code,
        }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(PARALLEL - 1);
    expect(await useCount(code)).toBe(1);
  });

  it("keeps check-code's answers (it checks, never spends)", async () => {
    const code = await singleUseCode();
    const client = new TestClient(REQUIRED);
    expect((await client.post("/api/auth/check-code/", { code })).body).toEqual({ valid: true });
    expect((await client.post("/api/auth/check-code/", { code })).body).toEqual({ valid: true });
    expect(await useCount(code)).toBe(0);
    const unknown = await client.post("/api/auth/check-code/", { code: "NO-SUCH-CODE" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({
      valid: false,
      error: "Invalid or expired code.",
      detail: "Invalid or expired code.",
      code: "invalid_code",
    });
  });
});
