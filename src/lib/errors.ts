/**
 * The one way to fail. Every error response in the API is an ApiError rendered by the
 * app's single `onError` into the DRF shapes of contract §1.
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** The closed set of machine codes. Add here, never inline strings elsewhere. */
export const ERROR_CODES = [
  "validation_error",
  "parse_error",
  "not_authenticated",
  "authentication_failed",
  "permission_denied",
  "csrf_failed",
  "not_found",
  "method_not_allowed",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  "idempotency_conflict",
  "throttled",
  "upstream_error",
  "internal_error",
  // Domain codes carried in the `error` + `detail` + `code` bodies.
  "invalid_code",
  "invalid_link",
  "sold_out",
  "invalid_phone",
  "not_on_sale",
  "payment_gateway_error",
  "payment_not_found",
  "ticket_not_found",
  "already_checked_in",
  "ticket_cancelled",
  "wrong_event",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** DRF field errors: `{"field": ["message", ...]}`; `non_field_errors` for the whole object. */
export type FieldErrors = Record<string, string[]>;

export interface ApiErrorOptions {
  /** Field errors (400). Rendered as the body itself, DRF style. */
  fields?: FieldErrors;
  /** Extra top-level members (e.g. `attendee_name` on a 409 from the scanner). */
  extra?: Record<string, unknown>;
  /** Extra response headers (e.g. `Retry-After`, `Allow`). */
  headers?: Record<string, string>;
  /** Force the `{"error", "detail", "code"}` shape regardless of the route's style. */
  legacy?: boolean;
  cause?: unknown;
}

export class ApiError extends Error {
  readonly status: ContentfulStatusCode;
  readonly code: ErrorCode;
  readonly detail: string;
  readonly fields: FieldErrors | undefined;
  readonly extra: Record<string, unknown> | undefined;
  readonly headers: Record<string, string> | undefined;
  readonly legacy: boolean;

  constructor(status: ContentfulStatusCode, code: ErrorCode, detail: string, options: ApiErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.detail = detail;
    this.fields = options.fields;
    this.extra = options.extra;
    this.headers = options.headers;
    this.legacy = options.legacy ?? false;
  }

  /** A 400 with DRF field errors. */
  static validation(fields: FieldErrors, code: ErrorCode = "validation_error"): ApiError {
    const first = Object.values(fields)[0]?.[0] ?? "Invalid input.";
    return new ApiError(400, code, first, { fields });
  }

  static field(field: string, message: string, code: ErrorCode = "validation_error"): ApiError {
    return ApiError.validation({ [field]: [message] }, code);
  }

  static nonField(message: string, code: ErrorCode = "validation_error"): ApiError {
    return ApiError.validation({ non_field_errors: [message] }, code);
  }

  static notAuthenticated(detail = "Authentication credentials were not provided."): ApiError {
    return new ApiError(401, "not_authenticated", detail);
  }

  static authenticationFailed(detail = "Given token not valid for any token type"): ApiError {
    return new ApiError(401, "authentication_failed", detail);
  }

  static forbidden(detail = "You do not have permission to perform this action."): ApiError {
    return new ApiError(403, "permission_denied", detail);
  }

  static notFound(detail = "Not found."): ApiError {
    return new ApiError(404, "not_found", detail);
  }

  static throttled(retryAfterSeconds: number): ApiError {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    return new ApiError(
      429,
      "throttled",
      `Request was throttled. Expected available in ${seconds} seconds.`,
      {
        headers: { "Retry-After": String(seconds) },
      },
    );
  }
}

/**
 * The body for an error. `legacyStyle` is set by routes the original backend answered with
 * `{"error": "..."}`: those carry the message in both `error` and `detail` plus `code` on
 * every error, keeping 400 field arrays alongside.
 */
export function renderErrorBody(error: ApiError, legacyStyle: boolean): Record<string, unknown> {
  if (legacyStyle || error.legacy) {
    return {
      ...(error.fields ?? {}),
      ...(error.extra ?? {}),
      error: error.detail,
      detail: error.detail,
      code: error.code,
    };
  }
  if (error.fields) return { ...error.fields, ...(error.extra ?? {}) };
  return { detail: error.detail, ...(error.extra ?? {}) };
}
