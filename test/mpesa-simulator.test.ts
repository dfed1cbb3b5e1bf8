import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { createDb } from "../src/db/client";
import { createDarajaClient } from "../src/integrations/mpesa/daraja";
import {
  buildStkCallbackBody,
  createSimulatedDarajaClient,
  createSimulatorFetch,
  SIMULATOR_BASE_URL,
  SIMULATOR_PHONES,
} from "../src/integrations/mpesa/simulator";
import { DarajaError } from "../src/integrations/mpesa/types";
import { nairobiCompactTimestamp } from "../src/lib/time";

const SHORTCODE = "174379";
const PASSKEY = "test-passkey";
const CALLBACK_URL = "https://api.ticketsafi.test/api/pay/callback/test-callback-token-0123456789abcdef/";
/** 2026-11-27 11:30:05 UTC = 14:30:05 in Nairobi. */
const PINNED_NOW = Date.UTC(2026, 10, 27, 11, 30, 5);

/** The simulator behind the real client, with a clock the test moves and callbacks it collects. */
function simulator(options: { delayMs?: number; now?: () => number; clientPasskey?: string } = {}) {
  const delivered: Array<{ url: string; body: unknown }> = [];
  const scheduled: Array<Promise<unknown>> = [];
  const simulatorFetch = createSimulatorFetch({
    db: createDb(env.DB),
    delayMs: options.delayMs ?? 0,
    shortcode: SHORTCODE,
    passkey: PASSKEY,
    ...(options.now ? { now: options.now } : {}),
    deliverCallback: async (url, body) => {
      delivered.push({ url, body });
    },
    schedule: (task) => scheduled.push(task),
  });
  const client = createDarajaClient({
    baseUrl: SIMULATOR_BASE_URL,
    shortcode: SHORTCODE,
    passkey: options.clientPasskey ?? PASSKEY,
    consumerKey: "simulator",
    consumerSecret: "simulator",
    fetch: simulatorFetch,
    ...(options.now ? { now: options.now } : {}),
  });
  return { client, simulatorFetch, delivered, scheduled, settle: () => Promise.all(scheduled) };
}

function push(phoneNumber: string, amount = 1500) {
  return {
    phoneNumber,
    amount,
    accountReference: "TS-8F3K2Q",
    transactionDesc: "Tickets",
    callbackUrl: CALLBACK_URL,
  };
}

async function pushRow(checkoutRequestId: string) {
  return env.DB.prepare(
    "SELECT phone_number, amount, account_reference, result_code, receipt_number, answers_at, callback_sent_at FROM mpesa_simulator_pushes WHERE checkout_request_id = ?",
  )
    .bind(checkoutRequestId)
    .first<{
      phone_number: string;
      amount: number;
      account_reference: string;
      result_code: number;
      receipt_number: string | null;
      answers_at: number | null;
      callback_sent_at: number | null;
    }>();
}

/** A push body as Daraja expects it, valid at `now`, for requests sent around the client. */
function rawPushBody(now: number, overrides: Record<string, unknown> = {}) {
  const timestamp = nairobiCompactTimestamp(now);
  return {
    BusinessShortCode: SHORTCODE,
    Password: btoa(`${SHORTCODE}${PASSKEY}${timestamp}`),
    Timestamp: timestamp,
    TransactionType: "CustomerPayBillOnline",
    Amount: 100,
    PartyA: "254712345678",
    PartyB: SHORTCODE,
    PhoneNumber: "254712345678",
    CallBackURL: CALLBACK_URL,
    AccountReference: "TS-ABC123",
    TransactionDesc: "Tickets",
    ...overrides,
  };
}

async function rawPush(simulatorFetch: typeof fetch, body: unknown) {
  const response = await simulatorFetch(`${SIMULATOR_BASE_URL}/mpesa/stkpush/v1/processrequest`, {
    method: "POST",
    headers: { authorization: "Bearer sim-token", "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("M-Pesa simulator through the Daraja client", () => {
  it("accepts a push, then posts a success callback with amount, receipt, date and phone", async () => {
    const sim = simulator({ now: () => PINNED_NOW });
    const accepted = await sim.client.stkPush(push("254712345678", 1500));
    expect(accepted.checkoutRequestId).toMatch(/^ws_CO_27112026143005\d{10}$/);
    expect(accepted.merchantRequestId).toMatch(/^\d{5}-\d{8}-1$/);
    expect(accepted.customerMessage).toBe("Success. Request accepted for processing");
    expect(await pushRow(accepted.checkoutRequestId)).toMatchObject({
      phone_number: "254712345678",
      amount: 1500,
      account_reference: "TS-8F3K2Q",
      result_code: 0,
      answers_at: PINNED_NOW,
      callback_sent_at: null,
    });

    expect(sim.scheduled).toHaveLength(1);
    await sim.settle();
    expect(sim.delivered).toHaveLength(1);
    const [callback] = sim.delivered;
    expect(callback?.url).toBe(CALLBACK_URL);
    const receipt = (await pushRow(accepted.checkoutRequestId))?.receipt_number;
    expect(receipt).toMatch(/^[A-Z][A-Z0-9]{9}$/);
    expect(callback?.body).toEqual({
      Body: {
        stkCallback: {
          MerchantRequestID: accepted.merchantRequestId,
          CheckoutRequestID: accepted.checkoutRequestId,
          ResultCode: 0,
          ResultDesc: "The service request is processed successfully.",
          CallbackMetadata: {
            Item: [
              { Name: "Amount", Value: 1500 },
              { Name: "MpesaReceiptNumber", Value: receipt },
              { Name: "Balance" },
              { Name: "TransactionDate", Value: 20261127143005 },
              { Name: "PhoneNumber", Value: 254712345678 },
            ],
          },
        },
      },
    });
    expect((await pushRow(accepted.checkoutRequestId))?.callback_sent_at).toBe(PINNED_NOW);

    expect(await sim.client.stkQuery(accepted.checkoutRequestId)).toEqual({
      state: "final",
      resultCode: 0,
      resultDesc: "The service request is processed successfully.",
    });
  });

  it.each([
    { phone: SIMULATOR_PHONES.cancels, resultCode: 1032, resultDesc: "Request cancelled by user" },
    {
      phone: SIMULATOR_PHONES.insufficientFunds,
      resultCode: 1,
      resultDesc: "The balance is insufficient for the transaction",
    },
  ])(
    "posts ResultCode $resultCode without metadata for $phone",
    async ({ phone, resultCode, resultDesc }) => {
      const sim = simulator({ now: () => PINNED_NOW });
      const accepted = await sim.client.stkPush(push(phone));
      await sim.settle();
      expect(sim.delivered.map((d) => d.body)).toEqual([
        {
          Body: {
            stkCallback: {
              MerchantRequestID: accepted.merchantRequestId,
              CheckoutRequestID: accepted.checkoutRequestId,
              ResultCode: resultCode,
              ResultDesc: resultDesc,
            },
          },
        },
      ]);
      expect(await pushRow(accepted.checkoutRequestId)).toMatchObject({
        result_code: resultCode,
        receipt_number: null,
      });
      expect(await sim.client.stkQuery(accepted.checkoutRequestId)).toEqual({
        state: "final",
        resultCode,
        resultDesc,
      });
    },
  );

  it("never calls back for the unreachable number; STK query says pending for 2 minutes, then 1037", async () => {
    let now = PINNED_NOW;
    const sim = simulator({ now: () => now });
    const accepted = await sim.client.stkPush(push(SIMULATOR_PHONES.neverAnswers));
    expect(sim.scheduled).toHaveLength(0);
    expect(await pushRow(accepted.checkoutRequestId)).toMatchObject({
      answers_at: null,
      callback_sent_at: null,
    });

    now = PINNED_NOW + 60_000;
    expect(await sim.client.stkQuery(accepted.checkoutRequestId)).toEqual({ state: "pending" });
    now = PINNED_NOW + 2 * 60_000 - 1;
    expect(await sim.client.stkQuery(accepted.checkoutRequestId)).toEqual({ state: "pending" });
    now = PINNED_NOW + 2 * 60_000;
    expect(await sim.client.stkQuery(accepted.checkoutRequestId)).toEqual({
      state: "final",
      resultCode: 1037,
      resultDesc: "DS timeout user cannot be reached",
    });
    await sim.settle();
    expect(sim.delivered).toHaveLength(0);
  });

  it("waits delayMs before calling back; until the customer answers, STK query says pending", async () => {
    const sim = simulator({ delayMs: 120 });
    const started = Date.now();
    const accepted = await sim.client.stkPush(push("254112345678", 250));
    expect(await sim.client.stkQuery(accepted.checkoutRequestId)).toEqual({ state: "pending" });
    expect(sim.delivered).toHaveLength(0);

    await sim.settle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(sim.delivered).toHaveLength(1);
    expect(await sim.client.stkQuery(accepted.checkoutRequestId)).toMatchObject({
      state: "final",
      resultCode: 0,
    });
    expect((await pushRow(accepted.checkoutRequestId))?.callback_sent_at).not.toBeNull();
  });

  it("leaves callback_sent_at empty when delivery fails, without throwing from the scheduled task", async () => {
    const scheduled: Array<Promise<unknown>> = [];
    const simulatorFetch = createSimulatorFetch({
      db: createDb(env.DB),
      delayMs: 0,
      shortcode: SHORTCODE,
      passkey: PASSKEY,
      deliverCallback: async () => {
        throw new Error("connection refused");
      },
      schedule: (task) => scheduled.push(task),
    });
    const { status, body } = await rawPush(simulatorFetch, rawPushBody(Date.now()));
    expect(status).toBe(200);
    await Promise.all(scheduled);
    expect((await pushRow(String(body.CheckoutRequestID)))?.callback_sent_at).toBeNull();
  });

  it("refuses a wrong password the way Daraja does, and the client reports it as rejected", async () => {
    const sim = simulator({ clientPasskey: "not-the-passkey" });
    const raw = await rawPush(sim.simulatorFetch, rawPushBody(Date.now(), { Password: btoa("nope") }));
    expect(raw.status).toBe(500);
    expect(raw.body).toEqual({
      requestId: expect.any(String),
      errorCode: "500.001.1001",
      errorMessage: "Wrong credentials",
    });

    try {
      await sim.client.stkPush(push("254712345678"));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DarajaError);
      expect(error).toMatchObject({ kind: "rejected", status: 500, errorCode: "500.001.1001" });
      expect((error as Error).message).not.toContain("not-the-passkey");
    }
    expect(sim.scheduled).toHaveLength(0);
  });

  it("refuses a UTC Timestamp (even with a matching password) and a malformed one", async () => {
    const { simulatorFetch } = simulator();
    const now = Date.now();
    const utc = new Date(now).toISOString().replace(/[-:T]/g, "").slice(0, 14);
    for (const timestamp of [utc, "2026-11-27 14:30", "20261345143005"]) {
      const raw = await rawPush(
        simulatorFetch,
        rawPushBody(now, { Timestamp: timestamp, Password: btoa(`${SHORTCODE}${PASSKEY}${timestamp}`) }),
      );
      expect(raw).toEqual({
        status: 400,
        body: {
          requestId: expect.any(String),
          errorCode: "400.002.02",
          errorMessage: "Bad Request - Invalid Timestamp",
        },
      });
    }
  });

  it.each([
    [{ BusinessShortCode: "600000" }, "BusinessShortCode"],
    [{ TransactionType: "CustomerPayBill" }, "TransactionType"],
    [{ Amount: 99.5 }, "Amount"],
    [{ Amount: 0 }, "Amount"],
    [{ Amount: "100" }, "Amount"],
    [{ PartyA: "0712345678" }, "PartyA"],
    [{ PartyB: "600000" }, "PartyB"],
    [{ PhoneNumber: "254812345678" }, "PhoneNumber"],
    [{ CallBackURL: undefined }, "CallBackURL"],
    [{ CallBackURL: "not a url" }, "CallBackURL"],
    [{ AccountReference: "TS-ABCDEFGHIJ" }, "AccountReference"],
    [{ TransactionDesc: "Tickets for Nairobi" }, "TransactionDesc"],
  ])("refuses %j with 400.002.02 Bad Request - Invalid %s", async (override, field) => {
    const sim = simulator();
    const raw = await rawPush(sim.simulatorFetch, rawPushBody(Date.now(), override));
    expect(raw).toEqual({
      status: 400,
      body: {
        requestId: expect.any(String),
        errorCode: "400.002.02",
        errorMessage: `Bad Request - Invalid ${field}`,
      },
    });
    expect(sim.scheduled).toHaveLength(0);
  });

  it("answers OAuth like Daraja and refuses calls without a bearer token", async () => {
    const { simulatorFetch } = simulator();
    const token = await simulatorFetch(
      `${SIMULATOR_BASE_URL}/oauth/v1/generate?grant_type=client_credentials`,
      {
        headers: { authorization: `Basic ${btoa("key:secret")}` },
      },
    );
    expect(token.status).toBe(200);
    expect(await token.json()).toEqual({ access_token: expect.any(String), expires_in: "3599" });

    const noBasic = await simulatorFetch(
      `${SIMULATOR_BASE_URL}/oauth/v1/generate?grant_type=client_credentials`,
    );
    expect(noBasic.status).toBe(400);
    expect(await noBasic.json()).toMatchObject({
      errorCode: "400.008.01",
      errorMessage: "Invalid Authentication passed",
    });

    const noBearer = await simulatorFetch(`${SIMULATOR_BASE_URL}/mpesa/stkpush/v1/processrequest`, {
      method: "POST",
      body: JSON.stringify(rawPushBody(Date.now())),
    });
    expect(noBearer.status).toBe(404);
    expect(await noBearer.json()).toMatchObject({
      errorCode: "404.001.03",
      errorMessage: "Invalid Access Token",
    });
  });

  it("rejects an STK query for an unknown CheckoutRequestID", async () => {
    const { client } = simulator();
    await expect(client.stkQuery("ws_CO_27112026143005000000")).rejects.toMatchObject({
      kind: "rejected",
      status: 400,
      errorCode: "400.002.02",
    });
  });
});

describe("simulated Daraja client from configuration", () => {
  const deps = {
    db: createDb(env.DB),
    deliverCallback: async () => {},
    schedule: () => {},
  };

  it("is built for development (no consumer key) and speaks to the simulator", async () => {
    const delivered: unknown[] = [];
    const scheduled: Array<Promise<unknown>> = [];
    const client = createSimulatedDarajaClient(loadConfig({ ...env, MPESA_SIMULATOR_DELAY_MS: "0" } as Env), {
      ...deps,
      deliverCallback: async (_url, body) => {
        delivered.push(body);
      },
      schedule: (task) => scheduled.push(task),
    });
    const accepted = await client.stkPush(push(SIMULATOR_PHONES.cancels));
    await Promise.all(scheduled);
    expect(delivered).toEqual([buildStkCallbackBody({ ...accepted, resultCode: 1032 })]);
  });

  it("refuses to exist in production or when real Daraja credentials are configured", () => {
    const production = loadConfig({ ...env, ENVIRONMENT: "production", MPESA_SHORTCODE: "600000" } as Env);
    expect(() => createSimulatedDarajaClient(production, deps)).toThrow(DarajaError);
    const withKey = loadConfig({ ...env, MPESA_CONSUMER_KEY: "real-key" } as Env);
    expect(() => createSimulatedDarajaClient(withKey, deps)).toThrow(DarajaError);
  });
});

describe("buildStkCallbackBody", () => {
  it("produces Daraja's success callback exactly", () => {
    expect(
      buildStkCallbackBody({
        merchantRequestId: "29115-34620561-1",
        checkoutRequestId: "ws_CO_191220191020363925",
        resultCode: 0,
        amount: 1500,
        receiptNumber: "NLJ7RT61SV",
        phoneNumber: "254712345678",
        paidAt: Date.UTC(2026, 10, 27, 11, 31, 25),
      }),
    ).toEqual({
      Body: {
        stkCallback: {
          MerchantRequestID: "29115-34620561-1",
          CheckoutRequestID: "ws_CO_191220191020363925",
          ResultCode: 0,
          ResultDesc: "The service request is processed successfully.",
          CallbackMetadata: {
            Item: [
              { Name: "Amount", Value: 1500 },
              { Name: "MpesaReceiptNumber", Value: "NLJ7RT61SV" },
              { Name: "Balance" },
              { Name: "TransactionDate", Value: 20261127143125 },
              { Name: "PhoneNumber", Value: 254712345678 },
            ],
          },
        },
      },
    });
  });

  it("produces a failure callback without CallbackMetadata", () => {
    expect(
      buildStkCallbackBody({ merchantRequestId: "m-1", checkoutRequestId: "ws_CO_1", resultCode: 1032 }),
    ).toEqual({
      Body: {
        stkCallback: {
          MerchantRequestID: "m-1",
          CheckoutRequestID: "ws_CO_1",
          ResultCode: 1032,
          ResultDesc: "Request cancelled by user",
        },
      },
    });
  });
});
