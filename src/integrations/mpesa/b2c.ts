/**
 * Daraja B2C payment request (api-contract-v3 §13.9): money out, for refunds and payouts.
 * Shares OAuth and HTTP with the STK client (createDarajaTransport), so on the same app keys
 * the token is reused; on `MPESA_B2C_CONSUMER_KEY` it gets its own cache entry.
 *
 * The one question every caller must answer after a failure is "may money have moved?":
 * - `B2CRejectedError`: Daraja refused it (errorCode body, any status, or ResponseCode ≠ "0").
 *   Money did not move; §13.4 says FAILED (auto-retry only for transient 5xx-with-errorCode).
 * - `B2COutcomeUnknownError`: timeout, network error, 5xx without a Daraja body, or an
 *   unreadable 2xx. Daraja MAY have taken it: never re-send; let the callbacks settle it.
 *
 * SecurityCredential is computed offline (Web Crypto has no RSA PKCS#1 v1.5 encryption):
 *   printf '%s' "$INITIATOR_PASSWORD" \
 *     | openssl pkeyutl -encrypt -certin -inkey ProductionCertificate.cer -pkeyopt rsa_padding_mode:pkcs1 \
 *     | base64 -w0
 * (SandboxCertificate.cer for the sandbox; a DER cert first: `openssl x509 -inform der -in X.cer -out X.pem`.)
 * Then `wrangler secret put MPESA_SECURITY_CREDENTIAL`.
 */
import { createDarajaTransport, type DarajaAnswer, darajaErrorOf } from "./daraja";
import {
  B2CPaymentAnswerSchema,
  type B2CPaymentRequestBody,
  TransactionStatusAnswerSchema,
  type TransactionStatusRequestBody,
} from "./schemas";
import { DarajaError } from "./types";

export interface B2CClientOptions {
  baseUrl: string;
  consumerKey: string;
  consumerSecret: string;
  /** MPESA_B2C_SHORTCODE: the bulk-disbursement shortcode (PartyA). */
  shortcode: string;
  initiatorName: string;
  securityCredential: string;
  /** {PUBLIC_BASE_URL}/api/pay/b2c/result/{MPESA_RESULT_TOKEN}/ */
  resultUrl: string;
  /** {PUBLIC_BASE_URL}/api/pay/b2c/timeout/{MPESA_RESULT_TOKEN}/ */
  queueTimeoutUrl: string;
  /** Transaction Status query callbacks; absent → no reconciliation queries. */
  statusResultUrl?: string;
  statusTimeoutUrl?: string;
  /** §13.4: no answer within 10 s → outcome unknown. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

export interface B2CPaymentRequest {
  /** Our idempotency key: a new UUID per attempt, stored BEFORE sending. */
  originatorConversationId: string;
  amount: number;
  /** The number that paid (`2547…`/`2541…`). */
  phoneNumber: string;
  remarks: string;
  occasion?: string;
  /** Default BusinessPayment (§13.9: STK payers are registered customers). */
  commandId?: B2CPaymentRequestBody["CommandID"];
}

export interface B2CAccepted {
  conversationId: string;
  originatorConversationId: string;
  responseDescription: string;
}

/** Daraja said no: the money did not move. */
export class B2CRejectedError extends Error {
  readonly outcome = "rejected" as const;
  /** Daraja errorCode or ResponseCode (the refund's failure_code). */
  readonly code: string;
  readonly status: number | null;
  /** 5xx with an errorCode: a definite but transient refusal (§13.4 auto-retry). */
  readonly transient: boolean;
  constructor(message: string, code: string, status: number | null, transient: boolean) {
    super(message);
    this.name = "B2CRejectedError";
    this.code = code;
    this.status = status;
    this.transient = transient;
  }
}

/** No usable answer: Daraja may have taken the request. Never re-send blindly. */
export class B2COutcomeUnknownError extends Error {
  readonly outcome = "unknown" as const;
  readonly status: number | null;
  constructor(message: string, status: number | null) {
    super(message);
    this.name = "B2COutcomeUnknownError";
    this.status = status;
  }
}

export interface B2CClient {
  pay(request: B2CPaymentRequest): Promise<B2CAccepted>;
  /**
   * Daraja's Transaction Status query for one of our payment requests, by its
   * OriginatorConversationID. Asynchronous: the answer is only an acknowledgement (its
   * ConversationID is what the Result, POSTed to the status ResultURL, is matched on). Any
   * failure throws; a query moves no money, so the caller simply asks again later.
   */
  queryStatus(originatorConversationId: string): Promise<{ conversationId: string }>;
}

/** The status query was not accepted (refused, unreadable or no answer): ask again later. */
export class StatusQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StatusQueryError";
  }
}

function judge(answer: DarajaAnswer): B2CAccepted {
  const error = darajaErrorOf(answer);
  if (error) {
    throw new B2CRejectedError(
      `Daraja rejected the B2C request (${error.code}: ${error.message})`,
      error.code,
      answer.status,
      answer.status >= 500,
    );
  }
  if (answer.status < 200 || answer.status >= 300) {
    if (answer.status >= 400 && answer.status < 500) {
      // A 4xx is a refusal even without Daraja's body (a gateway saying no before Daraja saw it).
      throw new B2CRejectedError(
        `Daraja rejected the B2C request (HTTP ${answer.status})`,
        String(answer.status),
        answer.status,
        false,
      );
    }
    throw new B2COutcomeUnknownError(
      `Daraja answered HTTP ${answer.status} to the B2C request`,
      answer.status,
    );
  }
  const body = B2CPaymentAnswerSchema.parse(answer.body ?? {});
  if (body.ResponseCode !== undefined && body.ResponseCode !== "0") {
    throw new B2CRejectedError(
      `Daraja rejected the B2C request (${body.ResponseCode}: ${(body.ResponseDescription ?? "").slice(0, 200)})`,
      body.ResponseCode,
      answer.status,
      false,
    );
  }
  if (body.ResponseCode !== "0" || !body.ConversationID) {
    throw new B2COutcomeUnknownError(
      "Daraja answered the B2C request without a ConversationID",
      answer.status,
    );
  }
  return {
    conversationId: body.ConversationID,
    originatorConversationId: body.OriginatorConversationID ?? "",
    responseDescription: body.ResponseDescription ?? "",
  };
}

export function createB2CClient(options: B2CClientOptions): B2CClient {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const { post } = createDarajaTransport({ ...options, timeoutMs });

  /** The settings every B2C call needs, named as the operator sets them; empty when all are set. */
  function missingConfig(): string[] {
    return [
      ["MPESA_B2C_SHORTCODE", options.shortcode],
      ["MPESA_INITIATOR_NAME", options.initiatorName],
      ["MPESA_SECURITY_CREDENTIAL", options.securityCredential],
      ["consumer key", options.consumerKey],
      ["consumer secret", options.consumerSecret],
    ]
      .filter(([, value]) => !value?.trim())
      .map(([name]) => name as string);
  }

  return {
    async queryStatus(originatorConversationId) {
      const missing = missingConfig();
      if (!options.statusResultUrl || !options.statusTimeoutUrl) missing.push("status callback URLs");
      if (missing.length > 0) {
        throw new DarajaError("misconfigured", `B2C is not configured: missing ${missing.join(", ")}`);
      }
      const payload: TransactionStatusRequestBody = {
        Initiator: options.initiatorName,
        SecurityCredential: options.securityCredential,
        CommandID: "TransactionStatusQuery",
        OriginalConversationID: originatorConversationId,
        PartyA: options.shortcode,
        IdentifierType: "4",
        ResultURL: options.statusResultUrl ?? "",
        QueueTimeOutURL: options.statusTimeoutUrl ?? "",
        Remarks: "Reconciliation",
        Occasion: originatorConversationId,
      };
      let answer: DarajaAnswer;
      try {
        answer = await post(
          "/mpesa/transactionstatus/v1/query",
          payload,
          AbortSignal.timeout(timeoutMs),
          "transaction status query",
        );
      } catch (error) {
        if (error instanceof DarajaError) throw new StatusQueryError(error.message);
        throw error;
      }
      const error = darajaErrorOf(answer);
      if (error) throw new StatusQueryError(`Daraja refused the status query (${error.code})`);
      if (answer.status < 200 || answer.status >= 300) {
        throw new StatusQueryError(`Daraja answered HTTP ${answer.status} to the status query`);
      }
      const body = TransactionStatusAnswerSchema.parse(answer.body ?? {});
      if (body.ResponseCode !== "0" || !body.ConversationID) {
        throw new StatusQueryError(`Daraja did not accept the status query (${body.ResponseCode ?? "?"})`);
      }
      return { conversationId: body.ConversationID };
    },

    async pay(request) {
      const missing = missingConfig();
      if (missing.length > 0) {
        // Nothing was sent: a definite "not moved".
        throw new DarajaError("misconfigured", `B2C is not configured: missing ${missing.join(", ")}`);
      }
      if (!Number.isInteger(request.amount) || request.amount < 1) {
        throw new B2CRejectedError(
          "B2C amount must be a whole number of shillings, at least 1",
          "amount",
          null,
          false,
        );
      }
      const payload: B2CPaymentRequestBody = {
        OriginatorConversationID: request.originatorConversationId,
        InitiatorName: options.initiatorName,
        SecurityCredential: options.securityCredential,
        CommandID: request.commandId ?? "BusinessPayment",
        Amount: request.amount,
        PartyA: options.shortcode,
        PartyB: request.phoneNumber,
        Remarks: request.remarks.slice(0, 100),
        QueueTimeOutURL: options.queueTimeoutUrl,
        ResultURL: options.resultUrl,
        ...(request.occasion ? { Occasion: request.occasion.slice(0, 100) } : {}),
      };
      let answer: DarajaAnswer;
      try {
        answer = await post(
          "/mpesa/b2c/v3/paymentrequest",
          payload,
          AbortSignal.timeout(timeoutMs),
          "B2C request",
        );
      } catch (error) {
        if (error instanceof DarajaError && (error.kind === "timeout" || error.kind === "unavailable")) {
          // The request may have reached Daraja before the line went quiet.
          throw new B2COutcomeUnknownError(error.message, error.status);
        }
        // OAuth refused ("auth"): the payment request was never sent with a valid token.
        throw error;
      }
      return judge(answer);
    },
  };
}
