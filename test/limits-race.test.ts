/**
 * Limits that hold under parallel load (issue #11 item 10, contract §2): each attempt is
 * reserved atomically BEFORE the expensive or visible step (the password check, the email),
 * so N parallel attempts get exactly as many checks as N sequential ones would.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import { consumeLimits, releaseHit } from "../src/services/rate-limit";
import { outboxFor, registerUser } from "./helpers/accounts";
import { TestClient } from "./helpers/client";
import { freeOrder } from "./helpers/tickets";

const PARALLEL = 40;
const db = createDb(env.DB);
const HOUR = 60 * 60 * 1000;

function statusCounts(statuses: number[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const s of statuses) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}

describe("login limits under parallel load", () => {
  it(`${PARALLEL} parallel bad logins on one account: exactly 5 reach the password check`, async () => {
    const user = await registerUser(new TestClient());
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        // A different address each: only the per-account limit (5) can trip.
        new TestClient().post("/api/auth/login/", { username: user.username, password: `wrong-${i}-pw` }),
      ),
    );
    // 400 = the password was checked and was wrong; 429 = refused before the check.
    expect(statusCounts(answers.map((a) => a.status))).toEqual({ 400: 5, 429: PARALLEL - 5 });
    for (const a of answers.filter((r) => r.status === 429)) {
      expect(Number(a.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Locked: even the right password is refused now, unchecked.
    const locked = await new TestClient().post("/api/auth/login/", {
      username: user.username,
      password: user.password,
    });
    expect(locked.status).toBe(429);
  });

  it(`${PARALLEL} parallel bad logins from one address: exactly 30 reach the password check`, async () => {
    const client = new TestClient({}, `198.51.100.${Math.floor(Math.random() * 250)}`);
    const answers = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        client.post("/api/auth/login/", {
          username: `ghost-${crypto.randomUUID()}-${i}`,
          password: "Nope-nope-1",
        }),
      ),
    );
    expect(statusCounts(answers.map((a) => a.status))).toEqual({ 400: 30, 429: PARALLEL - 30 });
  });

  it("a successful login clears the account's failures and costs its address nothing", async () => {
    const address = `203.0.113.${Math.floor(Math.random() * 250)}`;
    const user = await registerUser(new TestClient());
    for (let i = 0; i < 4; i++) {
      const res = await new TestClient({}, address).post("/api/auth/login/", {
        username: user.username,
        password: `wrong-${i}-pw`,
      });
      expect(res.status).toBe(400);
    }
    const ok = await new TestClient({}, address).post("/api/auth/login/", {
      username: user.username,
      password: user.password,
    });
    expect(ok.status, ok.text).toBe(200);
    // The account starts again at 0: five more failures are checked before the lock.
    const after = await Promise.all(
      Array.from({ length: 6 }, (_, i) =>
        new TestClient().post("/api/auth/login/", { username: user.username, password: `again-${i}-pw` }),
      ),
    );
    expect(statusCounts(after.map((a) => a.status))).toEqual({ 400: 5, 429: 1 });
    // The address holds its 4 failures only (the success was given back).
    const row = await env.DB.prepare("SELECT hits FROM rate_limits WHERE key = ?")
      .bind(`login:ip:${address}`)
      .first<{ hits: string }>();
    expect(JSON.parse(row?.hits ?? "[]")).toHaveLength(4);
  });
});

describe("reserving several limits at once", () => {
  const limit = (max: number) => ({ key: `test:${crypto.randomUUID()}`, max, windowMs: HOUR });

  it("is all or nothing: a full limit takes no hit from the others", async () => {
    const roomy = limit(10);
    const tight = limit(2);
    const now = Date.UTC(2030, 0, 15, 11, 0, 0);
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => consumeLimits(db, [roomy, tight], now + i)),
    );
    expect(answers.filter((a) => a.allowed)).toHaveLength(2);
    const refused = answers.find((a) => !a.allowed);
    expect(refused?.retryAfter).toBeGreaterThan(0);
    const rows = await env.DB.prepare("SELECT key, hits FROM rate_limits WHERE key IN (?, ?)")
      .bind(roomy.key, tight.key)
      .all<{ key: string; hits: string }>();
    for (const row of rows.results) expect(JSON.parse(row.hits)).toHaveLength(2);
  });

  it("releaseHit gives back exactly one hit", async () => {
    const l = limit(3);
    const now = Date.UTC(2030, 0, 15, 12, 0, 0);
    for (let i = 0; i < 3; i++) expect((await consumeLimits(db, [l], now)).allowed).toBe(true);
    expect((await consumeLimits(db, [l], now + 1)).allowed).toBe(false);
    await releaseHit(db, l, now);
    expect((await consumeLimits(db, [l], now + 2)).allowed).toBe(true);
    expect((await consumeLimits(db, [l], now + 3)).allowed).toBe(false);
    // Releasing a hit that is not there changes nothing.
    await releaseHit(db, l, now - 5);
    expect((await consumeLimits(db, [l], now + 4)).allowed).toBe(false);
  });
});

describe("mail limits under parallel load", () => {
  it("24 parallel resends of one ticket: exactly 3 are queued, the rest 429", async () => {
    const order = await freeOrder();
    const before = order.recording.orderJobs().length;
    const answers = await Promise.all(
      Array.from({ length: 24 }, () => order.buyer.post(`/api/tickets/${order.ticketIds[0]}/resend/`)),
    );
    expect(statusCounts(answers.map((a) => a.status))).toEqual({ 202: 3, 429: 21 });
    expect(order.recording.orderJobs().length - before).toBe(3);
  });

  it("24 parallel password reset requests for one address: exactly 3 emails", async () => {
    const client = new TestClient();
    const user = await registerUser(client);
    const answers = await Promise.all(
      Array.from({ length: 24 }, () =>
        new TestClient().post("/api/auth/password/reset/", { email: user.email }),
      ),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const resets = (await outboxFor(client, user.email)).filter((m) => m.kind === "password_reset");
    expect(resets).toHaveLength(3);
  });
});

describe("invitation code guesses under parallel load", () => {
  const INVITES_ON = { ORGANIZER_INVITE_REQUIRED: "true" };

  it("24 parallel wrong codes from one address: exactly 10 are looked up, the rest 429", async () => {
    const client = new TestClient(INVITES_ON, `192.0.2.${Math.floor(Math.random() * 250)}`);
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => client.post("/api/auth/check-code/", { code: `GUESS-${i}` })),
    );
    expect(statusCounts(answers.map((a) => a.status))).toEqual({ 404: 10, 429: 14 });
    const refused = answers.find((a) => a.status === 429);
    expect(refused?.body).toMatchObject({
      code: "rate_limited",
      error: expect.any(String),
      detail: expect.any(String),
    });
    expect(Number(refused?.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("a valid code costs nothing: the address keeps its 10 tries", async () => {
    const code = `REAL-${crypto.randomUUID().slice(0, 8)}`;
    await env.DB.prepare("INSERT INTO invitation_codes (id, code, created_at) VALUES (?, ?, ?)")
      .bind(crypto.randomUUID(), code, Date.now())
      .run();
    const client = new TestClient(INVITES_ON, `192.0.2.${Math.floor(Math.random() * 250)}`);
    for (let i = 0; i < 12; i++) {
      expect((await client.post("/api/auth/check-code/", { code })).status).toBe(200);
    }
    const wrong = await Promise.all(
      Array.from({ length: 11 }, (_, i) => client.post("/api/auth/check-code/", { code: `NOPE-${i}` })),
    );
    expect(statusCounts(wrong.map((a) => a.status))).toEqual({ 404: 10, 429: 1 });
  });
});
