/**
 * Ticket transfer (contract v3 §14.1–§14.3, §14.5): every condition of §14.2 in its order with
 * its answer, the effect (recipient, new token version, old token revoked, transfer record),
 * parallel transfers (exactly one wins), the email-proof rule for transferred tickets, and
 * both emails delivered through the queue to the Brevo fake.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/db/client";
import type { DeliveryJob } from "../src/delivery/jobs";
import { pageSchema } from "../src/http/pagination";
import { EventDetailSchema } from "../src/http/routes/events";
import { TicketSchema } from "../src/http/views/ticket";
import { ticketHash } from "../src/lib/ticket-signing";
import { requeueUndeliveredTransfers } from "../src/services/ticket-transfer";
import { networkFakes } from "./fakes/network";
import { countRows } from "./helpers/accounts";
import { TestClient } from "./helpers/client";
import { paidOrder, refundOf, refundWorld } from "./helpers/refunds";
import { brevoEnv, deliver, freeOrder, readQr, recordingQueue, scannerOf } from "./helpers/tickets";
import {
  newAddress,
  revocationsOf,
  ticketState,
  tokenPayload,
  transfer,
  transfersOf,
  verifiedUser,
} from "./helpers/transfers";

const HOUR = 60 * 60 * 1000;

function transferJobs(jobs: DeliveryJob[]) {
  return jobs.filter(
    (j): j is Extract<DeliveryJob, { type: "ticket_transfer" }> => j.type === "ticket_transfer",
  );
}

describe("a transfer", () => {
  it("gives the ticket to a new address: a shadow user, token v2, the old token revoked, one delivery job", async () => {
    const order = await freeOrder({ quantity: 2 });
    const [ticketId = ""] = order.ticketIds;
    const before = await ticketState(ticketId);
    expect(tokenPayload(before.qr_code_hash).v).toBeUndefined();
    const email = newAddress("Wanjiru.");

    const res = await transfer(order.buyer, ticketId, {
      email: `  ${email.toUpperCase()} `,
      name: "Wanjiru Kamau",
      phone: "0722 000 111",
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({
      status: "Ticket Transferred",
      ticket_id: ticketId,
      recipient_email: `${email[0]?.toUpperCase()}***@EXAMPLE.COM`,
      transferred_at: expect.stringMatching(/\+03:00$/),
      transfers_left: 1,
    });

    const after = await ticketState(ticketId);
    const recipient = await env.DB.prepare(
      "SELECT id, is_guest, is_verified, phone_number, first_name, last_name FROM users WHERE lower(email) = ?",
    )
      .bind(email.toLowerCase())
      .first<Record<string, unknown>>();
    expect(recipient).toMatchObject({
      is_guest: 1,
      is_verified: 0,
      phone_number: "254722000111",
      first_name: "Wanjiru",
      last_name: "Kamau",
    });
    expect(after).toMatchObject({
      owner_id: recipient?.id,
      status: "ACTIVE",
      token_version: 2,
      transfer_count: 1,
      attendee_name: "Wanjiru Kamau",
      attendee_email: email.toUpperCase(),
      png_key: null,
    });
    expect(after.qr_code_hash).not.toBe(before.qr_code_hash);
    expect(tokenPayload(after.qr_code_hash)).toMatchObject({ t: ticketId, e: order.eventId, v: 2 });
    expect(after.ticket_hash).toBe(await ticketHash(after.qr_code_hash));
    expect(after.change_seq).toBeGreaterThan(before.change_seq);

    expect(await revocationsOf(ticketId)).toEqual([
      {
        ticket_hash: before.ticket_hash,
        reason: "transferred",
        token_version: 1,
        revoked_at: expect.any(Number),
        change_seq: after.change_seq,
      },
    ]);
    const [record] = await transfersOf(ticketId);
    expect(record).toMatchObject({
      from_user_id: order.buyerUser.id,
      to_user_id: recipient?.id,
      from_version: 1,
      to_version: 2,
      event_id: order.eventId,
    });
    expect(transferJobs(order.recording.sent)).toEqual([{ type: "ticket_transfer", transferId: record?.id }]);
    // The other ticket of the order is untouched.
    expect((await ticketState(order.ticketIds[1] ?? "")).token_version).toBe(1);
  });

  it("takes the ticket from the sender: list, detail, PNG, resend and transfer answer 404", async () => {
    const order = await freeOrder({ quantity: 2 });
    const [gone = "", kept = ""] = order.ticketIds;
    expect((await transfer(order.buyer, gone, { email: newAddress(), name: "Otieno" })).status).toBe(200);

    const list = await order.buyer.get("/api/tickets/", { schema: pageSchema(TicketSchema) });
    expect(list.body.results.map((t) => t.id)).toEqual([kept]);
    expect((await order.buyer.get(`/api/tickets/${gone}/`)).status).toBe(404);
    expect((await order.buyer.get(`/api/tickets/${gone}/png/`)).status).toBe(404);
    expect((await order.buyer.post(`/api/tickets/${gone}/resend/`)).status).toBe(404);
    const again = await transfer(order.buyer, gone, { email: newAddress(), name: "Otieno" });
    expect(again.status).toBe(404);
    expect(again.body).toMatchObject({ error: "Not found.", detail: "Not found.", code: "not_found" });
  });

  it("lands on an existing account, shown there only once it has proven the email", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const friend = new TestClient();
    const friendEmail = newAddress();
    const registered = await friend.post("/api/auth/registration/", {
      username: `f${crypto.randomUUID().slice(0, 8)}`,
      email: friendEmail,
      password: "Correct-Horse-42",
      password2: "Correct-Horse-42",
    });
    expect(registered.status, registered.text).toBe(201);

    expect((await transfer(order.buyer, ticketId, { email: friendEmail, name: "Akinyi" })).status).toBe(200);
    expect(await countRows("users", "lower(email) = ?", friendEmail.toLowerCase())).toBe(1);
    // Anyone can register a stranger's address: not proven, not shown.
    const hidden = await friend.get("/api/tickets/", { schema: pageSchema(TicketSchema) });
    expect(hidden.body.results).toEqual([]);
    expect((await friend.get(`/api/tickets/${ticketId}/`)).status).toBe(404);

    await env.DB.prepare("UPDATE users SET is_verified = 1 WHERE lower(email) = ?")
      .bind(friendEmail.toLowerCase())
      .run();
    const shown = await friend.get("/api/tickets/", { schema: pageSchema(TicketSchema) });
    expect(shown.body.results.map((t) => [t.id, t.transferable, t.transfers_left, t.attendee_name])).toEqual([
      [ticketId, true, 1, "Akinyi"],
    ]);
  });

  it("lets a verified recipient pass it on once more, then refuses past the limit", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const second = await verifiedUser();
    const third = await verifiedUser();
    expect((await transfer(order.buyer, ticketId, { email: second.user.email, name: "Second" })).status).toBe(
      200,
    );
    const two = await transfer(second.client, ticketId, { email: third.user.email, name: "Third" });
    expect(two.status, two.text).toBe(200);
    expect(two.body.transfers_left).toBe(0);

    const detail = await third.client.get(`/api/tickets/${ticketId}/`, { schema: TicketSchema });
    expect(detail.body).toMatchObject({ transferable: false, transfers_left: 0 });
    const limit = await transfer(third.client, ticketId, { email: newAddress(), name: "Fourth" });
    expect(limit.status).toBe(409);
    expect(limit.body).toMatchObject({ code: "transfer_limit", error: expect.any(String) });
    expect(limit.body.error).toBe(limit.body.detail);
    expect((await ticketState(ticketId)).token_version).toBe(3);
    expect((await revocationsOf(ticketId)).map((r) => r.token_version)).toEqual([1, 2]);
    expect((await transfer(second.client, ticketId, { email: newAddress(), name: "X" })).status).toBe(404);
  });
});

describe("the conditions of §14.2, in order", () => {
  it("answers 404 to anyone but the owner (the organizer and its gate staff too), 401 signed out", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const body = { email: newAddress(), name: "Nobody" };
    const stranger = await verifiedUser();
    expect((await transfer(stranger.client, ticketId, body)).status).toBe(404);
    expect((await transfer(order.organizer, ticketId, body)).status).toBe(404);
    expect((await transfer(await scannerOf(order.organizerUser.id), ticketId, body)).status).toBe(404);
    expect((await transfer(new TestClient(), ticketId, body)).status).toBe(401);
    expect((await transfer(order.buyer, crypto.randomUUID(), body)).status).toBe(404);
    expect((await transfer(order.buyer, "not-a-uuid", body)).status).toBe(404);
    // Rule 1 comes before the body: a malformed body on someone else's ticket is still 404.
    expect((await transfer(stranger.client, ticketId, { email: "nope" })).status).toBe(404);
    const raw = await stranger.client.request("POST", `/api/tickets/${ticketId}/transfer/`, {
      rawBody: "{not json",
      headers: { "content-type": "application/json" },
    });
    expect(raw.status).toBe(404);
    expect((await ticketState(ticketId)).token_version).toBe(1);
  });

  it("403 transfer_disabled when the organizer turned transfers off (shown on the event and ticket)", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const edit = await order.organizer.patch(`/api/organizer/events/${order.eventId}/edit/`, {
      allow_transfers: false,
    });
    expect(edit.status, edit.text).toBe(200);
    expect(edit.body.allow_transfers).toBe(false);
    const publicDetail = await new TestClient().get(`/api/events/${order.eventId}/`, {
      schema: EventDetailSchema,
    });
    expect(publicDetail.body.allow_transfers).toBe(false);
    const view = await order.buyer.get(`/api/tickets/${ticketId}/`, { schema: TicketSchema });
    expect(view.body).toMatchObject({ transferable: false, transfers_left: 2 });

    // Checked before the body.
    const res = await transfer(order.buyer, ticketId, { email: "bad" });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("transfer_disabled");

    await order.organizer.patch(`/api/organizer/events/${order.eventId}/edit/`, { allow_transfers: "true" });
    expect((await transfer(order.buyer, ticketId, { email: newAddress(), name: "Now" })).status).toBe(200);
  });

  it("creates events with transfers on by default, off when asked (multipart too)", async () => {
    const order = await freeOrder();
    const detail = await new TestClient().get(`/api/events/${order.eventId}/`, { schema: EventDetailSchema });
    expect(detail.body.allow_transfers).toBe(true);
    const form = new FormData();
    const start = Date.now() + 30 * 24 * HOUR;
    form.set("title", "No Transfers Gala");
    form.set("start_datetime", new Date(start).toISOString());
    form.set("end_datetime", new Date(start + 4 * HOUR).toISOString());
    form.set("allow_transfers", "false");
    form.set("tiers", JSON.stringify([{ name: "Free", price: 0, quantity_allocated: 5 }]));
    const created = await order.organizer.request("POST", "/api/organizer/events/create/", { form });
    expect(created.status, created.text).toBe(201);
    expect((created.body as { allow_transfers: boolean }).allow_transfers).toBe(false);
  });

  it("409 not_transferable for a checked-in ticket, before any body check", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const { qr_code_hash } = await ticketState(ticketId);
    expect((await order.organizer.post("/api/scanner/verify/", { qr_hash: qr_code_hash })).status).toBe(200);
    const res = await transfer(order.buyer, ticketId, { email: "not-an-email" });
    expect(res.status).toBe(409);
    expect(res.body).toMatchObject({ code: "not_transferable", error: expect.any(String) });
    const view = await order.buyer.get(`/api/tickets/${ticketId}/`, { schema: TicketSchema });
    expect(view.body.transferable).toBe(false);
  });

  it("409 not_transferable for a cancelled ticket, 409 refund_in_progress while its order is being refunded", async () => {
    const world = refundWorld();
    const paid = await paidOrder(world, { quantity: 2 });
    const [cancelled = "", other = ""] = paid.ticketIds;
    const refund = await refundOf(paid.organizer, { ticket_ids: [cancelled], reason: "Asked" }, paid.orderId);
    expect(refund.status, refund.text).toBe(202);
    expect(refund.body.status).toBe("PENDING");

    const a = await transfer(paid.buyer, cancelled, { email: newAddress(), name: "A" });
    expect([a.status, a.body.code]).toEqual([409, "not_transferable"]);
    const b = await transfer(paid.buyer, other, { email: newAddress(), name: "B" });
    expect([b.status, b.body.code]).toEqual([409, "refund_in_progress"]);
    const view = await paid.buyer.get(`/api/tickets/${other}/`, { schema: TicketSchema });
    expect(view.body.transferable).toBe(false);
    expect(await transfersOf(other)).toEqual([]);
  });

  it("409 transfer_window_closed within TRANSFER_CUTOFF_HOURS of the start", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const start = Date.now() + 2 * HOUR;
    const edit = await order.organizer.patch(`/api/organizer/events/${order.eventId}/edit/`, {
      start_datetime: new Date(start).toISOString(),
      end_datetime: new Date(start + 4 * HOUR).toISOString(),
    });
    expect(edit.status, edit.text).toBe(200);
    const res = await transfer(order.buyer, ticketId, { email: newAddress(), name: "Late" });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe("transfer_window_closed");
    expect(res.body.error).toContain("3 hours");
    // A shorter cutoff opens it again (the variable is honoured).
    const relaxed = new TestClient({ TRANSFER_CUTOFF_HOURS: "1" });
    relaxed.cookies.clear();
    for (const [k, v] of order.buyer.cookies) relaxed.cookies.set(k, v);
    expect((await transfer(relaxed, ticketId, { email: newAddress(), name: "Late" })).status).toBe(200);
  });

  it("400 for the body: malformed or missing email, own address, a gate-staff address, name, phone", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const scannerEmail = `gate${crypto.randomUUID().slice(0, 8)}@example.com`;
    const created = await order.organizer.post("/api/organizer/team/scanners/create/", {
      username: `gate${crypto.randomUUID().slice(0, 8)}`,
      email: scannerEmail,
      password: "Correct-Horse-42",
    });
    expect(created.status, created.text).toBe(201);

    const cases: Array<[unknown, Record<string, string[]>]> = [
      [{ email: "wanjiru@", name: "W" }, { email: ["Enter a valid email address."] }],
      [{ name: "W" }, { email: ["This field is required."] }],
      [{ email: 42, name: "W" }, { email: ["Enter a valid email address."] }],
      [
        { email: order.buyerUser.email.toUpperCase(), name: "Me" },
        { email: ["You already hold this ticket."] },
      ],
      [{ email: scannerEmail, name: "Gate" }, { email: ["This address cannot receive tickets."] }],
      [{ email: newAddress() }, { name: ["This field is required."] }],
      [{ email: newAddress(), name: "   " }, { name: ["This field is required."] }],
      [
        { email: newAddress(), name: "x".repeat(101) },
        { name: ["Ensure this field has no more than 100 characters."] },
      ],
      [
        { email: newAddress(), name: "W", phone: "12345" },
        { phone: ["Enter a valid Kenyan mobile number, e.g. 0712 345 678."] },
      ],
    ];
    for (const [body, fields] of cases) {
      const res = await transfer(order.buyer, ticketId, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body).toMatchObject({ ...fields, error: expect.any(String), code: expect.any(String) });
      expect(res.body.error).toBe(res.body.detail);
    }
    const phoneOnly = await transfer(order.buyer, ticketId, {
      email: newAddress(),
      name: "W",
      phone: "0800",
    });
    expect(phoneOnly.body.code).toBe("invalid_phone");
    expect((await ticketState(ticketId)).token_version).toBe(1);
    expect(await transfersOf(ticketId)).toEqual([]);
    expect(await countRows("users", "lower(email) = ?", scannerEmail.toLowerCase())).toBe(1);
  });

  it("429 past the recipient's hourly ticket-mail limit, with Retry-After", async () => {
    const order = await freeOrder({ quantity: 3 });
    const limited = new TestClient({ BOOKINGS_PER_RECIPIENT_PER_HOUR: "1" });
    for (const [k, v] of order.buyer.cookies) limited.cookies.set(k, v);
    const email = newAddress();
    expect((await transfer(limited, order.ticketIds[0] ?? "", { email, name: "A" })).status).toBe(200);
    const res = await transfer(limited, order.ticketIds[1] ?? "", { email: email.toUpperCase(), name: "A" });
    expect(res.status).toBe(429);
    expect(res.body.code).toBe("rate_limited");
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await ticketState(order.ticketIds[1] ?? "")).token_version).toBe(1);
  });
});

describe("parallel transfers", () => {
  it("10 at once of one ticket: exactly one wins, and the losers leave nothing behind", async () => {
    const order = await freeOrder();
    const [ticketId = ""] = order.ticketIds;
    const emails = Array.from({ length: 10 }, () => newAddress("race"));
    const answers = await Promise.all(
      emails.map((email) => transfer(order.buyer, ticketId, { email, name: "R" })),
    );
    const won = answers.filter((a) => a.status === 200);
    expect(won).toHaveLength(1);
    for (const lost of answers.filter((a) => a.status !== 200)) {
      expect([404, 409], lost.text).toContain(lost.status);
    }
    const state = await ticketState(ticketId);
    expect(state).toMatchObject({ token_version: 2, transfer_count: 1 });
    expect(await transfersOf(ticketId)).toHaveLength(1);
    expect(await revocationsOf(ticketId)).toHaveLength(1);
    expect(transferJobs(order.recording.sent)).toHaveLength(1);
    // Only the winner's recipient exists: no shadow users for the losers.
    let created = 0;
    for (const email of emails) created += await countRows("users", "lower(email) = ?", email.toLowerCase());
    expect(created).toBe(1);
    const owner = await env.DB.prepare("SELECT lower(email) AS email FROM users WHERE id = ?")
      .bind(state.owner_id)
      .first<{ email: string }>();
    expect(emails.indexOf(owner?.email ?? "")).toBe(answers.findIndex((a) => a.status === 200));
  });
});

describe("delivery through the queue", () => {
  it("emails the recipient the new PNG and the sender a masked confirmation, once each", async () => {
    const order = await freeOrder({ quantity: 2 });
    const [ticketId = ""] = order.ticketIds;
    await deliver(brevoEnv(), order.jobs);
    networkFakes.brevo.reset();
    const email = newAddress("jane.");
    expect((await transfer(order.buyer, ticketId, { email, name: "Jane Muthoni" })).status).toBe(200);
    const jobs = transferJobs(order.recording.sent);
    expect(jobs).toHaveLength(1);

    const outcome = await deliver(brevoEnv(), jobs);
    expect(outcome.acked).toEqual(outcome.ids);
    const sent = networkFakes.brevo.sent.map((s) => s.body);
    expect(sent).toHaveLength(2);
    const toRecipient = sent.find((m) => m.to[0]?.email === email);
    const toSender = sent.find((m) => m.to[0]?.email === order.buyerUser.email);
    expect(toRecipient).toMatchObject({
      subject: `Your ticket: ${order.eventTitle}`,
      tags: ["ticket_transfer"],
    });
    expect(toRecipient?.textContent).toContain(`${order.buyerUser.username} sent you a ticket`);
    const state = await ticketState(ticketId);
    const png = await env.MEDIA.get(`tickets/${ticketId}.v2.png`);
    expect(png).not.toBeNull();
    const bytes = new Uint8Array((await png?.arrayBuffer()) ?? new ArrayBuffer(0));
    expect(readQr(bytes).text).toBe(state.qr_code_hash);
    expect(toRecipient?.attachment?.[0]?.name).toMatch(/^ticket-[0-9A-F]{10}\.png$/);
    // The v1 PNG the buyer was mailed stays as it was (its token is revoked).
    expect(await env.MEDIA.get(`tickets/${ticketId}.png`)).not.toBeNull();
    expect(state.png_key).toBe(`tickets/${ticketId}.v2.png`);

    expect(toSender).toMatchObject({
      subject: `Ticket transferred: ${order.eventTitle}`,
      tags: ["ticket_transfer_sent"],
    });
    expect(toSender?.textContent).toContain("j***@example.com");
    expect(toSender?.textContent).not.toContain(email);
    expect(toSender?.attachment).toBeUndefined();

    // A redelivered message sends nothing more.
    await deliver(brevoEnv(), [...jobs, ...jobs], 2);
    expect(networkFakes.brevo.sent).toHaveLength(2);
    const [record] = await transfersOf(ticketId);
    expect(record?.delivered_at).toEqual(expect.any(Number));
  });

  it("resends a transferred ticket to its holder with the transfer mail; the buyer's resend leaves it out", async () => {
    const order = await freeOrder({ quantity: 2 });
    const [moved = "", kept = ""] = order.ticketIds;
    const holder = await verifiedUser({ DELIVERY_QUEUE: order.recording.queue } as unknown as Record<
      string,
      string
    >);
    expect((await transfer(order.buyer, moved, { email: holder.user.email, name: "Holder" })).status).toBe(
      200,
    );
    await deliver(brevoEnv(), transferJobs(order.recording.sent));
    networkFakes.brevo.reset();
    order.recording.sent.length = 0;

    const resent = await holder.client.post(`/api/tickets/${moved}/resend/`);
    expect(resent.status, resent.text).toBe(202);
    const [job] = transferJobs(order.recording.sent);
    expect(job).toMatchObject({ type: "ticket_transfer", resend: expect.any(String) });
    await deliver(brevoEnv(), [job]);
    expect(networkFakes.brevo.sent.map((s) => [s.body.to[0]?.email, s.body.tags])).toEqual([
      [holder.user.email, ["ticket_transfer"]],
    ]);
    expect(networkFakes.brevo.sent[0]?.body.textContent).toContain("As requested, here again");
    networkFakes.brevo.reset();
    order.recording.sent.length = 0;

    expect((await order.buyer.post(`/api/tickets/${kept}/resend/`)).status).toBe(202);
    await deliver(brevoEnv(), order.recording.sent);
    const mail = networkFakes.brevo.sent[0]?.body;
    expect(mail?.to[0]?.email).toBe(order.buyerUser.email);
    expect(mail?.attachment).toHaveLength(1);
    expect(mail?.textContent).toContain("is your ticket");
  });

  it("a transfer whose enqueue failed is re-queued by the cron sweep", async () => {
    const failing = {
      send: async () => {
        throw new Error("queue down");
      },
      sendBatch: async () => undefined,
    } as unknown as Queue<DeliveryJob>;
    const order = await freeOrder();
    const client = new TestClient({ DELIVERY_QUEUE: failing } as unknown as Record<string, string>);
    for (const [k, v] of order.buyer.cookies) client.cookies.set(k, v);
    expect(
      (await transfer(client, order.ticketIds[0] ?? "", { email: newAddress(), name: "Q" })).status,
    ).toBe(200);
    const [record] = await transfersOf(order.ticketIds[0] ?? "");
    const recording = recordingQueue();
    const db = createDb(env.DB);
    expect(await requeueUndeliveredTransfers(db, recording.queue, Date.now())).toBe(0);
    expect(
      await requeueUndeliveredTransfers(db, recording.queue, Date.now() + 11 * 60 * 1000),
    ).toBeGreaterThanOrEqual(1);
    expect(recording.sent).toContainEqual({ type: "ticket_transfer", transferId: record?.id });
  });
});
