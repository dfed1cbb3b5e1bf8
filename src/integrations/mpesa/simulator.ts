/**
 * The local M-Pesa simulator (contract §10): a `fetch` that answers like Daraja, so the real
 * Daraja client talks to it unchanged. Development only: `createSimulatedDarajaClient`
 * refuses to build one in production or when real credentials are configured.
 *
 * It validates requests the way Daraja does (same paths, bodies, error shapes, statuses),
 * decides the outcome from the phone number, stores the push in `mpesa_simulator_pushes`
 * and, `delayMs` later, posts a real-shaped callback through `deliverCallback`.
 *
 *   254708000001  cancels            → callback ResultCode 1032
 *   254708000002  insufficient funds → callback ResultCode 1
 *   254708000003  never answers      → no callback; STK query "being processed" for 2 minutes, then 1037
 *   anything else pays               → callback ResultCode 0 with a receipt like NLJ7RT61SV
 */
import { eq } from "drizzle-orm";
import type { Config } from "../../config";
import type { Database } from "../../db/client";
import { mpesaSimulatorPushes } from "../../db/schema";
import { base64 } from "../../lib/base64";
import { createLogger } from "../../lib/logger";
import { nairobiCompactTimestamp } from "../../lib/time";
import { type B2CClient, createB2CClient } from "./b2c";
import { createDarajaClient } from "./daraja";
import {
  type B2CPaymentAnswer,
  type B2CPaymentRequestBody,
  B2CPaymentRequestSchema,
  type B2CResultBody,
  type B2CTimeoutBody,
  type DarajaErrorBody,
  type OAuthAnswer,
  type StkCallbackBody,
  type StkCallbackItem,
  type StkPushAnswer,
  StkPushRequestSchema,
  type StkQueryAnswer,
  type TransactionStatusAnswer,
  type TransactionStatusRequestBody,
  TransactionStatusRequestSchema,
  type TransactionStatusResultBody,
} from "./schemas";
import { type DarajaClient, DarajaError } from "./types";

export const SIMULATOR_BASE_URL = "https://mpesa-simulator.ticketsafi.local";

/** Used when no MPESA_PASSKEY is set locally: client and simulator only need to agree. */
const SIMULATOR_FALLBACK_PASSKEY = "ticketsafi-simulator-passkey";

export const SIMULATOR_PHONES = {
  cancels: "254708000001",
  insufficientFunds: "254708000002",
  neverAnswers: "254708000003",
} as const;

/** How long the "never answers" number stays "being processed" before STK query says 1037. */
const SIMULATOR_NO_ANSWER_MS = 2 * 60 * 1000;

/** A Timestamp further than this from Nairobi "now" is refused: it catches the UTC-timestamp bug. */
const TIMESTAMP_TOLERANCE_MS = 60 * 60 * 1000;

/** Daraja's descriptions for the result codes the simulator produces. */
const STK_RESULT_DESCRIPTIONS: Readonly<Record<number, string>> = {
  0: "The service request is processed successfully.",
  1: "The balance is insufficient for the transaction",
  1032: "Request cancelled by user",
  1037: "DS timeout user cannot be reached",
};

interface StkCallbackBodyInput {
  merchantRequestId: string;
  checkoutRequestId: string;
  resultCode: number;
  /** Defaults to Daraja's description of the code. */
  resultDesc?: string;
  /** Success (ResultCode 0) only; an omitted value omits its item, as Daraja sometimes does. */
  amount?: number;
  receiptNumber?: string;
  /** `2547XXXXXXXX`; sent as a number. */
  phoneNumber?: string;
  /** When the customer paid (epoch ms), sent as TransactionDate YYYYMMDDHHmmss (Nairobi). Default now. */
  paidAt?: number;
}

/**
 * Daraja's callback body, exactly as it arrives: `CallbackMetadata` only for ResultCode 0,
 * numbers for Amount, TransactionDate and PhoneNumber, and a `Balance` item without a Value.
 */
export function buildStkCallbackBody(input: StkCallbackBodyInput): StkCallbackBody {
  const stkCallback: StkCallbackBody["Body"]["stkCallback"] = {
    MerchantRequestID: input.merchantRequestId,
    CheckoutRequestID: input.checkoutRequestId,
    ResultCode: input.resultCode,
    ResultDesc: input.resultDesc ?? STK_RESULT_DESCRIPTIONS[input.resultCode] ?? "Transaction failed",
  };
  if (input.resultCode === 0) {
    const items: StkCallbackItem[] = [];
    if (input.amount !== undefined) items.push({ Name: "Amount", Value: input.amount });
    if (input.receiptNumber !== undefined)
      items.push({ Name: "MpesaReceiptNumber", Value: input.receiptNumber });
    items.push({ Name: "Balance" });
    items.push({
      Name: "TransactionDate",
      Value: Number(nairobiCompactTimestamp(input.paidAt ?? Date.now())),
    });
    if (input.phoneNumber !== undefined)
      items.push({ Name: "PhoneNumber", Value: Number(input.phoneNumber) });
    stkCallback.CallbackMetadata = { Item: items };
  }
  return { Body: { stkCallback } };
}

/** Contract §13.8: B2C behaviour by PartyB (these numbers pay normally at STK). */
export const B2C_TEST_PHONES = {
  /** Odd-numbered requests get Result 1 (utility account short of funds), even ones succeed. */
  alternating: "254708000004",
  /** Result 2001 on every attempt. */
  initiatorInvalid: "254708000005",
  /** A queue-timeout callback instead of a Result. */
  queueTimeout: "254708000006",
  /** Synchronous HTTP 400 errorCode 400.002.02 Invalid PartyB. */
  rejected: "254708000007",
} as const;

/** Where and what the simulator posts for an accepted B2C request (Result or queue timeout). */
export function b2cCallbackFor(
  request: B2CPaymentRequestBody,
  conversationId: string,
  attempt: number,
): { url: string; body: B2CResultBody | B2CTimeoutBody } {
  const core = {
    ResultType: 0,
    OriginatorConversationID: request.OriginatorConversationID,
    ConversationID: conversationId,
  };
  const referenceData = { ReferenceItem: { Key: "QueueTimeoutURL", Value: request.QueueTimeOutURL } };
  if (request.PartyB === B2C_TEST_PHONES.queueTimeout) {
    return {
      url: request.QueueTimeOutURL,
      body: {
        Result: { ...core, ResultType: 1, ResultCode: 1, ResultDesc: "The request timed out in the queue." },
      },
    };
  }
  const failure =
    request.PartyB === B2C_TEST_PHONES.initiatorInvalid
      ? { code: 2001, desc: "The initiator information is invalid." }
      : request.PartyB === B2C_TEST_PHONES.alternating && attempt % 2 === 1
        ? { code: 1, desc: "The balance is insufficient for the transaction." }
        : null;
  if (failure) {
    return {
      url: request.ResultURL,
      body: {
        Result: {
          ...core,
          ResultCode: failure.code,
          ResultDesc: failure.desc,
          TransactionID: "NLJ0000000",
          ReferenceData: referenceData,
        },
      },
    };
  }
  const transactionId = randomReceiptNumber();
  return {
    url: request.ResultURL,
    body: {
      Result: {
        ...core,
        ResultCode: 0,
        ResultDesc: "The service request is processed successfully.",
        TransactionID: transactionId,
        ResultParameters: {
          ResultParameter: [
            { Key: "TransactionAmount", Value: request.Amount },
            { Key: "TransactionReceipt", Value: transactionId },
            { Key: "B2CRecipientIsRegisteredCustomer", Value: "Y" },
            { Key: "B2CChargesPaidAccountAvailableFunds", Value: 0 },
            { Key: "ReceiverPartyPublicName", Value: `${request.PartyB} - Simulated Customer` },
            { Key: "B2CUtilityAccountAvailableFunds", Value: 10116 },
            { Key: "B2CWorkingAccountAvailableFunds", Value: 900000 },
          ],
        },
        ReferenceData: referenceData,
      },
    },
  };
}

/** What the simulated M-Pesa did with a B2C request, for the Transaction Status query. */
export interface SimulatedB2CRecord {
  partyB: string;
  amount: number;
  /** Completed (money moved) or Failed, with the receipt when completed. */
  status: "Completed" | "Failed";
  receipt: string;
}

/**
 * The simulated B2C outcome for a request: 254708000006 times out in the queue, but the
 * payment behind it went through (the case reconciliation exists for); a failure Result is
 * Failed; everything else Completed with the Result's TransactionID.
 */
export function simulatedB2CRecord(
  request: B2CPaymentRequestBody,
  callback: { body: B2CResultBody | B2CTimeoutBody },
): SimulatedB2CRecord {
  const result = callback.body.Result;
  const paid = request.PartyB === B2C_TEST_PHONES.queueTimeout || Number(result.ResultCode) === 0;
  return {
    partyB: request.PartyB,
    amount: request.Amount,
    status: paid ? "Completed" : "Failed",
    receipt: paid ? (result.TransactionID ?? randomReceiptNumber()) : "",
  };
}

/**
 * Daraja's Transaction Status Result for a query about `originalConversationId`, in its
 * wire shape: the query's own ids in the envelope; the payment's in the parameters. Not
 * found → ResultCode 2001-style failure without parameters (see README: any ≠ 0 = no answer).
 */
export function transactionStatusResultFor(
  request: TransactionStatusRequestBody,
  query: { conversationId: string; originatorConversationId: string },
  record: SimulatedB2CRecord | undefined,
  now: number,
): TransactionStatusResultBody {
  const core = {
    ResultType: 0,
    OriginatorConversationID: query.originatorConversationId,
    ConversationID: query.conversationId,
    ReferenceData: { ReferenceItem: { Key: "Occasion", Value: request.Occasion ?? "" } },
  };
  if (!record) {
    return {
      Result: {
        ...core,
        ResultCode: "R000001",
        ResultDesc: "The transaction does not exist.",
        TransactionID: "NLJ0000000",
      },
    };
  }
  const stamp = new Date(now + 3 * 60 * 60 * 1000).toISOString().replace(/\D/g, "").slice(0, 14);
  return {
    Result: {
      ...core,
      ResultCode: 0,
      ResultDesc: "The service request is processed successfully.",
      TransactionID: record.receipt || "NLJ0000000",
      ResultParameters: {
        ResultParameter: [
          { Key: "DebitPartyName", Value: "600996 - Simulated Disbursements" },
          { Key: "CreditPartyName", Value: `${record.partyB} - Simulated Customer` },
          { Key: "OriginatorConversationID", Value: request.OriginalConversationID },
          { Key: "InitiatedTime", Value: Number(stamp) },
          { Key: "DebitAccountType", Value: "Utility Account" },
          { Key: "DebitPartyCharges", Value: "" },
          { Key: "ReasonType", Value: "Business Payment to Customer via API" },
          { Key: "TransactionStatus", Value: record.status },
          { Key: "FinalisedTime", Value: Number(stamp) },
          { Key: "Amount", Value: record.amount },
          { Key: "ReceiptNo", Value: record.receipt },
        ],
      },
    },
  };
}

export interface MpesaSimulatorDeps {
  db: Database;
  /** How long the "customer" takes to answer before the callback is posted. */
  delayMs: number;
  shortcode: string;
  passkey: string;
  now?: () => number;
  /** Posts the callback to our own callback route (see createSimulatedDarajaClient's notes). */
  deliverCallback: (callbackUrl: string, body: unknown) => Promise<void>;
  /** Keeps the delayed callback alive after the response: pass `ctx.waitUntil`. */
  schedule: (task: Promise<unknown>) => void;
  /**
   * B2C requests seen per PartyB (254708000004's odd/even rule). Pass one map per isolate so
   * a retry sent from a later invocation counts as the second request; default: per instance.
   */
  b2cCounts?: Map<string, number>;
  /** What happened to each B2C request, by OriginatorConversationID (the status query reads it). */
  b2cLedger?: Map<string, SimulatedB2CRecord>;
}

type Outcome = { resultCode: number; answers: boolean };

function outcomeFor(phoneNumber: string): Outcome {
  switch (phoneNumber) {
    case SIMULATOR_PHONES.cancels:
      return { resultCode: 1032, answers: true };
    case SIMULATOR_PHONES.insufficientFunds:
      return { resultCode: 1, answers: true };
    case SIMULATOR_PHONES.neverAnswers:
      return { resultCode: 1037, answers: false };
    default:
      return { resultCode: 0, answers: true };
  }
}

const DIGITS = "0123456789";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const HEX = "0123456789abcdef";

function randomFrom(alphabet: string, length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

/** `NLJ7RT61SV`: ten uppercase characters, starting with a letter like real receipts. */
export function randomReceiptNumber(): string {
  return randomFrom(UPPER, 1) + randomFrom(UPPER + DIGITS, 9);
}

function darajaError(status: number, errorCode: string, errorMessage: string): Response {
  const requestId = `${randomFrom(HEX, 4)}-${randomFrom(HEX, 4)}-${randomFrom(HEX, 4)}-${randomFrom(HEX, 20)}`;
  return Response.json({ requestId, errorCode, errorMessage } satisfies DarajaErrorBody, { status });
}

const badRequest = (field: string) => darajaError(400, "400.002.02", `Bad Request - Invalid ${field}`);

/** Epoch ms of a Daraja Timestamp (`YYYYMMDDHHmmss`, Nairobi), or null when it is not one. */
function parseDarajaTimestamp(value: unknown): number | null {
  if (typeof value !== "string") return null;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const epochMs = Date.UTC(y, mo - 1, d, h, mi, s) - 3 * 60 * 60 * 1000;
  // Round-trip to refuse impossible dates (20261340…) that Date.UTC would roll over.
  return nairobiCompactTimestamp(epochMs) === value ? epochMs : null;
}

const PHONE = /^254[17]\d{8}$/;

function asText(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return null;
}

export function createSimulatorFetch(deps: MpesaSimulatorDeps): typeof fetch {
  const now = deps.now ?? Date.now;
  const log = createLogger({ component: "mpesa-simulator" });

  /** Shortcode, Timestamp and Password, checked as Daraja does for both push and query. */
  function checkCredentials(body: Record<string, unknown>): Response | null {
    if (asText(body.BusinessShortCode) !== deps.shortcode) return badRequest("BusinessShortCode");
    const timestamp = parseDarajaTimestamp(body.Timestamp);
    if (timestamp === null || Math.abs(timestamp - now()) > TIMESTAMP_TOLERANCE_MS)
      return badRequest("Timestamp");
    const expected = base64.encodeText(`${deps.shortcode}${deps.passkey}${body.Timestamp}`);
    // Daraja's answer to a password that does not match (wrong passkey or shortcode).
    if (body.Password !== expected) return darajaError(500, "500.001.1001", "Wrong credentials");
    return null;
  }

  async function readJson(request: Request): Promise<Record<string, unknown> | null> {
    try {
      const parsed: unknown = await request.json();
      return parsed && typeof parsed === "object" && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : null;
    } catch {
      return null;
    }
  }

  function oauth(request: Request, url: URL): Response {
    if (url.searchParams.get("grant_type") !== "client_credentials") {
      return darajaError(400, "400.008.02", "Invalid grant type passed");
    }
    const header = request.headers.get("authorization") ?? "";
    if (!/^Basic [A-Za-z0-9+/]+=*$/.test(header)) {
      return darajaError(400, "400.008.01", "Invalid Authentication passed");
    }
    return Response.json({
      access_token: `sim${randomFrom(UPPER + DIGITS, 25)}`,
      expires_in: "3599",
    } satisfies OAuthAnswer);
  }

  async function deliverLater(push: {
    merchantRequestId: string;
    checkoutRequestId: string;
    callbackUrl: string;
    resultCode: number;
    amount: number;
    receiptNumber: string | null;
    phoneNumber: string;
  }): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, deps.delayMs));
    const body = buildStkCallbackBody({
      merchantRequestId: push.merchantRequestId,
      checkoutRequestId: push.checkoutRequestId,
      resultCode: push.resultCode,
      ...(push.resultCode === 0
        ? {
            amount: push.amount,
            receiptNumber: push.receiptNumber ?? randomReceiptNumber(),
            phoneNumber: push.phoneNumber,
            paidAt: now(),
          }
        : {}),
    });
    try {
      await deps.deliverCallback(push.callbackUrl, body);
    } catch (error) {
      // The callback URL carries the callback token: log the push, never the URL.
      log.warn("simulated M-Pesa callback failed", {
        checkout_request_id: push.checkoutRequestId,
        error_message: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    await deps.db
      .update(mpesaSimulatorPushes)
      .set({ callbackSentAt: now() })
      .where(eq(mpesaSimulatorPushes.checkoutRequestId, push.checkoutRequestId));
  }

  async function stkPush(request: Request): Promise<Response> {
    const body = await readJson(request);
    if (!body) return darajaError(400, "400.002.05", "Invalid Request Payload");
    const invalid = checkCredentials(body);
    if (invalid) return invalid;
    // Field by field, in Daraja's order, each judged by the request schema the client sends by.
    const field = StkPushRequestSchema.shape;
    const transactionType = field.TransactionType.safeParse(body.TransactionType);
    if (!transactionType.success) return badRequest("TransactionType");
    const parsedAmount = field.Amount.safeParse(body.Amount);
    if (!parsedAmount.success) return badRequest("Amount");
    const amount = parsedAmount.data;
    const partyA = asText(body.PartyA);
    if (!partyA || !PHONE.test(partyA)) return badRequest("PartyA");
    const partyB = asText(body.PartyB);
    if (!partyB || !/^\d{5,7}$/.test(partyB)) return badRequest("PartyB");
    if (transactionType.data === "CustomerPayBillOnline" && partyB !== deps.shortcode)
      return badRequest("PartyB");
    const phoneNumber = asText(body.PhoneNumber);
    if (!phoneNumber || !PHONE.test(phoneNumber)) return badRequest("PhoneNumber");
    const callbackUrl = typeof body.CallBackURL === "string" ? body.CallBackURL : "";
    if (!URL.canParse(callbackUrl) || !/^https?:$/.test(new URL(callbackUrl).protocol)) {
      return badRequest("CallBackURL");
    }
    const accountReference = field.AccountReference.safeParse(body.AccountReference);
    if (!accountReference.success) return badRequest("AccountReference");
    if (!field.TransactionDesc.safeParse(body.TransactionDesc).success) return badRequest("TransactionDesc");

    const pushedAt = now();
    const stamp = nairobiCompactTimestamp(pushedAt);
    const outcome = outcomeFor(phoneNumber);
    const push = {
      merchantRequestId: `${randomFrom(DIGITS, 5)}-${randomFrom(DIGITS, 8)}-1`,
      // ws_CO_ + DDMMYYYYHHmmss + digits, like Daraja's ids.
      checkoutRequestId: `ws_CO_${stamp.slice(6, 8)}${stamp.slice(4, 6)}${stamp.slice(0, 4)}${stamp.slice(8)}${randomFrom(DIGITS, 10)}`,
      phoneNumber,
      amount,
      accountReference: accountReference.data,
      callbackUrl,
      resultCode: outcome.resultCode,
      resultDesc: STK_RESULT_DESCRIPTIONS[outcome.resultCode] ?? "",
      receiptNumber: outcome.resultCode === 0 ? randomReceiptNumber() : null,
      answersAt: outcome.answers ? pushedAt + deps.delayMs : null,
      createdAt: pushedAt,
    };
    await deps.db.insert(mpesaSimulatorPushes).values(push);
    if (outcome.answers) deps.schedule(deliverLater(push));

    return Response.json({
      MerchantRequestID: push.merchantRequestId,
      CheckoutRequestID: push.checkoutRequestId,
      ResponseCode: "0",
      ResponseDescription: "Success. Request accepted for processing",
      CustomerMessage: "Success. Request accepted for processing",
    } satisfies StkPushAnswer);
  }

  async function stkQuery(request: Request): Promise<Response> {
    const body = await readJson(request);
    if (!body) return darajaError(400, "400.002.05", "Invalid Request Payload");
    const invalid = checkCredentials(body);
    if (invalid) return invalid;
    const checkoutRequestId = typeof body.CheckoutRequestID === "string" ? body.CheckoutRequestID : "";
    const push = checkoutRequestId
      ? await deps.db
          .select()
          .from(mpesaSimulatorPushes)
          .where(eq(mpesaSimulatorPushes.checkoutRequestId, checkoutRequestId))
          .get()
      : undefined;
    if (!push) return badRequest("CheckoutRequestID");

    const answered =
      push.answersAt === null ? now() >= push.createdAt + SIMULATOR_NO_ANSWER_MS : now() >= push.answersAt;
    if (!answered) return darajaError(500, "500.001.1001", "The transaction is being processed");
    return Response.json({
      ResponseCode: "0",
      ResponseDescription: "The service request has been accepted successsfully",
      MerchantRequestID: push.merchantRequestId,
      CheckoutRequestID: push.checkoutRequestId,
      ResultCode: String(push.resultCode),
      ResultDesc: push.resultDesc,
    } satisfies StkQueryAnswer);
  }

  /** Requests per PartyB, for 254708000004's odd/even behaviour. */
  const b2cCounts = deps.b2cCounts ?? new Map<string, number>();
  const b2cLedger = deps.b2cLedger ?? new Map<string, SimulatedB2CRecord>();

  /** B2C payment request (contract §13.8): Daraja's sync answer, then a Result after delayMs. */
  async function b2cPayment(request: Request): Promise<Response> {
    const parsed = B2CPaymentRequestSchema.safeParse(await readJson(request));
    if (!parsed.success) return darajaError(400, "400.002.02", "Bad Request - Invalid request body");
    const body = parsed.data;
    if (body.PartyB === B2C_TEST_PHONES.rejected) {
      return darajaError(400, "400.002.02", "Bad Request - Invalid PartyB");
    }
    const count = (b2cCounts.get(body.PartyB) ?? 0) + 1;
    b2cCounts.set(body.PartyB, count);
    const day = new Date(now()).toISOString().slice(0, 10).replace(/-/g, "");
    const conversationId = `AG_${day}_${randomFrom("0123456789abcdef", 20)}`;
    const callback = b2cCallbackFor(body, conversationId, count);
    b2cLedger.set(body.OriginatorConversationID, simulatedB2CRecord(body, callback));
    deps.schedule(
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, deps.delayMs));
        try {
          await deps.deliverCallback(callback.url, callback.body);
        } catch (error) {
          log.warn("b2c_callback_failed", { error: error instanceof Error ? error.message : String(error) });
        }
      })(),
    );
    return Response.json({
      ConversationID: conversationId,
      OriginatorConversationID: body.OriginatorConversationID,
      ResponseCode: "0",
      ResponseDescription: "Accept the service request successfully.",
    } satisfies B2CPaymentAnswer);
  }

  /** Transaction Status query: acknowledged now, its Result POSTed to ResultURL after delayMs. */
  async function transactionStatus(request: Request): Promise<Response> {
    const parsed = TransactionStatusRequestSchema.safeParse(await readJson(request));
    if (!parsed.success) return darajaError(400, "400.002.02", "Bad Request - Invalid request body");
    const body = parsed.data;
    const day = new Date(now()).toISOString().slice(0, 10).replace(/-/g, "");
    const query = {
      conversationId: `AG_${day}_${randomFrom("0123456789abcdef", 20)}`,
      originatorConversationId: `${randomFrom("0123456789", 5)}-${randomFrom("0123456789", 8)}-1`,
    };
    const result = transactionStatusResultFor(body, query, b2cLedger.get(body.OriginalConversationID), now());
    deps.schedule(
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, deps.delayMs));
        try {
          await deps.deliverCallback(body.ResultURL, result);
        } catch (error) {
          log.warn("status_callback_failed", {
            error: error instanceof Error ? error.message : String(error),
          });
        }
      })(),
    );
    return Response.json({
      ConversationID: query.conversationId,
      OriginatorConversationID: query.originatorConversationId,
      ResponseCode: "0",
      ResponseDescription: "Accept the service request successfully.",
    } satisfies TransactionStatusAnswer);
  }

  const simulatorFetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    if (route === "GET /oauth/v1/generate") return oauth(request, url);
    if (route === "POST /mpesa/b2c/v3/paymentrequest") {
      if (!/^Bearer \S+$/.test(request.headers.get("authorization") ?? "")) {
        return darajaError(404, "404.001.03", "Invalid Access Token");
      }
      return b2cPayment(request);
    }
    if (route === "POST /mpesa/transactionstatus/v1/query") {
      if (!/^Bearer \S+$/.test(request.headers.get("authorization") ?? "")) {
        return darajaError(404, "404.001.03", "Invalid Access Token");
      }
      return transactionStatus(request);
    }
    if (route !== "POST /mpesa/stkpush/v1/processrequest" && route !== "POST /mpesa/stkpushquery/v1/query") {
      return darajaError(404, "404.001.01", "Resource not found");
    }
    if (!/^Bearer \S+$/.test(request.headers.get("authorization") ?? "")) {
      return darajaError(404, "404.001.03", "Invalid Access Token");
    }
    return route === "POST /mpesa/stkpush/v1/processrequest" ? stkPush(request) : stkQuery(request);
  };
  return simulatorFetch as typeof fetch;
}

/**
 * The Daraja client for local development: the real client over the simulator's `fetch`.
 * `deliverCallback` should hand the body to our own callback route in-process (e.g.
 * `app.fetch(new Request(url, { method: "POST", body: JSON.stringify(body) }), env, ctx)`)
 * and `schedule` should be `ctx.waitUntil`, so the delayed callback outlives the response.
 */
export function createSimulatedDarajaClient(
  config: Config,
  deps: Omit<MpesaSimulatorDeps, "delayMs" | "shortcode" | "passkey"> & { timeoutMs?: number },
): DarajaClient {
  if (config.isProduction || !config.mpesa.useSimulator) {
    throw new DarajaError("misconfigured", "The M-Pesa simulator is for local development only");
  }
  const shortcode = config.mpesa.shortcode || "174379";
  const passkey = config.mpesa.passkey || SIMULATOR_FALLBACK_PASSKEY;
  const { timeoutMs, ...simulatorDeps } = deps;
  return createDarajaClient({
    baseUrl: SIMULATOR_BASE_URL,
    shortcode,
    passkey,
    consumerKey: "simulator",
    consumerSecret: "simulator",
    fetch: createSimulatorFetch({
      ...simulatorDeps,
      delayMs: config.mpesa.simulatorDelayMs,
      shortcode,
      passkey,
    }),
    ...(deps.now ? { now: deps.now } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
}

/** The B2C client for local development: the real B2C client over the simulator's `fetch`. */
export function createSimulatedB2CClient(
  config: Config,
  deps: Omit<MpesaSimulatorDeps, "delayMs" | "shortcode" | "passkey"> & { timeoutMs?: number },
): B2CClient {
  if (config.isProduction || !config.mpesa.useSimulator) {
    throw new DarajaError("misconfigured", "The M-Pesa simulator is for local development only");
  }
  const shortcode = config.mpesa.shortcode || "174379";
  const passkey = config.mpesa.passkey || SIMULATOR_FALLBACK_PASSKEY;
  const { timeoutMs, ...simulatorDeps } = deps;
  return createB2CClient({
    baseUrl: SIMULATOR_BASE_URL,
    consumerKey: "simulator-b2c",
    consumerSecret: "simulator",
    // The simulator does not check the credential (§13.8); dev needs no secrets.
    shortcode: config.mpesa.b2c.shortcode || "600996",
    initiatorName: config.mpesa.b2c.initiatorName || "testapi",
    securityCredential: config.mpesa.b2c.securityCredential || "simulator",
    resultUrl: config.mpesa.b2c.resultUrl,
    queueTimeoutUrl: config.mpesa.b2c.queueTimeoutUrl,
    statusResultUrl: config.mpesa.b2c.statusResultUrl,
    statusTimeoutUrl: config.mpesa.b2c.statusTimeoutUrl,
    fetch: createSimulatorFetch({
      ...simulatorDeps,
      delayMs: config.mpesa.simulatorDelayMs,
      shortcode,
      passkey,
    }),
    ...(deps.now ? { now: deps.now } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  });
}
