/**
 * Builds the request context once (request id, config, db, logger, lazy auth) and writes
 * the one structured log line per request: id, method, path, status, duration.
 */
import type { MiddlewareHandler } from "hono";
import { loadConfig } from "../../config";
import { createDb } from "../../db/client";
import type { AppEnv } from "../../env";
import { darajaClientFor } from "../../integrations/mpesa";
import type { DarajaClient } from "../../integrations/mpesa/types";
import { createLogger } from "../../lib/logger";
import { createAuthContext } from "../request-auth";

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export interface RequestContextOptions {
  /** Runs a request through this Worker in-process (used by the local M-Pesa simulator). */
  selfFetch: (request: Request, env: AppEnv["Bindings"], ctx: ExecutionContext) => Promise<Response>;
}

export function requestContext(options: RequestContextOptions): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const started = Date.now();
    const incoming = c.req.header("x-request-id");
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
    const log = createLogger({ request_id: requestId });

    c.set("requestId", requestId);
    c.set("log", log);
    c.set("legacyErrors", false);
    const config = loadConfig(c.env);
    const db = createDb(c.env.DB);
    c.set("config", config);
    c.set("db", db);
    c.set("mail", { db, config, media: c.env.MEDIA, queue: c.env.DELIVERY_QUEUE, log });
    c.set("auth", createAuthContext(c));
    let daraja: DarajaClient | undefined;
    c.set("daraja", () => {
      daraja ??= darajaClientFor(config, {
        db,
        selfFetch: (request) => options.selfFetch(request, c.env, c.executionCtx as ExecutionContext),
        schedule: (task) => c.executionCtx.waitUntil(task),
      });
      return daraja;
    });

    try {
      await next();
    } finally {
      c.res.headers.set("X-Request-Id", requestId);
      log.info("request", {
        method: c.req.method,
        path: new URL(c.req.url).pathname,
        status: c.res.status,
        duration_ms: Date.now() - started,
      });
    }
  };
}
