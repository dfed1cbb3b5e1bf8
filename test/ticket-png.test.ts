/**
 * The ticket image (resvg-wasm inside workerd) and the endpoints around it:
 * `GET /api/tickets/{id}/png/` and `POST /api/tickets/{id}/resend/`.
 */

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { TicketSchema } from "../src/http/views/ticket";
import { posterInfo, preparePoster, renderTicketPng, ticketFonts } from "../src/render/render-ticket";
import { drawableText, ellipsize, textWidth, wrapText } from "../src/render/text-layout";
import { composeTicketSvg, formatNairobiDateTime, ticketReference } from "../src/render/ticket-svg";
import { networkFakes } from "./fakes/network";
import { countRows } from "./helpers/accounts";
import { TestClient } from "./helpers/client";
import { PNG_1X1 } from "./helpers/images";
import {
  brevoEnv,
  deliver,
  freeOrder,
  orderDelivery,
  PNG_SIGNATURE,
  photoJpeg,
  readQr,
  scannerOf,
  storedPng,
  ticketRow,
} from "./helpers/tickets";

/** As long as a real qr_code_hash (compact EdDSA JWS with kid): the QR version it makes. */
const JWS_LIKE = `eyJhbGciOiJFZERTQSIsImtpZCI6IjNxZ0ZnUjNsOUM2Uk1MU0J4T2x0Z2ZJaFJhYnpqa1BTS0c4bEM2WmJNNW8iLCJ0eXAiOiJ0aWNrZXRzYWZpLXRpY2tldCtqd3MifQ.${"eyJ2IjoxLCJ0aWQiOiI".padEnd(200, "Q")}.${"s".repeat(86)}`;

function art(overrides: Partial<Parameters<typeof renderTicketPng>[0]> = {}) {
  return {
    ticketId: crypto.randomUUID(),
    qrContent: JWS_LIKE,
    eventTitle: "Nairobi Jazz Night",
    startAt: Date.UTC(2026, 11, 5, 15, 0, 0),
    locationName: "Carnivore Grounds, Langata Road",
    tierName: "VIP",
    attendeeName: "Wanjiku Kamau",
    ...overrides,
  };
}

describe("ticket rendering", () => {
  it("renders a 600 px wide palette PNG under 60 KB whose QR code reads back", async () => {
    const ticket = await renderTicketPng(art());
    expect([...ticket.png.subarray(0, 8)]).toEqual(PNG_SIGNATURE);
    expect(ticket.width).toBe(600);
    expect(ticket.png.byteLength).toBeLessThanOrEqual(60 * 1024);
    const qr = readQr(ticket.png);
    expect({ width: qr.width, height: qr.height }).toEqual({ width: ticket.width, height: ticket.height });
    expect(qr.text).toBe(JWS_LIKE);
  });

  it("keeps a photo poster and the QR code within 60 KB", async () => {
    const poster = await preparePoster(photoJpeg(1080, 1350));
    expect(poster).toMatchObject({ width: 560, height: 240 });
    const ticket = await renderTicketPng(art(), poster);
    expect(ticket.withPoster).toBe(true);
    expect(ticket.height).toBeGreaterThan((await renderTicketPng(art())).height);
    expect(ticket.png.byteLength).toBeLessThanOrEqual(60 * 1024);
    expect(readQr(ticket.png).text).toBe(JWS_LIKE);
  });

  it("leaves out posters it cannot draw: corrupt, WebP, too large, not an image", async () => {
    const corrupt = photoJpeg(64, 64).slice(0, 300);
    const webp = Uint8Array.from([0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50, 0, 0, 0, 0]);
    const huge = new Uint8Array(PNG_1X1);
    new DataView(huge.buffer).setUint32(16, 20_000);
    new DataView(huge.buffer).setUint32(20, 20_000);
    for (const bytes of [corrupt, webp, huge, new TextEncoder().encode("<html>not a poster</html>")]) {
      expect(await preparePoster(bytes)).toBeNull();
    }
    expect(posterInfo(photoJpeg(32, 16))).toEqual({ type: "image/jpeg", width: 32, height: 16 });
    expect(posterInfo(PNG_1X1)).toEqual({ type: "image/png", width: 1, height: 1 });
    // A poster of the wrong shape is left out; the ticket still renders.
    const ticket = await renderTicketPng(art(), { width: 2, height: 2, pixels: new Uint8Array(16) });
    expect(ticket.withPoster).toBe(false);
    expect(readQr(ticket.png).text).toBe(JWS_LIKE);
  });

  it("truncates a 300-character name and drops emoji cleanly, never crashing", async () => {
    const fonts = ticketFonts();
    const name = `Wanjiku 🎉👩🏽‍💻 ${"Nyambura".repeat(40)} 🇰🇪`;
    expect(drawableText("Wanjiku 🎉👩🏽‍💻 Kamau 🇰🇪", fonts.bold)).toBe("Wanjiku Kamau");
    expect(drawableText("Zoë\u0000 O\u0301Brien\u200b", fonts.bold)).toBe("Zoë ÓBrien");
    const style = { metrics: fonts.bold, size: 20 };
    const cut = ellipsize(drawableText(name, fonts.bold), style, 504);
    expect(cut.endsWith("…")).toBe(true);
    expect(textWidth(cut, style)).toBeLessThanOrEqual(504);
    const lines = wrapText("A".repeat(300), { metrics: fonts.bold, size: 30 }, 504, 2);
    expect(lines).toHaveLength(2);
    expect(lines[1]?.endsWith("…")).toBe(true);

    const ticket = await renderTicketPng(
      art({ attendeeName: name, eventTitle: `🎷 ${"Jazz ".repeat(80)}`, tierName: "🎟️".repeat(30) }),
    );
    expect(readQr(ticket.png).text).toBe(JWS_LIKE);
  });

  it("escapes markup in every field and prints the time in Nairobi", () => {
    const { svg } = composeTicketSvg(
      art({ eventTitle: `</text><script>alert("x")</script>`, locationName: "Tom & Jerry's <Hall>" }),
      ticketFonts(),
    );
    expect(svg).not.toContain("<script>");
    expect(svg).toContain("&lt;/text&gt;&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect(svg).toContain("Tom &amp; Jerry&apos;s &lt;Hall&gt;");
    expect(svg).toContain("Sat 5 Dec 2026 · 18:00 EAT");
    expect(formatNairobiDateTime(Date.UTC(2026, 0, 1, 21, 30))).toBe("Fri 2 Jan 2026 · 00:30 EAT");
    expect(ticketReference("0b6f4e4a-3c1e-4d5b-9d7e-2f4a1c9e8b7d")).toBe("4A1C9E8B7D");
  });
});

describe("GET /api/tickets/{id}/png/", () => {
  it("renders on demand for the owner, stores it once, and serves the organizer and their scanners", async () => {
    const order = await freeOrder();
    const id = order.ticketIds[0] ?? "";
    expect((await ticketRow(id))?.png_key).toBeNull();
    expect(await storedPng(id)).toBeNull();

    const mine = await order.buyer.request("GET", `/api/tickets/${id}/png/`);
    expect(mine.status).toBe(200);
    expect(mine.headers.get("content-type")).toBe("image/png");
    expect(mine.headers.get("cache-control")).toBe("private, max-age=3600");
    const stored = await storedPng(id);
    expect(stored?.contentType).toBe("image/png");
    expect((await ticketRow(id))?.png_key).toBe(`tickets/${id}.png`);
    expect(readQr(stored?.bytes ?? new Uint8Array()).text).toBe((await ticketRow(id))?.qr_code_hash);

    const organizerView = await order.organizer.request("GET", `/api/tickets/${id}/png/`);
    expect(organizerView.status).toBe(200);
    expect(organizerView.headers.get("content-type")).toBe("image/png");
    const scanner = await scannerOf(order.organizerUser.id);
    expect((await scanner.request("GET", `/api/tickets/${id}/png/`)).status).toBe(200);
    // Served from R2: not rendered again.
    expect((await storedPng(id))?.etag).toBe(stored?.etag);

    const wallet = await order.buyer.get(`/api/tickets/${id}/`, { schema: TicketSchema });
    expect(wallet.body.png_url).toBe(`https://api.ticketsafi.test/api/tickets/${id}/png/`);
  });

  it("answers 404 to anyone else, 401 without a session, 404 for unknown ids", async () => {
    const order = await freeOrder();
    const id = order.ticketIds[0] ?? "";
    const stranger = await freeOrder();
    expect((await stranger.buyer.request("GET", `/api/tickets/${id}/png/`)).status).toBe(404);
    expect((await stranger.organizer.request("GET", `/api/tickets/${id}/png/`)).status).toBe(404);
    expect(
      (await (await scannerOf(stranger.organizerUser.id)).request("GET", `/api/tickets/${id}/png/`)).status,
    ).toBe(404);
    expect((await new TestClient().request("GET", `/api/tickets/${id}/png/`)).status).toBe(401);
    expect((await order.buyer.request("GET", `/api/tickets/${crypto.randomUUID()}/png/`)).status).toBe(404);
    expect((await order.buyer.request("GET", "/api/tickets/not-a-uuid/png/")).status).toBe(404);
    expect(await storedPng(id)).toBeNull();
  });
});

describe("POST /api/tickets/{id}/resend/", () => {
  it("queues the tickets email again for the owner, 3 times an hour, then 429 with Retry-After", async () => {
    const order = await freeOrder({ quantity: 2 });
    const id = order.ticketIds[1] ?? "";
    const client = order.buyer;

    for (let i = 0; i < 3; i++) {
      const res = await client.post(`/api/tickets/${id}/resend/`);
      expect(res.status, res.text).toBe(202);
      expect(res.body).toEqual({ status: "queued", detail: "The ticket email will be sent again shortly." });
    }
    const limited = await client.post(`/api/tickets/${id}/resend/`);
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    // A sliding hour: one more fits when the first of the three is an hour old.
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    const sent = order.recording.orderJobs().slice(order.jobs.length);
    expect(sent).toHaveLength(3);
    const resendIds = new Set(sent.map((job) => (job.type === "order_tickets" ? job.resend : null)));
    expect(sent.every((job) => job.type === "order_tickets" && job.orderId === order.orderId)).toBe(true);
    expect(resendIds.size).toBe(3);

    // The other ticket of the order has its own allowance.
    expect((await client.post(`/api/tickets/${order.ticketIds[0]}/resend/`)).status).toBe(202);

    // One resend, delivered: its own email, with both tickets, once however often redelivered.
    const job = sent[0];
    const first = await deliver(brevoEnv(), [job, job]);
    expect(first.acked).toEqual(first.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    expect(networkFakes.brevo.sent[0]?.body.attachment).toHaveLength(2);
    expect(networkFakes.brevo.sent[0]?.body.textContent).toContain("As requested, here again");
    expect((await orderDelivery(order.orderId))?.delivery_status).toBe("SENT");
  });

  it("is the owner's alone: 403 for the organizer, 404 for strangers, 409 once cancelled", async () => {
    const order = await freeOrder();
    const id = order.ticketIds[0] ?? "";
    expect((await order.organizer.post(`/api/tickets/${id}/resend/`)).status).toBe(403);
    const stranger = await freeOrder();
    expect((await stranger.buyer.post(`/api/tickets/${id}/resend/`)).status).toBe(404);
    expect((await new TestClient().post(`/api/tickets/${id}/resend/`)).status).toBe(401);
    await env.DB.prepare("UPDATE tickets SET status = 'CANCELLED' WHERE id = ?").bind(id).run();
    const cancelled = await order.buyer.post(`/api/tickets/${id}/resend/`);
    expect(cancelled.status).toBe(409);
    expect(await countRows("rate_limits", "key = ?", `ticket_resend:${id}`)).toBe(0);
  });
});
