/**
 * Daraja (M-Pesa Express) over HTTP: OAuth, STK push and STK query, in the wire format of
 * docs/upstreams.md. One small client for both the real Daraja and the local simulator (the
 * simulator is just another `fetch`), so the code path is the same everywhere.
 *
 * Failures become a `DarajaError` with a closed `kind`, so the checkout can decide without
 * reading messages: "timeout" / "unavailable" (release the hold, try again later),
 * "rejected" (Daraja said no, with its `errorCode`), "auth", "misconfigured".
 * Secrets (consumer secret, passkey, password, access token) never appear in a message.
 */
import { base64 } from "../../lib/base64";
import { nairobiCompactTimestamp } from "../../lib/time";
import {
  DarajaErrorBodySchema,
  OAuthAnswerSchema,
  StkPushAnswerSchema,
  type StkPushRequestBody,
  StkQueryAnswerSchema,
  type StkQueryRequestBody,
} from "./schemas";
import {
  type DarajaClient,
  DarajaError,
  type StkPushAccepted,
  type StkPushRequest,
  type StkQueryResult,
} from "./types";

export interface DarajaClientOptions {
  /** `https://sandbox.safaricom.co.ke`, `https://api.safaricom.co.ke`, or the simulator's. */
  baseUrl: string;
  /** BusinessShortCode: the paybill (or the store number of a till). */
  shortcode: string;
  passkey: string;
  consumerKey: string;
  consumerSecret: string;
  /** Default `CustomerPayBillOnline`. */
  transactionType?: StkPushRequestBody["TransactionType"];
  /** PartyB; defaults to the shortcode (paybill). A till's number when it differs from its store number. */
  partyB?: string;
  /** One deadline per operation (OAuth + request + a token retry together). Default 10 s. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Epoch ms; injectable so tests can pin the Timestamp and move token expiry. */
  now?: () => number;
}

/** Daraja's answer to an invalid or expired bearer token. */
const INVALID_ACCESS_TOKEN = "404.001.03";
/** Daraja's "being processed" code: for an STK query it means "ask again later". */
const TRANSACTION_IN_PROGRESS = "500.001.1001";

const TOKEN_REFRESH_MARGIN_MS = 60_000;
const DEFAULT_TOKEN_LIFETIME_S = 3599;

interface CachedToken {
  accessToken: string;
  expiresAt: number;
}

/**
 * Access tokens per (baseUrl, consumerKey), shared by every request of this isolate: a flash
 * sale must not cost one OAuth round trip per purchase. Only settled strings are shared
 * (never an in-flight promise), because a Worker must not await another request's I/O.
 */
const tokenCache = new Map<string, CachedToken>();

/** Forget every cached access token (tests; or after rotating the consumer secret). */
export function clearDarajaTokenCache(): void {
  tokenCache.clear();
}

export interface DarajaAnswer {
  status: number;
  /** The JSON object Daraja sent, or null (empty, HTML from a proxy, …). */
  body: Record<string, unknown> | null;
}

/** Daraja's error body, when it sent one. */
export function darajaErrorOf(answer: DarajaAnswer): { code: string; message: string } | null {
  const { errorCode, errorMessage } = DarajaErrorBodySchema.parse(answer.body ?? {});
  if (!errorCode) return null;
  return { code: errorCode, message: (errorMessage ?? "").slice(0, 200) };
}

/** The failure for a non-success answer: Daraja's own error code wins over the HTTP status. */
export function failureOf(answer: DarajaAnswer, what: string): DarajaError {
  const error = darajaErrorOf(answer);
  if (error) {
    return new DarajaError("rejected", `Daraja rejected the ${what} (${error.code}: ${error.message})`, {
      status: answer.status,
      errorCode: error.code,
    });
  }
  if (answer.status >= 500 || answer.status === 429) {
    return new DarajaError("unavailable", `Daraja answered HTTP ${answer.status} to the ${what}`, {
      status: answer.status,
    });
  }
  return new DarajaError("rejected", `Daraja rejected the ${what} (HTTP ${answer.status})`, {
    status: answer.status,
  });
}

function isInvalidToken(answer: DarajaAnswer): boolean {
  return answer.status === 401 || darajaErrorOf(answer)?.code === INVALID_ACCESS_TOKEN;
}

export interface DarajaTransportOptions {
  baseUrl: string;
  consumerKey: string;
  consumerSecret: string;
  timeoutMs: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface DarajaTransport {
  /** POST with a bearer token from the shared cache; an invalid token is replaced once. */
  post(path: string, payload: unknown, signal: AbortSignal, what: string): Promise<DarajaAnswer>;
}

/**
 * OAuth + HTTP shared by the STK and B2C clients: one token cache per (baseUrl, consumerKey),
 * so B2C on the STK app's keys reuses the STK token, and B2C on its own app gets its own.
 */
export function createDarajaTransport(options: DarajaTransportOptions): DarajaTransport {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs;
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const now = options.now ?? Date.now;
  const cacheKey = `${baseUrl}\n${options.consumerKey}`;

  async function send(url: string, init: RequestInit, signal: AbortSignal, what: string) {
    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, { ...init, signal });
      text = await response.text();
    } catch (error) {
      if (signal.aborted) {
        throw new DarajaError("timeout", `Daraja did not answer the ${what} within ${timeoutMs} ms`);
      }
      const reason = error instanceof Error ? error.message : String(error);
      throw new DarajaError("unavailable", `Daraja unreachable (${what}): ${reason.slice(0, 200)}`);
    }
    let body: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = text ? JSON.parse(text) : null;
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
    } catch {
      // Not JSON (an HTML page from a proxy): judged by its status below.
    }
    return { status: response.status, body } satisfies DarajaAnswer;
  }

  async function accessToken(signal: AbortSignal): Promise<string> {
    const cached = tokenCache.get(cacheKey);
    if (cached && cached.expiresAt > now()) return cached.accessToken;

    const basic = base64.encodeText(`${options.consumerKey}:${options.consumerSecret}`);
    const answer = await send(
      `${baseUrl}/oauth/v1/generate?grant_type=client_credentials`,
      { method: "GET", headers: { authorization: `Basic ${basic}`, accept: "application/json" } },
      signal,
      "OAuth request",
    );
    if (answer.status >= 500 || answer.status === 429) {
      throw new DarajaError("unavailable", `Daraja OAuth answered HTTP ${answer.status}`, {
        status: answer.status,
      });
    }
    const oauth = OAuthAnswerSchema.parse(answer.body ?? {});
    const token = oauth.access_token;
    if (answer.status !== 200 || !token) {
      if (answer.status === 200 && !answer.body) {
        throw new DarajaError("unavailable", "Daraja OAuth answered something that is not JSON", {
          status: answer.status,
        });
      }
      // Wrong key or secret, or an app without the product: a retry cannot help.
      const error = darajaErrorOf(answer);
      throw new DarajaError(
        "auth",
        `Daraja refused the consumer key and secret (HTTP ${answer.status}${error ? `, ${error.code}: ${error.message}` : ""})`,
        { status: answer.status, errorCode: error?.code ?? null },
      );
    }
    // `expires_in` is a string ("3599"); refresh a minute early so a token never dies in flight.
    const lifetimeS = Number(oauth.expires_in);
    const lifetimeMs =
      (Number.isFinite(lifetimeS) && lifetimeS > 0 ? lifetimeS : DEFAULT_TOKEN_LIFETIME_S) * 1000;
    const expiresAt = now() + lifetimeMs - TOKEN_REFRESH_MARGIN_MS;
    if (expiresAt > now()) tokenCache.set(cacheKey, { accessToken: token, expiresAt });
    return token;
  }

  /** POST with a bearer token; a token Daraja no longer accepts is dropped and replaced once. */
  async function post(path: string, payload: unknown, signal: AbortSignal, what: string) {
    for (let attempt = 1; ; attempt++) {
      const token = await accessToken(signal);
      const answer = await send(
        `${baseUrl}${path}`,
        {
          method: "POST",
          headers: {
            authorization: `Bearer ${token}`,
            "content-type": "application/json",
            accept: "application/json",
          },
          body: JSON.stringify(payload),
        },
        signal,
        what,
      );
      if (!isInvalidToken(answer)) return answer;
      // Only drop the token we used: a concurrent request may already have cached a fresh one.
      if (tokenCache.get(cacheKey)?.accessToken === token) tokenCache.delete(cacheKey);
      if (attempt >= 2) {
        throw new DarajaError("auth", `Daraja refused a fresh access token (${what})`, {
          status: answer.status,
          errorCode: darajaErrorOf(answer)?.code ?? null,
        });
      }
    }
  }

  return { post };
}

export function createDarajaClient(options: DarajaClientOptions): DarajaClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const transactionType = options.transactionType ?? "CustomerPayBillOnline";
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? Date.now;
  const { post } = createDarajaTransport({ ...options, timeoutMs });

  /** Refuse to talk to Daraja half-configured: names the missing settings, never their values. */
  function assertConfigured(): void {
    const missing = [
      ["MPESA_BASE_URL", baseUrl],
      ["MPESA_SHORTCODE", options.shortcode],
      ["MPESA_PASSKEY", options.passkey],
      ["MPESA_CONSUMER_KEY", options.consumerKey],
      ["MPESA_CONSUMER_SECRET", options.consumerSecret],
    ]
      .filter(([, value]) => !value?.trim())
      .map(([name]) => name);
    if (missing.length > 0) {
      throw new DarajaError("misconfigured", `Daraja is not configured: missing ${missing.join(", ")}`);
    }
  }

  /** Timestamp (Nairobi time) and the Password derived from it, computed together. */
  function credentials(): { Password: string; Timestamp: string } {
    const timestamp = nairobiCompactTimestamp(now());
    return {
      Password: base64.encodeText(`${options.shortcode}${options.passkey}${timestamp}`),
      Timestamp: timestamp,
    };
  }

  return {
    async stkPush(request: StkPushRequest): Promise<StkPushAccepted> {
      assertConfigured();
      if (!Number.isInteger(request.amount) || request.amount < 1) {
        // Daraja would refuse it too (400.002.02 Invalid Amount); rounding would change the charge.
        throw new DarajaError("rejected", "STK push amount must be a whole number of shillings, at least 1");
      }
      const signal = AbortSignal.timeout(timeoutMs);
      const payload: StkPushRequestBody = {
        BusinessShortCode: options.shortcode,
        ...credentials(),
        TransactionType: transactionType,
        Amount: request.amount,
        PartyA: request.phoneNumber,
        PartyB: options.partyB || options.shortcode,
        PhoneNumber: request.phoneNumber,
        CallBackURL: request.callbackUrl,
        // Daraja's limits; longer values are refused, so cut rather than fail a purchase.
        AccountReference: request.accountReference.slice(0, 12),
        TransactionDesc: request.transactionDesc.slice(0, 13),
      };
      const answer = await post("/mpesa/stkpush/v1/processrequest", payload, signal, "STK push");
      if (answer.status < 200 || answer.status >= 300) throw failureOf(answer, "STK push");

      const accepted = StkPushAnswerSchema.parse(answer.body ?? {});
      const responseCode = accepted.ResponseCode;
      const merchantRequestId = accepted.MerchantRequestID;
      const checkoutRequestId = accepted.CheckoutRequestID;
      if (responseCode !== undefined && responseCode !== "0") {
        const description = (accepted.ResponseDescription ?? "").slice(0, 200);
        throw new DarajaError("rejected", `Daraja rejected the STK push (${responseCode}: ${description})`, {
          status: answer.status,
          errorCode: responseCode,
        });
      }
      if (responseCode !== "0" || !merchantRequestId || !checkoutRequestId) {
        throw new DarajaError("unavailable", "Daraja answered the STK push without a CheckoutRequestID", {
          status: answer.status,
        });
      }
      return {
        merchantRequestId,
        checkoutRequestId,
        customerMessage: accepted.CustomerMessage ?? accepted.ResponseDescription ?? "",
      };
    },

    async stkQuery(checkoutRequestId: string): Promise<StkQueryResult> {
      assertConfigured();
      const signal = AbortSignal.timeout(timeoutMs);
      const payload: StkQueryRequestBody = {
        BusinessShortCode: options.shortcode,
        ...credentials(),
        CheckoutRequestID: checkoutRequestId,
      };
      const answer = await post("/mpesa/stkpushquery/v1/query", payload, signal, "STK query");
      if (answer.status >= 200 && answer.status < 300) {
        // ResultCode is a string here ("1032"), unlike in the callback.
        const result = StkQueryAnswerSchema.parse(answer.body ?? {});
        const resultCode = Number(result.ResultCode ?? Number.NaN);
        if (!Number.isInteger(resultCode)) {
          throw new DarajaError("unavailable", "Daraja answered the STK query without a ResultCode", {
            status: answer.status,
          });
        }
        return { state: "final", resultCode, resultDesc: result.ResultDesc ?? "" };
      }
      // "The transaction is being processed": the customer has not answered yet. The same code
      // also means "Wrong credentials", which must not pass for pending, hence the message check.
      const error = darajaErrorOf(answer);
      if (error?.code === TRANSACTION_IN_PROGRESS && /process/i.test(error.message))
        return { state: "pending" };
      throw failureOf(answer, "STK query");
    },
  };
}
