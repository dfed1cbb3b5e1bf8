/**
 * Reads from the nearest copy of D1 (issue 15, part 2; src/http/d1-session.ts): reads start
 * unconstrained (a replica), writes on the primary, and a write hands the client a signed
 * bookmark that its next read starts from (read-your-writes). Locally there are no replicas,
 * so which session a request opens is observed by a recorder around the real binding.
 */
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import type { AppEnv } from "../src/http/context";
import { BOOKMARK_COOKIE, BOOKMARK_HEADER, openRequestD1Session } from "../src/http/d1-session";
import { signValue, verifySignedValue } from "../src/lib/crypto";
import { GOOD_PASSWORD, registerUser } from "./helpers/accounts";
import { TestClient } from "./helpers/client";

/** The bookmark cookie's value among a response's Set-Cookie headers. */
const bookmarkOf = (setCookies: string[]) =>
  setCookies
    .find((c) => c.startsWith(`${BOOKMARK_COOKIE}=`))
    ?.split(";")[0]
    ?.slice(BOOKMARK_COOKIE.length + 1);

/** The real D1 binding, recording what each `withSession` was opened with. */
function recordingD1() {
  const opened: Array<string | undefined> = [];
  const db = new Proxy(env.DB, {
    get(target, property) {
      if (property === "withSession") {
        return (constraint?: string) => {
          opened.push(constraint);
          return target.withSession(constraint);
        };
      }
      const value = Reflect.get(target, property);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { opened, env: { ...env, DB: db } };
}

/** A one-route app that opens the request's session the way request-context does, and reads once. */
function probeApp() {
  const config = loadConfig(env);
  const app = new Hono<AppEnv>();
  app.all("/probe", async (c) => {
    const d1 = await openRequestD1Session(c, config);
    await d1.session.prepare("SELECT 1").first();
    return c.json({ writes: d1.writes });
  });
  return { app, config };
}

async function realBookmark(): Promise<string> {
  const session = env.DB.withSession("first-primary");
  await session.prepare("SELECT 1").first();
  const bookmark = session.getBookmark();
  if (!bookmark) throw new Error("local D1 gave no bookmark");
  return bookmark;
}

describe("which copy a request reads", () => {
  it("opens reads unconstrained (a replica), writes on the primary", async () => {
    const { app } = probeApp();
    const recorder = recordingD1();
    for (const method of ["GET", "HEAD", "OPTIONS"]) {
      expect((await app.request("/probe", { method }, recorder.env)).status).toBe(200);
    }
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      expect((await app.request("/probe", { method }, recorder.env)).status).toBe(200);
    }
    expect(recorder.opened).toEqual([
      "first-unconstrained",
      "first-unconstrained",
      "first-unconstrained",
      "first-primary",
      "first-primary",
      "first-primary",
      "first-primary",
    ]);
  });

  it("starts a read from the bookmark the client brings back, by cookie or header, only when we signed it", async () => {
    const { app, config } = probeApp();
    const bookmark = await realBookmark();
    const signed = await signValue(config.jwtSecret, "d1-bookmark", bookmark);
    const forged = await signValue("another-secret-of-at-least-thirty-two-chars", "d1-bookmark", bookmark);
    const otherPurpose = await signValue(config.jwtSecret, "something-else", bookmark);
    const recorder = recordingD1();
    const read = (headers: Record<string, string>) => app.request("/probe", { headers }, recorder.env);

    expect((await read({ cookie: `${BOOKMARK_COOKIE}=${signed}` })).status).toBe(200);
    expect((await read({ [BOOKMARK_HEADER]: signed })).status).toBe(200);
    for (const bad of [
      forged,
      otherPurpose,
      `${bookmark}.`,
      bookmark,
      `${bookmark.slice(0, -1)}f.${signed.split(".")[1]}`,
      "garbage",
      "x".repeat(5_000),
    ]) {
      expect((await read({ cookie: `${BOOKMARK_COOKIE}=${bad}` })).status).toBe(200);
      expect((await read({ [BOOKMARK_HEADER]: bad })).status).toBe(200);
    }
    expect(recorder.opened.slice(0, 2)).toEqual([bookmark, bookmark]);
    expect(recorder.opened.slice(2).every((opened) => opened === "first-unconstrained")).toBe(true);
    expect(recorder.opened).toHaveLength(2 + 7 * 2);
  });

  it("signs values so that any change is refused", async () => {
    const signed = await signValue("k".repeat(32), "p", "00000000-0000000a-00000000-00");
    expect(await verifySignedValue("k".repeat(32), "p", signed)).toBe("00000000-0000000a-00000000-00");
    expect(await verifySignedValue("k".repeat(32), "q", signed)).toBeNull();
    expect(await verifySignedValue("j".repeat(32), "p", signed)).toBeNull();
    expect(await verifySignedValue("k".repeat(32), "p", `${signed}A`)).toBeNull();
    expect(await verifySignedValue("k".repeat(32), "p", "no-dot")).toBeNull();
    expect(await verifySignedValue("k".repeat(32), "p", ".AAAA")).toBeNull();
  });
});

describe("the bookmark through the API", () => {
  it("hands a signed bookmark back after a write that succeeded, in a cookie and a header", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    const login = await client.post("/api/auth/login/", { username: user.username, password: GOOD_PASSWORD });
    expect(login.status).toBe(200);
    const cookie = bookmarkOf(login.setCookies);
    expect(cookie).toMatch(/^[0-9a-f-]+\.[A-Za-z0-9_-]+$/);
    expect(login.headers.get(BOOKMARK_HEADER)).toBe(cookie);
    const flags = login.setCookies.find((c) => c.startsWith(`${BOOKMARK_COOKIE}=`)) ?? "";
    expect(flags).toMatch(/HttpOnly/);
    expect(flags).toMatch(/SameSite=Lax/);
    expect(flags).toMatch(/Secure/);

    // The next read carries it back; reads do not hand out a new one.
    const me = await client.get("/api/auth/user/");
    expect(me.status).toBe(200);
    expect(bookmarkOf(me.setCookies)).toBeUndefined();
    expect(me.headers.get(BOOKMARK_HEADER)).toBeNull();
  });

  it("hands no bookmark after a refused write", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    const refused = await new TestClient().post("/api/auth/login/", {
      username: user.username,
      password: "wrong-password-1",
    });
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(bookmarkOf(refused.setCookies)).toBeUndefined();
    expect(refused.headers.get(BOOKMARK_HEADER)).toBeNull();
  });

  it("answers normally whatever bookmark a client makes up", async () => {
    const client = new TestClient();
    await registerUser(client);
    for (const bad of [
      "garbage",
      "00000000-ffffffff-00000000-00000000000000000000000000000000.AAAA",
      "x".repeat(4_000),
    ]) {
      client.cookies.set(BOOKMARK_COOKIE, bad);
      expect((await client.get("/api/auth/user/")).status).toBe(200);
      expect(
        (await new TestClient().get("/api/events/", { headers: { [BOOKMARK_HEADER]: bad } })).status,
      ).toBe(200);
    }
  });

  it("is cleared with the session on logout", async () => {
    const client = new TestClient();
    await registerUser(client);
    expect(client.cookies.has(BOOKMARK_COOKIE)).toBe(true);
    const out = await client.post("/api/auth/logout/");
    expect(out.status).toBe(200);
    expect(out.setCookies.some((c) => c.startsWith(`${BOOKMARK_COOKIE}=;`) && /Max-Age=0/.test(c))).toBe(
      true,
    );
    expect(client.cookies.has(BOOKMARK_COOKIE)).toBe(false);
  });
});
