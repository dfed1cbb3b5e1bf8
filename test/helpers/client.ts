/**
 * A small HTTP client for tests: calls the Worker's real fetch handler (same isolate, real
 * bindings) and keeps cookies like a browser, so session flows are tested end to end.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type { z } from "@hono/zod-openapi";
import { handleFetch } from "../../src/http/app";
import type { pageSchema } from "../../src/http/pagination";
import type { Api } from "../../src/http/route";

export const BASE_URL = "https://api.ticketsafi.test";
export const WEB_ORIGIN = "https://ticketsafi.test";

/** A response body, typed by the schema the route declares for it. */
export type Body<S extends z.ZodType> = z.infer<S>;

/** A DRF page of items of schema `S` (`pageSchema(S)`). */
export type PageOf<S extends z.ZodType> = Body<ReturnType<typeof pageSchema<S>>>;

/** The OpenAPI document at /api/schema/, typed as the generator types it. */
export type OpenApiDocument = ReturnType<Api["getOpenAPI31Document"]>;

export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
  setCookies: string[];
}

export interface RequestOptions {
  json?: unknown;
  form?: FormData | URLSearchParams;
  rawBody?: BodyInit;
  headers?: Record<string, string>;
  bearer?: string;
  /** Send no cookies on this request. */
  noCookies?: boolean;
  /** Send to this origin instead of BASE_URL (a forged `Host`: the URL's host is the Host). */
  origin?: string;
}

/**
 * With `schema`, the body is typed by it and parsed against it, whatever the status: a body
 * that does not match throws (naming the request, the status and the first mismatch). The
 * body handed back is the one received, not the parse's output (no keys stripped).
 */
export interface TypedRequestOptions<T> extends RequestOptions {
  schema?: z.ZodType<T>;
}

export class TestClient {
  readonly cookies = new Map<string, string>();

  /**
   * `vars` overrides configuration for this client's requests (e.g. invitations required),
   * still through the real app and bindings; without it requests go through the Worker's
   * own fetch export.
   */
  readonly vars: Partial<Record<keyof Env, string>>;
  readonly address: string;

  constructor(vars: Partial<Record<keyof Env, string>> = {}, address?: string) {
    this.vars = vars;
    this.address = address ?? `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
  }

  async request<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: TypedRequestOptions<T> = {},
  ): Promise<ApiResponse<T>> {
    const headers = new Headers(options.headers);
    headers.set("cf-connecting-ip", headers.get("cf-connecting-ip") ?? this.address);
    let body: BodyInit | undefined = options.rawBody;
    if (options.json !== undefined) {
      body = JSON.stringify(options.json);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    } else if (options.form) {
      body = options.form;
    }
    if (options.bearer) headers.set("authorization", `Bearer ${options.bearer}`);
    if (!options.noCookies && this.cookies.size > 0 && !headers.has("cookie")) {
      headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    }
    const request = new Request(`${options.origin ?? BASE_URL}${path}`, { method, headers, body });
    let response: Response;
    if (Object.keys(this.vars).length === 0) {
      response = await exports.default.fetch(request);
    } else {
      const ctx = createExecutionContext();
      response = await handleFetch(request, { ...env, ...this.vars } as Env, ctx);
      await waitOnExecutionContext(ctx);
    }
    const setCookies = response.headers.getSetCookie();
    for (const line of setCookies) this.storeCookie(line);
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Non-JSON bodies (HTML docs page, CSV) stay text.
    }
    if (options.schema) {
      const checked = options.schema.safeParse(parsed);
      if (!checked.success) {
        const issue = checked.error.issues[0];
        throw new Error(
          `${method} ${path} → ${response.status}: body does not match the schema at ${issue?.path.join(".") || "(root)"}: ${issue?.message}\n${text.slice(0, 500)}`,
        );
      }
    }
    return { status: response.status, headers: response.headers, body: parsed as T, text, setCookies };
  }

  get<T = Record<string, unknown>>(path: string, options?: TypedRequestOptions<T>) {
    return this.request<T>("GET", path, options);
  }
  post<T = Record<string, unknown>>(path: string, json?: unknown, options: TypedRequestOptions<T> = {}) {
    return this.request<T>("POST", path, { ...options, ...(json === undefined ? {} : { json }) });
  }
  patch<T = Record<string, unknown>>(path: string, json?: unknown, options: TypedRequestOptions<T> = {}) {
    return this.request<T>("PATCH", path, { ...options, ...(json === undefined ? {} : { json }) });
  }

  private storeCookie(line: string): void {
    const [pair, ...attributes] = line.split(";");
    const index = pair?.indexOf("=") ?? -1;
    if (!pair || index < 0) return;
    const name = pair.slice(0, index).trim();
    const value = pair.slice(index + 1).trim();
    const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a)) || value === "";
    if (expired) this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}

/** Unique-enough names so tests sharing a file's database never collide. */
export function uniqueName(prefix = "user"): string {
  return `${prefix}${crypto.randomUUID().replace(/-/g, "").slice(0, 10)}`;
}
