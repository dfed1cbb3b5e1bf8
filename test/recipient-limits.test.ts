/**
 * Issue #11 item 7: bookings and ticket emails to one recipient are limited per hour (an
 * attacker sent ten ticket emails with phishing text in the name to one address), refused
 * with 429 `rate_limited` + Retry-After before any seat is touched; and the buyer's name is
 * plain text in the tickets email: no markup, nothing a mail client would turn into a link.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryJob } from "../src/delivery/jobs";
import { networkFakes } from "./fakes/network";
import { countRows } from "./helpers/accounts";
import { TestClient } from "./helpers/client";
import { brevoEnv, deliver, freeOrder, recordingQueue } from "./helpers/tickets";

/** A free tier (50 seats, 10 per order) of a fresh event, and clients that queue nothing. */
async function freeTier(vars: Record<string, string> = {}) {
  const order = await freeOrder();
  const row = await env.DB.prepare("SELECT id FROM tiers WHERE event_id = ?")
    .bind(order.eventId)
    .first<{ id: string }>();
  const recording = recordingQueue();
  const guest = () =>
    new TestClient({ DELIVERY_QUEUE: recording.queue, ...vars } as unknown as Record<string, string>);
  return { tierId: row?.id ?? "", guest, recording };
}

function book(client: TestClient, tierId: string, email: string, name = "Wanjiru Kamau", quantity = 1) {
  return client.post<Record<string, unknown>>("/api/pay/initiate/", {
    tier_id: tierId,
    phone_number: "254700000000",
    quantity,
    email,
    name,
  });
}

async function soldAndHeld(tierId: string) {
  return env.DB.prepare("SELECT quantity_sold AS sold, quantity_held AS held FROM tiers WHERE id = ?")
    .bind(tierId)
    .first<{ sold: number; held: number }>();
}

describe("bookings per recipient email per hour", () => {
  it("24 parallel guest bookings to one address: exactly 5 go through, the rest 429 with their seats back", async () => {
    const { tierId, guest } = await freeTier();
    const victim = `victim-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const before = await soldAndHeld(tierId);
    const answers = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        book(guest(), tierId, i % 2 ? victim : victim.toUpperCase(), "x", 2),
      ),
    );
    const ok = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 429);
    expect(ok).toHaveLength(5);
    expect(refused).toHaveLength(19);
    for (const r of refused) {
      expect(r.body).toMatchObject({
        code: "rate_limited",
        error: expect.any(String),
        detail: expect.any(String),
      });
      expect(Number(r.headers.get("retry-after"))).toBeGreaterThan(0);
    }
    // Refused bookings gave back the seats they held: 5 orders of 2 seats more sold, nothing held.
    expect(await soldAndHeld(tierId)).toEqual({ sold: (before?.sold ?? 0) + 10, held: 0 });
    expect(await countRows("orders", "lower(buyer_email) = ?", victim)).toBe(5);
  });

  it("counts +tags and Gmail dots as the same inbox, and leaves other addresses alone", async () => {
    const { tierId, guest } = await freeTier({ BOOKINGS_PER_RECIPIENT_PER_HOUR: "2" });
    const local = `fan.${crypto.randomUUID().slice(0, 8)}`;
    expect((await book(guest(), tierId, `${local}@gmail.com`)).status).toBe(201);
    expect((await book(guest(), tierId, `${local.replace(".", "")}+promo@gmail.com`)).status).toBe(201);
    const third = await book(guest(), tierId, `${local}+x@googlemail.com`);
    expect(third.status, third.text).toBe(429);
    expect((await book(guest(), tierId, `${local}@example.com`)).status).toBe(201);
  });

  it("does not limit a signed-in buyer whose email is proven (mail to their own inbox)", async () => {
    const { tierId } = await freeTier({ BOOKINGS_PER_RECIPIENT_PER_HOUR: "1" });
    const order = await freeOrder();
    await env.DB.prepare("UPDATE users SET is_verified = 1 WHERE id = ?").bind(order.buyerUser.id).run();
    for (let i = 0; i < 3; i++) {
      const res = await order.buyer.post("/api/pay/initiate/", {
        tier_id: tierId,
        phone_number: "0712345678",
      });
      expect(res.status, res.text).toBe(201);
    }
  });
});

describe("the buyer's name in the tickets email is plain text", () => {
  it("escapes markup and breaks every URL-like run in the name, in HTML, text and the To name", async () => {
    const { tierId, guest, recording } = await freeTier();
    const name = 'Prize <a href="https://evil.example/x">claim</a> at www.evil.example or evil.co.ke/win';
    const email = `phish-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const booked = await book(guest(), tierId, email, name);
    expect(booked.status, booked.text).toBe(201);
    const jobs: DeliveryJob[] = recording.orderJobs();
    await deliver(brevoEnv(), jobs);
    const sent = networkFakes.brevo.sent.find((m) => m.body.to[0]?.email === email)?.body;
    expect(sent).toBeDefined();
    const html = sent?.htmlContent ?? "";
    const text = sent?.textContent ?? "";
    const toName = sent?.to[0]?.name ?? "";
    for (const part of [html, text, toName]) {
      expect(part).not.toContain('<a href="https://evil');
      for (const linkable of ["https://evil", "evil.example", "www.evil", "evil.co.ke", "co.ke/win"]) {
        expect(part).not.toContain(linkable);
      }
    }
    // Still readable: the words are all there, only joined by invisible characters.
    const visible = (s: string) => s.replace(/[\u200B-\u200D\u2060]/g, "");
    expect(visible(text)).toContain("www.evil.example");
    expect(html).toContain("&lt;a href=");
    // The wallet links TicketSafi itself puts in the mail are untouched.
    expect(html).toMatch(/<a href="[^"]+\/tickets\/[0-9a-f-]{36}">/);
  });
});
