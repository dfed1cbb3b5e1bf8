/**
 * `defineRoute`: the one way to add an endpoint. A route is declared once — method, path,
 * zod schemas for params/query/body, responses, auth — and that declaration both validates
 * the request (DRF-shaped 400s) and lands in the OpenAPI document at /api/schema/.
 *
 * We do our own body parsing instead of @hono/zod-openapi's built-in validators because the
 * contract needs DRF semantics: JSON *or* form/multipart for the same schema, 415 for other
 * types, 413 while streaming, and 404 (not 400) for a malformed id in a path.
 */
import type { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { UserRole } from "../db/schema";
import { DomainError } from "../lib/errors";
import type { AppEnv } from "./context";
import type { ErrorDialect } from "./errors";
import { readRequestBody } from "./request-body";
import { issuesToFieldErrors } from "./validation";

export type Api = OpenAPIHono<AppEnv>;
export type AppContext = Context<AppEnv>;
type Method = "get" | "post" | "put" | "patch" | "delete";
type AnyObjectSchema = z.ZodType<Record<string, unknown>>;

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  contentType?: string;
}

export interface RouteSpec<
  P extends AnyObjectSchema | undefined,
  Q extends AnyObjectSchema | undefined,
  B extends AnyObjectSchema | undefined,
> {
  method: Method;
  /** OpenAPI-style path with a trailing slash, e.g. `/api/events/{id}/`. */
  path: string;
  tags: string[];
  summary: string;
  description?: string;
  params?: P;
  query?: Q;
  body?: B;
  /** Also accept form/multipart bodies (DRF does by default). Default true. */
  allowForm?: boolean;
  /**
   * A body the handler reads and checks itself (an upstream's callback, answered in its own
   * words when malformed): documented in the OpenAPI document, not validated here.
   */
  documentedBody?: z.ZodType;
  maxBodyBytes?: number;
  /** `required` answers 401 without a user; roles answer 403 for anyone else. */
  auth?: "none" | "optional" | "required";
  roles?: readonly UserRole[];
  /** `legacy`: a route the original answered with `{"error": ...}` (see errors.ts). */
  errorDialect?: ErrorDialect;
  responses: Record<number, ResponseSpec>;
  /** Hidden from the OpenAPI document (dev-only tooling). */
  hidden?: boolean;
}

type Infer<T> = T extends z.ZodType ? z.infer<T> : Record<string, never>;

export interface RouteInput<P, Q, B> {
  params: Infer<P>;
  query: Infer<Q>;
  body: Infer<B>;
}

/** Method + compiled path of every route, to answer 405 instead of 404. */
const registered: Array<{ method: string; pattern: RegExp }> = [];

export function allowedMethodsFor(path: string): string[] {
  const methods = new Set<string>();
  for (const route of registered) if (route.pattern.test(path)) methods.add(route.method.toUpperCase());
  if (methods.has("GET")) methods.add("HEAD");
  if (methods.size > 0) methods.add("OPTIONS");
  return [...methods];
}

function toHonoPath(openapiPath: string): string {
  return openapiPath.replace(/\{(\w+)\}/g, ":$1");
}

function toPattern(openapiPath: string): RegExp {
  const escaped = openapiPath
    .split(/\{\w+\}/)
    .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]+");
  return new RegExp(`^${escaped}$`);
}

function firstValues(query: Record<string, string[]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, values] of Object.entries(query)) {
    const first = values[0];
    if (first !== undefined) out[key] = first;
  }
  return out;
}

export function defineRoute<
  P extends AnyObjectSchema | undefined = undefined,
  Q extends AnyObjectSchema | undefined = undefined,
  B extends AnyObjectSchema | undefined = undefined,
>(
  app: Api,
  spec: RouteSpec<P, Q, B>,
  handler: (c: AppContext, input: RouteInput<P, Q, B>) => Response | Promise<Response>,
): void {
  const auth = spec.auth ?? (spec.roles ? "required" : "none");

  if (!spec.hidden) {
    const responses: Record<string, unknown> = {};
    for (const [status, response] of Object.entries(spec.responses)) {
      responses[status] = response.schema
        ? {
            description: response.description,
            content: { [response.contentType ?? "application/json"]: { schema: response.schema } },
          }
        : { description: response.description };
    }
    const bodyContent: Record<string, { schema: z.ZodType }> = {};
    if (spec.body) {
      bodyContent["application/json"] = { schema: spec.body };
      if (spec.allowForm !== false) bodyContent["multipart/form-data"] = { schema: spec.body };
    } else if (spec.documentedBody) {
      bodyContent["application/json"] = { schema: spec.documentedBody };
    }
    app.openAPIRegistry.registerPath({
      method: spec.method,
      path: spec.path,
      tags: spec.tags,
      summary: spec.summary,
      ...(spec.description ? { description: spec.description } : {}),
      ...(auth !== "none" ? { security: [{ cookieAuth: [] }, { bearerAuth: [] }] } : {}),
      request: {
        ...(spec.params ? { params: spec.params as never } : {}),
        ...(spec.query ? { query: spec.query as never } : {}),
        ...(spec.body || spec.documentedBody ? { body: { content: bodyContent, required: true } } : {}),
      },
      responses: responses as never,
    });
  }

  registered.push({ method: spec.method, pattern: toPattern(spec.path) });

  app.on(spec.method.toUpperCase(), toHonoPath(spec.path), async (c) => {
    if (spec.errorDialect) c.set("errorDialect", spec.errorDialect);

    let params: unknown = {};
    if (spec.params) {
      const parsed = spec.params.safeParse(c.req.param());
      // A malformed id in a path is "not found", never a validation error.
      if (!parsed.success) throw DomainError.notFound();
      params = parsed.data;
    }

    if (auth === "required") {
      const user = await c.var.auth.requireUser();
      if (spec.roles && !spec.roles.includes(user.role)) throw DomainError.forbidden();
    }

    let query: unknown = {};
    if (spec.query) {
      const parsed = spec.query.safeParse(firstValues(c.req.queries()));
      if (!parsed.success) throw DomainError.validation(issuesToFieldErrors(parsed.error.issues));
      query = parsed.data;
    }

    let body: unknown = {};
    if (spec.body) {
      const raw = await readRequestBody(c.req.raw, {
        ...(spec.maxBodyBytes ? { maxBytes: spec.maxBodyBytes } : {}),
        allowForm: spec.allowForm !== false,
      });
      const parsed = spec.body.safeParse(raw);
      if (!parsed.success) throw DomainError.validation(issuesToFieldErrors(parsed.error.issues));
      body = parsed.data;
    }

    return handler(c, { params, query, body } as RouteInput<P, Q, B>);
  });
}
