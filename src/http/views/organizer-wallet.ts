/** The organizer wallet's wire shapes (contract §17), exactly as the original client reads them. */
import { z } from "@hono/zod-openapi";
import { LEDGER_ENTRY_STATUSES, LEDGER_ENTRY_TYPES } from "../../db/schema";
import { maskPhoneNumber } from "../../lib/masking";
import { toNairobiIso } from "../../lib/time";
import type { HistoryItem, WalletView, WithdrawalResult } from "../../services/organizer-wallet/wallet";

export const WalletSchema = z
  .object({
    balance: z.number().openapi({ description: "Available to withdraw now (KES)" }),
    pending_payouts: z.number().openapi({ description: "Withdrawals in flight (KES)" }),
    currency: z.literal("KES"),
    is_frozen: z.boolean(),
    is_kyc_verified: z.boolean(),
    status: z.enum(["Active", "Inactive"]),
    pending_balance: z.number().openapi({ description: "Proceeds not yet available (KES)" }),
    total_earned: z.number().openapi({ description: "Sales − fees − refunds (KES)" }),
    payout_phone: z.string().nullable().openapi({ description: "Masked, `2547****678`" }),
    wallet_id: z.string().nullable(),
  })
  .openapi("OrganizerWallet");

export function toWallet(view: WalletView): z.infer<typeof WalletSchema> {
  return {
    balance: view.available,
    pending_payouts: view.pendingPayouts,
    currency: "KES",
    is_frozen: view.isFrozen,
    is_kyc_verified: view.isKycVerified,
    status: view.active ? "Active" : "Inactive",
    pending_balance: view.pendingBalance,
    total_earned: view.totalEarned,
    payout_phone: view.payoutPhone ? maskPhoneNumber(view.payoutPhone) : null,
    wallet_id: view.walletId,
  };
}

const LedgerItemSchema = z
  .object({
    id: z.string(),
    type: z.enum(LEDGER_ENTRY_TYPES),
    amount: z.number().openapi({ description: "Signed KES: + in, − out" }),
    status: z.enum(LEDGER_ENTRY_STATUSES),
    reference: z.string().openapi({ description: "Order reference, refund id or `WD-…`" }),
    date: z.string().openapi({ description: "`YYYY-MM-DD HH:MM`, Nairobi time" }),
  })
  .openapi("WalletLedgerEntry");

export const WalletHistorySchema = z
  .object({
    results: z.array(LedgerItemSchema),
    total_pages: z.number().int(),
    current_page: z.number().int(),
    has_next: z.boolean(),
    has_previous: z.boolean(),
  })
  .openapi("WalletHistory");

/** `YYYY-MM-DD HH:MM` in Nairobi. */
function nairobiMinute(epochMs: number): string {
  return toNairobiIso(epochMs).slice(0, 16).replace("T", " ");
}

export function toWalletHistory(
  items: HistoryItem[],
  page: number,
  totalPages: number,
): z.infer<typeof WalletHistorySchema> {
  return {
    results: items.map(({ entry, status }) => ({
      id: entry.id,
      type: entry.type,
      amount: entry.amount,
      status,
      reference: entry.reference,
      date: nairobiMinute(entry.createdAt),
    })),
    total_pages: totalPages,
    current_page: page,
    has_next: page < totalPages,
    has_previous: page > 1,
  };
}

export const WalletActivatedSchema = z
  .object({ status: z.literal("activated"), wallet_id: z.string() })
  .openapi("WalletActivated");

export const WalletAlreadyActiveSchema = z
  .object({ message: z.literal("Wallet already active"), wallet_id: z.string() })
  .openapi("WalletAlreadyActive");

export const WithdrawalRequestSchema = z
  .object({
    // Checked by the service, so every bad amount answers `invalid_amount`.
    amount: z
      .unknown()
      .optional()
      .openapi({
        type: ["string", "number"],
        description: 'Whole shillings (`1500` or `"1500"`)',
      }),
  })
  .openapi("WithdrawalRequest");

export const WithdrawalReceivedSchema = z
  .object({
    status: z.literal("received"),
    message: z.string(),
    reference: z.string().openapi({ description: "`WD-XXXXXXXX`" }),
    new_balance: z.number(),
    amount: z.number(),
  })
  .openapi("WithdrawalReceived");

export function toWithdrawalReceived(result: WithdrawalResult): z.infer<typeof WithdrawalReceivedSchema> {
  return {
    status: "received",
    message: `Withdrawal of KES ${result.amount} received: it is on its way to your M-Pesa number.`,
    reference: result.reference,
    new_balance: result.newBalance,
    amount: result.amount,
  };
}
