/**
 * Domain errors → HTTP. The ONE table that gives every error code its status and, for the
 * codes only the original backend's `{"error": ...}` endpoints ever answered, its dialect;
 * and the renderer `onError` applies. Nothing else builds an error response.
 *
 * Two dialects (contract §1):
 * - `drf`: 400 `{"field": ["msg"]}` / `{"non_field_errors": [...]}`, otherwise `{"detail"}`.
 * - `legacy`: the message in both `error` and `detail`, plus the machine `code`, on EVERY
 *   error (a 400 keeps its field arrays too). A route the original answered that way asks
 *   for it (`errorDialect: "legacy"` in its spec); the codes marked legacy here are always.
 */
import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { DomainError, ErrorCode } from "../lib/errors";

export type ErrorDialect = "drf" | "legacy";

interface ErrorMapping {
  status: ContentfulStatusCode;
  /** Rendered in this dialect whatever the route asks for. */
  dialect?: "legacy";
  /** The machine `code` on the wire when it differs from the internal one (one code, two statuses). */
  wireCode?: string;
}

export const ERROR_TABLE: Record<ErrorCode, ErrorMapping> = {
  validation_error: { status: 400 },
  parse_error: { status: 400 },
  not_authenticated: { status: 401 },
  authentication_failed: { status: 401 },
  permission_denied: { status: 403 },
  csrf_failed: { status: 403 },
  not_found: { status: 404 },
  method_not_allowed: { status: 405 },
  conflict: { status: 409 },
  payload_too_large: { status: 413 },
  unsupported_media_type: { status: 415 },
  idempotency_conflict: { status: 422 },
  throttled: { status: 429 },
  rate_limited: { status: 429 },
  upstream_error: { status: 502 },
  service_unavailable: { status: 503 },
  internal_error: { status: 500 },
  invalid_code: { status: 404, dialect: "legacy" },
  invalid_link: { status: 400, dialect: "legacy" },
  sold_out: { status: 409, dialect: "legacy" },
  invalid_phone: { status: 400, dialect: "legacy" },
  not_on_sale: { status: 400, dialect: "legacy" },
  payment_gateway_error: { status: 503, dialect: "legacy" },
  payment_not_found: { status: 404, dialect: "legacy" },
  ticket_not_found: { status: 404, dialect: "legacy" },
  already_checked_in: { status: 409, dialect: "legacy" },
  ticket_cancelled: { status: 409, dialect: "legacy" },
  wrong_event: { status: 403, dialect: "legacy" },
  invalid_items: { status: 400, dialect: "legacy" },
  too_many_seats: { status: 400, dialect: "legacy" },
  tier_not_found: { status: 404, dialect: "legacy" },
  mixed_events: { status: 400, dialect: "legacy" },
  buyer_limit: { status: 409, dialect: "legacy" },
  invalid_promo_code: { status: 400, dialect: "legacy" },
  promo_exhausted: { status: 409, dialect: "legacy" },
  promo_buyer_limit: { status: 409, dialect: "legacy" },
  promo_check_invalid: { status: 404, dialect: "legacy", wireCode: "invalid_promo_code" },
  promo_check_exhausted: { status: 404, dialect: "legacy", wireCode: "promo_exhausted" },
  not_refundable: { status: 400, dialect: "legacy" },
  amount_too_high: { status: 400, dialect: "legacy" },
  invalid_state: { status: 409, dialect: "legacy" },
  retry_too_soon: { status: 409, dialect: "legacy" },
  refunds_unavailable: { status: 503, dialect: "legacy" },
  transfer_disabled: { status: 403, dialect: "legacy" },
  not_transferable: { status: 409, dialect: "legacy" },
  refund_in_progress: { status: 409, dialect: "legacy" },
  transfer_window_closed: { status: 409, dialect: "legacy" },
  transfer_limit: { status: 409, dialect: "legacy" },
  revoked: { status: 409, dialect: "legacy" },
};

export function statusOf(error: DomainError): ContentfulStatusCode {
  return ERROR_TABLE[error.code].status;
}

export interface RenderedError {
  status: ContentfulStatusCode;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

export function renderError(error: DomainError, routeDialect: ErrorDialect): RenderedError {
  const mapping = ERROR_TABLE[error.code];
  const headers: Record<string, string> = {};
  if (error.retryAfterSeconds !== undefined) headers["Retry-After"] = String(error.retryAfterSeconds);
  if (error.allowedMethods) headers.Allow = error.allowedMethods.join(", ");

  const dialect = mapping.dialect ?? routeDialect;
  let body: Record<string, unknown>;
  if (dialect === "legacy") {
    body = {
      ...(error.fields ?? {}),
      ...(error.extra ?? {}),
      error: error.detail,
      detail: error.detail,
      code: mapping.wireCode ?? error.code,
    };
  } else if (error.fields) {
    body = { ...error.fields, ...(error.extra ?? {}) };
  } else {
    body = { detail: error.detail, ...(error.extra ?? {}) };
  }
  return { status: mapping.status, body, headers };
}

/** The error bodies, for the OpenAPI document and for tests that read an error. */
export const FieldErrorsSchema = z
  .record(z.string(), z.array(z.string()))
  .openapi("FieldErrors", { description: "Errors by field; `non_field_errors` for the whole request" });

export const ErrorDetailSchema = z
  .object({ detail: z.string() })
  .catchall(z.unknown())
  .openapi("ErrorDetail");

export const LegacyErrorSchema = z
  .object({ error: z.string(), detail: z.string(), code: z.string() })
  .catchall(z.unknown())
  .openapi("LegacyError", {
    description: "The original backend's error shape: the message in `error` and `detail`, a machine `code`",
  });

/** The schema an error response of `status` has on a route of `dialect`. */
export function errorSchemaFor(status: number, dialect: ErrorDialect): z.ZodType {
  if (dialect === "legacy") return LegacyErrorSchema;
  if (status === 400) return z.union([FieldErrorsSchema, ErrorDetailSchema]);
  return ErrorDetailSchema;
}
