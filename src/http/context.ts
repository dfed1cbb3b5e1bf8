/** The per-request Hono context: set once by the request-context middleware. */
import type { Services } from "../compose";
import type { Config } from "../config";
import type { Database } from "../db/client";
import type { Bindings } from "../env";
import type { Logger } from "../lib/logger";
import type { ErrorDialect } from "./errors";
import type { AuthContext } from "./request-auth";

export interface Variables {
  requestId: string;
  /** Everything the use cases run on, built once for this request (src/compose.ts). */
  services: Services;
  /** Shortcuts into `services`, used by nearly every handler. */
  config: Config;
  db: Database;
  log: Logger;
  auth: AuthContext;
  /** The route's error dialect (set by defineRoute; see errors.ts). */
  errorDialect: ErrorDialect;
}

export interface AppEnv {
  Bindings: Bindings;
  Variables: Variables;
}
