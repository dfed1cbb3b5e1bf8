/**
 * The composition root: the one place that reads bindings and builds what the use cases
 * run on — configuration, the D1 handle, the logger, the upstream clients — once per
 * request (fetch), per batch (queue) or per tick (scheduled). Services declare the slice of
 * it they need as their own `…Deps` interface; a `Services` satisfies every one of them.
 */
import { type Config, loadConfig } from "./config";
import { createDb, createSessionDb, type Database } from "./db/client";
import type { DeliveryJob } from "./delivery/jobs";
import { b2cClientFor, darajaClientFor } from "./integrations/mpesa";
import type { B2CClient } from "./integrations/mpesa/b2c";
import type { DarajaClient } from "./integrations/mpesa/types";
import type { PromoCodeUses } from "./inventory/promo-code-uses";
import type { TierInventory } from "./inventory/tier-inventory";
import type { Logger } from "./lib/logger";
import type { MailDeps } from "./mail/mailer";

export interface Services {
  config: Config;
  db: Database;
  /**
   * The nearest copy of D1 (a read replica when replication is on), for the hot paths' reads
   * that tolerate a copy a moment behind and look again on the primary when the copy has not
   * got what they need (issue 15 part 3): the session check and tier facts of a checkout, the
   * order a payment callback names. Never for a read that decides money or seats.
   */
  nearDb: Database;
  /** Work that must finish but need not delay the answer (the runtime's waitUntil). */
  defer: (task: Promise<unknown>) => void;
  log: Logger;
  /** R2: posters, logos, banners and ticket PNGs. */
  media: R2Bucket;
  /** The tier seat objects (one writer per tier). */
  inventory: DurableObjectNamespace<TierInventory>;
  /** The promo code uses objects (one writer per code). */
  promoCodes: DurableObjectNamespace<PromoCodeUses>;
  /** The delivery queue (mail, ticket emails) and its dead-letter queue. */
  queue: Queue<DeliveryJob>;
  deadLetters: Queue<unknown>;
  /** What the mail module needs, in one piece. */
  mail: MailDeps;
  /** Created on first use: the free path and sold-out answers never need Daraja. */
  daraja: () => DarajaClient;
  /** M-Pesa B2C (money out: refunds, later payouts); only the queue consumer calls it. */
  b2c: () => B2CClient;
}

/** What the runtime gives an invocation: keep work alive after it, and call ourselves. */
export interface Runtime {
  waitUntil: (task: Promise<unknown>) => void;
  /** Runs a request through this Worker in-process (the local M-Pesa simulator's callbacks). */
  selfFetch: (request: Request) => Promise<Response>;
  /** Tests inject a Daraja; otherwise the configured one (or the simulator). */
  daraja?: DarajaClient;
  /**
   * The request's D1 session (http/d1-session.ts: a read replica for reads, the primary for
   * writes); without one, the binding itself (the primary): queue batches and cron ticks.
   */
  d1?: D1DatabaseSession;
  b2c?: B2CClient;
}

export function createServices(
  env: Env,
  runtime: Runtime,
  log: Logger,
  config: Config = loadConfig(env),
): Services {
  const db = runtime.d1 ? createSessionDb(runtime.d1) : createDb(env.DB);
  // Outside a request (queue, cron) there is no session: both handles are the primary.
  const nearDb = runtime.d1 ? createSessionDb(env.DB.withSession("first-unconstrained")) : db;
  const defer = (task: Promise<unknown>) =>
    runtime.waitUntil(
      task.catch((error: unknown) => log.warn("deferred work failed", { error_message: String(error) })),
    );
  let daraja = runtime.daraja;
  let b2c = runtime.b2c;
  const wiring = () => ({ db, selfFetch: runtime.selfFetch, schedule: runtime.waitUntil });
  return {
    config,
    db,
    nearDb,
    defer,
    log,
    media: env.MEDIA,
    inventory: env.TIER_INVENTORY,
    promoCodes: env.PROMO_CODE_USES,
    queue: env.DELIVERY_QUEUE,
    deadLetters: env.DELIVERY_DLQ,
    mail: { db, config, media: env.MEDIA, queue: env.DELIVERY_QUEUE, log },
    daraja: () => {
      daraja ??= darajaClientFor(config, wiring());
      return daraja;
    },
    b2c: () => {
      b2c ??= b2cClientFor(config, wiring());
      return b2c;
    },
  };
}
