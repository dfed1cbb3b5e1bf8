/**
 * Issue #11 item 13: every absolute URL the API hands out (page links, sync links, images,
 * PNG links, the OpenAPI `servers`) is on PUBLIC_BASE_URL. A request that arrives with a
 * forged `Host` must not get that host back in a link a client will follow.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config";
import { AttendeePageSchema } from "../src/http/views/attendee";
import type { TicketSchema } from "../src/http/views/ticket";
import { type PageOf, TestClient } from "./helpers/client";
import { insertEvent, insertTier, organizer } from "./helpers/stores";
import { freeOrder, setPoster } from "./helpers/tickets";

const FORGED = "https://attacker.example";
const PUBLIC = env.PUBLIC_BASE_URL;

function onPublicOrigin(url: string | null | undefined): void {
  expect(url, "a link").toBeTruthy();
  expect(new URL(url ?? "").origin).toBe(new URL(PUBLIC).origin);
}

describe("absolute URLs come from PUBLIC_BASE_URL, never the request's Host", () => {
  it("public event list: next/previous and poster images", async () => {
    const owner = await organizer();
    const place = `Hostcheck${crypto.randomUUID().slice(0, 8)} Grounds`;
    for (let i = 0; i < 3; i++) {
      const event = await insertEvent({ organizerId: owner.id, locationName: place });
      await insertTier(event.id, { price: 500, allocated: 10 });
      await setPoster(event.id, new Uint8Array([1, 2, 3]));
    }
    const anon = new TestClient();
    const first = await anon.get<PageOf<typeof TicketSchema>>(
      `/api/events/?q=${encodeURIComponent(place)}&page_size=1`,
      {
        origin: FORGED,
      },
    );
    expect(first.status, first.text).toBe(200);
    expect(first.text).not.toContain("attacker.example");
    onPublicOrigin(first.body.next);
    const second = await anon.get(
      new URL(first.body.next ?? "").pathname + new URL(first.body.next ?? "").search,
      {
        origin: FORGED,
      },
    );
    expect(second.status, second.text).toBe(200);
    expect(second.text).not.toContain("attacker.example");
    onPublicOrigin((second.body as { previous: string | null }).previous);
    onPublicOrigin((second.body as { results: Array<{ poster_image: string }> }).results[0]?.poster_image);
  });

  it("wallet: page links, event image and PNG link", async () => {
    const order = await freeOrder({ quantity: 2 });
    await setPoster(order.eventId, new Uint8Array([1, 2, 3]));
    const wallet = await order.buyer.get<PageOf<typeof TicketSchema>>("/api/tickets/?page_size=1", {
      origin: FORGED,
    });
    expect(wallet.status, wallet.text).toBe(200);
    expect(wallet.text).not.toContain("attacker.example");
    onPublicOrigin(wallet.body.next);
    onPublicOrigin(wallet.body.results[0]?.png_url);
    onPublicOrigin(wallet.body.results[0]?.event_image);
  });

  it("guest list: page links (with sync_token) and the incremental sync's next link", async () => {
    const order = await freeOrder({ quantity: 3 });
    const path = `/api/organizer/events/${order.eventId}/attendees/`;
    const full = await order.organizer.get(`${path}?page_size=1`, {
      origin: FORGED,
      schema: AttendeePageSchema,
    });
    expect(full.status, full.text).toBe(200);
    expect(full.text).not.toContain("attacker.example");
    onPublicOrigin(full.body.next);
    // A sync from the beginning (`0`), one row per page: more to come, so a `next` link.
    const sync = await order.organizer.get(`${path}?since=0&page_size=1`, {
      origin: FORGED,
      schema: AttendeePageSchema,
    });
    expect(sync.status, sync.text).toBe(200);
    expect(sync.text).not.toContain("attacker.example");
    onPublicOrigin(sync.body.next);
  });

  it("OpenAPI servers", async () => {
    const doc = await new TestClient().get<{ servers: Array<{ url: string }> }>("/api/schema/", {
      origin: FORGED,
    });
    expect(doc.status).toBe(200);
    expect(doc.body.servers.map((s) => s.url)).toEqual([PUBLIC]);
    expect(doc.text).not.toContain("attacker.example");
  });
});

describe("PUBLIC_BASE_URL fails closed", () => {
  const configWith = (vars: Partial<Record<keyof Env, string>>) => () =>
    loadConfig({ ...env, MPESA_CONSUMER_KEY: "k", ...vars } as Env);

  it("refuses a value that is not an absolute http(s) URL, in any environment", () => {
    for (const environment of ["development", "test", "preview", "production"]) {
      for (const bad of [
        "api.ticketsafi.example",
        "/api",
        "ftp://api.example",
        "javascript:alert(1)",
        "https://u:p@api.example",
        "https://api.example/?x=1",
      ]) {
        expect(
          configWith({ ENVIRONMENT: environment, PUBLIC_BASE_URL: bad }),
          `${environment} ${bad}`,
        ).toThrow(ConfigError);
      }
    }
  });

  it("outside development and test: must be set, and https", () => {
    for (const environment of ["preview", "production"]) {
      expect(configWith({ ENVIRONMENT: environment, PUBLIC_BASE_URL: "" })).toThrow(ConfigError);
      expect(
        configWith({ ENVIRONMENT: environment, PUBLIC_BASE_URL: "http://api.ticketsafi.example" }),
      ).toThrow(ConfigError);
      expect(
        configWith({ ENVIRONMENT: environment, PUBLIC_BASE_URL: "https://api.ticketsafi.example/" })()
          .publicBaseUrl,
      ).toBe("https://api.ticketsafi.example");
    }
    expect(configWith({ ENVIRONMENT: "development", PUBLIC_BASE_URL: "" })().publicBaseUrl).toBe(
      "http://localhost:8787",
    );
  });
});
