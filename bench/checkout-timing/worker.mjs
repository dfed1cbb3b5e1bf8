/**
 * Bench-only Worker: the real checkout and settlement code (src/services/checkout/initiate.ts,
 * src/services/settlement.ts) with every D1 call,
 * every call on the tier's Durable Object and every Daraja call timed, one request at a
 * time. It answers `POST /run` with a timeline per operation, so the benchmark can say how
 * much of a purchase is D1, the seat object, Daraja, and (by difference with the HTTP
 * latency measured outside) everything else.
 *
 * Timers in workerd advance across I/O, which is what is measured here; CPU spent in the
 * isolate between two I/O calls is not visible from inside and shows up as the difference.
 *
 * bench/flash-sale.mjs runs it from its snapshot of the source with the API's own
 * wrangler.toml, `main` swapped for this file: same bindings, build rules and Worker name
 * (hence the same local Durable Object storage as the sale).
 */
import { sql } from "drizzle-orm";
import { loadConfig } from "../../src/config";
import { createDb } from "../../src/db/client";
import { statusOf } from "../../src/http/errors";
import { darajaClientFor } from "../../src/integrations/mpesa";
import { DomainError } from "../../src/lib/errors";
import { initiateCheckout } from "../../src/services/checkout/initiate";
import { settleStkCallback } from "../../src/services/settlement";
import { statementName } from "../latency/far-env.mjs";

export { TierInventory } from "../../src/inventory/tier-inventory";

async function timed(timeline, kind, name, run) {
  const started = performance.now();
  try {
    return await run();
  } finally {
    timeline.push({ kind, name, ms: performance.now() - started });
  }
}

/** D1 with a timer around every round trip (a statement, or a batch = one round trip). */
function timedD1(d1, timeline) {
  const wrap = (stmt, text) => ({
    inner: stmt,
    sql: text,
    bind: (...params) => wrap(stmt.bind(...params), text),
    run: () => timed(timeline, "D1", statementName(text), () => stmt.run()),
    all: () => timed(timeline, "D1", statementName(text), () => stmt.all()),
    raw: (options) => timed(timeline, "D1", statementName(text), () => stmt.raw(options)),
    first: (column) => timed(timeline, "D1", statementName(text), () => stmt.first(column)),
  });
  return {
    prepare: (text) => wrap(d1.prepare(text), text),
    batch: (list) =>
      timed(timeline, "D1", `batch[${list.map((s) => statementName(s.sql ?? "")).join(" + ")}]`, () =>
        d1.batch(list.map((s) => s.inner ?? s)),
      ),
    exec: (text) => timed(timeline, "D1", statementName(text), () => d1.exec(text)),
    dump: () => d1.dump(),
  };
}

/** The tier objects' namespace with a timer around every RPC call. */
function timedInventory(namespace, timeline) {
  return {
    idFromName: (name) => namespace.idFromName(name),
    get: (id) => {
      const stub = namespace.get(id);
      return new Proxy(
        {},
        {
          get: (_target, method) =>
            typeof method === "string"
              ? (...args) => timed(timeline, "Durable Object", method, () => stub[method](...args))
              : undefined,
        },
      );
    },
  };
}

function deps(env, ctx, timeline) {
  const config = loadConfig(env);
  const db = createDb(timedD1(env.DB, timeline));
  let daraja;
  return {
    db,
    config,
    inventory: timedInventory(env.TIER_INVENTORY, timeline),
    mail: { db, config, media: env.MEDIA, queue: env.DELIVERY_QUEUE },
    daraja: () => {
      daraja ??= darajaClientFor(config, {
        db,
        selfFetch: () => Promise.reject(new Error("no simulator in the timing worker")),
        schedule: (task) => ctx.waitUntil(task),
      });
      return {
        stkPush: (request) => timed(timeline, "Daraja", "STK push", () => daraja.stkPush(request)),
        stkQuery: (id) => timed(timeline, "Daraja", "STK query", () => daraja.stkQuery(id)),
      };
    },
  };
}

/** The status the API answers a checkout result with (src/http/routes/pay.ts). */
function httpStatus(result) {
  return result.kind === "booked" ? 201 : 202;
}

export default {
  /** The API's config makes this Worker a consumer of the delivery queue: drop those jobs. */
  async queue(batch) {
    batch.ackAll();
  },

  async fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.pathname === "/ready") return new Response("ok");
    if (url.pathname !== "/run" || request.method !== "POST")
      return new Response("not found", { status: 404 });
    const { saleTierId, probeTierId, n, price } = await request.json();
    const runs = { health: [], accepted: [], soldOut: [], callback: [] };
    const pushes = [];

    for (let i = 0; i < n; i++) {
      const timeline = [];
      await deps(env, ctx, timeline).db.run(sql`SELECT 1`);
      runs.health.push({ timeline });
    }
    for (let i = 0; i < n; i++) {
      const timeline = [];
      const phone = `254788${String(i).padStart(6, "0")}`;
      const result = await initiateCheckout(deps(env, ctx, timeline), {
        tierId: probeTierId,
        quantity: 1,
        phoneNumber: phone,
        user: null,
        email: `timing-${i}@flash-sale.bench`,
        name: `Timing Buyer ${i}`,
        currentUser: async () => null,
      });
      runs.accepted.push({ status: httpStatus(result), timeline });
      if (result.kind === "payment_started")
        pushes.push({ checkoutRequestId: result.checkoutRequestId, phone });
    }
    for (let i = 0; i < n; i++) {
      const timeline = [];
      let status = 0;
      try {
        const result = await initiateCheckout(deps(env, ctx, timeline), {
          tierId: saleTierId,
          quantity: 1,
          phoneNumber: `254789${String(i).padStart(6, "0")}`,
          user: null,
          email: `timing-late-${i}@flash-sale.bench`,
          name: `Late Buyer ${i}`,
          currentUser: async () => null,
        });
        status = httpStatus(result);
      } catch (error) {
        // The status the API would answer, from the one error table; anything else is a 500.
        status = error instanceof DomainError ? statusOf(error) : 500;
      }
      runs.soldOut.push({ status, timeline });
    }
    for (const [i, push] of pushes.entries()) {
      const timeline = [];
      const outcome = await settleStkCallback(deps(env, ctx, timeline), {
        merchantRequestId: `timing-${i}`,
        checkoutRequestId: push.checkoutRequestId,
        resultCode: 0,
        resultDesc: "The service request is processed successfully.",
        metadata: {
          amount: price,
          mpesaReceiptNumber: `TMG${String(i).padStart(7, "0")}`,
          transactionDate: "20260101120000",
          phoneNumber: push.phone,
        },
      });
      runs.callback.push({ outcome, timeline });
    }
    return Response.json(runs);
  },
};
