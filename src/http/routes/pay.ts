/** `/api/pay/` (contract §4): initiate, Daraja's callback, and the web client's polling. */
import { z } from "@hono/zod-openapi";
import { StkCallbackBodySchema, StkCallbackSchema } from "../../integrations/mpesa/schemas";
import { timingSafeEqualStrings } from "../../lib/crypto";
import { DomainError } from "../../lib/errors";
import { initiateCheckout } from "../../services/checkout/initiate";
import { paymentStatus } from "../../services/payment-status";
import { settleStkCallback } from "../../services/settlement";
import { clientAddress } from "../client-address";
import { ErrorDetailSchema, LegacyErrorSchema } from "../errors";
import { emptyToUndefined, IntegerInput } from "../fields";
import { readRequestBody } from "../request-body";
import { type Api, defineRoute } from "../route";
import {
  BookingConfirmedSchema,
  PaymentInitiatedSchema,
  PaymentStatusSchema,
  toBookingConfirmed,
  toPaymentInitiated,
  toPaymentStatus,
} from "../views/payment";

const TAGS = ["Checkout"];

const InitiateBody = z
  .object({
    // Either tier_id (+ quantity) or items; the service tells which, refuses both, and checks
    // items itself (so every shape error answers `invalid_items`, §11.2).
    tier_id: z.string().max(64).optional(),
    items: z
      .unknown()
      .optional()
      .openapi({
        type: "array",
        items: {
          type: "object",
          properties: { tier_id: { type: "string" }, quantity: { type: "integer", minimum: 1 } },
          required: ["tier_id"],
          additionalProperties: false,
        },
        description:
          "Tiers of one event in one order (contract §11): `[{tier_id, quantity}]`, each tier once; in place of `tier_id` + `quantity`.",
      }),
    phone_number: z.string().trim().min(1).max(32),
    quantity: z.preprocess(emptyToUndefined, IntegerInput(1, 100).optional().default(1)),
    email: z.preprocess(emptyToUndefined, z.string().trim().max(254).pipe(z.email()).optional()),
    name: z.preprocess(emptyToUndefined, z.string().trim().max(150).optional()),
    // Checked by checkout (§12.2): anything but a known code of the event is one 400.
    promo_code: z
      .unknown()
      .optional()
      .openapi({
        type: ["string", "null"],
        description: 'A promo code of the event (contract §12.2), case-insensitive; `""`/null = none.',
      }),
  })
  .openapi("InitiatePaymentRequest");

/**
 * Daraja's callback as it arrives (the route checks it itself, to answer in Daraja's terms).
 * A plain zod schema, so named with zod's own `meta({ id })`, which the OpenAPI document reads.
 */
const StkCallbackDocumented = StkCallbackBodySchema.meta({ id: "StkCallback" });

const StkCallbackAccepted = z
  .object({ ResultCode: z.literal(0), ResultDesc: z.literal("Accepted") })
  .openapi("StkCallbackAccepted");

const StkCallbackRejected = z
  .object({ detail: z.string(), ResultCode: z.literal(1), ResultDesc: z.string() })
  .openapi("StkCallbackRejected");

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
        201: { description: "Free booking confirmed", schema: BookingConfirmedSchema },
        202: { description: "STK push sent; poll verify/", schema: PaymentInitiatedSchema },
        400: {
          description:
            "Invalid input (`invalid_items`, `too_many_seats`, `mixed_events`, `invalid_phone`, `invalid_promo_code`, …), or not on sale",
          schema: LegacyErrorSchema,
        },
        403: { description: "Organizer buying for their own event", schema: LegacyErrorSchema },
        404: {
          description: "Unknown tier or unpublished event (`tier_not_found` with `tier_id` for items)",
          schema: LegacyErrorSchema,
        },
        409: {
          description:
            "Not enough seats on a tier (`sold_out`), the buyer's limit (`buyer_limit`), or the promo code's uses (`promo_exhausted`, `promo_buyer_limit`)",
          schema: LegacyErrorSchema,
        },
        422: { description: "Idempotency-Key reused with another body", schema: LegacyErrorSchema },
        429: {
          description:
            "Too many bookings to this email address this hour, or too many wrong promo codes (`rate_limited`, Retry-After)",
          schema: LegacyErrorSchema,
        },
        503: { description: "M-Pesa unavailable; seats released", schema: LegacyErrorSchema },
      },
    },
    async (c, { body }) => {
      const result = await initiateCheckout(c.var.services, {
        tierId: body.tier_id,
        quantity: body.quantity,
        items: body.items,
        phoneNumber: body.phone_number,
        email: body.email,
        name: body.name,
        promoCode: body.promo_code,
        clientAddress: clientAddress(c),
        idempotencyKey: c.req.header("idempotency-key"),
        currentUser: () => c.var.auth.userNear(),
      });
      return result.kind === "booked"
        ? c.json(toBookingConfirmed(result), 201)
        : c.json(toPaymentInitiated(c.var.config.frontendUrl, result), 202);
    },
  );

  // Daraja's callback. Initiate names the order in the URL (`…/{token}/{order}/`), so the
  // callback finds it on the nearest copy of D1 (issue 15 part 3); the bare `…/{token}/`
  // stays for pushes started before, found by their CheckoutRequestID.
  for (const path of ["/api/pay/callback/{token}/", "/api/pay/callback/{token}/{order}/"] as const) {
    const named = path.endsWith("{order}/");
    defineRoute(
      app,
      {
        method: "post",
        path,
        tags: TAGS,
        summary: named
          ? "Daraja's STK callback for the order the URL names (what initiate sends Daraja)"
          : "Daraja's STK callback (idempotent; the path token is the shared secret)",
        params: z.object({ token: z.string().max(200), order: z.string().max(64).optional() }),
        documentedBody: StkCallbackDocumented,
        responses: {
          200: { description: "Accepted", schema: StkCallbackAccepted },
          400: { description: "Malformed callback body", schema: StkCallbackRejected },
          404: { description: "Wrong token", schema: ErrorDetailSchema },
        },
      },
      async (c, { params }) => {
        const expected = c.var.config.mpesa.callbackToken;
        // Constant-time: the token is the only thing that tells Daraja from a forger.
        if (!expected || !timingSafeEqualStrings(params.token, expected)) throw DomainError.notFound();
        const raw = await readRequestBody(c.req.raw, { allowForm: false });
        const parsed = StkCallbackSchema.safeParse(raw);
        if (!parsed.success) {
          throw new DomainError("validation_error", "Malformed STK callback.", {
            extra: { ResultCode: 1, ResultDesc: "Rejected: malformed callback" },
          });
        }
        const outcome = await settleStkCallback(c.var.services, parsed.data, Date.now(), params.order);
        c.var.log.info("stk callback", { checkout_request_id: parsed.data.checkoutRequestId, outcome });
        return c.json({ ResultCode: 0 as const, ResultDesc: "Accepted" as const }, 200);
      },
    );
  }

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
        200: { description: "Status", schema: PaymentStatusSchema },
        404: { description: "Payment not found", schema: LegacyErrorSchema },
      },
    },
    async (c, { params }) => {
      return c.json(toPaymentStatus(await paymentStatus(c.var.db, params.reference)), 200);
    },
  );
}
