/**
 * Gate staff (contract §6): SCANNER accounts belong to the organizer who made them, scan
 * only that organizer's events, and reach none of the organizer portal.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { pageSchema } from "../src/http/pagination";
import { EditEventSchema } from "../src/http/views/event";
import { BookingConfirmedSchema } from "../src/http/views/payment";
import { CreatedScannerSchema, ScannerSchema } from "../src/http/views/scanner-account";
import type { LoginResponse } from "../src/http/views/session";
import { GOOD_PASSWORD, registerUser } from "./helpers/accounts";
import { type Body, TestClient, uniqueName } from "./helpers/client";

const CREATE = "/api/organizer/team/scanners/create/";
const LIST = "/api/organizer/team/scanners/";
const DAY = 24 * 60 * 60 * 1000;

const ScannerPage = pageSchema(ScannerSchema);

async function organizer() {
  const client = new TestClient();
  const user = await registerUser(client, { role: "ORGANIZER" });
  return { client, user };
}

async function login(username: string, password = GOOD_PASSWORD) {
  const client = new TestClient();
  const res = await client.post<Body<typeof LoginResponse>>("/api/auth/login/", { username, password });
  return { client, res };
}

describe("POST /api/organizer/team/scanners/create/", () => {
  it("creates a SCANNER account of this organizer that can log in", async () => {
    const { client, user } = await organizer();
    const username = uniqueName("Gate1");
    const email = `${uniqueName("bouncer")}@gmail.com`;
    const res = await client.post(CREATE, { username, email, password: GOOD_PASSWORD });
    expect(res.status, res.text).toBe(201);
    expect(res.body).toEqual({ id: expect.any(String), username, email, role: "SCANNER" });
    const row = await env.DB.prepare("SELECT role, organizer_id, password_hash FROM users WHERE id = ?")
      .bind(res.body.id)
      .first<{ role: string; organizer_id: string; password_hash: string }>();
    expect(row).toMatchObject({ role: "SCANNER", organizer_id: user.id });
    expect(row?.password_hash).toMatch(/^pbkdf2_sha256\$100000\$/);
    expect(row?.password_hash).not.toContain(GOOD_PASSWORD);

    const session = await login(username.toUpperCase());
    expect(session.res.status).toBe(200);
    expect(session.res.body.user.role).toBe("SCANNER");
    const byEmail = new TestClient();
    expect((await byEmail.post("/api/auth/login/", { email, password: GOOD_PASSWORD })).status).toBe(200);
  });

  it("makes the email optional, shown as empty, and several door accounts can go without one", async () => {
    const { client } = await organizer();
    const first = await client.post(
      CREATE,
      {
        username: uniqueName("door"),
        password: GOOD_PASSWORD,
      },
      { schema: CreatedScannerSchema },
    );
    const second = await client.post(
      CREATE,
      {
        username: uniqueName("door"),
        email: "",
        password: GOOD_PASSWORD,
      },
      { schema: CreatedScannerSchema },
    );
    expect(first.status, first.text).toBe(201);
    expect(second.status, second.text).toBe(201);
    expect(first.body.email).toBe("");
    expect(second.body.email).toBe("");
    expect((await login(first.body.username)).res.status).toBe(200);
  });

  it("refuses taken names and addresses (any case), weak passwords and bad usernames, in the error style", async () => {
    const { client } = await organizer();
    const fan = new TestClient();
    const existing = await registerUser(fan);
    const username = uniqueName("gate");
    expect((await client.post(CREATE, { username, password: GOOD_PASSWORD })).status).toBe(201);

    const cases: Array<[Record<string, unknown>, string]> = [
      [{ username: username.toUpperCase(), password: GOOD_PASSWORD }, "username"],
      [{ username: existing.username, password: GOOD_PASSWORD }, "username"],
      [{ username: uniqueName("g"), email: existing.email.toUpperCase(), password: GOOD_PASSWORD }, "email"],
      [{ username: uniqueName("g"), email: "not-an-email", password: GOOD_PASSWORD }, "email"],
      [{ username: uniqueName("g"), password: "12345678" }, "password"],
      [{ username: uniqueName("g"), password: "short" }, "password"],
      [{ username: uniqueName("g"), password: "password" }, "password"],
      [{ username: "gatekeeper77", password: "gatekeeper77!" }, "password"],
      [{ username: "has space", password: GOOD_PASSWORD }, "username"],
      [{ password: GOOD_PASSWORD }, "username"],
      [{ username: uniqueName("g") }, "password"],
    ];
    for (const [body, field] of cases) {
      const res = await client.post(CREATE, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body[field], JSON.stringify(body)).toEqual(expect.arrayContaining([expect.any(String)]));
      expect(res.body.error).toBe(res.body.detail);
      expect(typeof res.body.error).toBe("string");
      expect(res.body.code).toBe("validation_error");
    }
  });

  it("is for organizers only", async () => {
    const fan = new TestClient();
    await registerUser(fan);
    const refused = await fan.post(CREATE, { username: uniqueName("g"), password: GOOD_PASSWORD });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe(refused.body.detail);
    expect(
      (await new TestClient().post(CREATE, { username: uniqueName("g"), password: GOOD_PASSWORD })).status,
    ).toBe(401);
  });
});

describe("GET /api/organizer/team/scanners/", () => {
  it("lists only the organizer's own scanners, paginated", async () => {
    const mine = await organizer();
    const theirs = await organizer();
    const names = [uniqueName("a"), uniqueName("b"), uniqueName("c")];
    for (const username of names) await mine.client.post(CREATE, { username, password: GOOD_PASSWORD });
    await theirs.client.post(CREATE, { username: uniqueName("x"), password: GOOD_PASSWORD });

    const page = await mine.client.get(`${LIST}?page_size=2`, { schema: ScannerPage });
    expect(page.status).toBe(200);
    expect(page.body.count).toBe(3);
    expect(page.body.results).toHaveLength(2);
    expect(page.body.next).toContain("page=2");
    const all = await mine.client.get(LIST, { schema: ScannerPage });
    expect(all.body.results.map((s) => s.username)).toEqual(names);
    expect(all.body.results[0]).toEqual({
      id: expect.any(String),
      username: names[0],
      email: "",
      role: "SCANNER",
      is_active: true,
    });
    const other = await theirs.client.get(LIST, { schema: ScannerPage });
    expect(other.body.count).toBe(1);
  });
});

describe("SCANNER accounts", () => {
  it("reach none of the organizer portal", async () => {
    const { client } = await organizer();
    const start = Date.now() + 7 * DAY;
    const event = await client.post(
      "/api/organizer/events/create/",
      {
        title: uniqueName("Portal "),
        start_datetime: new Date(start).toISOString(),
        end_datetime: new Date(start + DAY / 4).toISOString(),
        tiers: [{ name: "Free", price: 0, quantity_allocated: 10 }],
      },
      { schema: EditEventSchema },
    );
    const username = uniqueName("gate");
    await client.post(CREATE, { username, password: GOOD_PASSWORD });
    const { client: scanner } = await login(username);

    const refused: Array<[string, string, unknown?]> = [
      ["GET", "/api/organizer/dashboard/"],
      ["GET", "/api/organizer/events/"],
      ["POST", "/api/organizer/events/create/", { title: "x" }],
      ["GET", `/api/organizer/events/${event.body.id}/edit/`],
      ["PATCH", `/api/organizer/events/${event.body.id}/edit/`, { title: "Hijacked" }],
      ["DELETE", `/api/organizer/events/${event.body.id}/edit/`],
      ["GET", `/api/organizer/events/${event.body.id}/export/`],
      ["GET", LIST],
      ["POST", CREATE, { username: uniqueName("g"), password: GOOD_PASSWORD }],
    ];
    for (const [method, path, json] of refused) {
      const res = await scanner.request(method, path, json === undefined ? {} : { json });
      expect(res.status, `${method} ${path}`).toBe(403);
    }
    // The gate endpoints of that organizer's events are theirs to use.
    expect((await scanner.get(`/api/organizer/events/${event.body.id}/attendees/`)).status).toBe(200);
    const title = await env.DB.prepare("SELECT title FROM events WHERE id = ?")
      .bind(event.body.id)
      .first<{ title: string }>();
    expect(title?.title).not.toBe("Hijacked");
  });

  it("verify only their organizer's tickets", async () => {
    const orgs = [await organizer(), await organizer()];
    const codes: string[] = [];
    for (const org of orgs) {
      const start = Date.now() + 7 * DAY;
      const event = await org.client.post(
        "/api/organizer/events/create/",
        {
          title: uniqueName("Scope "),
          start_datetime: new Date(start).toISOString(),
          end_datetime: new Date(start + DAY / 4).toISOString(),
          tiers: [{ name: "Free", price: 0, quantity_allocated: 10 }],
        },
        { schema: EditEventSchema },
      );
      const booked = await new TestClient().post(
        "/api/pay/initiate/",
        {
          tier_id: event.body.tiers[0]?.id,
          phone_number: "0712345678",
          email: `${uniqueName("fan")}@example.com`,
          name: "Fan",
        },
        { schema: BookingConfirmedSchema },
      );
      const row = await env.DB.prepare("SELECT qr_code_hash AS qr FROM tickets WHERE id = ?")
        .bind(booked.body.ticket_id)
        .first<{ qr: string }>();
      codes.push(row?.qr ?? "");
    }
    const username = uniqueName("gate");
    await orgs[0]?.client.post(CREATE, { username, password: GOOD_PASSWORD });
    const { client: scanner } = await login(username);
    const foreign = await scanner.post("/api/scanner/verify/", { qr_hash: codes[1] });
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toBe("This ticket does not belong to your event.");
    expect((await scanner.post("/api/scanner/verify/", { qr_hash: codes[0] })).status).toBe(200);
  });
});
