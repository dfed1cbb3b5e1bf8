/**
 * Webhook endpoints (contract v3 §16.1): CRUD, the secret shown once and kept encrypted, the
 * URL rules, the cap of 10 under parallel creates, another organizer's endpoints as 404, the
 * synchronous ping signed as §16.3 says (checked by an independent implementation), and the
 * deliveries log.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openSecret } from "../src/lib/secret-box";
import { WEBHOOK_SECRET_PURPOSE } from "../src/services/webhooks/deliver";
import { webhookUrlProblem } from "../src/services/webhooks/urls";
import { registerUser } from "./helpers/accounts";
import { TestClient } from "./helpers/client";
import {
  createEndpoint,
  type DeliveryBody,
  deliveriesOfEndpoint,
  type EndpointBody,
  HOOK,
  receivers,
  verifySignature,
} from "./helpers/webhooks";

async function organizer() {
  const client = new TestClient();
  const user = await registerUser(client, { role: "ORGANIZER" });
  return { client, id: user.id };
}

const path = (id = "") => `/api/organizer/webhooks/${id ? `${id}/` : ""}`;

describe("webhook endpoint CRUD", () => {
  it("creates with every event by default and shows the secret only once", async () => {
    const { client, id } = await organizer();
    const created = await createEndpoint(client, { url: HOOK, description: "CRM" });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(created.events).toEqual([
      "order.completed",
      "order.refunded",
      "ticket.checked_in",
      "ticket.transferred",
      "event.cancelled",
    ]);
    expect(created).toMatchObject({ url: HOOK, description: "CRM", is_active: true, disabled_reason: null });

    const again = await client.get<EndpointBody>(path(created.id));
    expect(again.status).toBe(200);
    expect(again.body).not.toHaveProperty("secret");
    const list = await client.get<{ count: number; results: EndpointBody[] }>(path());
    expect(list.body.count).toBe(1);
    expect(list.text).not.toContain(created.secret);

    // At rest only sealed: the column is not the secret, and opens to it under the key.
    const row = await env.DB.prepare("SELECT * FROM webhook_endpoints WHERE id = ?")
      .bind(created.id)
      .first<Record<string, string>>();
    expect(JSON.stringify(row)).not.toContain(created.secret.slice(6));
    expect(row?.organizer_id).toBe(id);
    expect(
      await openSecret(env.WEBHOOK_SECRET_KEY ?? "", WEBHOOK_SECRET_PURPOSE, row?.secret_ciphertext ?? ""),
    ).toBe(created.secret);
    expect(
      await openSecret(
        "another-key-0123456789abcdef0123456789",
        WEBHOOK_SECRET_PURPOSE,
        row?.secret_ciphertext ?? "",
      ),
    ).toBeNull();
  });

  it("refuses bad bodies with 400 and writes nothing", async () => {
    const { client, id } = await organizer();
    const bad: Array<[Record<string, unknown>, string]> = [
      [{}, "url"],
      [{ url: "ftp://hooks.receiver.test/x" }, "url"],
      [{ url: "not a url" }, "url"],
      [{ url: "https://user:pw@hooks.receiver.test/x" }, "url"],
      [{ url: `https://hooks.receiver.test/${"a".repeat(2000)}` }, "url"],
      [{ url: HOOK, events: [] }, "events"],
      [{ url: HOOK, events: ["order.completed", "order.exploded"] }, "events"],
      [{ url: HOOK, events: "order.completed" }, "events"],
      [{ url: HOOK, secret: "whsec_mine" }, "non_field_errors"],
      [{ url: HOOK, description: "x".repeat(501) }, "description"],
    ];
    for (const [body, field] of bad) {
      const res = await client.post(path(), body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      if (field !== "non_field_errors") expect(res.body, res.text).toHaveProperty(field);
    }
    const n = await env.DB.prepare("SELECT count(*) AS n FROM webhook_endpoints WHERE organizer_id = ?")
      .bind(id)
      .first<{ n: number }>();
    expect(n?.n).toBe(0);
  });

  it("allows at most 10 endpoints, even to 24 parallel creates", async () => {
    const { client } = await organizer();
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) => client.post(path(), { url: `${HOOK}/${i}` })),
    );
    expect(answers.filter((a) => a.status === 201)).toHaveLength(10);
    const refused = answers.filter((a) => a.status === 400);
    expect(refused).toHaveLength(14);
    expect(refused[0]?.text).toContain("at most 10");
    // A deleted one frees its place.
    const list = await client.get<{ count: number; results: EndpointBody[] }>(`${path()}?page_size=100`);
    expect(list.body.count).toBe(10);
    const first = list.body.results[0] as EndpointBody;
    expect((await client.request("DELETE", path(first.id))).status).toBe(204);
    expect((await client.post(path(), { url: HOOK })).status).toBe(201);
  });

  it("edits url, events, description; is_active false is manual, true clears it", async () => {
    const { client } = await organizer();
    const created = await createEndpoint(client);
    const edited = await client.patch<EndpointBody>(path(created.id), {
      url: "https://hooks2.receiver.test/new",
      events: ["ticket.checked_in", "ticket.checked_in"],
      description: "gate",
    });
    expect(edited.status, edited.text).toBe(200);
    expect(edited.body).toMatchObject({
      url: "https://hooks2.receiver.test/new",
      events: ["ticket.checked_in"],
      description: "gate",
    });
    const off = await client.patch<EndpointBody>(path(created.id), { is_active: false });
    expect(off.body).toMatchObject({ is_active: false, disabled_reason: "manual" });
    const on = await client.patch<EndpointBody>(path(created.id), { is_active: true });
    expect(on.body).toMatchObject({ is_active: true, disabled_reason: null });
    expect((await client.patch(path(created.id), { url: "javascript:alert(1)" })).status).toBe(400);
    expect((await client.patch(path(created.id), { events: ["nope"] })).status).toBe(400);
    expect((await client.get<EndpointBody>(path(created.id))).body.url).toBe(
      "https://hooks2.receiver.test/new",
    );
  });

  it("hides one organizer's endpoints from another (404) and from non-organizers (403)", async () => {
    const owner = await organizer();
    const created = await createEndpoint(owner.client);
    const other = await organizer();
    for (const [method, p] of [
      ["GET", path(created.id)],
      ["PATCH", path(created.id)],
      ["DELETE", path(created.id)],
      ["POST", `${path(created.id)}ping/`],
      ["GET", `${path(created.id)}deliveries/`],
    ] as const) {
      const res = await other.client.request(
        method,
        p,
        method === "PATCH" ? { json: { description: "x" } } : {},
      );
      expect(res.status, `${method} ${p}`).toBe(404);
    }
    expect((await other.client.get<{ count: number }>(path())).body.count).toBe(0);
    expect(receivers.received).toHaveLength(0);
    expect((await other.client.get(path("not-a-uuid"))).status).toBe(404);

    const fan = new TestClient();
    await registerUser(fan);
    expect((await fan.get(path())).status).toBe(403);
    expect((await fan.post(path(), { url: HOOK })).status).toBe(403);
    expect((await new TestClient().get(path())).status).toBe(401);
    // A forged Bearer token (right shape, wrong signature) is refused before any lookup.
    const forged = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4IiwidHlwZSI6ImFjY2VzcyJ9.c2lnbmF0dXJlLWZvcmdlZA";
    expect((await new TestClient().get(path(created.id), { bearer: forged })).status).toBe(401);
    expect(
      (await new TestClient().post(`${path(created.id)}ping/`, undefined, { bearer: forged })).status,
    ).toBe(401);
    const still = await owner.client.get<EndpointBody>(path(created.id));
    expect(still.body.description).toBe("");
  });

  it("deletes: gone from every route, pending deliveries CANCELLED", async () => {
    const { client, id } = await organizer();
    const created = await createEndpoint(client);
    const now = Date.now();
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO webhook_events (id, organizer_id, type, dedupe_key, body, created_at) VALUES ('ev-del-1', ?, 'order.completed', NULL, '{}', ?)",
      ).bind(id, now),
      env.DB.prepare(
        "INSERT INTO webhook_deliveries (id, event_id, endpoint_id, type, status, attempts, created_at, next_attempt_at) VALUES (?, 'ev-del-1', ?, 'order.completed', 'PENDING', 1, ?, ?)",
      ).bind(crypto.randomUUID(), created.id, now, now + 60_000),
    ]);
    expect((await client.request("DELETE", path(created.id))).status).toBe(204);
    expect((await client.get(path(created.id))).status).toBe(404);
    expect((await client.request("DELETE", path(created.id))).status).toBe(404);
    const [delivery] = await deliveriesOfEndpoint(created.id);
    expect(delivery).toMatchObject({ status: "CANCELLED", next_attempt_at: null });
  });
});

describe("ping", () => {
  it("sends one signed ping now and logs it", async () => {
    const { client } = await organizer();
    const created = await createEndpoint(client);
    const res = await client.post<{ delivered: boolean; delivery: DeliveryBody }>(`${path(created.id)}ping/`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.delivered).toBe(true);
    expect(res.body.delivery).toMatchObject({
      type: "ping",
      status: "DELIVERED",
      attempts: 1,
      last_response_code: 200,
    });

    const [got] = receivers.to("hooks.receiver.test");
    expect(got?.url).toBe(HOOK);
    expect(got?.headers).toMatchObject({
      "content-type": "application/json",
      "user-agent": "TicketSafi-Webhooks/1",
      "ticketsafi-event": "ping",
      "ticketsafi-delivery": res.body.delivery.id,
    });
    if (!got) throw new Error("no ping received");
    expect(await verifySignature(created.secret, got)).toBe(true);
    expect(await verifySignature(`${created.secret}x`, got)).toBe(false);
    expect(await verifySignature(created.secret, { ...got, body: `${got.body} ` })).toBe(false);
    expect(await verifySignature(created.secret, got, Math.floor(Date.now() / 1000) + 301)).toBe(false);
    const body = JSON.parse(got?.body ?? "{}");
    expect(body).toMatchObject({ type: "ping", data: { webhook_id: created.id } });
    expect(body.id).toBe(res.body.delivery.event_id);
    expect(body.created).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+03:00$/);

    const log = await client.get<{ count: number; results: DeliveryBody[] }>(
      `${path(created.id)}deliveries/`,
    );
    expect(log.body.count).toBe(1);
    expect(log.body.results[0]?.id).toBe(res.body.delivery.id);
  });

  it("answers delivered false on a 500, a timeout or a redirect, and never retries", async () => {
    const { client } = await organizer();
    const created = await createEndpoint(client);
    receivers.script("hooks.receiver.test", [
      500,
      "timeout",
      { status: 302, location: "https://evil.test/" },
    ]);
    const answers = [];
    for (let i = 0; i < 3; i++) {
      answers.push(
        (await client.post<{ delivered: boolean; delivery: DeliveryBody }>(`${path(created.id)}ping/`)).body,
      );
    }
    expect(
      answers.map((a) => [
        a.delivered,
        a.delivery.status,
        a.delivery.last_response_code,
        a.delivery.last_error,
      ]),
    ).toEqual([
      [false, "FAILED", 500, "http_500"],
      [false, "FAILED", null, "timeout"],
      [false, "FAILED", 302, "redirect"],
    ]);
    // The redirect was not followed.
    expect(receivers.received.map((r) => r.host)).toEqual([
      "hooks.receiver.test",
      "hooks.receiver.test",
      "hooks.receiver.test",
    ]);
    const failed = await client.get<{ count: number }>(`${path(created.id)}deliveries/?status=FAILED`);
    expect(failed.body.count).toBe(3);
    const delivered = await client.get<{ count: number }>(`${path(created.id)}deliveries/?status=DELIVERED`);
    expect(delivered.body.count).toBe(0);
    expect((await client.get(`${path(created.id)}deliveries/?status=LOST`)).status).toBe(400);
  });

  it("reaches a disabled endpoint without re-enabling it", async () => {
    const { client } = await organizer();
    const created = await createEndpoint(client);
    await client.patch(path(created.id), { is_active: false });
    const res = await client.post<{ delivered: boolean }>(`${path(created.id)}ping/`);
    expect(res.body.delivered).toBe(true);
    expect((await client.get<EndpointBody>(path(created.id))).body).toMatchObject({
      is_active: false,
      disabled_reason: "manual",
    });
  });
});

describe("which URLs an endpoint may have outside development (§16.1)", () => {
  it.each([
    ["https://hooks.example.com/x", true],
    ["https://8.8.8.8/hook", true],
    ["https://[2606:4700::1111]/hook", true],
    ["http://hooks.example.com/x", false],
    ["https://localhost/x", false],
    ["https://api.localhost/x", false],
    ["https://printer.local/x", false],
    ["https://intranet/x", false],
    ["https://127.0.0.1/x", false],
    ["https://2130706433/x", false],
    ["https://0x7f.0.0.1/x", false],
    ["https://10.1.2.3/x", false],
    ["https://172.16.0.1/x", false],
    ["https://192.168.1.1/x", false],
    ["https://169.254.169.254/latest/meta-data", false],
    ["https://100.64.0.1/x", false],
    ["https://0.0.0.0/x", false],
    ["https://[::1]/x", false],
    ["https://[fd00::1]/x", false],
    ["https://[fe80::1]/x", false],
    ["https://[::ffff:127.0.0.1]/x", false],
    ["https://localhost./x", false],
  ])("%s → %s", (url, allowed) => {
    expect(webhookUrlProblem(url, false) === null).toBe(allowed);
  });

  it("accepts http and localhost only for a local deployment", () => {
    expect(webhookUrlProblem("http://localhost:9000/hook", true)).toBeNull();
    expect(webhookUrlProblem("http://localhost:9000/hook", false)).toBe("Enter a public https URL.");
    expect(webhookUrlProblem("ftp://localhost/hook", true)).not.toBeNull();
    expect(webhookUrlProblem(`https://a.example.com/${"x".repeat(2000)}`, false)).toContain("2000");
  });
});
