/**
 * The organizer wallet and payouts (contract v3 §17), the web client's Payouts page. ORGANIZER
 * only: anyone else signed in gets 403 `{"error": "Unauthorized"}`. Errors carry `error`,
 * `detail` and `code`.
 */
import { z } from "@hono/zod-openapi";
import { DomainError } from "../../lib/errors";
import { activateWallet, walletHistory, walletOf, withdraw } from "../../services/organizer-wallet/wallet";
import { LegacyErrorSchema } from "../errors";
import { type Api, type AppContext, defineRoute } from "../route";
import {
  toWallet,
  toWalletHistory,
  toWithdrawalReceived,
  WalletActivatedSchema,
  WalletAlreadyActiveSchema,
  WalletHistorySchema,
  WalletSchema,
  WithdrawalReceivedSchema,
  WithdrawalRequestSchema,
} from "../views/organizer-wallet";

const TAGS = ["Wallet"];
const HISTORY_DEFAULT_PAGE_SIZE = 5;
const HISTORY_MAX_PAGE_SIZE = 50;

const errors = {
  403: { description: 'Not an organizer: `{"error": "Unauthorized"}`', schema: LegacyErrorSchema },
};

/** The original wallet answered every other role with `{"error": "Unauthorized"}`. */
async function requireOrganizer(c: AppContext) {
  const user = await c.var.auth.requireUser();
  if (user.role !== "ORGANIZER") throw new DomainError("permission_denied", "Unauthorized");
  return user;
}

/** A lenient page number: anything but a positive whole number is the first page. */
function positive(value: string | undefined, fallback: number, max: number): number {
  if (value === undefined || !/^\d{1,6}$/.test(value) || Number(value) < 1) return fallback;
  return Math.min(max, Number(value));
}

export function registerOrganizerWalletRoutes(app: Api): void {
  defineRoute(
    app,
    {
      method: "post",
      path: "/api/organizer/wallet/activate/",
      tags: TAGS,
      summary: "Activate the organizer's wallet (once; the user object's wallet_id follows)",
      auth: "required",
      errorDialect: "legacy",
      responses: {
        201: { description: "Activated", schema: WalletActivatedSchema },
        200: { description: "Already active", schema: WalletAlreadyActiveSchema },
        ...errors,
      },
    },
    async (c) => {
      const organizer = await requireOrganizer(c);
      const activated = await activateWallet(c.var.db, organizer.id);
      return activated.created
        ? c.json({ status: "activated" as const, wallet_id: activated.walletId }, 201)
        : c.json({ message: "Wallet already active" as const, wallet_id: activated.walletId }, 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/wallet/",
      tags: TAGS,
      summary: "The wallet's balances, or with `?action=history` its ledger, newest first",
      description:
        "Without `action`: balances (zeros and `Inactive` before activation). `?action=history&page=N&page_size=M` (M ≤ 50, default 5): the ledger entries.",
      auth: "required",
      errorDialect: "legacy",
      query: z.object({
        action: z.string().max(20).optional().openapi({ description: "`history` for the ledger" }),
        page: z.string().max(20).optional(),
        page_size: z.string().max(20).optional(),
      }),
      responses: {
        200: {
          description: "Balances, or a page of history",
          schema: z.union([WalletSchema, WalletHistorySchema]),
        },
        ...errors,
      },
    },
    async (c, { query }) => {
      const organizer = await requireOrganizer(c);
      if (query.action === "history") {
        const page = positive(query.page, 1, 1_000_000);
        const pageSize = positive(query.page_size, HISTORY_DEFAULT_PAGE_SIZE, HISTORY_MAX_PAGE_SIZE);
        const history = await walletHistory(c.var.services, organizer.id, { page, pageSize });
        return c.json(toWalletHistory(history.items, page, history.totalPages), 200);
      }
      return c.json(toWallet(await walletOf(c.var.services, organizer.id)), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "post",
      path: "/api/organizer/wallet/",
      tags: TAGS,
      summary: "Withdraw to the verified payout number by M-Pesa B2C",
      description:
        "Optional `Idempotency-Key` header: the same key and body returns the first answer and withdraws once; the same key with another body is a 422.",
      auth: "required",
      errorDialect: "legacy",
      allowForm: false,
      body: WithdrawalRequestSchema,
      responses: {
        200: { description: "Recorded; the money is on its way", schema: WithdrawalReceivedSchema },
        400: {
          description:
            "`invalid_amount`, `amount_out_of_range`, `insufficient_balance`, `kyc_required`, `wallet_frozen`, `wallet_inactive`",
          schema: LegacyErrorSchema,
        },
        ...errors,
        409: { description: "The same Idempotency-Key is still being processed", schema: LegacyErrorSchema },
        422: { description: "Idempotency-Key reused with another body", schema: LegacyErrorSchema },
      },
    },
    async (c, { body }) => {
      const organizer = await requireOrganizer(c);
      const result = await withdraw(c.var.services, organizer.id, {
        amount: body.amount,
        idempotencyKey: c.req.header("idempotency-key"),
      });
      return c.json(toWithdrawalReceived(result), 200);
    },
  );

  defineRoute(
    app,
    {
      method: "get",
      path: "/api/organizer/wallet/link/",
      tags: TAGS,
      summary: "No external wallet app: always 404 (the original linked to one)",
      auth: "required",
      errorDialect: "legacy",
      responses: {
        404: { description: "Payouts are managed here", schema: LegacyErrorSchema },
        ...errors,
      },
    },
    async (c) => {
      await requireOrganizer(c);
      throw DomainError.notFound("No external wallet: payouts are managed here.");
    },
  );
}
