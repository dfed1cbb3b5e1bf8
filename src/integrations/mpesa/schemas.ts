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
