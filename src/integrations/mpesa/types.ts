/**
 * The M-Pesa Express (STK push) client interface the checkout uses. Two implementations
 * speak Daraja's wire format (schemas.ts): the real client against MPESA_BASE_URL, and the
 * same client pointed at the built-in simulator (local development, no MPESA_CONSUMER_KEY).
 */

export interface StkPushRequest {
  /** `2547XXXXXXXX` / `2541XXXXXXXX`. */
  phoneNumber: string;
  /** Whole shillings, ≥ 1. */
  amount: number;
  /** ≤ 12 characters (the order reference). */
  accountReference: string;
  /** ≤ 13 characters. */
  transactionDesc: string;
  callbackUrl: string;
}

export interface StkPushAccepted {
  merchantRequestId: string;
  checkoutRequestId: string;
  customerMessage: string;
}

/** What an STK query says about a push. */
export type StkQueryResult =
  /** The customer has not decided yet ("The transaction is being processed"): ask again later. */
  | { state: "pending" }
  /** Final: ResultCode 0 is paid; anything else failed (1032 cancelled, 1 no funds, 1037 timeout, …). */
  | { state: "final"; resultCode: number; resultDesc: string };

type DarajaErrorKind =
  /** No answer within the timeout. */
  | "timeout"
  /** Network failure or 5xx: Daraja is down. */
  | "unavailable"
  /** Daraja refused the request (4xx with errorCode), e.g. invalid number. */
  | "rejected"
  /** OAuth failed (bad consumer key/secret). */
  | "auth"
  /** Not configured (e.g. production without a shortcode or passkey). */
  | "misconfigured";

export class DarajaError extends Error {
  readonly kind: DarajaErrorKind;
  readonly status: number | null;
  readonly errorCode: string | null;

  constructor(
    kind: DarajaErrorKind,
    message: string,
    options: { status?: number | null; errorCode?: string | null } = {},
  ) {
    super(message);
    this.name = "DarajaError";
    this.kind = kind;
    this.status = options.status ?? null;
    this.errorCode = options.errorCode ?? null;
  }
}

export interface DarajaClient {
  stkPush(request: StkPushRequest): Promise<StkPushAccepted>;
  stkQuery(checkoutRequestId: string): Promise<StkQueryResult>;
}
