/**
 * Ticket delivery through the queue consumer (createMessageBatch / getQueueResult): PNGs
 * rendered into R2, one Brevo email per order (the fake at the network edge), retries and
 * redeliveries that never duplicate, the dead-letter path, and the dev outbox end to end.
 */

import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { orderRetryDelaySeconds } from "../src/delivery/consumer";
import { MAX_DELIVERY_ATTEMPTS } from "../src/delivery/jobs";
import { pageSchema } from "../src/http/pagination";
import { EditEventSchema } from "../src/http/views/event";
import { OutboxMailSchema } from "../src/http/views/outbox-mail";
import { BookingConfirmedSchema } from "../src/http/views/payment";
import { base64 } from "../src/lib/base64";
import { networkFakes } from "./fakes/network";
import { countRows } from "./helpers/accounts";
import { type Body, TestClient, uniqueName } from "./helpers/client";
import {
  brevoEnv,
  deliver,
  freeOrder,
  orderDelivery,
  PNG_SIGNATURE,
  photoJpeg,
  readQr,
  recordingQueue,
  setPoster,
  storedPng,
  ticketRow,
} from "./helpers/tickets";

async function mailFor(orderId: string) {
  return env.DB.prepare("SELECT id, status, attachments FROM mail_log WHERE order_id = ? ORDER BY created_at")
    .bind(orderId)
    .all<{ id: string; status: string; attachments: string }>();
}

describe("the order_tickets job", () => {
  it("is what completing an order queues: one job per order, nothing rendered in the request", async () => {
    const order = await freeOrder({ quantity: 2 });
    expect(order.jobs).toEqual([{ type: "order_tickets", orderId: order.orderId }]);
    expect(await orderDelivery(order.orderId)).toEqual({
      delivery_status: "PENDING",
      delivery_attempts: 0,
      delivered_at: null,
    });
    expect(await countRows("mail_log", "order_id = ?", order.orderId)).toBe(0);
    expect(await storedPng(order.ticketIds[0] ?? "")).toBeNull();
  });

  it("renders every ticket into R2 and sends one Brevo email with the PNGs attached", async () => {
    const order = await freeOrder({ quantity: 3 });
    const outcome = await deliver(brevoEnv(), order.jobs);
    expect(outcome.acked).toEqual(outcome.ids);

    for (const id of order.ticketIds) {
      const png = await storedPng(id);
      expect(png?.contentType).toBe("image/png");
      expect([...(png?.bytes.subarray(0, 8) ?? [])]).toEqual(PNG_SIGNATURE);
      expect(png?.bytes.byteLength).toBeLessThanOrEqual(60 * 1024);
      const qr = readQr(png?.bytes ?? new Uint8Array());
      expect(qr.width).toBe(600);
      expect(qr.height).toBeGreaterThan(700);
      const row = await ticketRow(id);
      expect(qr.text).toBe(row?.qr_code_hash);
      expect(row?.png_key).toBe(`tickets/${id}.png`);
    }

    expect(networkFakes.brevo.sent).toHaveLength(1);
    const request = networkFakes.brevo.sent[0];
    const [mail] = (await mailFor(order.orderId)).results;
    expect(request?.apiKey).toBe(networkFakes.brevo.validKey);
    expect(request?.body).toMatchObject({
      sender: { name: "TicketSafi", email: "tickets@ticketsafi.test" },
      to: [{ email: order.buyerUser.email, name: order.buyerUser.username }],
      subject: `Your tickets: ${order.eventTitle}`,
      headers: { idempotencyKey: mail?.id },
      tags: ["tickets"],
    });
    expect(request?.body.textContent).toContain("Here are your 3 tickets");
    expect(request?.body.textContent).toMatch(/\b5 Dec \d{4} · 18:00 EAT/);
    for (const id of order.ticketIds) {
      expect(request?.body.textContent).toContain(`https://ticketsafi.test/tickets/${id}`);
      expect(request?.body.htmlContent).toContain(`href="https://ticketsafi.test/tickets/${id}"`);
    }
    const attachments = request?.body.attachment ?? [];
    expect(attachments.map((a) => a.name)).toEqual(
      order.ticketIds.map((id) => `ticket-${id.replace(/-/g, "").slice(-10).toUpperCase()}.png`),
    );
    for (const [i, id] of order.ticketIds.entries()) {
      expect(attachments[i]?.content).toBe(base64.encode((await storedPng(id))?.bytes ?? new Uint8Array()));
    }
    // The email names the tickets' own PNGs in R2; no second copy is stored for the mail.
    expect(JSON.parse(mail?.attachments ?? "[]").map((a: { key: string }) => a.key)).toEqual(
      order.ticketIds.map((id) => `tickets/${id}.png`),
    );
    expect((await env.MEDIA.list({ prefix: `mail/${mail?.id}/` })).objects).toEqual([]);

    const delivery = await orderDelivery(order.orderId);
    expect(delivery).toMatchObject({ delivery_status: "SENT", delivery_attempts: 1 });
    expect(delivery?.delivered_at).toBeGreaterThan(Date.now() - 60_000);
  });

  it("never renders or mails twice when the message is redelivered, even twice in one batch", async () => {
    const order = await freeOrder({ quantity: 2 });
    await deliver(brevoEnv(), order.jobs);
    const before = await Promise.all(order.ticketIds.map((id) => storedPng(id)));

    const again = await deliver(brevoEnv(), [...order.jobs, ...order.jobs], 2);
    expect(again.acked).toEqual(again.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    const after = await Promise.all(order.ticketIds.map((id) => storedPng(id)));
    expect(after.map((p) => p?.etag)).toEqual(before.map((p) => p?.etag));
    expect(await countRows("mail_log", "order_id = ?", order.orderId)).toBe(1);
    expect((await orderDelivery(order.orderId))?.delivery_attempts).toBe(1);
  });

  it("reuses a PNG already in R2 (rendered on demand) instead of drawing it again", async () => {
    const order = await freeOrder({ quantity: 2 });
    const first = order.ticketIds[0] ?? "";
    expect((await order.buyer.request("GET", `/api/tickets/${first}/png/`)).status).toBe(200);
    const onDemand = await storedPng(first);

    await deliver(brevoEnv(), order.jobs);
    expect((await storedPng(first))?.etag).toBe(onDemand?.etag);
    expect(networkFakes.brevo.sent[0]?.body.attachment?.[0]?.content).toBe(
      base64.encode(onDemand?.bytes ?? new Uint8Array()),
    );
  });

  it("retries with backoff when Brevo answers 5xx, then sends once without rendering again", async () => {
    const order = await freeOrder();
    networkFakes.brevo.failures = [503];
    const failed = await deliver(brevoEnv(), order.jobs);
    expect(failed.acked).toEqual([]);
    expect(failed.retried).toEqual(failed.ids);
    expect(failed.retryDelays).toEqual([5]);
    expect(networkFakes.brevo.sent).toHaveLength(0);
    expect(await orderDelivery(order.orderId)).toMatchObject({
      delivery_status: "PENDING",
      delivery_attempts: 1,
    });
    const rendered = await storedPng(order.ticketIds[0] ?? "");
    expect(rendered).not.toBeNull();

    const retried = await deliver(brevoEnv(), order.jobs, 2);
    expect(retried.acked).toEqual(retried.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    expect((await storedPng(order.ticketIds[0] ?? ""))?.etag).toBe(rendered?.etag);
    expect(await orderDelivery(order.orderId)).toMatchObject({
      delivery_status: "SENT",
      delivery_attempts: 2,
    });
    expect(await countRows("mail_log", "order_id = ?", order.orderId)).toBe(1);
  });

  it("retries when R2 refuses a write, and renders nothing twice once it works", async () => {
    const order = await freeOrder({ quantity: 2 });
    let puts = 0;
    const flaky = new Proxy(env.MEDIA, {
      get(target, prop) {
        if (prop === "put") {
          return async (...args: Parameters<R2Bucket["put"]>) => {
            puts++;
            // The first ticket is stored, the second write fails.
            if (puts === 2) throw new Error("R2 internal error (simulated)");
            return target.put(...args);
          };
        }
        const value = Reflect.get(target, prop);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const failed = await deliver(brevoEnv({ MEDIA: flaky }), order.jobs);
    expect(failed.retried).toEqual(failed.ids);
    expect(networkFakes.brevo.sent).toHaveLength(0);
    expect(await countRows("mail_log", "order_id = ?", order.orderId)).toBe(0);
    const kept = await storedPng(order.ticketIds[0] ?? "");
    expect(kept).not.toBeNull();
    expect(await storedPng(order.ticketIds[1] ?? "")).toBeNull();

    const retried = await deliver(brevoEnv(), order.jobs, 2);
    expect(retried.acked).toEqual(retried.ids);
    expect((await storedPng(order.ticketIds[0] ?? ""))?.etag).toBe(kept?.etag);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    expect(networkFakes.brevo.sent[0]?.body.attachment).toHaveLength(2);
  });

  it("marks the order delivery_failed on the last retry, and a resend delivers it", async () => {
    const order = await freeOrder();
    networkFakes.brevo.failures = [500];
    const last = await deliver(brevoEnv(), order.jobs, MAX_DELIVERY_ATTEMPTS);
    // retry() on the last attempt is what sends the message to the dead-letter queue.
    expect(last.retried).toEqual(last.ids);
    expect((await orderDelivery(order.orderId))?.delivery_status).toBe("FAILED");

    const resend = await order.buyer.post(`/api/tickets/${order.ticketIds[0]}/resend/`);
    expect(resend.status, resend.text).toBe(202);
    expect((await orderDelivery(order.orderId))?.delivery_status).toBe("PENDING");
    const job = order.recording.orderJobs().at(-1);
    expect(job).toMatchObject({ type: "order_tickets", orderId: order.orderId, resend: expect.any(String) });
    const delivered = await deliver(brevoEnv(), [job]);
    expect(delivered.acked).toEqual(delivered.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    expect((await orderDelivery(order.orderId))?.delivery_status).toBe("SENT");
  });

  it("does not retry forever when Brevo refuses the address (4xx): the order shows delivery_failed", async () => {
    const order = await freeOrder();
    networkFakes.brevo.failures = [400];
    const outcome = await deliver(brevoEnv(), order.jobs);
    expect(outcome.acked).toEqual(outcome.ids);
    expect((await orderDelivery(order.orderId))?.delivery_status).toBe("FAILED");
    expect((await mailFor(order.orderId)).results[0]?.status).toBe("FAILED");
  });

  it("sends poison messages to the dead-letter queue at once, without blocking the batch", async () => {
    const order = await freeOrder();
    const poison = [{ type: "order_tickets" }, { type: "order_tickets", orderId: 42 }, "not even an object"];
    const jobs = [
      ...poison,
      { type: "order_tickets", orderId: crypto.randomUUID() }, // no such order: nothing to do
      ...order.jobs,
    ];
    const deadLetters = recordingQueue();
    const outcome = await deliver(brevoEnv({ DELIVERY_DLQ: deadLetters.queue }), jobs);
    // Dead-lettered as they came (for a human to read), and acked: no retries burnt on them.
    expect(deadLetters.sent).toEqual(poison);
    expect(outcome.retried).toEqual([]);
    expect(outcome.acked).toEqual(outcome.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    expect((await orderDelivery(order.orderId))?.delivery_status).toBe("SENT");
  });

  it("retries a poison message when the dead-letter queue cannot take it (the queue's own DLQ path)", async () => {
    const failingDlq = {
      send: async () => {
        throw new Error("Queue send failed: service unavailable");
      },
    } as unknown as Queue;
    const outcome = await deliver(brevoEnv({ DELIVERY_DLQ: failingDlq }), [{ type: "mystery" }]);
    expect(outcome.retried).toEqual(outcome.ids);
    expect(outcome.acked).toEqual([]);
  });

  it("draws the event poster, and renders without it when the poster is missing or unreadable", async () => {
    const withPoster = await freeOrder();
    await setPoster(withPoster.eventId, photoJpeg(1080, 1350));
    const missing = await freeOrder();
    await setPoster(missing.eventId, null);
    const corrupt = await freeOrder();
    await setPoster(corrupt.eventId, photoJpeg(800, 600).slice(0, 2000));

    const outcome = await deliver(brevoEnv(), [...withPoster.jobs, ...missing.jobs, ...corrupt.jobs]);
    expect(outcome.acked).toEqual(outcome.ids);
    expect(networkFakes.brevo.sent).toHaveLength(3);
    const posterPng = await storedPng(withPoster.ticketIds[0] ?? "");
    expect(posterPng?.poster).toBe("yes");
    expect(posterPng?.bytes.byteLength).toBeLessThanOrEqual(60 * 1024);
    expect(readQr(posterPng?.bytes ?? new Uint8Array()).text).toBe(
      (await ticketRow(withPoster.ticketIds[0] ?? ""))?.qr_code_hash,
    );
    for (const order of [missing, corrupt]) {
      const png = await storedPng(order.ticketIds[0] ?? "");
      expect(png?.poster).toBe("no");
      expect(readQr(png?.bytes ?? new Uint8Array()).text).toBe(
        (await ticketRow(order.ticketIds[0] ?? ""))?.qr_code_hash,
      );
    }
  });

  it("renders a 300-character name with emoji cleanly", async () => {
    const order = await freeOrder();
    const id = order.ticketIds[0] ?? "";
    const name = `Achieng 🎉🇰🇪 ${"Otieno-Wanjiru ".repeat(20)}`.slice(0, 300);
    await env.DB.prepare("UPDATE tickets SET attendee_name = ? WHERE id = ?").bind(name, id).run();
    const outcome = await deliver(brevoEnv(), order.jobs);
    expect(outcome.acked).toEqual(outcome.ids);
    const png = await storedPng(id);
    expect(readQr(png?.bytes ?? new Uint8Array()).text).toBe((await ticketRow(id))?.qr_code_hash);
  });
});

describe("retry backoff for ticket deliveries", () => {
  it("waits 5 s, then 30 s, 2 min, 8 min, 32 min, an hour: six retries span more than an hour", () => {
    expect([1, 2, 3, 4, 5, 6, 7].map(orderRetryDelaySeconds)).toEqual([5, 30, 120, 480, 1920, 3600, 3600]);
    const total = [1, 2, 3, 4, 5, 6].map(orderRetryDelaySeconds).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(3600);
  });
});

describe("the dev outbox, end to end through the real queue", () => {
  it("shows the tickets email with its PNG attachments within seconds of the booking", async () => {
    // No recording queue here: the booking's job goes on the real queue and the Worker's own
    // consumer delivers it into the outbox (no BREVO_API_KEY in the test environment).
    const organizer = new TestClient();
    const start = Date.now() + 7 * 24 * 60 * 60 * 1000;
    await organizer.post("/api/auth/registration/", {
      username: uniqueName("org"),
      email: `${uniqueName("org")}@example.com`,
      password: "Correct-Horse-42",
      password2: "Correct-Horse-42",
      role: "ORGANIZER",
    });
    const event = await organizer.post(
      "/api/organizer/events/create/",
      {
        title: uniqueName("Outbox Gig "),
        category: "CONCERT",
        start_datetime: new Date(start).toISOString(),
        end_datetime: new Date(start + 3_600_000).toISOString(),
        tiers: [{ name: "Free", price: 0, quantity_allocated: 10 }],
      },
      { schema: EditEventSchema },
    );
    expect(event.status, event.text).toBe(201);
    const email = `${uniqueName("guest")}@example.com`;
    const booked = await new TestClient().post(
      "/api/pay/initiate/",
      {
        tier_id: event.body.tiers[0]?.id,
        phone_number: "0712345678",
        quantity: 2,
        email,
        name: "Otieno",
      },
      { schema: BookingConfirmedSchema },
    );
    expect(booked.status, booked.text).toBe(201);
    const bookedAt = Date.now();

    let mail: Body<typeof OutboxMailSchema> | undefined;
    while (!mail && Date.now() - bookedAt < 20_000) {
      const res = await new TestClient().get(`/__dev/outbox/?to=${encodeURIComponent(email)}&kind=tickets`, {
        schema: pageSchema(OutboxMailSchema),
      });
      mail = res.body.results[0];
      if (!mail) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // How fast it arrives is a benchmark's question (bench/), not a test's: the machine is shared.
    expect(mail, "the tickets email never reached the outbox").toBeDefined();
    expect(mail?.attachments).toHaveLength(2);
    for (const attachment of mail?.attachments ?? []) {
      expect(attachment).toMatchObject({
        content_type: "image/png",
        name: expect.stringMatching(/^ticket-[0-9A-F]{10}\.png$/),
      });
      const path = new URL(attachment.url).pathname;
      const res = await new TestClient().request("GET", path);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("image/png");
    }
  });
});
