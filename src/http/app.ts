/**
 * Builds the Hono app: middleware, the single error renderer, and the resource routers.
 * Every route is added through `defineRoute`, so it is validated and documented at once.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { DomainError } from "../lib/errors";
import { describeError } from "../lib/logger";
import type { AppEnv } from "./context";
import { renderError } from "./errors";
import { corsForAllowedOrigins } from "./middleware/cors";
import { csrfOriginCheck } from "./middleware/csrf";
import { failClosed } from "./middleware/fail-closed";
import { requestContext } from "./middleware/request-context";
import { securityHeaders } from "./middleware/security-headers";
import { allowedMethodsFor } from "./route";
import { registerAttendeeRoutes } from "./routes/attendees";
import { registerAuthRoutes } from "./routes/auth";
import { registerB2CCallbackRoutes } from "./routes/b2c-callbacks";
import { registerDevRoutes } from "./routes/dev";
import { registerDocsRoutes } from "./routes/docs";
import { registerEventRoutes } from "./routes/events";
import { registerHealthRoutes } from "./routes/health";
import { registerMediaRoutes } from "./routes/media";
import { registerOrganizerEventRoutes } from "./routes/organizer-events";
import { registerOrganizerOrderRoutes } from "./routes/organizer-orders";
import { registerOrganizerWalletRoutes } from "./routes/organizer-wallet";
import { registerPayRoutes } from "./routes/pay";
import { registerPromoCodeRoutes } from "./routes/promo-codes";
import { registerRefundRoutes } from "./routes/refunds";
import { registerScannerRoutes } from "./routes/scanner";
import { registerStoreRoutes } from "./routes/stores";
import { registerTeamRoutes } from "./routes/team";
import { registerTicketRoutes } from "./routes/tickets";
import { registerWebhookRoutes } from "./routes/webhooks";

export function buildApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.use("*", securityHeaders());
  app.use("*", failClosed());
  app.use("*", requestContext({ selfFetch: (request, env, ctx) => handleFetch(request, env, ctx) }));
  app.use("*", corsForAllowedOrigins());
  app.use("*", csrfOriginCheck());

  registerHealthRoutes(app);
  registerAuthRoutes(app);
  registerStoreRoutes(app);
  registerMediaRoutes(app);
  registerEventRoutes(app);
  registerPayRoutes(app);
  registerB2CCallbackRoutes(app);
  registerTicketRoutes(app);
  registerOrganizerEventRoutes(app);
  registerPromoCodeRoutes(app);
  registerWebhookRoutes(app);
  registerRefundRoutes(app);
  registerAttendeeRoutes(app);
  registerOrganizerOrderRoutes(app);
  registerOrganizerWalletRoutes(app);
  registerScannerRoutes(app);
  registerTeamRoutes(app);
  registerDevRoutes(app);
  registerDocsRoutes(app);

  app.notFound((c) => errorResponse(c, methodNotAllowed(c) ?? DomainError.notFound()));
  app.onError((error, c) => errorResponse(c, error));

  return app;
}

/**
 * The only place an error becomes a response: a DomainError through the one table
 * (errors.ts), anything else a generic 500 whose cause is only logged.
 */
function errorResponse(c: Context<AppEnv>, thrown: Error): Response {
  const error = thrown instanceof DomainError ? thrown : null;
  const domain = error ?? new DomainError("internal_error", "Internal server error.", { cause: thrown });
  const rendered = renderError(domain, c.var.errorDialect ?? "drf");
  if (rendered.status >= 500) {
    // Deliberate upstream failures (502/503) are warnings; anything unexpected is an error.
    const fields = { code: domain.code, status: rendered.status, ...describeError(domain.cause ?? thrown) };
    const message = error ? "request failed upstream" : "unhandled error";
    const log = c.var.log;
    if (log) (error ? log.warn : log.error)(message, fields);
    else console.error(JSON.stringify({ level: "error", message, ...fields }));
  }
  const response = c.json(rendered.body, rendered.status);
  for (const [name, value] of Object.entries(rendered.headers)) response.headers.set(name, value);
  return response;
}

/** A path we serve, asked with a method we do not: 405 with `Allow`, not 404. */
function methodNotAllowed(c: Context<AppEnv>): DomainError | null {
  const allowed = allowedMethodsFor(new URL(c.req.url).pathname);
  if (allowed.length === 0) return null;
  return new DomainError("method_not_allowed", `Method "${c.req.method}" not allowed.`, {
    allowedMethods: allowed,
  });
}

/** The docs page's script and stylesheet are files, named as such. */
const DOCS_ASSETS = "/api/docs/assets/";

let app: ReturnType<typeof buildApp> | undefined;

/** The app is built once per isolate; routes and the OpenAPI registry are static. */
export function getApp() {
  app ??= buildApp();
  return app;
}

/**
 * Every API path ends with `/` (DRF). A request without it is answered as if it had one,
 * rather than 404 or a redirect that would drop a POST body. Media keys and docs assets are left alone.
 */
export function withTrailingSlash(request: Request): Request {
  const url = new URL(request.url);
  if (
    url.pathname.endsWith("/") ||
    url.pathname.startsWith("/media/") ||
    url.pathname.startsWith(DOCS_ASSETS)
  )
    return request;
  url.pathname = `${url.pathname}/`;
  return new Request(url, request);
}

export async function handleFetch(
  request: Request,
  env: AppEnv["Bindings"],
  ctx: ExecutionContext,
): Promise<Response> {
  return getApp().fetch(withTrailingSlash(request), env, ctx);
}
