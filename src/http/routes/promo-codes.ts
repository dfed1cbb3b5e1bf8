/**
 * Promo codes (contract §12): the organizer's CRUD under their event (§12.1, DRF dialect) and
 * the public check (§12.4, checkout dialect with `valid`). Thin handlers over services/promo-codes.
 */
import { z } from "@hono/zod-openapi";
import { PROMO_DISCOUNT_TYPES } from "../../db/schema";
import { DomainError } from "../../lib/errors";
import { formatPrice } from "../../lib/money";
import { isUuid } from "../../lib/uuid";
import { checkPromoCode } from "../../services/promo-codes/check";
import {
  assertOwnEvent,
  countPromoCodes,
  createPromoCode,
  deletePromoCode,
  getPromoCode,
  listPromoCodes,
  PROMO_CODE_PATTERN,
  type PromoCodeInput,
  updatePromoCode,
} from "../../services/promo-codes/codes";
import { clientAddress } from "../client-address";
import { BooleanInput, DateTimeInput, IntegerInput, PriceInput } from "../fields";
import { PaginationQuery, pageOf, pageSchema } from "../pagination";
import { type Api, defineRoute } from "../route";
import {
  PromoCheckBadRequestSchema,
  PromoCheckRefusedSchema,
  PromoCheckValidSchema,
  PromoCodeSchema,
  toPromoCodeResponse,
} from "../views/promo-code";

const TAGS = ["Promo codes"];
const ORGANIZER = ["ORGANIZER"] as const;

const emptyToNull = (value: unknown) => (value === "" ? null : value);

const Code = z
  .string()
  .trim()
  .regex(PROMO_CODE_PATTERN, { error: "Use 3–32 letters, digits, hyphens or underscores." })
  .openapi({
    example: "radio20",
    description: "3–32 of A–Z a–z 0–9 - _; stored upper case, unique per event",
  });
const DiscountType = z.preprocess(
  (v) => (typeof v === "string" ? v.trim().toUpperCase() : v),
  z.enum(PROMO_DISCOUNT_TYPES),
);
const Value = PriceInput.openapi({
  type: "integer",
  description: "Whole number: PERCENT 1–100, FIXED ≥ 1 KES off each eligible ticket",
});
/** A JSON list, or its JSON text in a form field. */
const TierIds = z.preprocess(
  (value, ctx) => {
    if (typeof value !== "string") return value;
    try {
      return JSON.parse(value);
    } catch {
      ctx.addIssue({ code: "custom", message: "tier_ids must be a JSON list." });
      return z.NEVER;
    }
  },
  z.array(z.string().max(64)).max(100),
);
const Limit = z.preprocess(emptyToNull, IntegerInput(1, 1_000_000).nullable());
const When = z.preprocess(emptyToNull, DateTimeInput.nullable());

const writable = {
  tier_ids: TierIds.optional(),
  max_uses: Limit.optional(),
  max_uses_per_buyer: Limit.optional(),
  valid_from: When.optional(),
  valid_until: When.optional(),
  is_active: BooleanInput.optional(),
  // Read-only fields the answers carry; accepted back and ignored.
  id: z.unknown().optional(),
  event_id: z.unknown().optional(),
  times_used: z.unknown().optional(),
  times_held: z.unknown().optional(),
  discount_given: z.unknown().optional(),
  created_at: z.unknown().optional(),
};

/** Unknown keys are refused: a typo (`max_use`) must not pass silently. */
const CreateBody = z
  .object({ code: Code, discount_type: DiscountType, value: Value, ...writable })
  .strict()
  .openapi("PromoCodeCreateRequest");
const UpdateBody = z
  .object({
    code: Code.optional(),
    discount_type: DiscountType.optional(),
    value: Value.optional(),
    ...writable,
  })
  .strict()
  .openapi("PromoCodeUpdateRequest");

const EventParams = z.object({ id: z.string().uuid() });
const CodeParams = z.object({ id: z.string().uuid(), code_id: z.string().uuid() });
/** Any string: a malformed id must answer 404 in this route's own shape (with `valid`). */
const CheckParams = z.object({ id: z.string() });
const CheckBody = z.object({ code: z.unknown().optional() }).openapi("PromoCheckRequest", {
  description: "`code`: the promo code as typed (trimmed, any case)",
});

function toInput(body: z.infer<typeof UpdateBody>): PromoCodeInput {
  return {
    code: body.code,
    discountType: body.discount_type,
    value: body.value,
    tierIds: body.tier_ids,
    maxUses: body.max_uses,
    maxUsesPerBuyer: body.max_uses_per_buyer,
    validFrom: body.valid_from,
    validUntil: body.valid_until,
    isActive: body.is_active,
  };
}

/** The check's refusals carry `valid: false` beside the checkout dialect's fields. */
function refused(error: unknown): unknown {
  if (!(error instanceof DomainError) || error.code === "rate_limited") return error;
  return new DomainError(error.code, error.detail, {
    extra: { ...(error.extra ?? {}), valid: false },
    ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
    cause: error,
  });
}

export function registerPromoCodeRoutes(app: Api): void {
  const base = "/api/organizer/events/{id}/promo-codes/";
  const notFound = { description: "No such event (or code) of this organizer" };

  defineRoute(
    app,
    {
      method: "get",
      path: base,
      tags: TAGS,
      summary: "The event's promo codes, newest first",
      roles: ORGANIZER,
      params: EventParams,
      query: PaginationQuery,
      responses: {
        200: { description: "A page of codes", schema: pageSchema(PromoCodeSchema) },
        404: notFound,
      },
    },
    async (c, { params, query }) => {
      const organizer = await c.var.auth.requireUser();
      const deps = c.var.services;
      await assertOwnEvent(deps.db, organizer, params.id);
      return c.json(
        await pageOf(c, query, {
          count: () => countPromoCodes(deps.db, params.id),
          rows: (limit, offset) => listPromoCodes(deps, params.id, limit, offset),
          map: toPromoCodeResponse,
        }),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: base,
      tags: TAGS,
      summary: "Create a promo code",
      roles: ORGANIZER,
      params: EventParams,
      body: CreateBody,
      responses: {
        201: { description: "Created", schema: PromoCodeSchema },
        400: { description: "Validation error (code taken, value out of range, foreign tier, …)" },
        404: notFound,
      },
    },
    async (c, { params, body }) => {
      const organizer = await c.var.auth.requireUser();
      const view = await createPromoCode(c.var.services, organizer, params.id, {
        ...toInput(body),
        code: body.code,
        discountType: body.discount_type,
        value: body.value,
      });
      return c.json(toPromoCodeResponse(view), 201);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: `${base}{code_id}/`,
      tags: TAGS,
      summary: "One promo code, with its uses",
      roles: ORGANIZER,
      params: CodeParams,
      responses: { 200: { description: "Code", schema: PromoCodeSchema }, 404: notFound },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      return c.json(
        toPromoCodeResponse(await getPromoCode(c.var.services, organizer, params.id, params.code_id)),
        200,
      );
    },
  );

  defineRoute(
    app,
    {
      method: "patch",
      path: `${base}{code_id}/`,
      tags: TAGS,
      summary: "Edit a promo code (any writable field; applies to new reservations only)",
      description:
        "`code` cannot change once used or held; `max_uses` cannot go below used + held (checked by the code's object, atomically with reservations).",
      roles: ORGANIZER,
      params: CodeParams,
      body: UpdateBody,
      responses: {
        200: { description: "Updated", schema: PromoCodeSchema },
        400: { description: "Validation error" },
        404: notFound,
      },
    },
    async (c, { params, body }) => {
      const organizer = await c.var.auth.requireUser();
      const view = await updatePromoCode(c.var.services, organizer, params.id, params.code_id, toInput(body));
      return c.json(toPromoCodeResponse(view), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "delete",
      path: `${base}{code_id}/`,
      tags: TAGS,
      summary: "Delete a promo code never used nor held",
      roles: ORGANIZER,
      params: CodeParams,
      responses: {
        204: { description: "Deleted" },
        404: notFound,
        409: { description: "Used or held: deactivate it instead" },
      },
    },
    async (c, { params }) => {
      const organizer = await c.var.auth.requireUser();
      await deletePromoCode(c.var.services, organizer, params.id, params.code_id);
      return c.body(null, 204);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/events/{id}/promo-codes/check/",
      tags: TAGS,
      summary: "Is this promo code good for this event now? (advisory; rate-limited)",
      description:
        "10 attempts per minute per client address per event, shared with invalid codes at checkout. The buyer's own limit and the seats discounted are decided at checkout.",
      params: CheckParams,
      body: CheckBody,
      errorDialect: "legacy",
      responses: {
        200: { description: "Valid", schema: PromoCheckValidSchema },
        400: {
          description: "No code given (or a body that is not JSON)",
          schema: PromoCheckBadRequestSchema,
        },
        404: {
          description:
            "Unknown event, or an invalid/expired/inactive code (`invalid_promo_code`), or used up (`promo_exhausted`)",
          schema: PromoCheckRefusedSchema,
        },
        429: { description: "Too many attempts (`rate_limited`, Retry-After)" },
      },
    },
    async (c, { params, body }) => {
      try {
        if (!isUuid(params.id)) throw DomainError.notFound();
        const terms = await checkPromoCode(c.var.services, {
          eventId: params.id,
          code: body.code,
          clientAddress: clientAddress(c),
        });
        return c.json(
          {
            valid: true as const,
            discount_type: terms.discountType,
            value: formatPrice(terms.value),
            tier_ids: [...terms.tierIds],
          },
          200,
        );
      } catch (error) {
        throw refused(error);
      }
    },
  );
}
