/**
 * A deployment whose configuration is unusable (unknown ENVIRONMENT, short secret outside
 * development) refuses every request, before anything reads config: one error log line
 * naming the problem, and a generic JSON 500 that does not tell the caller what is wrong.
 * Without this, a typo such as "Production" would have served with development behaviour.
 */
import type { MiddlewareHandler } from "hono";
import { ConfigError, loadConfig } from "../../config";
import type { AppEnv } from "../context";

export const MISCONFIGURED_DETAIL = "Service misconfigured: refusing to serve.";

export function failClosed(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    try {
      loadConfig(c.env);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      console.error(
        JSON.stringify({
          level: "error",
          message: "refusing to serve: invalid configuration",
          reason: error.message,
        }),
      );
      return c.json({ detail: MISCONFIGURED_DETAIL }, 500);
    }
    await next();
  };
}
