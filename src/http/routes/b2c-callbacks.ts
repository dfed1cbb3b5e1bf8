/**
 * Daraja's B2C callbacks (contract v3 §13.5): the Result and the queue timeout of a payment
 * request (refunds; payouts later). Unsigned, like STK's: the path token is the shared secret,
 * compared in constant time; the body is matched on our own OriginatorConversationID.
 */
import { z } from "@hono/zod-openapi";
import {
  B2CResultBodySchema,
  B2CTimeoutBodySchema,
  readB2CResult,
  readTransactionStatusResult,
  TransactionStatusResultBodySchema,
} from "../../integrations/mpesa/schemas";
import { timingSafeEqualStrings } from "../../lib/crypto";
import { DomainError } from "../../lib/errors";
import { settleStatusResult } from "../../services/b2c-reconciliation";
import { settleB2CCallback } from "../../services/refunds/callbacks";
import { ErrorDetailSchema } from "../errors";
import { readRequestBody } from "../request-body";
import type { AppContext } from "../route";
import { type Api, defineRoute } from "../route";

const TAGS = ["Checkout"];

const Accepted = z
  .object({ ResultCode: z.literal(0), ResultDesc: z.literal("Accepted") })
  .openapi("B2CCallbackAccepted");
const Rejected = z
  .object({ ResultCode: z.literal(1), ResultDesc: z.literal("Rejected") })
  .catchall(z.unknown())
  .openapi("B2CCallbackRejected");

const rejected = () =>
  new DomainError("validation_error", "Malformed B2C callback.", {
    extra: { ResultCode: 1, ResultDesc: "Rejected" },
  });

/** The token, then the body; anything unreadable is Daraja's "Rejected", and changes nothing. */
async function readCallback<S extends z.ZodType>(
  c: AppContext,
  token: string,
  schema: S,
): Promise<z.infer<S>> {
  const expected = c.var.config.mpesa.b2c.resultToken;
  if (!expected || !timingSafeEqualStrings(token, expected)) throw DomainError.notFound();
  let raw: unknown;
  try {
    raw = await readRequestBody(c.req.raw, { allowForm: false });
  } catch (error) {
    if (error instanceof DomainError && error.code !== "payload_too_large") throw rejected();
    throw error;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw rejected();
  return parsed.data;
}

const responses = {
  200: { description: "Accepted (also for unknown ids and repeats)", schema: Accepted },
  400: { description: "Malformed JSON or no `Result`", schema: Rejected },
  404: { description: "Wrong token", schema: ErrorDetailSchema },
  413: { description: "Body too large", schema: ErrorDetailSchema },
};

export function registerB2CCallbackRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/pay/b2c/result/{token}/",
      tags: TAGS,
      summary: "Daraja's B2C Result (idempotent; the path token is the shared secret)",
      params: z.object({ token: z.string().max(200) }),
      documentedBody: B2CResultBodySchema.meta({ id: "B2CResult" }),
      responses,
    },
    async (c, { params }) => {
      const body = await readCallback(c, params.token, B2CResultBodySchema);
      const result = readB2CResult(body);
      const outcome = await settleB2CCallback(c.var.services, "result", result);
      c.var.log.info("b2c result", { attempt_id: result.originatorConversationId, outcome });
      return c.json({ ResultCode: 0 as const, ResultDesc: "Accepted" as const }, 200);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/pay/b2c/timeout/{token}/",
      tags: TAGS,
      summary: "Daraja's B2C queue timeout: outcome unknown, never re-sent automatically",
      params: z.object({ token: z.string().max(200) }),
      documentedBody: B2CTimeoutBodySchema.meta({ id: "B2CQueueTimeout" }),
      responses,
    },
    async (c, { params }) => {
      const body = await readCallback(c, params.token, B2CTimeoutBodySchema);
      const result = readB2CResult(body);
      const outcome = await settleB2CCallback(c.var.services, "timeout", result);
      c.var.log.info("b2c timeout", { attempt_id: result.originatorConversationId, outcome });
      return c.json({ ResultCode: 0 as const, ResultDesc: "Accepted" as const }, 200);
    },
  );
  // Reconciliation: the Transaction Status query's callbacks (README "Refunds"). Same token.
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/pay/b2c/status/result/{token}/",
      tags: TAGS,
      summary: "Daraja's Transaction Status Result for a B2C attempt with no Result (idempotent)",
      params: z.object({ token: z.string().max(200) }),
      documentedBody: TransactionStatusResultBodySchema.meta({ id: "TransactionStatusResult" }),
      responses,
    },
    async (c, { params }) => {
      const body = await readCallback(c, params.token, TransactionStatusResultBodySchema);
      const result = readTransactionStatusResult(body);
      const outcome = await settleStatusResult(c.var.services, result);
      c.var.log.info("b2c status result", { query_id: result.queryConversationId, outcome });
      return c.json({ ResultCode: 0 as const, ResultDesc: "Accepted" as const }, 200);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/pay/b2c/status/timeout/{token}/",
      tags: TAGS,
      summary: "Daraja's queue timeout for a Transaction Status query: nothing changes; asked again later",
      params: z.object({ token: z.string().max(200) }),
      documentedBody: B2CTimeoutBodySchema.meta({ id: "TransactionStatusQueueTimeout" }),
      responses,
    },
    async (c, { params }) => {
      const body = await readCallback(c, params.token, B2CTimeoutBodySchema);
      c.var.log.info("b2c status query timed out", { query_id: body.Result.ConversationID ?? null });
      return c.json({ ResultCode: 0 as const, ResultDesc: "Accepted" as const }, 200);
    },
  );
}
