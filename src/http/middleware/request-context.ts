/**
 * Builds the request context once (request id, the request's D1 session, the services from
 * the composition root, lazy auth) and writes the one structured log line per request: id, method, path, status,
 * duration.
 */
import type { MiddlewareHandler } from "hono";
import { createServices } from "../../compose";
import { loadConfig } from "../../config";
import { createLogger } from "../../lib/logger";
import type { AppEnv } from "../context";
import { openRequestD1Session, rememberWrites } from "../d1-session";
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
    c.set("errorDialect", "drf");
    const executionCtx = c.executionCtx as ExecutionContext;
    const config = loadConfig(c.env);
    const d1 = await openRequestD1Session(c, config);
    const services = createServices(
      c.env,
      {
        waitUntil: (task) => executionCtx.waitUntil(task),
        selfFetch: (request) => options.selfFetch(request, c.env, executionCtx),
        d1: d1.session,
      },
      log,
      config,
    );
    c.set("services", services);
    c.set("config", services.config);
    c.set("db", services.db);
    c.set("auth", createAuthContext(c, services));

    try {
      await next();
      await rememberWrites(c, d1, config);
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
