/**
 * Which Daraja the Worker talks to: the real one at MPESA_BASE_URL when consumer keys are
 * configured, otherwise (never in production) the built-in simulator — through the same
 * client code either way.
 */
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { type B2CClient, createB2CClient } from "./b2c";
import { createDarajaClient } from "./daraja";
import { createSimulatedB2CClient, createSimulatedDarajaClient, type SimulatedB2CRecord } from "./simulator";
import { type DarajaClient, DarajaError } from "./types";

export interface DarajaWiring {
  db: Database;
  /** Runs a request through this Worker in-process (the simulator posts its callbacks so). */
  selfFetch: (request: Request) => Promise<Response>;
  /** `ctx.waitUntil`: keeps the simulator's delayed callback alive after the response. */
  schedule: (task: Promise<unknown>) => void;
}

/** Posts a simulated callback to our own route, in-process. */
function selfDelivery(wiring: DarajaWiring) {
  return async (callbackUrl: string, body: unknown) => {
    const response = await wiring.selfFetch(
      new Request(callbackUrl, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      }),
    );
    await response.body?.cancel();
  };
}

export function darajaClientFor(config: Config, wiring: DarajaWiring): DarajaClient {
  if (config.mpesa.useSimulator) {
    return createSimulatedDarajaClient(config, {
      db: wiring.db,
      schedule: wiring.schedule,
      deliverCallback: selfDelivery(wiring),
    });
  }
  if (
    !config.mpesa.consumerKey ||
    !config.mpesa.consumerSecret ||
    !config.mpesa.passkey ||
    !config.mpesa.shortcode
  ) {
    // Fail closed in production: no simulator, and no half-configured real client.
    return {
      stkPush: async () => {
        throw new DarajaError("misconfigured", "M-Pesa is not configured");
      },
      stkQuery: async () => {
        throw new DarajaError("misconfigured", "M-Pesa is not configured");
      },
    };
  }
  return createDarajaClient({
    baseUrl: config.mpesa.baseUrl,
    shortcode: config.mpesa.shortcode,
    passkey: config.mpesa.passkey,
    consumerKey: config.mpesa.consumerKey,
    consumerSecret: config.mpesa.consumerSecret,
  });
}

/**
 * Per isolate, like the simulator itself: a retry sent by a later queue batch is the same
 * "customer's" second request (254708000004 fails odd requests, passes even ones).
 */
const simulatorB2CCounts = new Map<string, number>();
/** Per isolate too: what the simulated M-Pesa did with each B2C request (its status query reads it). */
const simulatorB2CLedger = new Map<string, SimulatedB2CRecord>();

/**
 * Can money go out? The simulator always can; real Daraja needs the B2C shortcode, initiator
 * and credential (§13.2: otherwise an organizer refund is 503 and nothing is recorded).
 */
export function b2cConfigured(config: Config): boolean {
  if (config.mpesa.useSimulator) return true;
  const b2c = config.mpesa.b2c;
  return Boolean(
    b2c.shortcode && b2c.initiatorName && b2c.securityCredential && b2c.consumerKey && b2c.consumerSecret,
  );
}

/** The B2C client beside the STK one: the simulator locally, else real Daraja (which refuses to send half-configured). */
export function b2cClientFor(config: Config, wiring: DarajaWiring): B2CClient {
  if (config.mpesa.useSimulator) {
    return createSimulatedB2CClient(config, {
      db: wiring.db,
      schedule: wiring.schedule,
      deliverCallback: selfDelivery(wiring),
      b2cCounts: simulatorB2CCounts,
      b2cLedger: simulatorB2CLedger,
    });
  }
  return createB2CClient({
    baseUrl: config.mpesa.baseUrl,
    consumerKey: config.mpesa.b2c.consumerKey,
    consumerSecret: config.mpesa.b2c.consumerSecret,
    shortcode: config.mpesa.b2c.shortcode,
    initiatorName: config.mpesa.b2c.initiatorName,
    securityCredential: config.mpesa.b2c.securityCredential,
    resultUrl: config.mpesa.b2c.resultUrl,
    queueTimeoutUrl: config.mpesa.b2c.queueTimeoutUrl,
    statusResultUrl: config.mpesa.b2c.statusResultUrl,
    statusTimeoutUrl: config.mpesa.b2c.statusTimeoutUrl,
  });
}
