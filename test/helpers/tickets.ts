/**
 * Builders for the ticket delivery tests: real tickets (free-tier bookings through
 * /api/pay/initiate/), a queue that only records, running the consumer on a batch, a
 * photo-like JPEG poster, and reading a PNG back to the text its QR code holds.
 */

import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { convertIndexedToRgb, decode } from "fast-png";
import jsQR from "jsqr";
import { expect } from "vitest";
import { handleDeliveryBatch } from "../../src/delivery/consumer";
import type { DeliveryJob } from "../../src/delivery/jobs";
import { EditEventSchema } from "../../src/http/views/event";
import { BookingConfirmedSchema } from "../../src/http/views/payment";
import { hashPassword } from "../../src/lib/passwords";
import { networkFakes } from "../fakes/network";
import { GOOD_PASSWORD, type RegisteredUser, registerUser } from "./accounts";
import { TestClient, uniqueName } from "./client";
import { servicesFor } from "./services";

/** A queue that only records, so the test (not the runtime's consumer) decides when delivery runs. */
export function recordingQueue() {
  const sent: DeliveryJob[] = [];
  const queue = {
    send: async (body: DeliveryJob) => {
      sent.push(body);
    },
    sendBatch: async (messages: Iterable<{ body: DeliveryJob }>) => {
      for (const m of messages) sent.push(m.body);
    },
  } as unknown as Queue<DeliveryJob>;
  return { sent, queue, orderJobs: () => sent.filter((j) => j.type === "order_tickets") };
}

/** The Worker's environment with Brevo configured (the fake at the network edge). */
export function brevoEnv(overrides: Partial<Env> = {}): Env {
  return {
    ...env,
    BREVO_API_KEY: networkFakes.brevo.validKey,
    MAIL_FROM: "TicketSafi <tickets@ticketsafi.test>",
    ...overrides,
  } as Env;
}

/** Run the consumer on one batch, as the runtime would, and return what it acked and retried. */
export async function deliver(targetEnv: Env, jobs: unknown[], attempts = 1) {
  const ids = jobs.map(() => crypto.randomUUID());
  const batch = createMessageBatch<unknown>(
    "ticket-delivery",
    jobs.map((body, i) => ({ id: ids[i] ?? "", timestamp: new Date(), attempts, body })),
  );
  // getQueueResult reports which messages were retried, not their delay: record it on the way.
  const retryDelays: Array<number | undefined> = [];
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    Object.defineProperty(message, "retry", {
      value: (options?: QueueRetryOptions) => {
        retryDelays.push(options?.delaySeconds);
        retry(options);
      },
    });
  }
  const ctx = createExecutionContext();
  await handleDeliveryBatch(batch, servicesFor(targetEnv));
  const result = await getQueueResult(batch, ctx);
  return {
    ids,
    acked: result.explicitAcks,
    retried: result.retryMessages.map((m: { msgId: string }) => m.msgId),
    retryDelays,
  };
}

export interface FreeOrder {
  orderId: string;
  ticketIds: string[];
  eventId: string;
  eventTitle: string;
  buyer: TestClient;
  buyerUser: RegisteredUser;
  organizer: TestClient;
  organizerUser: RegisteredUser;
  /** Jobs the booking put on the (recording) queue. */
  jobs: DeliveryJob[];
  /** The queue every request of this order's clients uses. */
  recording: ReturnType<typeof recordingQueue>;
}

/**
 * An organizer's event with a free tier, booked by a registered buyer. Requests go through
 * the real app with a recording queue, so no delivery runs until the test runs the consumer.
 */
export async function freeOrder(
  options: { quantity?: number; title?: string; location?: string; name?: string } = {},
): Promise<FreeOrder> {
  const recording = recordingQueue();
  const vars = { DELIVERY_QUEUE: recording.queue } as unknown as Partial<Record<keyof Env, string>>;
  const organizer = new TestClient(vars);
  const organizerUser = await registerUser(organizer, { role: "ORGANIZER" });
  const start = Date.UTC(new Date().getUTCFullYear() + 1, 11, 5, 15, 0, 0); // 18:00 in Nairobi
  const eventTitle = options.title ?? uniqueName("Nairobi Jazz Night ");
  const created = await organizer.post(
    "/api/organizer/events/create/",
    {
      title: eventTitle,
      category: "CONCERT",
      location_name: options.location ?? "Carnivore Grounds, Nairobi",
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 4 * 60 * 60 * 1000).toISOString(),
      tiers: [{ name: "Free Entry", price: 0, quantity_allocated: 50, max_per_order: 10 }],
    },
    { schema: EditEventSchema },
  );
  expect(created.status, created.text).toBe(201);
  const buyer = new TestClient(vars);
  const buyerUser = await registerUser(buyer);
  const before = recording.orderJobs().length;
  const booked = await buyer.post(
    "/api/pay/initiate/",
    {
      tier_id: created.body.tiers[0]?.id,
      phone_number: "0712345678",
      quantity: options.quantity ?? 1,
      ...(options.name ? { name: options.name } : {}),
    },
    { schema: BookingConfirmedSchema },
  );
  expect(booked.status, booked.text).toBe(201);
  const row = await env.DB.prepare("SELECT order_id FROM tickets WHERE id = ?")
    .bind(booked.body.ticket_ids[0])
    .first<{ order_id: string }>();
  return {
    orderId: row?.order_id ?? "",
    ticketIds: booked.body.ticket_ids,
    eventId: created.body.id,
    eventTitle,
    buyer,
    buyerUser,
    organizer,
    organizerUser,
    jobs: recording.orderJobs().slice(before),
    recording,
  };
}

/** A SCANNER account of `organizerId`, logged in on its own client. */
export async function scannerOf(organizerId: string): Promise<TestClient> {
  const username = uniqueName("gate");
  await env.DB.prepare(
    "INSERT INTO users (id, username, email, role, organizer_id, password_hash, is_verified) VALUES (?, ?, ?, 'SCANNER', ?, ?, 1)",
  )
    .bind(
      crypto.randomUUID(),
      username,
      `${username}@example.com`,
      organizerId,
      await hashPassword(GOOD_PASSWORD),
    )
    .run();
  const client = new TestClient();
  const login = await client.post("/api/auth/login/", { username, password: GOOD_PASSWORD });
  expect(login.status, login.text).toBe(200);
  return client;
}

/** Give an event a poster: `bytes` stored in R2 under a fresh key (or a key with no object). */
export async function setPoster(eventId: string, bytes: Uint8Array | null, ext = "jpg"): Promise<string> {
  const key = `posters/${crypto.randomUUID()}.${ext}`;
  if (bytes) await env.MEDIA.put(key, bytes);
  await env.DB.prepare("UPDATE events SET poster_key = ? WHERE id = ?").bind(key, eventId).run();
  return key;
}

/** A photo-like JPEG poster (the render benchmark draws the same one). */
export { photoJpeg } from "../../scripts/photo-jpeg.mjs";

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** Decode a PNG (any colour type fast-png reads) and read its QR code; null if none is found. */
export function readQr(png: Uint8Array): { text: string | null; width: number; height: number } {
  const image = decode(png);
  const rgb = image.palette ? convertIndexedToRgb(image) : image.data;
  const channels = image.palette ? (image.palette[0]?.length ?? 3) : image.channels;
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let p = 0; p < image.width * image.height; p++) {
    rgba[p * 4] = Number(rgb[p * channels] ?? 0);
    rgba[p * 4 + 1] = Number(rgb[p * channels + 1] ?? 0);
    rgba[p * 4 + 2] = Number(rgb[p * channels + 2] ?? 0);
    rgba[p * 4 + 3] = 255;
  }
  const code = jsQR(rgba, image.width, image.height);
  return { text: code?.data ?? null, width: image.width, height: image.height };
}

export async function ticketRow(id: string) {
  return env.DB.prepare("SELECT qr_code_hash, png_key, order_id, status FROM tickets WHERE id = ?")
    .bind(id)
    .first<{ qr_code_hash: string; png_key: string | null; order_id: string; status: string }>();
}

export async function orderDelivery(id: string) {
  return env.DB.prepare("SELECT delivery_status, delivery_attempts, delivered_at FROM orders WHERE id = ?")
    .bind(id)
    .first<{ delivery_status: string | null; delivery_attempts: number; delivered_at: number | null }>();
}

export async function storedPng(ticketId: string) {
  const object = await env.MEDIA.get(`tickets/${ticketId}.png`);
  if (!object) return null;
  return {
    bytes: new Uint8Array(await object.arrayBuffer()),
    etag: object.etag,
    uploaded: object.uploaded.getTime(),
    contentType: object.httpMetadata?.contentType,
    poster: object.customMetadata?.poster,
  };
}
