/** Builders for account tests: real registrations through the API, links read from the outbox. */
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import { pageSchema } from "../../src/http/pagination";
import { OutboxMailSchema } from "../../src/http/views/outbox-mail";
import { RegistrationResponse } from "../../src/http/views/session";
import { type Body, type TestClient, uniqueName } from "./client";

export const GOOD_PASSWORD = "Correct-Horse-42";

export interface RegisteredUser {
  id: string;
  username: string;
  email: string;
  password: string;
  role: string;
}

export async function registerUser(
  client: TestClient,
  overrides: Partial<{
    username: string;
    email: string;
    password: string;
    role: string;
    invitation_code: string;
  }> = {},
): Promise<RegisteredUser> {
  const username = overrides.username ?? uniqueName("fan");
  const email = overrides.email ?? `${username}@example.com`;
  const password = overrides.password ?? GOOD_PASSWORD;
  const res = await client.post(
    "/api/auth/registration/",
    {
      username,
      email,
      password,
      password2: password,
      ...(overrides.role ? { role: overrides.role } : {}),
      ...(overrides.invitation_code ? { invitation_code: overrides.invitation_code } : {}),
    },
    { schema: RegistrationResponse },
  );
  expect(res.status, res.text).toBe(201);
  return { id: res.body.user.id, username, email, password, role: res.body.user.role };
}

type OutboxMail = Body<typeof OutboxMailSchema>;

export async function outboxFor(client: TestClient, email: string): Promise<OutboxMail[]> {
  const res = await client.get(`/__dev/outbox/?to=${encodeURIComponent(email)}`, {
    noCookies: true,
    schema: pageSchema(OutboxMailSchema),
  });
  expect(res.status).toBe(200);
  return res.body.results;
}

/** The `{uid, token}` of the newest link of that kind mailed to `email`. */
export async function latestLink(client: TestClient, email: string, kind: "activate" | "password-reset") {
  const mails = await outboxFor(client, email);
  const pattern =
    kind === "activate"
      ? /\/activate\/([^/\s]+)\/([^/\s]+)/
      : /\/password-reset\/confirm\/([^/\s]+)\/([^/\s]+)\//;
  for (const mail of mails) {
    const match = pattern.exec(mail.text);
    if (match?.[1] && match[2]) return { uid: match[1], token: match[2] };
  }
  throw new Error(`no ${kind} link mailed to ${email}`);
}

/** A shadow (guest) user as a guest checkout creates one: no password, is_guest. */
export async function createShadowUser(email: string): Promise<string> {
  const id = crypto.randomUUID();
  await env.DB.prepare(
    "INSERT INTO users (id, username, email, password_hash, is_guest) VALUES (?, ?, ?, NULL, 1)",
  )
    .bind(id, uniqueName("guest"), email)
    .run();
  return id;
}

export async function countRows(table: string, where = "1 = 1", ...binds: unknown[]): Promise<number> {
  const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE ${where}`)
    .bind(...binds)
    .first<{ n: number }>();
  return row?.n ?? 0;
}
