import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config";
import { createDb } from "../src/db/client";
import { B2CRejectedError } from "../src/integrations/mpesa/b2c";
import { B2CResultBodySchema, B2CTimeoutBodySchema, readB2CResult } from "../src/integrations/mpesa/schemas";
import { B2C_TEST_PHONES, createSimulatedB2CClient } from "../src/integrations/mpesa/simulator";

function simulated() {
  const delivered: { url: string; body: unknown }[] = [];
  const pending: Promise<unknown>[] = [];
  const config = loadConfig({ ...env, MPESA_SIMULATOR_DELAY_MS: "0" } as Env);
  const client = createSimulatedB2CClient(config, {
    db: createDb(env.DB),
    schedule: (task) => pending.push(task),
    deliverCallback: async (url, body) => {
      delivered.push({ url, body });
    },
  });
  return { client, delivered, config, settle: () => Promise.all(pending) };
}

function pay(phoneNumber: string) {
  return { originatorConversationId: crypto.randomUUID(), amount: 700, phoneNumber, remarks: "Refund TS-1" };
}

describe("M-Pesa simulator: B2C", () => {
  it("accepts like Daraja and posts a successful Result to ResultURL", async () => {
    const { client, delivered, config, settle } = simulated();
    const request = pay("254712345678");
    const accepted = await client.pay(request);
    expect(accepted.conversationId).toMatch(/^AG_\d{8}_[0-9a-f]{20}$/);
    expect(accepted.originatorConversationId).toBe(request.originatorConversationId);
    await settle();
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.url).toBe(config.mpesa.b2c.resultUrl);
    expect(config.mpesa.b2c.resultUrl).toBe(
      `${env.PUBLIC_BASE_URL}/api/pay/b2c/result/${env.MPESA_RESULT_TOKEN}/`,
    );
    const result = readB2CResult(B2CResultBodySchema.parse(delivered[0]?.body));
    expect(result).toMatchObject({
      originatorConversationId: request.originatorConversationId,
      conversationId: accepted.conversationId,
      resultCode: 0,
      amount: 700,
    });
    expect(result.receipt).toMatch(/^[A-Z][A-Z0-9]{9}$/);
  });

  it("254708000004: odd-numbered requests get Result 1, even ones succeed", async () => {
    const { client, delivered, settle } = simulated();
    for (let i = 0; i < 4; i++) await client.pay(pay(B2C_TEST_PHONES.alternating));
    await settle();
    const codes = delivered.map((d) => readB2CResult(B2CResultBodySchema.parse(d.body)).resultCode);
    expect(codes).toEqual([1, 0, 1, 0]);
  });

  it("254708000005: Result 2001 with no ResultParameters", async () => {
    const { client, delivered, settle } = simulated();
    await client.pay(pay(B2C_TEST_PHONES.initiatorInvalid));
    await settle();
    const body = B2CResultBodySchema.parse(delivered[0]?.body);
    expect(body.Result.ResultParameters).toBeUndefined();
    expect(readB2CResult(body)).toMatchObject({ resultCode: 2001, receipt: null });
  });

  it("254708000006: a queue-timeout callback to QueueTimeOutURL instead of a Result", async () => {
    const { client, delivered, config, settle } = simulated();
    const request = pay(B2C_TEST_PHONES.queueTimeout);
    await client.pay(request);
    await settle();
    expect(delivered[0]?.url).toBe(config.mpesa.b2c.queueTimeoutUrl);
    const body = B2CTimeoutBodySchema.parse(delivered[0]?.body);
    expect(body.Result.OriginatorConversationID).toBe(request.originatorConversationId);
    expect(body.Result.TransactionID).toBeUndefined();
  });

  it("254708000007: synchronous 400 Invalid PartyB, and no callback", async () => {
    const { client, delivered, settle } = simulated();
    const error = await client.pay(pay(B2C_TEST_PHONES.rejected)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(B2CRejectedError);
    expect((error as B2CRejectedError).code).toBe("400.002.02");
    await settle();
    expect(delivered).toHaveLength(0);
  });
});
