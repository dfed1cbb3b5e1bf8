/**
 * Safaricom Daraja at the network edge (`sandbox.safaricom.co.ke`, the default MPESA_BASE_URL):
 * OAuth, STK push and STK query with Daraja's real answers and error bodies
 * (../shared/docs/upstreams.md). Tests script failures (`failNextPush`, `hangNextPush`, …),
 * decide what an STK query says (`queryAnswers`), and build the callbacks Daraja would post
 * (`callbackFor`) to send to our callback route.
 */

import type {
  DarajaErrorBody,
  OAuthAnswer,
  StkCallbackBody,
  StkPushAnswer,
  StkQueryAnswer,
} from "../../src/integrations/mpesa/schemas";
import {
  B2CPaymentRequestSchema,
  TransactionStatusRequestSchema,
} from "../../src/integrations/mpesa/schemas";
import { buildStkCallbackBody, randomReceiptNumber } from "../../src/integrations/mpesa/simulator";
import type { FakeUpstream } from "./network";

export interface DarajaRequestRecord {
  method: string;
  /** Path and query, e.g. `/oauth/v1/generate?grant_type=client_credentials`. */
  path: string;
  headers: Record<string, string>;
  /** The parsed JSON body (null for GET or unparseable bodies). */
  body: Record<string, unknown> | null;
}

export interface DarajaFakePush {
  merchantRequestId: string;
  checkoutRequestId: string;
  body: Record<string, unknown>;
}

/** What the STK query answers for a CheckoutRequestID: still deciding, or a final ResultCode. */
export type DarajaQueryAnswer = "pending" | { resultCode: number; resultDesc?: string };

type Scripted = { kind: "fail"; status: number; body: unknown } | { kind: "hang" };

const RESULT_DESCRIPTIONS: Record<number, string> = {
  0: "The service request is processed successfully.",
  1: "The balance is insufficient for the transaction",
  1032: "Request cancelled by user",
  1037: "DS timeout user cannot be reached",
  2001: "The initiator information is invalid.",
};

function darajaErrorBody(errorCode: string, errorMessage: string): DarajaErrorBody {
  return {
    requestId: `${Math.floor(Math.random() * 1e5)}-${Math.floor(Math.random() * 1e8)}-1`,
    errorCode,
    errorMessage,
  };
}

/** A request that never answers, until the caller gives up (its AbortSignal fires). */
function hang(request: Request): Promise<Response> {
  return new Promise((_, reject) => {
    const abort = () =>
      reject(request.signal.reason ?? new DOMException("The operation was aborted.", "AbortError"));
    if (request.signal.aborted) abort();
    else request.signal.addEventListener("abort", abort, { once: true });
  });
}

export class DarajaFake implements FakeUpstream {
  readonly hosts = ["sandbox.safaricom.co.ke"];
  readonly consumerKey = "test-consumer-key";
  readonly consumerSecret = "test-consumer-secret";
  /** Matches the test environment (MPESA_SHORTCODE from wrangler.toml, MPESA_PASSKEY from vitest.config.ts). */
  readonly shortcode = "174379";
  readonly passkey = "test-passkey";
  /** A second Daraja app's keys (MPESA_B2C_CONSUMER_KEY/SECRET): OAuth accepts either pair. */
  readonly b2cConsumerKey = "test-b2c-consumer-key";
  readonly b2cConsumerSecret = "test-b2c-consumer-secret";

  /** Every request, in order. */
  readonly requests: DarajaRequestRecord[] = [];
  /** Accepted STK pushes, in order. */
  readonly pushes: DarajaFakePush[] = [];
  /** STK query answers by CheckoutRequestID; a known push without an entry is "pending". */
  readonly queryAnswers = new Map<string, DarajaQueryAnswer>();
  /** `expires_in` of the tokens issued from now on (a string, as Daraja sends it). */
  tokenExpiresIn = "3599";

  /** Issued tokens stay valid across tests (as with Daraja, for their hour) until revoked. */
  private readonly tokens = new Set<string>();
  private readonly scripts = {
    oauth: [] as Scripted[],
    push: [] as Scripted[],
    query: [] as Scripted[],
    b2c: [] as Scripted[],
    status: [] as Scripted[],
  };

  /** Transaction Status queries Daraja accepted: what was asked, and the ConversationID it gave. */
  readonly statusQueries: Array<{
    originalConversationId: string;
    conversationId: string;
    body: Record<string, unknown>;
  }> = [];

  /** Answer the next Transaction Status query with this status and body (default: Daraja's error). */
  failNextStatusQuery(status: number, body?: unknown): void {
    this.scripts.status.push({ kind: "fail", status, body: body ?? this.defaultError(status) });
  }

  /** Answer the next B2C payment request with this status and body (default: Daraja's error). */
  failNextB2C(status: number, body?: unknown): void {
    this.scripts.b2c.push({ kind: "fail", status, body: body ?? this.defaultError(status) });
  }

  /** The next B2C request never answers: outcome unknown for the client. */
  hangNextB2C(): void {
    this.scripts.b2c.push({ kind: "hang" });
  }

  get b2cRequests(): DarajaRequestRecord[] {
    return this.requests.filter((r) => r.path === "/mpesa/b2c/v3/paymentrequest");
  }

  /** Answer the next STK push with this status and body (default: Daraja's error for the status). */
  failNextPush(status: number, body?: unknown): void {
    this.scripts.push.push({ kind: "fail", status, body: body ?? this.defaultError(status) });
  }

  /** The next STK push never answers; the client's timeout must give up. */
  hangNextPush(): void {
    this.scripts.push.push({ kind: "hang" });
  }

  failNextQuery(status: number, body?: unknown): void {
    this.scripts.query.push({ kind: "fail", status, body: body ?? this.defaultError(status) });
  }

  hangNextQuery(): void {
    this.scripts.query.push({ kind: "hang" });
  }

  failNextToken(status: number, body?: unknown): void {
    this.scripts.oauth.push({ kind: "fail", status, body: body ?? this.defaultError(status) });
  }

  /** Invalidate every token issued so far (expiry on Daraja's side): the next call gets 404.001.03. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  get oauthRequests(): DarajaRequestRecord[] {
    return this.requests.filter((r) => r.path.startsWith("/oauth/v1/generate"));
  }

  get pushRequests(): DarajaRequestRecord[] {
    return this.requests.filter((r) => r.path === "/mpesa/stkpush/v1/processrequest");
  }

  get queryRequests(): DarajaRequestRecord[] {
    return this.requests.filter((r) => r.path === "/mpesa/stkpushquery/v1/query");
  }

  /**
   * The callback Daraja would POST for an accepted push. Amount and phone default to the
   * push's own, so `{ resultCode: 0 }` is a genuine payment; pass others to forge a wrong one.
   */
  /** The path of the CallBackURL the push named (where real Daraja would post its result). */
  callbackPathFor(checkoutRequestId: string): string | undefined {
    const push = this.pushes.find((p) => p.checkoutRequestId === checkoutRequestId);
    const url = push?.body.CallBackURL;
    return typeof url === "string" ? new URL(url).pathname : undefined;
  }

  callbackFor(
    checkoutRequestId: string,
    outcome: {
      resultCode: number;
      resultDesc?: string;
      amount?: number;
      receipt?: string;
      phoneNumber?: string;
      paidAt?: number;
    },
  ): StkCallbackBody {
    const push = this.pushes.find((p) => p.checkoutRequestId === checkoutRequestId);
    return buildStkCallbackBody({
      merchantRequestId:
        push?.merchantRequestId ?? `${Math.floor(Math.random() * 1e5)}-${Math.floor(Math.random() * 1e8)}-1`,
      checkoutRequestId,
      resultCode: outcome.resultCode,
      resultDesc: outcome.resultDesc ?? RESULT_DESCRIPTIONS[outcome.resultCode] ?? "Transaction failed",
      ...(outcome.resultCode === 0
        ? {
            amount: outcome.amount ?? (push?.body.Amount as number | undefined) ?? 1,
            receiptNumber: outcome.receipt ?? randomReceiptNumber(),
            phoneNumber:
              outcome.phoneNumber ?? (push?.body.PhoneNumber as string | undefined) ?? "254712345678",
            paidAt: outcome.paidAt ?? Date.now(),
          }
        : {}),
    });
  }

  async handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    let body: Record<string, unknown> | null = null;
    if (request.method !== "GET") {
      try {
        const parsed: unknown = await request.clone().json();
        if (parsed && typeof parsed === "object" && !Array.isArray(parsed))
          body = parsed as Record<string, unknown>;
      } catch {
        body = null;
      }
    }
    this.requests.push({
      method: request.method,
      path: url.pathname + url.search,
      headers: Object.fromEntries(request.headers),
      body,
    });

    const route = `${request.method} ${url.pathname}`;
    if (route === "GET /oauth/v1/generate") return this.oauth(request, url);
    if (route === "POST /mpesa/stkpush/v1/processrequest") {
      return this.withBearer(request, () =>
        this.runScript(request, this.scripts.push, () => this.push(body)),
      );
    }
    if (route === "POST /mpesa/stkpushquery/v1/query") {
      return this.withBearer(request, () =>
        this.runScript(request, this.scripts.query, () => this.query(body)),
      );
    }
    if (route === "POST /mpesa/b2c/v3/paymentrequest") {
      return this.withBearer(request, () => this.runScript(request, this.scripts.b2c, () => this.b2c(body)));
    }
    if (route === "POST /mpesa/transactionstatus/v1/query") {
      return this.withBearer(request, () =>
        this.runScript(request, this.scripts.status, () => this.transactionStatus(body)),
      );
    }
    return Response.json(darajaErrorBody("404.001.01", "Resource not found"), { status: 404 });
  }

  /** Daraja's synchronous acknowledgement of a Transaction Status query; the Result comes later. */
  private async transactionStatus(body: Record<string, unknown> | null): Promise<Response> {
    const parsed = TransactionStatusRequestSchema.safeParse(body);
    if (!parsed.success) {
      return Response.json(darajaErrorBody("400.002.02", "Bad Request - Invalid request body"), {
        status: 400,
      });
    }
    const day = new Date().toISOString().slice(0, 10).replace(/-/g, "");
    const conversationId = `AG_${day}_${crypto.randomUUID().replace(/-/g, "").slice(0, 20)}`;
    this.statusQueries.push({
      originalConversationId: parsed.data.OriginalConversationID,
      conversationId,
      body: body ?? {},
    });
    return Response.json({
      ConversationID: conversationId,
      OriginatorConversationID: `${Math.floor(Math.random() * 1e5)}-${Math.floor(Math.random() * 1e8)}-1`,
      ResponseCode: "0",
      ResponseDescription: "Accept the service request successfully.",
    });
  }

  /** Daraja's synchronous B2C answer (§13.9): accepted, not paid. */
  private async b2c(body: Record<string, unknown> | null): Promise<Response> {
    const parsed = B2CPaymentRequestSchema.safeParse(body);
    if (!parsed.success) {
      return Response.json(darajaErrorBody("400.002.02", "Bad Request - Invalid request body"), {
        status: 400,
      });
    }
    const day = new Date().toISOString().slice(0, 10).replace(/-/g, "");
    const hex = crypto.randomUUID().replace(/-/g, "").slice(0, 20);
    return Response.json({
      ConversationID: `AG_${day}_${hex}`,
      OriginatorConversationID: parsed.data.OriginatorConversationID,
      ResponseCode: "0",
      ResponseDescription: "Accept the service request successfully.",
    });
  }

  reset(): void {
    this.requests.length = 0;
    this.pushes.length = 0;
    this.queryAnswers.clear();
    this.tokenExpiresIn = "3599";
    this.scripts.oauth = [];
    this.scripts.push = [];
    this.scripts.query = [];
    this.scripts.b2c = [];
    this.scripts.status = [];
    this.statusQueries.length = 0;
  }

  private defaultError(status: number) {
    if (status >= 500) return darajaErrorBody(`${status}.003.02`, "Internal Server Error");
    return darajaErrorBody(`${status}.002.02`, "Bad Request");
  }

  private async runScript(
    request: Request,
    queue: Scripted[],
    answer: () => Response | Promise<Response>,
  ): Promise<Response> {
    const scripted = queue.shift();
    if (scripted?.kind === "hang") return hang(request);
    if (scripted?.kind === "fail") return Response.json(scripted.body, { status: scripted.status });
    return answer();
  }

  private oauth(request: Request, url: URL): Promise<Response> {
    return this.runScript(request, this.scripts.oauth, () => {
      if (url.searchParams.get("grant_type") !== "client_credentials") {
        return Response.json(darajaErrorBody("400.008.02", "Invalid grant type passed"), { status: 400 });
      }
      const expected = `Basic ${btoa(`${this.consumerKey}:${this.consumerSecret}`)}`;
      const b2c = `Basic ${btoa(`${this.b2cConsumerKey}:${this.b2cConsumerSecret}`)}`;
      const given = request.headers.get("authorization");
      if (given !== expected && given !== b2c) {
        return Response.json(darajaErrorBody("400.008.01", "Invalid Authentication passed"), { status: 400 });
      }
      const token = `fake${crypto.randomUUID().replace(/-/g, "").slice(0, 24)}`;
      this.tokens.add(token);
      return Response.json({ access_token: token, expires_in: this.tokenExpiresIn } satisfies OAuthAnswer);
    });
  }

  private withBearer(request: Request, next: () => Promise<Response>): Promise<Response> | Response {
    const match = /^Bearer (\S+)$/.exec(request.headers.get("authorization") ?? "");
    if (!match?.[1] || !this.tokens.has(match[1])) {
      return Response.json(darajaErrorBody("404.001.03", "Invalid Access Token"), { status: 404 });
    }
    return next();
  }

  /** Shortcode, Timestamp format and Password, as Daraja checks them. */
  private credentialError(body: Record<string, unknown>): Response | null {
    if (String(body.BusinessShortCode) !== this.shortcode) {
      return Response.json(darajaErrorBody("400.002.02", "Bad Request - Invalid BusinessShortCode"), {
        status: 400,
      });
    }
    if (typeof body.Timestamp !== "string" || !/^\d{14}$/.test(body.Timestamp)) {
      return Response.json(darajaErrorBody("400.002.02", "Bad Request - Invalid Timestamp"), { status: 400 });
    }
    if (body.Password !== btoa(`${this.shortcode}${this.passkey}${body.Timestamp}`)) {
      return Response.json(darajaErrorBody("500.001.1001", "Wrong credentials"), { status: 500 });
    }
    return null;
  }

  private push(body: Record<string, unknown> | null): Response {
    if (!body)
      return Response.json(darajaErrorBody("400.002.05", "Invalid Request Payload"), { status: 400 });
    const credentialError = this.credentialError(body);
    if (credentialError) return credentialError;
    const invalid = (field: string) =>
      Response.json(darajaErrorBody("400.002.02", `Bad Request - Invalid ${field}`), { status: 400 });
    if (typeof body.Amount !== "number" || !Number.isInteger(body.Amount) || body.Amount < 1)
      return invalid("Amount");
    if (!/^254[17]\d{8}$/.test(String(body.PhoneNumber))) return invalid("PhoneNumber");
    if (!/^254[17]\d{8}$/.test(String(body.PartyA))) return invalid("PartyA");
    if (typeof body.CallBackURL !== "string" || !URL.canParse(body.CallBackURL))
      return invalid("CallBackURL");
    if (typeof body.AccountReference !== "string" || body.AccountReference.length > 12) {
      return invalid("AccountReference");
    }
    const merchantRequestId = `${10000 + Math.floor(Math.random() * 90000)}-${Math.floor(Math.random() * 1e8)}-1`;
    const checkoutRequestId = `ws_CO_${Date.now()}${Math.floor(Math.random() * 1e8)}`;
    this.pushes.push({ merchantRequestId, checkoutRequestId, body });
    return Response.json({
      MerchantRequestID: merchantRequestId,
      CheckoutRequestID: checkoutRequestId,
      ResponseCode: "0",
      ResponseDescription: "Success. Request accepted for processing",
      CustomerMessage: "Success. Request accepted for processing",
    } satisfies StkPushAnswer);
  }

  private query(body: Record<string, unknown> | null): Response {
    if (!body)
      return Response.json(darajaErrorBody("400.002.05", "Invalid Request Payload"), { status: 400 });
    const credentialError = this.credentialError(body);
    if (credentialError) return credentialError;
    const checkoutRequestId = String(body.CheckoutRequestID ?? "");
    const push = this.pushes.find((p) => p.checkoutRequestId === checkoutRequestId);
    const answer = this.queryAnswers.get(checkoutRequestId) ?? (push ? "pending" : undefined);
    if (answer === undefined) {
      return Response.json(darajaErrorBody("400.002.02", "Bad Request - Invalid CheckoutRequestID"), {
        status: 400,
      });
    }
    if (answer === "pending") {
      return Response.json(darajaErrorBody("500.001.1001", "The transaction is being processed"), {
        status: 500,
      });
    }
    return Response.json({
      ResponseCode: "0",
      ResponseDescription: "The service request has been accepted successsfully",
      MerchantRequestID: push?.merchantRequestId ?? "",
      CheckoutRequestID: checkoutRequestId,
      ResultCode: String(answer.resultCode),
      ResultDesc: answer.resultDesc ?? RESULT_DESCRIPTIONS[answer.resultCode] ?? "Transaction failed",
    } satisfies StkQueryAnswer);
  }
}
