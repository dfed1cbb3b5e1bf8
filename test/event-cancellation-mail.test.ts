/**
 * A cancelled event's buyer emails go out from the queue a page at a time (never thousands of
 * D1 round trips inside the organizer's request): each job records one page, deduped per
 * address, and queues the next page after the last address it covered.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { DeliveryJob } from "../src/delivery/jobs";
import { BUYERS_PER_JOB, runEventCancelledMailJob } from "../src/services/event-cancellation-mail";
import { countRows } from "./helpers/accounts";
import { eventWithTiers } from "./helpers/checkout";
import { servicesFor } from "./helpers/services";
import { recordingQueue } from "./helpers/tickets";

describe("cancellation emails", () => {
  it("pages through every buyer once, however many there are", async () => {
    const { eventId, tiers } = await eventWithTiers([
      { name: "Regular", price: 500, quantity_allocated: 500 },
    ]);
    const tierId = tiers[0]?.id ?? "";
    const buyers = BUYERS_PER_JOB + 7;
    const statements = [];
    for (let i = 0; i < buyers; i++) {
      const userId = crypto.randomUUID();
      const email = `cancel-${eventId.slice(0, 8)}-${String(i).padStart(3, "0")}@example.com`;
      statements.push(
        env.DB.prepare(
          "INSERT INTO users (id, username, email, role, is_verified) VALUES (?, ?, ?, 'ATTENDEE', 1)",
        ).bind(userId, `c${eventId.slice(0, 8)}${i}`, email),
        env.DB.prepare(
          "INSERT INTO orders (id, reference, user_id, event_id, tier_id, quantity, unit_price, amount, buyer_email, phone_number, status) VALUES (?, ?, ?, ?, ?, 1, 500, 500, ?, '254712345678', 'COMPLETED')",
        ).bind(
          crypto.randomUUID(),
          `TS-C${i}${eventId.slice(0, 5)}`.toUpperCase(),
          userId,
          eventId,
          tierId,
          email,
        ),
      );
    }
    statements.push(env.DB.prepare("UPDATE events SET status = 'CANCELLED' WHERE id = ?").bind(eventId));
    await env.DB.batch(statements);

    const recording = recordingQueue();
    const deps = servicesFor({ ...env, DELIVERY_QUEUE: recording.queue } as unknown as Env);
    let job: DeliveryJob | undefined = { type: "event_cancelled_mail", eventId };
    let jobs = 0;
    while (job?.type === "event_cancelled_mail") {
      await runEventCancelledMailJob(deps, job);
      // A redelivery of the same page records nothing new.
      await runEventCancelledMailJob(deps, job);
      jobs++;
      const next = recording.sent.filter((j) => j.type === "event_cancelled_mail");
      recording.sent.length = 0;
      job = next[0];
    }
    expect(jobs).toBe(2);
    const mails = await countRows(
      "mail_log",
      "kind = 'event_cancelled' AND to_email LIKE ?",
      `cancel-${eventId.slice(0, 8)}-%`,
    );
    expect(mails).toBe(buyers);
  });

  it("sends nothing for an event that is not cancelled", async () => {
    const { eventId } = await eventWithTiers([{ name: "Regular", price: 500, quantity_allocated: 5 }]);
    const recording = recordingQueue();
    const deps = servicesFor({ ...env, DELIVERY_QUEUE: recording.queue } as unknown as Env);
    await runEventCancelledMailJob(deps, { type: "event_cancelled_mail", eventId });
    expect(recording.sent).toHaveLength(0);
  });
});
