/** `/api/pay/` (contract §4): initiate, Daraja's callback, and the web client's polling. */
import { z } from "@hono/zod-openapi";
import { eq, or } from "drizzle-orm";
import { orders } from "../../db/schema";
import type { StkCallback } from "../../integrations/mpesa/types";
import { timingSafeEqualStrings } from "../../lib/crypto";
import { DomainError } from "../../lib/errors";
import { normalizeKenyanPhone } from "../../lib/phone";
import { initiateCheckout, processStkCallback } from "../../services/checkout";
import { requestFingerprint } from "../../services/idempotency";
import { ticketIdsFor } from "../../services/ticket-issuance";
import { emptyToUndefined, IntegerInput } from "../fields";
import { readRequestBody } from "../request-body";
import { type Api, defineRoute } from "../route";

const TAGS = ["Checkout"];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const InitiateBody = z
  .object({
    tier_id: z.string().max(64),
    phone_number: z.string().trim().min(1).max(32),
    quantity: z.preprocess(emptyToUndefined, IntegerInput(1, 100).optional().default(1)),
    email: z.preprocess(emptyToUndefined, z.string().trim().max(254).pipe(z.email()).optional()),
    name: z.preprocess(emptyToUndefined, z.string().trim().max(150).optional()),
  })
  .openapi("InitiatePaymentRequest");

const InitiateAccepted = z
  .object({
    status: z.literal("Payment Initiated"),
    transaction_ref: z.string(),
    order_id: z.string(),
    checkout_request_id: z.string(),
    amount: z.number(),
    expires_at: z.string(),
    authorization_url: z.string().openapi({
      description:
        "The web client's payment status page for this order (`{FRONTEND_URL}/payment/callback?reference=<transaction_ref>`, which polls verify/). The web client redirects the browser there while the customer confirms the STK prompt on their phone.",
    }),
  })
  .openapi("PaymentInitiated");

const BookingConfirmed = z
  .object({
    status: z.literal("Booking Confirmed"),
    transaction_ref: z.string(),
    ticket_id: z.string().nullable(),
    ticket_ids: z.array(z.string()),
    quantity: z.number().int(),
  })
  .openapi("BookingConfirmed");

/** Daraja's callback, parsed strictly: what we act on must be exactly what Daraja sends. */
const CallbackItem = z.object({ Name: z.string(), Value: z.union([z.string(), z.number()]).optional() });
const CallbackBody = z
  .object({
    Body: z.object({
      stkCallback: z.object({
        MerchantRequestID: z.string().min(1).max(100),
        CheckoutRequestID: z.string().min(1).max(100),
        ResultCode: z.union([z.number().int(), z.string().regex(/^\d+$/).transform(Number)]),
        ResultDesc: z.string().max(500),
        CallbackMetadata: z.object({ Item: z.array(CallbackItem).max(20) }).optional(),
      }),
    }),
  })
  .openapi("StkCallback");

const VerifyResponse = z
  .object({
    status: z.enum(["PENDING", "COMPLETED", "FAILED"]),
    reference: z.string(),
    reason: z.string().nullable(),
    ticket_ids: z.array(z.string()),
  })
  .openapi("PaymentStatus");

function toStkCallback(body: z.infer<typeof CallbackBody>): StkCallback {
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

export function registerPayRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/pay/initiate/",
      tags: TAGS,
      summary: "Hold seats and pay: free tiers are booked at once, paid tiers get an M-Pesa STK push",
      description:
        "Optional `Idempotency-Key` header: the same key and body returns the first answer and charges once; the same key with another body is a 422.",
      auth: "optional",
      errorDialect: "legacy",
      body: InitiateBody,
      responses: {
        201: { description: "Free booking confirmed", schema: BookingConfirmed },
        202: { description: "STK push sent; poll verify/", schema: InitiateAccepted },
        400: { description: "Invalid input, or not on sale" },
        403: { description: "Organizer buying for their own event" },
        404: { description: "Unknown tier or unpublished event" },
        409: { description: "Not enough seats (`sold_out`)" },
        422: { description: "Idempotency-Key reused with another body" },
        503: { description: "M-Pesa unavailable; seats released" },
      },
    },
    async (c, { body }) => {
      if (!UUID.test(body.tier_id)) throw new DomainError("not_found", "Ticket tier not found.");
      const user = await c.var.auth.user();
      const fields: Record<string, string[]> = {};
      if (!user) {
        if (!body.email) fields.email = ["This field is required."];
        if (!body.name) fields.name = ["This field is required."];
      }
      const phone = normalizeKenyanPhone(body.phone_number);
      if (!phone) fields.phone_number = ["Enter a valid Kenyan mobile number, e.g. 0712 345 678."];
      if (Object.keys(fields).length > 0) {
        throw DomainError.validation(
          fields,
          fields.phone_number && Object.keys(fields).length === 1 ? "invalid_phone" : "validation_error",
        );
      }

      const key = c.req.header("idempotency-key")?.trim();
      if (key !== undefined && (key.length === 0 || key.length > 255)) {
        throw DomainError.field("Idempotency-Key", "Must be between 1 and 255 characters.");
      }
      const scope = user ? `user:${user.id}` : `guest:${(body.email ?? "").toLowerCase()}`;
      const result = await initiateCheckout(c.var.services, {
        tierId: body.tier_id.toLowerCase(),
        quantity: body.quantity,
        phoneNumber: phone ?? "",
        user,
        email: body.email,
        name: body.name,
        idempotency: key
          ? {
              scope,
              key,
              requestHash: await requestFingerprint({
                tier_id: body.tier_id.toLowerCase(),
                quantity: body.quantity,
                phone_number: phone,
                email: body.email?.toLowerCase(),
                name: body.name,
              }),
            }
          : undefined,
      });
      return c.json(result.body as never, result.status as 201);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/pay/callback/{token}/",
      tags: TAGS,
      summary: "Daraja's STK callback (idempotent; the path token is the shared secret)",
      params: z.object({ token: z.string().max(200) }),
      responses: {
        200: {
          description: "Accepted",
          schema: z.object({ ResultCode: z.literal(0), ResultDesc: z.literal("Accepted") }),
        },
        400: { description: "Malformed callback body" },
        404: { description: "Wrong token" },
      },
    },
    async (c, { params }) => {
      const expected = c.var.config.mpesa.callbackToken;
      // Constant-time: the token is the only thing that tells Daraja from a forger.
      if (!expected || !timingSafeEqualStrings(params.token, expected)) throw DomainError.notFound();
      const raw = await readRequestBody(c.req.raw, { allowForm: false });
      const parsed = CallbackBody.safeParse(raw);
      if (!parsed.success) {
        throw new DomainError("validation_error", "Malformed STK callback.", {
          extra: { ResultCode: 1, ResultDesc: "Rejected: malformed callback" },
        });
      }
      const outcome = await processStkCallback(c.var.services, toStkCallback(parsed.data));
      c.var.log.info("stk callback", {
        checkout_request_id: parsed.data.Body.stkCallback.CheckoutRequestID,
        outcome,
      });
      return c.json({ ResultCode: 0 as const, ResultDesc: "Accepted" as const }, 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/pay/verify/{reference}/",
      tags: TAGS,
      summary: "Payment status by transaction_ref, order_id or checkout_request_id (no personal data)",
      params: z.object({ reference: z.string().min(1).max(100) }),
      errorDialect: "legacy",
      responses: {
        200: { description: "Status", schema: VerifyResponse },
        404: { description: "Payment not found" },
      },
    },
    async (c, { params }) => {
      const ref = params.reference;
      const order = await c.var.db.query.orders.findFirst({
        where: or(
          eq(orders.reference, ref),
          eq(orders.checkoutRequestId, ref),
          ...(UUID.test(ref) ? [eq(orders.id, ref.toLowerCase())] : []),
        ),
      });
      if (!order) throw new DomainError("payment_not_found", "Payment not found");
      const ticketIds = order.status === "COMPLETED" ? await ticketIdsFor(c.var.db, order.id) : [];
      const status =
        order.status === "PENDING"
          ? ("PENDING" as const)
          : order.status === "COMPLETED" && ticketIds.length > 0
            ? ("COMPLETED" as const)
            : order.status === "COMPLETED"
              ? ("PENDING" as const)
              : ("FAILED" as const);
      const reason =
        order.status === "PAID_UNFULFILLED"
          ? "refund_pending"
          : order.status === "UNDER_REVIEW"
            ? "under_review"
            : order.status === "FAILED"
              ? (order.failureReason ?? "payment_failed")
              : null;
      return c.json({ status, reference: order.reference, reason, ticket_ids: ticketIds }, 200);
    },
  );
}
