/**
 * Webhook delivery (contract v3 §16.2–§16.3) through the real bindings: an order paid through
 * the fake Daraja writes its `order.completed` in the settlement's own batch (the outbox), the
 * real queue consumer sends it signed to a receiver at the network edge, and every fault of
 * §16.3 — 5xx, 3xx, timeout, 410, a huge body, 72 h of failures, a deleted endpoint, a lost
 * queue message, two consumers at once — ends as the contract says, with identical body
 * bytes on every attempt and no event for a change that rolled back.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryJob } from "../src/delivery/jobs";
import { runScheduled } from "../src/scheduled";
import { registerUser } from "./helpers/accounts";
import { CALLBACK_PATH, type Initiated, networkFakes } from "./helpers/checkout";
import { TestClient, uniqueName } from "./helpers/client";
import { servicesFor } from "./helpers/services";
import {
  createEndpoint,
  deliveriesOfEndpoint,
  eventsOfOrganizer,
  HOOK,
  HOOK2,
  makeDue,
  receivers,
  runWebhookJobs,
  verifySignature,
  webhookWorld,
} from "./helpers/webhooks";

const HOUR = 60 * 60 * 1000;

describe("order.completed", () => {
  it("is written with the settlement and delivered signed, with the order as it was", async () => {
    const w = await webhookWorld();
    const order = await w.buy(2);
    const announced = w.q.sent.filter((m) => m.body.type === "webhook_event");
    expect(announced).toHaveLength(1);
    expect(await w.drain()).toBe(1);

    const [got, ...more] = receivers.to("hooks.receiver.test");
    expect(more).toHaveLength(0);
    if (!got || !w.hook) throw new Error("nothing delivered");
    expect(await verifySignature(w.hook.secret, got)).toBe(true);
    expect(got.headers["ticketsafi-event"]).toBe("order.completed");
    const body = JSON.parse(got.body);
    const title = await env.DB.prepare("SELECT title FROM events WHERE id = ?")
      .bind(order.eventId)
      .first<{ title: string }>();
    expect(body).toMatchObject({
      type: "order.completed",
      data: {
        order: {
          id: order.orderId,
          reference: order.reference,
          event_id: order.eventId,
          event_title: title?.title,
          status: "COMPLETED",
          refund_status: "NONE",
          amount: 2000,
          amount_paid: 2000,
          amount_refunded: 0,
          refundable: 2000,
          buyer_phone: order.phone,
          ticket_ids: order.ticketIds,
          items: [{ tier_id: order.tierId, quantity: 2, unit_price: 1000 }],
        },
      },
    });
    // Unmasked: the organizer's own record.
    expect(body.data.order.buyer_email).toMatch(/@example\.com$/);
    const [delivery] = await deliveriesOfEndpoint(w.hook.id);
    expect(delivery).toMatchObject({
      status: "DELIVERED",
      attempts: 1,
      last_response_code: 200,
      next_attempt_at: null,
    });
    expect(got.headers["ticketsafi-delivery"]).toBe(delivery?.id);
    expect(body.id).toBe(delivery?.event_id);

    // A second callback for the same payment announces nothing more.
    const again = await new TestClient(w.vars).post(
      CALLBACK_PATH,
      networkFakes.daraja.callbackFor(
        (
          (await env.DB.prepare("SELECT checkout_request_id AS c FROM orders WHERE id = ?")
            .bind(order.orderId)
            .first<{ c: string }>()) ?? { c: "" }
        ).c,
        { resultCode: 0, phoneNumber: order.phone },
      ),
    );
    expect(again.status).toBe(200);
    expect(await eventsOfOrganizer(w.organizer.id)).toHaveLength(1);
    expect(w.q.takeWebhookJobs()).toHaveLength(0);
  });

  it("writes nothing for an organizer with no endpoint, or none that hears the type", async () => {
    const none = await webhookWorld(null);
    await none.buy();
    expect(await eventsOfOrganizer(none.organizer.id)).toHaveLength(0);
    expect(none.q.takeWebhookJobs()).toHaveLength(0);

    const other = await webhookWorld({ url: HOOK, events: ["ticket.checked_in"] });
    await other.buy();
    expect(await eventsOfOrganizer(other.organizer.id)).toHaveLength(0);

    const off = await webhookWorld();
    await off.organizer.client.patch(`/api/organizer/webhooks/${off.hook?.id}/`, { is_active: false });
    await off.buy();
    expect(await eventsOfOrganizer(off.organizer.id)).toHaveLength(0);
  });

  it("fans out once per subscribed endpoint", async () => {
    const w = await webhookWorld();
    await createEndpoint(w.organizer.client, { url: HOOK2, events: ["order.completed"] });
    await createEndpoint(w.organizer.client, {
      url: "https://hooks3.receiver.test/x",
      events: ["order.refunded"],
    });
    await w.buy();
    await w.drain();
    expect(receivers.received.map((r) => r.host).sort()).toEqual([
      "hooks.receiver.test",
      "hooks2.receiver.test",
    ]);
    const [a, b] = receivers.received;
    expect(a?.body).toBe(b?.body);
    expect(a?.headers["ticketsafi-delivery"]).not.toBe(b?.headers["ticketsafi-delivery"]);
  });

  it("announces nothing for a settlement whose batch rolled back (a reused receipt)", async () => {
    const w = await webhookWorld();
    const first = await w.buy();
    const receipt = await env.DB.prepare("SELECT mpesa_receipt_number AS r FROM orders WHERE id = ?")
      .bind(first.orderId)
      .first<{ r: string }>();
    const buyer = new TestClient(w.vars);
    await registerUser(buyer);
    const initiated = await buyer.post<Initiated>("/api/pay/initiate/", {
      tier_id: first.tierId,
      phone_number: "0712345678",
      quantity: 1,
    });
    expect(initiated.status, initiated.text).toBe(202);
    const replay = await new TestClient(w.vars).post(
      CALLBACK_PATH,
      networkFakes.daraja.callbackFor(initiated.body.checkout_request_id, {
        resultCode: 0,
        receipt: receipt?.r ?? "",
      }),
    );
    expect(replay.status).toBe(200);
    const second = await env.DB.prepare("SELECT status FROM orders WHERE id = ?")
      .bind(initiated.body.order_id)
      .first<{ status: string }>();
    expect(second?.status).toBe("UNDER_REVIEW");
    const events = await eventsOfOrganizer(w.organizer.id);
    expect(events.map((e) => e.dedupe_key)).toEqual([`order.completed:${first.orderId}`]);
  });

  it("is announced for a free booking too", async () => {
    const w = await webhookWorld();
    const start = Date.now() + 7 * 24 * HOUR;
    const created = await w.organizer.client.post<{ id: string; tiers: Array<{ id: string }> }>(
      "/api/organizer/events/create/",
      {
        title: uniqueName("Free Gig "),
        category: "CONCERT",
        start_datetime: new Date(start).toISOString(),
        end_datetime: new Date(start + 3 * HOUR).toISOString(),
        tiers: [{ name: "Free", price: 0, quantity_allocated: 10, max_per_order: 4 }],
      },
    );
    const fan = new TestClient(w.vars);
    await registerUser(fan);
    const booked = await fan.post<{ order_id: string; ticket_ids: string[] }>("/api/pay/initiate/", {
      tier_id: created.body.tiers[0]?.id,
      quantity: 2,
      phone_number: "0712345678",
    });
    expect(booked.status, booked.text).toBe(201);
    await w.drain();
    const [got] = receivers.received;
    const order = JSON.parse(got?.body ?? "{}").data.order;
    expect(order).toMatchObject({ id: booked.body.order_id, status: "COMPLETED", amount: 0, amount_paid: 0 });
    expect(order.reference).toMatch(/^FREE-/);
    expect(order.ticket_ids).toEqual(booked.body.ticket_ids);
  });
});

describe("retries (§16.3)", () => {
  it("follows the schedule with identical body bytes and fresh signatures, then DELIVERED", async () => {
    const w = await webhookWorld();
    receivers.script(
      "hooks.receiver.test",
      [500, 503, "timeout", { status: 302, location: HOOK2 }, "network"],
      200,
    );
    await w.buy();
    const [first] = w.q.takeWebhookJobs();
    const delays: number[] = [];
    let job: DeliveryJob | undefined = first?.body;
    const hookId = w.hook?.id ?? "";
    for (let attempt = 1; job; attempt++) {
      await runWebhookJobs([job], w.vars);
      const [retry, ...extra] = w.q.takeWebhookJobs();
      expect(extra).toHaveLength(0);
      job = retry?.body;
      if (retry) {
        delays.push(retry.delaySeconds);
        const [delivery] = await deliveriesOfEndpoint(hookId);
        expect(delivery?.status).toBe("PENDING");
        expect(delivery?.attempts).toBe(attempt);
        // Not due yet: an early message sends nothing.
        await runWebhookJobs([retry.body], w.vars);
        expect(w.q.takeWebhookJobs()).toHaveLength(0);
        await makeDue(String(delivery?.id));
      }
    }
    expect(delays).toEqual([60, 300, 1800, 7200, 21600]);
    const received = receivers.to("hooks.receiver.test");
    expect(received).toHaveLength(6);
    expect(new Set(received.map((r) => r.body)).size).toBe(1);
    for (const r of received) expect(await verifySignature(w.hook?.secret ?? "", r)).toBe(true);
    expect(receivers.to("hooks2.receiver.test")).toHaveLength(0);
    const [delivery] = await deliveriesOfEndpoint(hookId);
    expect(delivery).toMatchObject({
      status: "DELIVERED",
      attempts: 6,
      last_response_code: 200,
      last_error: null,
    });
    const endpoint = await env.DB.prepare("SELECT failing_since FROM webhook_endpoints WHERE id = ?")
      .bind(hookId)
      .first<{ failing_since: number | null }>();
    expect(endpoint?.failing_since).toBeNull();
  });

  it("records each failure's kind", async () => {
    const w = await webhookWorld();
    receivers.script("hooks.receiver.test", [{ status: 301, location: HOOK2 }]);
    await w.buy();
    await w.drain();
    const [delivery] = await deliveriesOfEndpoint(w.hook?.id ?? "");
    expect(delivery).toMatchObject({ last_response_code: 301, last_error: "redirect", status: "PENDING" });
    const log = await w.organizer.client.get<{ results: Array<Record<string, unknown>> }>(
      `/api/organizer/webhooks/${w.hook?.id}/deliveries/`,
    );
    expect(log.body.results[0]).toMatchObject({
      status: "PENDING",
      attempts: 1,
      last_response_code: 301,
      last_error: "redirect",
    });
    expect(log.body.results[0]?.next_attempt_at).toMatch(/\+03:00$/);
  });

  it("gives up after 11 attempts: FAILED, nothing more queued", async () => {
    const w = await webhookWorld();
    receivers.script("hooks.receiver.test", [], 500);
    await w.buy();
    let jobs = w.q.takeWebhookJobs();
    const delays: number[] = [];
    while (jobs.length > 0) {
      await runWebhookJobs(
        jobs.map((j) => j.body),
        w.vars,
      );
      jobs = w.q.takeWebhookJobs();
      for (const j of jobs) delays.push(j.delaySeconds);
      const [delivery] = await deliveriesOfEndpoint(w.hook?.id ?? "");
      if (delivery?.status === "PENDING") await makeDue(String(delivery.id));
    }
    expect(delays).toEqual([60, 300, 1800, 7200, 21600, 43200, 43200, 43200, 43200, 43200]);
    expect(receivers.received).toHaveLength(11);
    const [delivery] = await deliveriesOfEndpoint(w.hook?.id ?? "");
    expect(delivery).toMatchObject({
      status: "FAILED",
      attempts: 11,
      next_attempt_at: null,
      last_error: "http_500",
    });
  });

  it("a 410 disables the endpoint (gone) and cancels what it still had pending", async () => {
    const w = await webhookWorld();
    receivers.script("hooks.receiver.test", [410]);
    await w.buy();
    await w.buy();
    const jobs = w.q.takeWebhookJobs();
    expect(jobs).toHaveLength(2);
    await runWebhookJobs([jobs[0]?.body as DeliveryJob], w.vars);
    await runWebhookJobs([jobs[1]?.body as DeliveryJob], w.vars);
    expect(receivers.received).toHaveLength(1);
    const endpoint = await w.organizer.client.get<Record<string, unknown>>(
      `/api/organizer/webhooks/${w.hook?.id}/`,
    );
    expect(endpoint.body).toMatchObject({ is_active: false, disabled_reason: "gone" });
    const deliveries = await deliveriesOfEndpoint(w.hook?.id ?? "");
    expect(deliveries.map((d) => [d.status, d.attempts])).toEqual([
      ["CANCELLED", 1],
      ["CANCELLED", 0],
    ]);
    // Disabled: the next sale announces nothing to it.
    await w.buy();
    expect(w.q.takeWebhookJobs()).toHaveLength(0);
  });

  it("a huge 2xx body is DELIVERED without being read", async () => {
    const w = await webhookWorld();
    receivers.script("hooks.receiver.test", [{ status: 200, hugeBody: true }]);
    await w.buy();
    await w.drain();
    const [delivery] = await deliveriesOfEndpoint(w.hook?.id ?? "");
    expect(delivery).toMatchObject({ status: "DELIVERED", last_response_code: 200 });
  });

  it("72 h without a 2xx disables the endpoint (failing) and emails the organizer", async () => {
    const w = await webhookWorld();
    receivers.script("hooks.receiver.test", [], 500);
    await w.buy();
    await w.buy();
    const jobs = w.q.takeWebhookJobs();
    await runWebhookJobs([jobs[0]?.body as DeliveryJob], w.vars);
    expect((await deliveriesOfEndpoint(w.hook?.id ?? ""))[0]?.status).toBe("PENDING");
    // Failing since 73 h ago (deliveries were due all along).
    await env.DB.prepare("UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?")
      .bind(Date.now() - 73 * HOUR, w.hook?.id)
      .run();
    w.q.takeWebhookJobs();
    await runWebhookJobs([jobs[1]?.body as DeliveryJob], w.vars);
    const endpoint = await w.organizer.client.get<Record<string, unknown>>(
      `/api/organizer/webhooks/${w.hook?.id}/`,
    );
    expect(endpoint.body).toMatchObject({ is_active: false, disabled_reason: "failing" });
    expect((await deliveriesOfEndpoint(w.hook?.id ?? "")).map((d) => d.status)).toEqual([
      "CANCELLED",
      "CANCELLED",
    ]);
    expect(w.q.takeWebhookJobs()).toHaveLength(0);
    const mail = await env.DB.prepare(
      "SELECT to_email, subject FROM mail_log WHERE kind = 'webhook_disabled' AND to_email = ?",
    )
      .bind(w.organizer.email)
      .all();
    expect(mail.results).toHaveLength(1);
    // Re-enabled by the organizer: healthy again, the clock restarts.
    const on = await w.organizer.client.patch<Record<string, unknown>>(
      `/api/organizer/webhooks/${w.hook?.id}/`,
      {
        is_active: true,
      },
    );
    expect(on.body).toMatchObject({ is_active: true, disabled_reason: null });
  });

  it("cancels without an attempt a delivery whose endpoint was deleted meanwhile", async () => {
    const w = await webhookWorld();
    await w.buy();
    const jobs = w.q.takeWebhookJobs();
    await w.organizer.client.request("DELETE", `/api/organizer/webhooks/${w.hook?.id}/`);
    await runWebhookJobs(
      jobs.map((j) => j.body),
      w.vars,
    );
    expect(receivers.received).toHaveLength(0);
    expect((await deliveriesOfEndpoint(w.hook?.id ?? ""))[0]?.status).toBe("CANCELLED");
  });

  it("24 consumers racing one delivery send it once", async () => {
    const w = await webhookWorld();
    await w.buy();
    const [job] = w.q.takeWebhookJobs();
    await Promise.all(Array.from({ length: 24 }, () => runWebhookJobs([job?.body as DeliveryJob], w.vars)));
    expect(receivers.received).toHaveLength(1);
    expect((await deliveriesOfEndpoint(w.hook?.id ?? ""))[0]).toMatchObject({
      status: "DELIVERED",
      attempts: 1,
    });
  });

  it("one delivery's D1 failure does not leave its siblings sent but unrecorded (no duplicate later)", async () => {
    const w = await webhookWorld();
    const second = await createEndpoint(w.organizer.client, { url: HOOK2 });
    await w.buy();
    const [job] = w.q.takeWebhookJobs();
    const [failing] = await deliveriesOfEndpoint(w.hook?.id ?? "");
    const [sibling] = await deliveriesOfEndpoint(second.id);
    // A real D1 error for ONE delivery: its claim (an UPDATE) is refused by a trigger.
    const trigger = `webhook_claim_fails_${String(failing?.id).replaceAll("-", "")}`;
    await env.DB.prepare(
      `CREATE TRIGGER ${trigger} BEFORE UPDATE ON webhook_deliveries WHEN OLD.id = '${failing?.id}' BEGIN SELECT RAISE(ABORT, 'injected D1 failure'); END`,
    ).run();
    try {
      await runWebhookJobs([job?.body as DeliveryJob], w.vars);
      // The job failed (retried), but only after the sibling's attempt was recorded: D1 says
      // DELIVERED for the one POST the receiver got, so nothing will send it again.
      expect(receivers.to("hooks2.receiver.test")).toHaveLength(1);
      expect((await deliveriesOfEndpoint(second.id))[0]).toMatchObject({
        id: sibling?.id,
        status: "DELIVERED",
        attempts: 1,
        next_attempt_at: null,
      });
    } finally {
      await env.DB.prepare(`DROP TRIGGER ${trigger}`).run();
    }
    // The message's retry sends the failed one; the sibling is not sent twice.
    await runWebhookJobs([job?.body as DeliveryJob], w.vars);
    expect(receivers.to("hooks.receiver.test")).toHaveLength(1);
    expect(receivers.to("hooks2.receiver.test")).toHaveLength(1);
    expect((await deliveriesOfEndpoint(w.hook?.id ?? ""))[0]?.status).toBe("DELIVERED");
  });

  it("the cron re-sends a delivery whose queue message was lost", async () => {
    const w = await webhookWorld();
    await w.buy();
    expect(w.q.takeWebhookJobs()).toHaveLength(1); // …and lost.
    const [delivery] = await deliveriesOfEndpoint(w.hook?.id ?? "");
    await env.DB.prepare("UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?")
      .bind(Date.now() - 3 * 60 * 1000, delivery?.id)
      .run();
    const report = await runScheduled(servicesFor({ ...env, ...w.vars } as Env));
    expect(report.requeued_webhook_deliveries).toBeGreaterThanOrEqual(1);
    const requeued = w.q
      .takeWebhookJobs()
      .filter((j) => j.body.type === "webhook_delivery" && j.body.deliveryId === delivery?.id);
    expect(requeued).toHaveLength(1);
    await runWebhookJobs([requeued[0]?.body as DeliveryJob], w.vars);
    expect(receivers.received).toHaveLength(1);
    expect((await deliveriesOfEndpoint(w.hook?.id ?? ""))[0]?.status).toBe("DELIVERED");
  });
});
