/**
 * Daraja's wire bodies (docs/upstreams.md), once, as zod schemas: the client builds and reads
 * them, the simulator and the test fake answer with them, and the callback route parses and
 * documents Daraja's callback with them. Every TypeScript type of a body is derived from its
 * schema (`z.infer`), never written by hand beside it.
 *
 * Two kinds of schema live here. What Daraja POSTs to us (the callback) is parsed strictly:
 * what we act on must be exactly what Daraja sends. What Daraja answers our requests with is
 * read leniently (a field of the wrong type reads as absent) and judged by the client, which
 * turns a missing id or code into a `DarajaError` of the right kind.
 */
import { z } from "zod";

// ---------------------------------------------------------------------------------------
// What we send
// ---------------------------------------------------------------------------------------

/** Shortcode, Password and Timestamp: sent with both the push and the query. */
const CredentialFields = {
  BusinessShortCode: z.string(),
  /** base64(shortcode + passkey + Timestamp). */
  Password: z.string(),
  /** `YYYYMMDDHHmmss` in Nairobi time. */
  Timestamp: z.string().regex(/^\d{14}$/),
};

/** `POST /mpesa/stkpush/v1/processrequest`. */
export const StkPushRequestSchema = z.object({
  ...CredentialFields,
  TransactionType: z.enum(["CustomerPayBillOnline", "CustomerBuyGoodsOnline"]),
  /** Whole shillings, at least 1. */
  Amount: z.number().int().min(1),
  PartyA: z.string(),
  PartyB: z.string(),
  PhoneNumber: z.string(),
  CallBackURL: z.string(),
  AccountReference: z.string().min(1).max(12),
  TransactionDesc: z.string().min(1).max(13),
});
export type StkPushRequestBody = z.infer<typeof StkPushRequestSchema>;

/** `POST /mpesa/stkpushquery/v1/query`. */
const StkQueryRequestSchema = z.object({
  ...CredentialFields,
  CheckoutRequestID: z.string(),
});
export type StkQueryRequestBody = z.infer<typeof StkQueryRequestSchema>;

// ---------------------------------------------------------------------------------------
// What Daraja answers
// ---------------------------------------------------------------------------------------

/**
 * A text field of an answer: a string, or a number where Daraja sometimes sends one
 * (`"0"` / `0`). Anything else reads as absent.
 */
const AnswerText = z
  .union([z.string(), z.number().transform(String)])
  .optional()
  .catch(undefined);

/** `GET /oauth/v1/generate?grant_type=client_credentials`. `expires_in` is a string ("3599"). */
export const OAuthAnswerSchema = z.object({
  access_token: AnswerText,
  expires_in: AnswerText,
});
export type OAuthAnswer = z.input<typeof OAuthAnswerSchema>;

/** `{"requestId","errorCode","errorMessage"}`: Daraja's error body, on any endpoint. */
export const DarajaErrorBodySchema = z.object({
  requestId: AnswerText,
  errorCode: AnswerText,
  errorMessage: AnswerText,
});
export type DarajaErrorBody = z.input<typeof DarajaErrorBodySchema>;

/** The STK push was accepted for processing (ResponseCode "0"), or refused with another code. */
export const StkPushAnswerSchema = z.object({
  MerchantRequestID: AnswerText,
  CheckoutRequestID: AnswerText,
  ResponseCode: AnswerText,
  ResponseDescription: AnswerText,
  CustomerMessage: AnswerText,
});
export type StkPushAnswer = z.input<typeof StkPushAnswerSchema>;

/** What the query says about a push. ResultCode is a string here ("1032"), unlike in the callback. */
export const StkQueryAnswerSchema = z.object({
  ResponseCode: AnswerText,
  ResponseDescription: AnswerText,
  MerchantRequestID: AnswerText,
  CheckoutRequestID: AnswerText,
  ResultCode: AnswerText,
  ResultDesc: AnswerText,
});
export type StkQueryAnswer = z.input<typeof StkQueryAnswerSchema>;

// ---------------------------------------------------------------------------------------
// What Daraja POSTs to us
// ---------------------------------------------------------------------------------------

/** One `CallbackMetadata.Item`: some carry no `Value` at all (`Balance`). */
const StkCallbackItemSchema = z.object({
  Name: z.string(),
  Value: z.union([z.string(), z.number()]).optional(),
});
export type StkCallbackItem = z.infer<typeof StkCallbackItemSchema>;

/** Daraja's callback on the wire (`POST {CallBackURL}`), parsed strictly. */
export const StkCallbackBodySchema = z.object({
  Body: z.object({
    stkCallback: z.object({
      MerchantRequestID: z.string().min(1).max(100),
      CheckoutRequestID: z.string().min(1).max(100),
      ResultCode: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]),
      ResultDesc: z.string().max(500),
      /** Present only when ResultCode is 0. */
      CallbackMetadata: z.object({ Item: z.array(StkCallbackItemSchema).max(20) }).optional(),
    }),
  }),
});
export type StkCallbackBody = z.infer<typeof StkCallbackBodySchema>;

/** The callback as settlement reads it: the metadata items by name, numbers where they are numbers. */
function readStkCallback(body: StkCallbackBody) {
  const cb = body.Body.stkCallback;
  const items = new Map((cb.CallbackMetadata?.Item ?? []).map((item) => [item.Name, item.Value]));
  const text = (name: string) => {
    const value = items.get(name);
    return value === undefined ? null : String(value);
  };
  const amount = items.get("Amount");
  return {
    merchantRequestId: cb.MerchantRequestID,
    checkoutRequestId: cb.CheckoutRequestID,
    resultCode: cb.ResultCode,
    resultDesc: cb.ResultDesc,
    /** Present only when resultCode is 0. */
    metadata: cb.CallbackMetadata
      ? {
          amount: amount === undefined || Number.isNaN(Number(amount)) ? null : Number(amount),
          mpesaReceiptNumber: text("MpesaReceiptNumber"),
          transactionDate: text("TransactionDate"),
          phoneNumber: text("PhoneNumber"),
        }
      : null,
  };
}

/** Parses Daraja's callback body straight into what settlement reads. */
export const StkCallbackSchema = StkCallbackBodySchema.transform(readStkCallback);
export type StkCallback = z.infer<typeof StkCallbackSchema>;

// ---------------------------------------------------------------------------------------
// B2C (api-contract-v3 §13.9): money out, for refunds and payouts
// ---------------------------------------------------------------------------------------

/** `POST /mpesa/b2c/v3/paymentrequest`. */
export const B2CPaymentRequestSchema = z.strictObject({
  /** Ours, a UUID per attempt: the idempotency / matching key echoed in every callback. */
  OriginatorConversationID: z.string().min(1).max(100),
  InitiatorName: z.string().min(1),
  /** base64(RSA PKCS#1 v1.5(initiator password)) with Safaricom's cert, computed offline. */
  SecurityCredential: z.string().min(1),
  CommandID: z.enum(["BusinessPayment", "SalaryPayment", "PromotionPayment"]),
  Amount: z.number().int().min(1),
  PartyA: z.string().min(1),
  PartyB: z.string().regex(/^254[17]\d{8}$/),
  Remarks: z.string().min(1).max(100),
  QueueTimeOutURL: z.string().url(),
  ResultURL: z.string().url(),
  Occasion: z.string().max(100).optional(),
});
export type B2CPaymentRequestBody = z.infer<typeof B2CPaymentRequestSchema>;

/** The synchronous answer: accepted for processing, not paid. Read leniently like STK's. */
export const B2CPaymentAnswerSchema = z.object({
  ConversationID: z.string().optional().catch(undefined),
  OriginatorConversationID: z.string().optional().catch(undefined),
  ResponseCode: z.string().optional().catch(undefined),
  ResponseDescription: z.string().optional().catch(undefined),
});
export type B2CPaymentAnswer = z.input<typeof B2CPaymentAnswerSchema>;

const NumberOrString = z.union([z.number(), z.string()]);
const KeyValue = z.object({ Key: z.string(), Value: z.union([z.number(), z.string()]).optional() });

/** Safaricom's samples wrap the list in `ResultParameter`; one SDK models a bare list: accept both. */
const ResultParametersSchema = z.union([
  z.object({ ResultParameter: z.union([z.array(KeyValue), KeyValue]) }),
  z.array(KeyValue),
]);
/** `ReferenceItem` is an object or an array. */
const ReferenceDataSchema = z.object({ ReferenceItem: z.union([KeyValue, z.array(KeyValue)]).optional() });

/** The Result envelope fields common to a Result (success or failure) and a queue timeout. */
const B2CResultCore = {
  ResultType: NumberOrString.optional(),
  /** Number or string; 0 = paid. */
  ResultCode: NumberOrString,
  ResultDesc: z.string(),
  OriginatorConversationID: z.string().min(1),
  ConversationID: z.string().optional(),
  ReferenceData: ReferenceDataSchema.optional(),
};

/** POSTed to ResultURL. Success carries `ResultParameters`; a failure does not. */
export const B2CResultBodySchema = z.object({
  Result: z.object({
    ...B2CResultCore,
    TransactionID: z.string().optional(),
    ResultParameters: ResultParametersSchema.optional(),
  }),
});
export type B2CResultBody = z.infer<typeof B2CResultBodySchema>;

/** POSTed to QueueTimeOutURL: the same envelope without TransactionID or parameters. Outcome unknown. */
export const B2CTimeoutBodySchema = z.object({
  Result: z.object({ ...B2CResultCore, TransactionID: z.string().optional() }),
});
export type B2CTimeoutBody = z.infer<typeof B2CTimeoutBodySchema>;

/** A Result reduced to what the refund/payout logic acts on. Never includes ReceiverPartyPublicName (personal data). */
export interface B2CResult {
  originatorConversationId: string;
  conversationId: string | null;
  resultCode: number;
  resultDesc: string;
  /** TransactionID, else the TransactionReceipt parameter; null on failure. */
  receipt: string | null;
  /** TransactionAmount, when given. */
  amount: number | null;
}

function parametersOf(parameters: z.infer<typeof ResultParametersSchema> | undefined) {
  if (!parameters) return [];
  if (Array.isArray(parameters)) return parameters;
  const inner = parameters.ResultParameter;
  return Array.isArray(inner) ? inner : [inner];
}

export function readB2CResult(body: B2CResultBody): B2CResult {
  const result = body.Result;
  const parameters = parametersOf(result.ResultParameters);
  const value = (key: string) => parameters.find((item) => item.Key === key)?.Value;
  const code = Number(result.ResultCode);
  const amount = Number(value("TransactionAmount"));
  const receiptParam = value("TransactionReceipt");
  const ok = code === 0;
  return {
    originatorConversationId: result.OriginatorConversationID,
    conversationId: result.ConversationID ?? null,
    // A code that is not a number is not success.
    resultCode: Number.isInteger(code) ? code : -1,
    resultDesc: result.ResultDesc.slice(0, 200),
    receipt: ok ? (result.TransactionID ?? (receiptParam !== undefined ? String(receiptParam) : null)) : null,
    amount: Number.isFinite(amount) && value("TransactionAmount") !== undefined ? amount : null,
  };
}

// ---------------------------------------------------------------------------------------
// Transaction Status query (reconciliation of B2C attempts with no Result; see README)
// ---------------------------------------------------------------------------------------

/**
 * `POST /mpesa/transactionstatus/v1/query`. Asked by our OriginatorConversationID
 * (`OriginalConversationID`), since an attempt with no Result has no receipt to ask by.
 * `IdentifierType` 4 = an organisation shortcode (PartyA, the B2C shortcode).
 */
export const TransactionStatusRequestSchema = z.strictObject({
  Initiator: z.string().min(1),
  SecurityCredential: z.string().min(1),
  CommandID: z.literal("TransactionStatusQuery"),
  TransactionID: z.string().max(20).optional(),
  OriginalConversationID: z.string().min(1).max(100),
  PartyA: z.string().min(1),
  IdentifierType: z.literal("4"),
  ResultURL: z.string().url(),
  QueueTimeOutURL: z.string().url(),
  Remarks: z.string().min(1).max(100),
  Occasion: z.string().max(100).optional(),
});
export type TransactionStatusRequestBody = z.infer<typeof TransactionStatusRequestSchema>;

/** The synchronous acknowledgement: the query is queued; its Result comes to ResultURL. */
export const TransactionStatusAnswerSchema = B2CPaymentAnswerSchema;
export type TransactionStatusAnswer = B2CPaymentAnswer;

/**
 * The query's Result, POSTed to its ResultURL: the B2C Result envelope, whose
 * `ConversationID` / `OriginatorConversationID` are the QUERY's (not the payment's), and
 * whose parameters describe the payment asked about (`ReceiptNo`, `TransactionStatus`,
 * `Amount`, `FinalisedTime`, …). `ResultCode` ≠ 0: the query could not answer (e.g. no such
 * transaction).
 */
export const TransactionStatusResultBodySchema = z.object({
  Result: z.object({
    ...B2CResultCore,
    ConversationID: z.string().min(1),
    TransactionID: z.string().optional(),
    ResultParameters: ResultParametersSchema.optional(),
  }),
});
export type TransactionStatusResultBody = z.infer<typeof TransactionStatusResultBodySchema>;

/** What a status Result says about the payment asked about. */
export interface TransactionStatusResult {
  /** The query's ConversationID (what we stored when Daraja accepted the query). */
  queryConversationId: string;
  /** As sent, as a string ("0" = the query answered; codes like "R000001" are not numbers). */
  resultCode: string;
  resultDesc: string;
  /** `TransactionStatus` parameter: "Completed" means the money moved. */
  transactionStatus: string | null;
  /** `ReceiptNo` parameter, else TransactionID; only when completed. */
  receipt: string | null;
  /** `Amount` parameter. */
  amount: number | null;
}

export function readTransactionStatusResult(body: TransactionStatusResultBody): TransactionStatusResult {
  const result = body.Result;
  const parameters = parametersOf(result.ResultParameters);
  const value = (key: string) => parameters.find((item) => item.Key === key)?.Value;
  const code = String(result.ResultCode).trim().slice(0, 40);
  const status = value("TransactionStatus");
  const transactionStatus = status === undefined ? null : String(status).slice(0, 40);
  const completed = code === "0" && transactionStatus?.toLowerCase() === "completed";
  const receiptNo = value("ReceiptNo");
  const amount = Number(value("Amount"));
  return {
    queryConversationId: result.ConversationID,
    resultCode: code,
    resultDesc: result.ResultDesc.slice(0, 200),
    transactionStatus,
    receipt: completed
      ? receiptNo !== undefined
        ? String(receiptNo)
        : (result.TransactionID ?? null)
      : null,
    amount: value("Amount") !== undefined && Number.isFinite(amount) ? amount : null,
  };
}
