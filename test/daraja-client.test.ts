import { beforeEach, describe, expect, it } from "vitest";
import {
  clearDarajaTokenCache,
  createDarajaClient,
  type DarajaClientOptions,
} from "../src/integrations/mpesa/daraja";
import { DarajaError, type StkPushRequest } from "../src/integrations/mpesa/types";
import { networkFakes } from "./fakes/network";

const daraja = networkFakes.daraja;

/** 2026-11-27 11:30:05 UTC = 14:30:05 in Nairobi. */
const PINNED_NOW = Date.UTC(2026, 10, 27, 11, 30, 5);

function client(overrides: Partial<DarajaClientOptions> = {}) {
  return createDarajaClient({
    baseUrl: "https://sandbox.safaricom.co.ke",
    shortcode: daraja.shortcode,
    passkey: daraja.passkey,
    consumerKey: daraja.consumerKey,
    consumerSecret: daraja.consumerSecret,
    ...overrides,
  });
}

const PUSH: StkPushRequest = {
  phoneNumber: "254712345678",
  amount: 1500,
  accountReference: "TS-8F3K2Q",
  transactionDesc: "Tickets",
  callbackUrl: "https://api.ticketsafi.test/api/pay/callback/test-callback-token-0123456789abcdef/",
};

async function caught(promise: Promise<unknown>): Promise<DarajaError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DarajaError);
    return error as DarajaError;
  }
  throw new Error("expected a DarajaError");
}

/** No error message may carry a secret: consumer secret, passkey, the password or a token. */
function expectNoSecrets(error: DarajaError) {
  for (const secret of [daraja.consumerSecret, daraja.passkey, "MTc0Mzc5dGVzdC1wYXNza2V5"]) {
    expect(error.message).not.toContain(secret);
  }
}

beforeEach(() => clearDarajaTokenCache());

describe("Daraja client: STK push", () => {
  it("gets a token with Basic auth and sends the push body exactly, with a Nairobi-time Timestamp", async () => {
    const accepted = await client({ now: () => PINNED_NOW }).stkPush(PUSH);

    const [oauth, push] = daraja.requests;
    expect(oauth).toMatchObject({ method: "GET", path: "/oauth/v1/generate?grant_type=client_credentials" });
    expect(oauth?.headers.authorization).toBe(
      "Basic dGVzdC1jb25zdW1lci1rZXk6dGVzdC1jb25zdW1lci1zZWNyZXQ=", // base64("test-consumer-key:test-consumer-secret")
    );
    expect(push).toMatchObject({ method: "POST", path: "/mpesa/stkpush/v1/processrequest" });
    expect(push?.headers.authorization).toMatch(/^Bearer fake\w+$/);
    expect(push?.headers["content-type"]).toBe("application/json");
    expect(push?.body).toEqual({
      BusinessShortCode: "174379",
      // base64("174379" + "test-passkey" + "20261127143005")
      Password: "MTc0Mzc5dGVzdC1wYXNza2V5MjAyNjExMjcxNDMwMDU=",
      // 14:30:05 Nairobi, not 11:30:05 UTC.
      Timestamp: "20261127143005",
      TransactionType: "CustomerPayBillOnline",
      Amount: 1500,
      PartyA: "254712345678",
      PartyB: "174379",
      PhoneNumber: "254712345678",
      CallBackURL: PUSH.callbackUrl,
      AccountReference: "TS-8F3K2Q",
      TransactionDesc: "Tickets",
    });
    expect(accepted).toEqual({
      merchantRequestId: daraja.pushes[0]?.merchantRequestId,
      checkoutRequestId: daraja.pushes[0]?.checkoutRequestId,
      customerMessage: "Success. Request accepted for processing",
    });
  });

  it("cuts AccountReference to 12 and TransactionDesc to 13 characters, and sends a till's type", async () => {
    await client({ transactionType: "CustomerBuyGoodsOnline" }).stkPush({
      ...PUSH,
      accountReference: "TS-ABCDEFGHIJKLMNOP",
      transactionDesc: "Tickets for Nairobi Jazz Night",
    });
    expect(daraja.pushRequests[0]?.body).toMatchObject({
      TransactionType: "CustomerBuyGoodsOnline",
      AccountReference: "TS-ABCDEFGHI",
      TransactionDesc: "Tickets for N",
    });
  });

  it("reuses one OAuth token across calls until a minute before expires_in", async () => {
    let now = PINNED_NOW;
    const pinned = client({ now: () => now });
    await pinned.stkPush(PUSH);
    await pinned.stkPush(PUSH);
    // Another client for the same app shares the isolate's cache.
    await client({ now: () => now }).stkQuery(daraja.pushes[0]?.checkoutRequestId ?? "");
    expect(daraja.oauthRequests).toHaveLength(1);

    now += (3599 - 60) * 1000 - 1;
    await pinned.stkPush(PUSH);
    expect(daraja.oauthRequests).toHaveLength(1);

    now += 2;
    await pinned.stkPush(PUSH);
    expect(daraja.oauthRequests).toHaveLength(2);
    const [first, , , last] = daraja.pushRequests;
    expect(last?.headers.authorization).not.toBe(first?.headers.authorization);
  });

  it("drops a token Daraja no longer accepts (404.001.03) and retries once with a new one", async () => {
    const c = client();
    await c.stkPush(PUSH);
    daraja.revokeTokens();

    const accepted = await c.stkPush(PUSH);
    expect(accepted.checkoutRequestId).toBe(daraja.pushes[1]?.checkoutRequestId);
    expect(daraja.requests.map((r) => r.path.split("?")[0])).toEqual([
      "/oauth/v1/generate",
      "/mpesa/stkpush/v1/processrequest",
      "/mpesa/stkpush/v1/processrequest",
      "/oauth/v1/generate",
      "/mpesa/stkpush/v1/processrequest",
    ]);
    expect(daraja.pushes).toHaveLength(2);
  });

  it("gives up with an auth error when even a fresh token is refused", async () => {
    const invalidToken = {
      requestId: "1459-15094918-1",
      errorCode: "404.001.03",
      errorMessage: "Invalid Access Token",
    };
    daraja.failNextPush(404, invalidToken);
    daraja.failNextPush(404, invalidToken);
    const error = await caught(client().stkPush(PUSH));
    expect(error).toMatchObject({ kind: "auth", status: 404, errorCode: "404.001.03" });
    expect(daraja.oauthRequests).toHaveLength(2);
    expect(daraja.pushRequests).toHaveLength(2);
    expect(daraja.pushes).toHaveLength(0);
  });

  it("turns a refused consumer key and secret into an auth error without leaking the secret", async () => {
    const error = await caught(client({ consumerSecret: "not-the-secret" }).stkPush(PUSH));
    expect(error).toMatchObject({ kind: "auth", status: 400, errorCode: "400.008.01" });
    expect(error.message).not.toContain("not-the-secret");
    expect(daraja.pushRequests).toHaveLength(0);
  });

  it("parses a Daraja 400 error body into a rejected error with its errorCode", async () => {
    daraja.failNextPush(400, {
      requestId: "29115-34620561-1",
      errorCode: "400.002.02",
      errorMessage: "Bad Request - Invalid PhoneNumber",
    });
    const error = await caught(client().stkPush(PUSH));
    expect(error).toMatchObject({ kind: "rejected", status: 400, errorCode: "400.002.02" });
    expect(error.message).toContain("Bad Request - Invalid PhoneNumber");
    expectNoSecrets(error);
  });

  it("treats a 500 without a Daraja error code as unavailable", async () => {
    daraja.failNextPush(500, { fault: "upstream" });
    const error = await caught(client().stkPush(PUSH));
    expect(error).toMatchObject({ kind: "unavailable", status: 500, errorCode: null });
  });

  it("treats a 5xx carrying a Daraja error code (a push already in progress) as rejected with that code", async () => {
    daraja.failNextPush(500, {
      requestId: "2ba8-4165-beca-292db11f9ef8358609",
      errorCode: "500.001.1001",
      errorMessage:
        "Unable to lock subscriber, a transaction is already in process for the current subscriber",
    });
    const error = await caught(client().stkPush(PUSH));
    expect(error).toMatchObject({ kind: "rejected", status: 500, errorCode: "500.001.1001" });
  });

  it("rejects an answer whose ResponseCode is not 0", async () => {
    daraja.failNextPush(200, { ResponseCode: "1", ResponseDescription: "Rejected by the system" });
    const error = await caught(client().stkPush(PUSH));
    expect(error).toMatchObject({ kind: "rejected", status: 200, errorCode: "1" });
  });

  it("times out on a push that never answers, within the configured timeout", async () => {
    daraja.hangNextPush();
    const started = Date.now();
    const error = await caught(client({ timeoutMs: 150 }).stkPush(PUSH));
    expect(error.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(3000);
    expect(daraja.pushRequests).toHaveLength(1);
  });

  it("reports a network failure as unavailable", async () => {
    const error = await caught(
      client({
        fetch: async () => {
          throw new TypeError("Network connection lost.");
        },
      }).stkPush(PUSH),
    );
    expect(error).toMatchObject({ kind: "unavailable", status: null });
    expectNoSecrets(error);
  });

  it("refuses to run without shortcode, passkey or consumer key, before any request", async () => {
    for (const missing of ["shortcode", "passkey", "consumerKey", "consumerSecret"] as const) {
      const error = await caught(client({ [missing]: "" }).stkPush(PUSH));
      expect(error.kind).toBe("misconfigured");
      expectNoSecrets(error);
      const queryError = await caught(client({ [missing]: "" }).stkQuery("ws_CO_1"));
      expect(queryError.kind).toBe("misconfigured");
    }
    expect(daraja.requests).toHaveLength(0);
  });

  it("refuses an amount that is not a whole number of shillings without calling Daraja", async () => {
    for (const amount of [0, 1499.5, -10]) {
      const error = await caught(client().stkPush({ ...PUSH, amount }));
      expect(error.kind).toBe("rejected");
    }
    expect(daraja.requests).toHaveLength(0);
  });
});

describe("Daraja client: STK query", () => {
  it("sends exactly shortcode, password, timestamp and the id, and reads the string ResultCode", async () => {
    const c = client({ now: () => PINNED_NOW });
    const { checkoutRequestId } = await c.stkPush(PUSH);
    daraja.queryAnswers.set(checkoutRequestId, { resultCode: 1032 });

    expect(await c.stkQuery(checkoutRequestId)).toEqual({
      state: "final",
      resultCode: 1032,
      resultDesc: "Request cancelled by user",
    });
    expect(daraja.queryRequests[0]?.body).toEqual({
      BusinessShortCode: "174379",
      Password: "MTc0Mzc5dGVzdC1wYXNza2V5MjAyNjExMjcxNDMwMDU=",
      Timestamp: "20261127143005",
      CheckoutRequestID: checkoutRequestId,
    });

    daraja.queryAnswers.set(checkoutRequestId, { resultCode: 0 });
    expect(await c.stkQuery(checkoutRequestId)).toEqual({
      state: "final",
      resultCode: 0,
      resultDesc: "The service request is processed successfully.",
    });
  });

  it("answers pending, not failed, while the transaction is being processed", async () => {
    const c = client();
    const { checkoutRequestId } = await c.stkPush(PUSH);
    expect(await c.stkQuery(checkoutRequestId)).toEqual({ state: "pending" });
  });

  it("does not mistake 'Wrong credentials' (also 500.001.1001) for pending", async () => {
    const { checkoutRequestId } = await client().stkPush(PUSH);
    const error = await caught(client({ passkey: "wrong-passkey" }).stkQuery(checkoutRequestId));
    expect(error).toMatchObject({ kind: "rejected", status: 500, errorCode: "500.001.1001" });
    expect(error.message).toContain("Wrong credentials");
    expect(error.message).not.toContain("wrong-passkey");
  });

  it("rejects an unknown CheckoutRequestID with Daraja's error code", async () => {
    const error = await caught(client().stkQuery("ws_CO_000000000000000"));
    expect(error).toMatchObject({ kind: "rejected", status: 400, errorCode: "400.002.02" });
  });

  it("reports a 503 as unavailable and a hung query as a timeout", async () => {
    daraja.failNextQuery(503, "Service Unavailable");
    expect(await caught(client().stkQuery("ws_CO_1"))).toMatchObject({ kind: "unavailable", status: 503 });

    daraja.hangNextQuery();
    expect(await caught(client({ timeoutMs: 100 }).stkQuery("ws_CO_1"))).toMatchObject({ kind: "timeout" });
  });
});
