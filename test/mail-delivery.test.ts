import { createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { createDb } from "../src/db/client";
import { handleDeliveryBatch } from "../src/delivery/consumer";
import type { DeliveryJob } from "../src/delivery/jobs";
import { queueMail } from "../src/mail/mailer";
import { runScheduled } from "../src/scheduled";
import { networkFakes } from "./fakes/network";
import { servicesFor } from "./helpers/services";

const BREVO_ENV = {
  ...env,
  BREVO_API_KEY: networkFakes.brevo.validKey,
  MAIL_FROM: "TicketSafi <tickets@ticketsafi.test>",
} as Env;

/** A queue that only records, so the test (not the runtime's consumer) decides when delivery runs. */
function recordingQueue() {
  const sent: DeliveryJob[] = [];
  const queue = {
    send: async (body: DeliveryJob) => {
      sent.push(body);
    },
    sendBatch: async (messages: Iterable<{ body: DeliveryJob }>) => {
      for (const m of messages) sent.push(m.body);
    },
  } as unknown as Queue<DeliveryJob>;
  return { sent, queue };
}

function mailDeps(targetEnv: Env, queue: Queue<DeliveryJob>) {
  return { db: createDb(targetEnv.DB), config: loadConfig(targetEnv), media: targetEnv.MEDIA, queue };
}

async function deliver(targetEnv: Env, jobs: DeliveryJob[], attempts = 1) {
  const ids = jobs.map(() => crypto.randomUUID());
  const batch = createMessageBatch<DeliveryJob>(
    "ticket-delivery",
    jobs.map((body, i) => ({ id: ids[i] ?? "", timestamp: new Date(), attempts, body })),
  );
  const { createExecutionContext } = await import("cloudflare:test");
  const ctx = createExecutionContext();
  await handleDeliveryBatch(batch as MessageBatch<unknown>, servicesFor(targetEnv));
  return { ids, result: await getQueueResult(batch, ctx) };
}

async function mailRow(id: string) {
  return env.DB.prepare(
    "SELECT status, attempts, provider_message_id, transport, last_error FROM mail_log WHERE id = ?",
  )
    .bind(id)
    .first<{
      status: string;
      attempts: number;
      provider_message_id: string | null;
      transport: string;
      last_error: string | null;
    }>();
}

describe("mail through Brevo", () => {
  it("sends one Brevo request in the real shape, with attachments, and never twice on redelivery", async () => {
    const { sent, queue } = recordingQueue();
    const { id } = await queueMail(mailDeps(BREVO_ENV, queue), {
      kind: "tickets",
      to: { email: "wanjiku@example.com", name: "Wanjiku" },
      subject: "Your tickets: Nairobi Jazz Night",
      text: "Here are your tickets.",
      html: "<p>Here are your tickets.</p>",
      attachments: [
        { name: "ticket-8F3K2Q.png", contentType: "image/png", content: new Uint8Array([137, 80, 78, 71]) },
      ],
    });
    expect(sent).toEqual([{ type: "mail", mailId: id }]);

    const first = await deliver(BREVO_ENV, sent);
    expect(first.result.explicitAcks).toEqual(first.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    const request = networkFakes.brevo.sent[0];
    expect(request?.apiKey).toBe(networkFakes.brevo.validKey);
    expect(request?.body).toEqual({
      sender: { name: "TicketSafi", email: "tickets@ticketsafi.test" },
      to: [{ email: "wanjiku@example.com", name: "Wanjiku" }],
      subject: "Your tickets: Nairobi Jazz Night",
      htmlContent: "<p>Here are your tickets.</p>",
      textContent: "Here are your tickets.",
      attachment: [{ name: "ticket-8F3K2Q.png", content: "iVBORw==" }],
      headers: { idempotencyKey: id },
      tags: ["tickets"],
    });
    expect(await mailRow(id)).toMatchObject({ status: "SENT", transport: "brevo" });
    expect((await mailRow(id))?.provider_message_id).toMatch(/@smtp-relay\.mailin\.fr>$/);

    const again = await deliver(BREVO_ENV, sent, 2);
    expect(again.result.explicitAcks).toEqual(again.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
  });

  it("retries with backoff when Brevo fails transiently, then sends once", async () => {
    const { sent, queue } = recordingQueue();
    const { id } = await queueMail(mailDeps(BREVO_ENV, queue), {
      kind: "verify_email",
      to: { email: "otieno@example.com" },
      subject: "Confirm",
      text: "t",
      html: "<p>t</p>",
    });
    networkFakes.brevo.failures = [503];
    const failed = await deliver(BREVO_ENV, sent);
    expect(failed.result.explicitAcks).toEqual([]);
    expect(failed.result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual([failed.ids[0]]);
    expect(await mailRow(id)).toMatchObject({ status: "QUEUED", attempts: 1 });

    const retried = await deliver(BREVO_ENV, sent, 2);
    expect(retried.result.explicitAcks).toEqual(retried.ids);
    expect(networkFakes.brevo.sent).toHaveLength(1);
    expect(await mailRow(id)).toMatchObject({ status: "SENT", attempts: 2 });
  });

  it("records a permanent refusal (bad key) once instead of retrying forever", async () => {
    const badKeyEnv = { ...BREVO_ENV, BREVO_API_KEY: "xkeysib-wrong" } as Env;
    const { sent, queue } = recordingQueue();
    const { id } = await queueMail(mailDeps(badKeyEnv, queue), {
      kind: "verify_email",
      to: { email: "kip@example.com" },
      subject: "Confirm",
      text: "t",
      html: "<p>t</p>",
    });
    const outcome = await deliver(badKeyEnv, sent);
    expect(outcome.result.explicitAcks).toEqual(outcome.ids);
    const row = await mailRow(id);
    expect(row?.status).toBe("FAILED");
    expect(row?.last_error).toMatch(/unauthorized/);
  });

  it("records the same logical email once per dedupe key", async () => {
    const { sent, queue } = recordingQueue();
    const deps = mailDeps(BREVO_ENV, queue);
    const dedupeKey = `order:${crypto.randomUUID()}:tickets`;
    const mail = {
      kind: "tickets",
      to: { email: "a@example.com" },
      subject: "s",
      text: "t",
      html: "h",
      dedupeKey,
    };
    const first = await queueMail(deps, mail);
    const second = await queueMail(deps, mail);
    expect(second).toEqual({ id: first.id, duplicate: true });
    expect(sent).toHaveLength(1);
  });

  it("sends a malformed job to the dead-letter queue without blocking the batch", async () => {
    const { sent, queue } = recordingQueue();
    const deadLetters = recordingQueue();
    const { id } = await queueMail(mailDeps(BREVO_ENV, queue), {
      kind: "verify_email",
      to: { email: "batch@example.com" },
      subject: "s",
      text: "t",
      html: "h",
    });
    const jobs = [{ type: "nonsense" } as unknown as DeliveryJob, ...sent];
    const outcome = await deliver({ ...BREVO_ENV, DELIVERY_DLQ: deadLetters.queue } as Env, jobs);
    expect(deadLetters.sent).toEqual([{ type: "nonsense" }]);
    expect(outcome.result.retryMessages).toEqual([]);
    expect(outcome.result.explicitAcks).toEqual(outcome.ids);
    expect(await mailRow(id)).toMatchObject({ status: "SENT" });
  });
});

describe("scheduled housekeeping", () => {
  it("purges expired blacklist rows and counters, and re-queues mail whose queue message was lost", async () => {
    const now = Date.now();
    const jti = crypto.randomUUID();
    const liveJti = crypto.randomUUID();
    await env.DB.batch([
      env.DB.prepare("INSERT INTO blacklisted_tokens (jti, expires_at) VALUES (?, ?)").bind(jti, now - 1000),
      env.DB.prepare("INSERT INTO blacklisted_tokens (jti, expires_at) VALUES (?, ?)").bind(
        liveJti,
        now + 60_000,
      ),
      env.DB.prepare("INSERT INTO rate_limits (key, hits, expires_at) VALUES (?, '[1]', ?)").bind(
        `test:${jti}`,
        now - 1,
      ),
    ]);
    const stuckId = crypto.randomUUID();
    await env.DB.prepare(
      "INSERT INTO mail_log (id, kind, to_email, subject, text_body, html_body, transport, created_at) VALUES (?, 'verify_email', 'x@example.com', 's', 't', 'h', 'outbox', ?)",
    )
      .bind(stuckId, now - 10 * 60_000)
      .run();

    const { sent, queue } = recordingQueue();
    const results = await runScheduled(servicesFor({ ...env, DELIVERY_QUEUE: queue } as Env), now);
    expect(results.purged_blacklisted_tokens).toBeGreaterThanOrEqual(1);
    expect(results.purged_rate_limits).toBeGreaterThanOrEqual(1);
    expect(sent).toContainEqual({ type: "mail", mailId: stuckId });

    const remaining = await env.DB.prepare("SELECT jti FROM blacklisted_tokens WHERE jti IN (?, ?)")
      .bind(jti, liveJti)
      .all();
    expect(remaining.results).toEqual([{ jti: liveJti }]);
  });
});

describe("retry backoff", () => {
  it("doubles from 10 seconds and caps at 15 minutes", async () => {
    const { retryDelaySeconds } = await import("../src/delivery/consumer");
    expect([1, 2, 3, 4].map(retryDelaySeconds)).toEqual([10, 20, 40, 80]);
    expect(retryDelaySeconds(30)).toBe(900);
  });
});
