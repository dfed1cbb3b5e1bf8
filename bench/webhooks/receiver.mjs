/**
 * The webhook benchmark's receivers: one local node:http server per endpoint (each on its own
 * free port and path), the way an organizer's integration would receive TicketSafi's POSTs
 * (contract v3 §16.3):
 *
 * - every `TicketSafi-Signature` is checked: `t=<unix seconds>,v1=<hex>`, hex = HMAC-SHA256
 *   keyed by the UTF-8 bytes of the WHOLE `whsec_…` secret over `"<t>.<raw body>"` (node:crypto,
 *   compared with `timingSafeEqual`), and `t` must be within 300 s of this clock; a bad one is
 *   answered 400 and counted;
 * - a good one is answered 500 with probability `failRate` (at random) and 200 otherwise;
 * - every request is recorded: event id (the body's `id`), delivery id (`TicketSafi-Delivery`),
 *   arrival time (epoch ms, the same machine clock the Worker writes `created_at` with), the
 *   status answered and whether the signature was good.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import { freePort } from "../dev-server.mjs";

const TOLERANCE_S = 300;

/** `t=…,v1=…` checked against `secret` over the raw body; the reason when it is not good. */
export function checkSignature(header, rawBody, secret, nowMs = Date.now()) {
  if (typeof header !== "string") return "missing";
  const parts = Object.fromEntries(
    header.split(",").map((part) => {
      const at = part.indexOf("=");
      return [part.slice(0, at).trim(), part.slice(at + 1).trim()];
    }),
  );
  const t = Number(parts.t);
  if (!Number.isSafeInteger(t) || !/^[0-9a-f]{64}$/.test(parts.v1 ?? "")) return "malformed";
  if (Math.abs(nowMs / 1000 - t) > TOLERANCE_S) return "stale";
  const expected = createHmac("sha256", Buffer.from(secret, "utf8"))
    .update(Buffer.concat([Buffer.from(`${t}.`, "utf8"), rawBody]))
    .digest();
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected) ? null : "mismatch";
}

/**
 * Starts `count` receivers on 127.0.0.1. Each has `url` (its own port and path), `secret`
 * (set once its endpoint is created: until then every request counts as a bad signature),
 * `requests` (the records) and `badSignatures`.
 * @param {{ count: number, failRate: number, random?: () => number }} options
 */
export async function startReceivers({ count, failRate, random = Math.random }) {
  const receivers = [];
  for (let k = 0; k < count; k++) {
    const port = await freePort();
    const name = String.fromCharCode(97 + k);
    const receiver = {
      name,
      url: `http://127.0.0.1:${port}/hooks/${name}`,
      path: `/hooks/${name}`,
      secret: undefined,
      requests: [],
      badSignatures: [],
      answered: {},
    };
    receiver.server = http.createServer((request, response) => {
      const chunks = [];
      request.on("data", (chunk) => chunks.push(chunk));
      request.on("end", () => {
        const arrivedAt = Date.now();
        const raw = Buffer.concat(chunks);
        const answer = (status) => {
          receiver.answered[status] = (receiver.answered[status] ?? 0) + 1;
          response.writeHead(status, { "content-type": "text/plain" }).end(status === 200 ? "ok" : "no");
          return status;
        };
        if (request.method !== "POST" || request.url !== receiver.path) {
          answer(404);
          return;
        }
        const problem = receiver.secret
          ? checkSignature(request.headers["ticketsafi-signature"], raw, receiver.secret, arrivedAt)
          : "no secret yet";
        let eventId = null;
        try {
          eventId = JSON.parse(raw.toString("utf8")).id ?? null;
        } catch {
          // recorded with a null event id
        }
        const deliveryId = request.headers["ticketsafi-delivery"] ?? null;
        if (problem) {
          receiver.badSignatures.push({ eventId, deliveryId, problem });
          receiver.requests.push({ eventId, deliveryId, arrivedAt, status: answer(400), signed: false });
          return;
        }
        const status = answer(random() < failRate ? 500 : 200);
        receiver.requests.push({ eventId, deliveryId, arrivedAt, status, signed: true });
      });
    });
    // TicketSafi's Worker keeps connections alive; never let an idle one hold the run open.
    receiver.server.keepAliveTimeout = 5_000;
    await new Promise((resolve, reject) => {
      receiver.server.once("error", reject);
      receiver.server.listen(port, "127.0.0.1", resolve);
    });
    receivers.push(receiver);
  }
  return receivers;
}

export async function stopReceivers(receivers) {
  await Promise.all(
    receivers.map(
      (r) =>
        new Promise((resolve) => {
          r.server.closeAllConnections?.();
          r.server.close(() => resolve());
        }),
    ),
  );
}
