/**
 * The Worker's environment and the per-request Hono context.
 * Bindings and vars come from `wrangler types` (worker-configuration.d.ts); secrets are
 * declared here because they are never in wrangler.toml.
 */

import type { Config } from "./config";
import type { Database } from "./db/client";
import type { AuthContext } from "./http/request-auth";
import type { DarajaClient } from "./integrations/mpesa/types";
import type { Logger } from "./lib/logger";
import type { MailDeps } from "./mail/mailer";

declare global {
  namespace Cloudflare {
    interface Env {
      JWT_SECRET?: string;
      TICKET_SIGNING_KEY?: string;
      TICKET_PREVIOUS_SIGNING_KEYS?: string;
      MPESA_CONSUMER_KEY?: string;
      MPESA_CONSUMER_SECRET?: string;
      MPESA_PASSKEY?: string;
      MPESA_CALLBACK_TOKEN?: string;
      BREVO_API_KEY?: string;
    }
  }
}

export type Bindings = Env;

export interface Variables {
  requestId: string;
  config: Config;
  db: Database;
  log: Logger;
  auth: AuthContext;
  /** What the mail module needs (db, config, R2, queue), built once per request. */
  mail: MailDeps;
  /** The Daraja client (real or simulator), created on first use. */
  daraja: () => DarajaClient;
  /** Set by routes the original backend answered with `{"error": ...}` bodies. */
  legacyErrors: boolean;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
