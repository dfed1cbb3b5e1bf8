/**
 * The one way to fail. Services, objects and clients throw a `DomainError` naming a code
 * from the closed set below; they never choose a status or a body shape. The HTTP layer's
 * single table (src/http/errors.ts) maps each code to its status and dialect, and its
 * single `onError` renders it. Anything thrown that is not a DomainError is a 500.
 */

/** The closed set of machine codes. Add here (and to the HTTP table), never inline elsewhere. */
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
  /** A per-recipient (or other business) limit on a checkout-dialect route: 429 with Retry-After. */
  "rate_limited",
  /** An upstream (Google) answered badly or not at all. */
  "upstream_error",
  /** Our own storage (D1) cannot be reached. */
  "service_unavailable",
  "internal_error",
  // Domain codes the original backend's `{"error": ...}` endpoints carry.
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
  // Orders of several tiers (contract §11) and buyer limits (§15).
  "invalid_items",
  "too_many_seats",
  "tier_not_found",
  "mixed_events",
  "buyer_limit",
  // Promo codes (contract §12). At checkout a bad code is 400 and a used-up one 409; the
  // public check answers both as 404 with the same machine code on the wire.
  "invalid_promo_code",
  "promo_exhausted",
  "promo_buyer_limit",
  "promo_check_invalid",
  "promo_check_exhausted",
  // Refunds (contract v3 §13).
  "not_refundable",
  "amount_too_high",
  "invalid_state",
  "retry_too_soon",
  "refunds_unavailable",
  // Ticket transfer (contract v3 §14) and the gate's answer to a superseded token (§14.4).
  "transfer_disabled",
  "not_transferable",
  "refund_in_progress",
  "transfer_window_closed",
  "transfer_limit",
  "revoked",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Field errors: `{"field": ["message", ...]}`; `non_field_errors` for the whole object. */
export type FieldErrors = Record<string, string[]>;

export interface DomainErrorOptions {
  /** Errors by input field (rendered as the body itself, DRF style). */
  fields?: FieldErrors;
  /** Facts the caller should see beside the message (e.g. `attendee_name` of an earlier scan). */
  extra?: Record<string, unknown>;
  /** When a refused attempt may be retried (a limit), in seconds. */
  retryAfterSeconds?: number;
  /** The methods a path does answer (a wrong method). */
  allowedMethods?: string[];
  cause?: unknown;
}

export class DomainError extends Error {
  readonly code: ErrorCode;
  readonly detail: string;
  readonly fields: FieldErrors | undefined;
  readonly extra: Record<string, unknown> | undefined;
  readonly retryAfterSeconds: number | undefined;
  readonly allowedMethods: string[] | undefined;

  constructor(code: ErrorCode, detail: string, options: DomainErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DomainError";
    this.code = code;
    this.detail = detail;
    this.fields = options.fields;
    this.extra = options.extra;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.allowedMethods = options.allowedMethods;
  }

  /** Invalid input, by field. */
  static validation(fields: FieldErrors, code: ErrorCode = "validation_error"): DomainError {
    const first = Object.values(fields)[0]?.[0] ?? "Invalid input.";
    return new DomainError(code, first, { fields });
  }

  static field(field: string, message: string, code: ErrorCode = "validation_error"): DomainError {
    return DomainError.validation({ [field]: [message] }, code);
  }

  static nonField(message: string, code: ErrorCode = "validation_error"): DomainError {
    return DomainError.validation({ non_field_errors: [message] }, code);
  }

  static notAuthenticated(detail = "Authentication credentials were not provided."): DomainError {
    return new DomainError("not_authenticated", detail);
  }

  static authenticationFailed(detail = "Given token not valid for any token type"): DomainError {
    return new DomainError("authentication_failed", detail);
  }

  static forbidden(detail = "You do not have permission to perform this action."): DomainError {
    return new DomainError("permission_denied", detail);
  }

  static notFound(detail = "Not found."): DomainError {
    return new DomainError("not_found", detail);
  }

  /** A business limit (bookings per recipient, code guesses) on a legacy-dialect route: 429. */
  static rateLimited(what: string, retryAfterSeconds: number): DomainError {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    return new DomainError("rate_limited", `${what} Try again in ${seconds} seconds.`, {
      retryAfterSeconds: seconds,
    });
  }

  static throttled(retryAfterSeconds: number): DomainError {
    const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
    return new DomainError("throttled", `Request was throttled. Expected available in ${seconds} seconds.`, {
      retryAfterSeconds: seconds,
    });
  }
}
