/**
 * `defineRoute`: the one way to add an endpoint. A route is declared once — method, path,
 * zod schemas for params/query/body, responses, auth — and that declaration both validates
 * the request (DRF-shaped 400s) and lands in the OpenAPI document at /api/schema/.
 *
 * Responses are checked both ways: the handler's return type must be one of the declared
 * responses (a JSON body typed by its schema, `c.body(null, 204)` where a 204 is declared, a
 * raw `Response` only where a non-JSON content type is declared), and under
 * `ENVIRONMENT=test` every JSON body is parsed against its schema at run time, so the whole
 * suite proves the OpenAPI document true. Error responses get the error schemas of
 * errors.ts in the document.
 *
 * We do our own body parsing instead of @hono/zod-openapi's built-in validators because the
 * contract needs DRF semantics: JSON *or* form/multipart for the same schema, 415 for other
 * types, 413 while streaming, and 404 (not 400) for a malformed id in a path.
 */
import type { OpenAPIHono, z } from "@hono/zod-openapi";
import type { Context, TypedResponse } from "hono";
import type { StatusCode } from "hono/utils/http-status";
import type { JSONParsed } from "hono/utils/types";
import type { UserRole } from "../db/schema";
import { DomainError } from "../lib/errors";
import type { AppEnv } from "./context";
import { type ErrorDialect, errorSchemaFor } from "./errors";
import { readRequestBody } from "./request-body";
import { issuesToFieldErrors } from "./validation";

export type Api = OpenAPIHono<AppEnv>;
export type AppContext = Context<AppEnv>;
type Method = "get" | "post" | "put" | "patch" | "delete";
type AnyObjectSchema = z.ZodType<Record<string, unknown>>;

/**
 * A declared response: JSON (with its schema; none for a 204), or another media type, which
 * then needs a schema too (a string, binary for images) so the document says what it is.
 */
export type ResponseSpec =
  | { description: string; schema?: z.ZodType; contentType?: undefined }
  | { description: string; schema: z.ZodType; contentType: string };

type ResponseSpecs = Record<number, ResponseSpec>;

export interface RouteSpec<
  P extends AnyObjectSchema | undefined,
  Q extends AnyObjectSchema | undefined,
  B extends AnyObjectSchema | undefined,
  R extends ResponseSpecs = ResponseSpecs,
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
  /** Every answer the handler gives, by status; errors are documented with their schemas. */
  responses: R;
  /** Hidden from the OpenAPI document (dev-only tooling). */
  hidden?: boolean;
}

/**
 * What a handler may return for declared responses `R`: for each status, a JSON response
 * whose body satisfies that status's schema, an empty body where no schema is declared
 * (204), or any Response where a non-JSON content type is declared (CSV, PNG, HTML).
 */
export type RouteReply<R extends ResponseSpecs> = {
  [S in keyof R & number]: R[S] extends { contentType: string }
    ? Response
    : R[S] extends { schema: infer Z extends z.ZodType }
      ? Response & TypedResponse<JSONParsed<z.input<Z>>, S & StatusCode, "json">
      : Response & TypedResponse<null, S & StatusCode, "body">;
}[keyof R & number];

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

/**
 * `post /api/pay/initiate/` → `postPayInitiate`; `{id}` → `ById`. Unique per route. Words
 * without a letter (the `5.35.0` in a versioned asset path) are left out: generators want
 * identifiers.
 */
export function operationIdFor(method: Method, path: string): string {
  const words = path
    .replace(/^\/api\//, "/")
    .split("/")
    .filter(Boolean)
    .map((part) => {
      const param = /^\{(\w+)\}$/.exec(part);
      return param ? `by_${param[1]}` : part;
    })
    .flatMap((part) => part.split(/[-_.]/))
    .filter((word) => /[A-Za-z]/.test(word));
  return method + words.map((word) => word.charAt(0).toUpperCase() + word.slice(1)).join("");
}

/** The statuses any route can answer besides its own, from what it declares. */
function impliedErrors(spec: RouteSpec<never, never, never>, auth: string): Record<number, string> {
  const errors: Record<number, string> = {};
  if (spec.body || spec.query || spec.documentedBody) errors[400] = "Invalid input";
  if (auth === "required") errors[401] = "Not signed in, or the session is not valid";
  if (spec.roles) errors[403] = "Signed in with a role that may not do this";
  if (spec.params) errors[404] = "Not found (also for objects the caller may not see)";
  errors[500] = "Internal server error";
  return errors;
}

function documentedResponses(
  spec: RouteSpec<never, never, never>,
  auth: string,
  dialect: ErrorDialect,
): Record<string, unknown> {
  const responses: Record<string, unknown> = {};
  const all: ResponseSpecs = { ...spec.responses };
  for (const [status, description] of Object.entries(impliedErrors(spec, auth))) {
    all[Number(status)] ??= { description };
  }
  for (const [key, response] of Object.entries(all)) {
    const status = Number(key);
    const schema = response.schema ?? (status >= 400 ? errorSchemaFor(status, dialect) : undefined);
    responses[key] = schema
      ? {
          description: response.description,
          content: { [response.contentType ?? "application/json"]: { schema } },
        }
      : { description: response.description };
  }
  return responses;
}

/**
 * Under ENVIRONMENT=test, a JSON answer that is not what its route declares is a bug: the
 * test sees a 500 naming the route and the first mismatch, instead of a green run over a
 * document that lies. (Exported for its own test, test/route-response-check.test.ts.)
 */
export async function assertDeclaredResponse(
  spec: RouteSpec<never, never, never>,
  response: Response,
): Promise<void> {
  const declared = spec.responses[response.status];
  if (!declared)
    throw new Error(`${spec.method} ${spec.path} answered ${response.status}, which it does not declare`);
  const type = response.headers.get("content-type") ?? "";
  if (!declared.schema || declared.contentType || !type.includes("application/json")) return;
  const parsed = declared.schema.safeParse(await response.clone().json());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `${spec.method} ${spec.path} ${response.status}: body does not match its schema at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    );
  }
}

export function defineRoute<
  P extends AnyObjectSchema | undefined = undefined,
  Q extends AnyObjectSchema | undefined = undefined,
  B extends AnyObjectSchema | undefined = undefined,
  R extends ResponseSpecs = ResponseSpecs,
>(
  app: Api,
  spec: RouteSpec<P, Q, B, R>,
  handler: (c: AppContext, input: RouteInput<P, Q, B>) => RouteReply<R> | Promise<RouteReply<R>>,
): void {
  const auth = spec.auth ?? (spec.roles ? "required" : "none");
  const untyped = spec as unknown as RouteSpec<never, never, never>;

  if (!spec.hidden) {
    const responses = documentedResponses(untyped, auth, spec.errorDialect ?? "drf");
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
      operationId: operationIdFor(spec.method, spec.path),
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

    const response: Response = await handler(c, { params, query, body } as RouteInput<P, Q, B>);
    if (c.var.config.environment === "test") await assertDeclaredResponse(untyped, response);
    return response;
  });
}
