/**
 * Which Daraja the Worker talks to: the real one at MPESA_BASE_URL when consumer keys are
 * configured, otherwise (never in production) the built-in simulator — through the same
 * client code either way.
 */
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { createDarajaClient } from "./daraja";
import { createSimulatedDarajaClient } from "./simulator";
import { type DarajaClient, DarajaError } from "./types";

export interface DarajaWiring {
  db: Database;
  /** Runs a request through this Worker in-process (the simulator posts its callbacks so). */
  selfFetch: (request: Request) => Promise<Response>;
  /** `ctx.waitUntil`: keeps the simulator's delayed callback alive after the response. */
  schedule: (task: Promise<unknown>) => void;
}

export function darajaClientFor(config: Config, wiring: DarajaWiring): DarajaClient {
  if (config.mpesa.useSimulator) {
    return createSimulatedDarajaClient(config, {
      db: wiring.db,
      schedule: wiring.schedule,
      deliverCallback: async (callbackUrl, body) => {
        const response = await wiring.selfFetch(
          new Request(callbackUrl, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify(body),
          }),
        );
        await response.body?.cancel();
      },
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
