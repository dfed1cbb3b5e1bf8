import { beforeEach, describe, expect, it } from "vitest";
import {
  type B2CClientOptions,
  B2COutcomeUnknownError,
  B2CRejectedError,
  createB2CClient,
} from "../src/integrations/mpesa/b2c";
import { clearDarajaTokenCache, createDarajaClient } from "../src/integrations/mpesa/daraja";
import {
  B2CPaymentRequestSchema,
  B2CResultBodySchema,
  readB2CResult,
} from "../src/integrations/mpesa/schemas";
import { networkFakes } from "./fakes/network";

const daraja = networkFakes.daraja;
const TOKEN = "test-result-token-0123456789abcdef0123";

function client(overrides: Partial<B2CClientOptions> = {}) {
  return createB2CClient({
    baseUrl: "https://sandbox.safaricom.co.ke",
    consumerKey: daraja.consumerKey,
    consumerSecret: daraja.consumerSecret,
    shortcode: "600996",
    initiatorName: "testapi",
    securityCredential: "c2VjcmV0LWNpcGhlcnRleHQ=",
    resultUrl: `https://api.ticketsafi.test/api/pay/b2c/result/${TOKEN}/`,
    queueTimeoutUrl: `https://api.ticketsafi.test/api/pay/b2c/timeout/${TOKEN}/`,
    ...overrides,
  });
}

const PAY = {
  originatorConversationId: "5f0c7a52-3c1e-4d59-9a51-2c8f0e6b1d4a",
  amount: 1500,
  phoneNumber: "254712345678",
  remarks: "Refund TS-8F3K2Q",
  occasion: "TS-8F3K2Q",
};

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a failure");
}

beforeEach(() => {
  clearDarajaTokenCache();
});

describe("Daraja B2C client", () => {
  it("sends the §13.9 payment request and returns the ConversationID", async () => {
    const accepted = await client().pay(PAY);
    expect(accepted.conversationId).toMatch(/^AG_\d{8}_[0-9a-f]{20}$/);
    expect(accepted.originatorConversationId).toBe(PAY.originatorConversationId);
    const [sent] = daraja.b2cRequests;
    const body = B2CPaymentRequestSchema.parse(sent?.body);
    expect(body).toEqual({
      OriginatorConversationID: PAY.originatorConversationId,
      InitiatorName: "testapi",
      SecurityCredential: "c2VjcmV0LWNpcGhlcnRleHQ=",
      CommandID: "BusinessPayment",
      Amount: 1500,
      PartyA: "600996",
      PartyB: "254712345678",
      Remarks: "Refund TS-8F3K2Q",
      QueueTimeOutURL: `https://api.ticketsafi.test/api/pay/b2c/timeout/${TOKEN}/`,
      ResultURL: `https://api.ticketsafi.test/api/pay/b2c/result/${TOKEN}/`,
      Occasion: "TS-8F3K2Q",
    });
  });

  it("reuses the STK client's OAuth token on the same app keys", async () => {
    await createDarajaClient({
      baseUrl: "https://sandbox.safaricom.co.ke",
      shortcode: daraja.shortcode,
      passkey: daraja.passkey,
      consumerKey: daraja.consumerKey,
      consumerSecret: daraja.consumerSecret,
    }).stkPush({
      phoneNumber: "254712345678",
      amount: 10,
      accountReference: "TS-1",
      transactionDesc: "Tickets",
      callbackUrl: "https://api.ticketsafi.test/cb/",
    });
    await client().pay(PAY);
    await client().pay({ ...PAY, originatorConversationId: crypto.randomUUID() });
    expect(daraja.oauthRequests).toHaveLength(1);
    expect(daraja.b2cRequests).toHaveLength(2);
  });

  it("uses its own credentials (and its own token) when B2C keys are set", async () => {
    await client().pay(PAY);
    await client({ consumerKey: daraja.b2cConsumerKey, consumerSecret: daraja.b2cConsumerSecret }).pay(PAY);
    expect(daraja.oauthRequests).toHaveLength(2);
    expect(daraja.oauthRequests[1]?.headers.authorization).toBe(
      `Basic ${btoa(`${daraja.b2cConsumerKey}:${daraja.b2cConsumerSecret}`)}`,
    );
  });

  it("a 400 Daraja error body is a definite rejection (money did not move)", async () => {
    daraja.failNextB2C(400, {
      requestId: "1",
      errorCode: "400.002.02",
      errorMessage: "Bad Request - Invalid PartyB",
    });
    const error = await caught(client().pay(PAY));
    expect(error).toBeInstanceOf(B2CRejectedError);
    expect((error as B2CRejectedError).code).toBe("400.002.02");
    expect((error as B2CRejectedError).transient).toBe(false);
  });

  it("a 5xx with an errorCode is a transient rejection", async () => {
    daraja.failNextB2C(503);
    const error = await caught(client().pay(PAY));
    expect(error).toBeInstanceOf(B2CRejectedError);
    expect((error as B2CRejectedError).transient).toBe(true);
  });

  it("a 500 without a Daraja body is an unknown outcome", async () => {
    daraja.failNextB2C(500, "<html>gateway</html>");
    expect(await caught(client().pay(PAY))).toBeInstanceOf(B2COutcomeUnknownError);
  });

  it("no answer within the timeout is an unknown outcome", async () => {
    daraja.hangNextB2C();
    expect(await caught(client({ timeoutMs: 200 }).pay(PAY))).toBeInstanceOf(B2COutcomeUnknownError);
    expect(daraja.b2cRequests).toHaveLength(1);
  });

  it("an invalid token is replaced once and the request resent", async () => {
    await client().pay(PAY);
    daraja.revokeTokens();
    await client().pay(PAY);
    expect(daraja.oauthRequests).toHaveLength(2);
    expect(daraja.b2cRequests).toHaveLength(3);
  });
});

describe("B2C Result schema", () => {
  it("reads Safaricom's sample success and failure", () => {
    const ok = readB2CResult(
      B2CResultBodySchema.parse({
        Result: {
          ResultType: 0,
          ResultCode: 0,
          ResultDesc: "The service request is processed successfully.",
          OriginatorConversationID: PAY.originatorConversationId,
          ConversationID: "AG_20261127_0000501ecb2a67d8c4b3",
          TransactionID: "NLJ41HAY6Q",
          ResultParameters: {
            ResultParameter: [
              { Key: "TransactionAmount", Value: 1500 },
              { Key: "TransactionReceipt", Value: "NLJ41HAY6Q" },
              { Key: "ReceiverPartyPublicName", Value: "254712345678 - Wanjiku Kamau" },
            ],
          },
          ReferenceData: { ReferenceItem: { Key: "QueueTimeoutURL", Value: "https://x/" } },
        },
      }),
    );
    expect(ok).toEqual({
      originatorConversationId: PAY.originatorConversationId,
      conversationId: "AG_20261127_0000501ecb2a67d8c4b3",
      resultCode: 0,
      resultDesc: "The service request is processed successfully.",
      receipt: "NLJ41HAY6Q",
      amount: 1500,
    });
    const failed = readB2CResult(
      B2CResultBodySchema.parse({
        Result: {
          ResultType: 0,
          ResultCode: "2001",
          ResultDesc: "The initiator information is invalid.",
          OriginatorConversationID: "x",
          ConversationID: "y",
          TransactionID: "NLJ0000000",
        },
      }),
    );
    expect(failed.resultCode).toBe(2001);
    expect(failed.receipt).toBeNull();
    expect(B2CResultBodySchema.safeParse({ Result: { ResultCode: 0 } }).success).toBe(false);
  });
});
