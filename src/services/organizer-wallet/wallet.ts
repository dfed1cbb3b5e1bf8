/**
 * The organizer wallet (contract §17): activation, balances, history and withdrawals.
 * Balances are always sums of the ledger (lib/wallet-balance.ts). A withdrawal is decided by
 * the organizer's ledger object (the one writer of PAYOUT entries) and sent from the queue.
 */
import { and, eq, isNull } from "drizzle-orm";
import type { Config } from "../../config";
import { type Database, runBatch } from "../../db/client";
import { type LedgerEntryRow, users } from "../../db/schema";
import type { DeliveryJob } from "../../delivery/jobs";
import { ledgerAmounts, ledgerHistory } from "../../inventory/ledger-store";
import { type OrganizerLedger, organizerLedger } from "../../inventory/organizer-ledger";
import { DomainError } from "../../lib/errors";
import { isAvailable, type WalletBalance, walletBalance } from "../../lib/wallet-balance";
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  type IdempotencyScope,
  releaseIdempotencyKey,
  requestFingerprint,
} from "../idempotency";

export interface WalletDeps {
  db: Database;
  config: Config;
}

export interface WithdrawDeps extends WalletDeps {
  ledgers: DurableObjectNamespace<OrganizerLedger>;
  queue: Queue<DeliveryJob>;
}

export interface WalletView extends WalletBalance {
  active: boolean;
  walletId: string | null;
  isFrozen: boolean;
  isKycVerified: boolean;
  payoutPhone: string | null;
}

/** Activate once: 201 the first time (a new wallet id), 200 with the same id ever after. */
export async function activateWallet(
  db: Database,
  organizerId: string,
  now = Date.now(),
): Promise<{ created: boolean; walletId: string }> {
  const [activated] = await db
    .update(users)
    .set({ walletId: crypto.randomUUID(), walletActivatedAt: now, updatedAt: now })
    .where(and(eq(users.id, organizerId), isNull(users.walletId)))
    .returning({ walletId: users.walletId });
  if (activated?.walletId) return { created: true, walletId: activated.walletId };
  const current = await db.query.users.findFirst({
    where: eq(users.id, organizerId),
    columns: { walletId: true },
  });
  if (!current?.walletId) throw DomainError.notFound();
  return { created: false, walletId: current.walletId };
}

export async function walletOf(deps: WalletDeps, organizerId: string, now = Date.now()): Promise<WalletView> {
  const [organizer, amounts] = await Promise.all([
    deps.db.query.users.findFirst({
      where: eq(users.id, organizerId),
      columns: { walletId: true, isKycVerified: true, payoutPhone: true, isWalletFrozen: true },
    }),
    ledgerAmounts(deps.db, organizerId),
  ]);
  const active = Boolean(organizer?.walletId);
  const zero: WalletBalance = { available: 0, pendingBalance: 0, pendingPayouts: 0, totalEarned: 0 };
  return {
    // No wallet yet: the same shape with zeros (the sales are in the ledger all the same).
    ...(active ? walletBalance(amounts, { holdMs: deps.config.wallet.payoutHoldMs, now }) : zero),
    active,
    walletId: organizer?.walletId ?? null,
    isFrozen: organizer?.isWalletFrozen ?? false,
    isKycVerified: organizer?.isKycVerified ?? false,
    payoutPhone: organizer?.payoutPhone ?? null,
  };
}

/** The available balance alone (the dashboard's `wallet_balance`). */
export async function availableBalance(deps: WalletDeps, organizerId: string, now = Date.now()) {
  const amounts = await ledgerAmounts(deps.db, organizerId);
  return walletBalance(amounts, { holdMs: deps.config.wallet.payoutHoldMs, now }).available;
}

export interface HistoryItem {
  entry: LedgerEntryRow;
  /** What the organizer sees: a SALE/FEE/REFUND still on hold is PENDING. */
  status: LedgerEntryRow["status"];
}

export async function walletHistory(
  deps: WalletDeps,
  organizerId: string,
  page: { page: number; pageSize: number },
  now = Date.now(),
): Promise<{ items: HistoryItem[]; totalPages: number }> {
  const { total, rows } = await ledgerHistory(deps.db, organizerId, {
    limit: page.pageSize,
    offset: (page.page - 1) * page.pageSize,
  });
  const holdMs = deps.config.wallet.payoutHoldMs;
  return {
    totalPages: Math.ceil(total / page.pageSize),
    items: rows.map(({ entry, event }) => ({
      entry,
      status:
        (entry.type === "SALE" || entry.type === "FEE" || entry.type === "REFUND") &&
        !isAvailable({ availableAt: entry.availableAt, event }, holdMs, now)
          ? "PENDING"
          : entry.status,
    })),
  };
}

export interface WithdrawalResult {
  reference: string;
  amount: number;
  newBalance: number;
}

const AMOUNT_PATTERN = /^(\d{1,12})(?:\.0{1,2})?$/;

/** `amount` as sent: whole shillings as a number or a decimal string ("1500", "1500.00"). */
export function parseWithdrawalAmount(raw: unknown, config: Config): number {
  const text = typeof raw === "number" ? (Number.isFinite(raw) ? String(raw) : "") : raw;
  const match = typeof text === "string" ? AMOUNT_PATTERN.exec(text.trim()) : null;
  if (!match) {
    throw new DomainError("invalid_amount", "Enter the amount as a whole number of shillings.");
  }
  const amount = Number(match[1]);
  const { payoutMinKes, payoutMaxKes } = config.wallet;
  if (amount < payoutMinKes || amount > payoutMaxKes) {
    throw new DomainError(
      "amount_out_of_range",
      `A withdrawal must be between KES ${payoutMinKes} and KES ${payoutMaxKes}.`,
    );
  }
  return amount;
}

const REFUSALS = {
  wallet_inactive: "Activate your wallet first.",
  wallet_frozen: "This wallet is frozen: contact support.",
  kyc_required: "Your payout details must be verified before you can withdraw.",
  insufficient_balance: "The amount is more than your available balance.",
} as const;

/**
 * A withdrawal (contract §17): the amount checked, the organizer's ledger object decides and
 * records it, then the queue sends it by B2C. With an Idempotency-Key the same key and body
 * answers the first result and withdraws once; the same key with another body is refused.
 */
export async function withdraw(
  deps: WithdrawDeps,
  organizerId: string,
  input: { amount: unknown; idempotencyKey?: string | undefined },
): Promise<WithdrawalResult> {
  const key = input.idempotencyKey?.trim();
  if (input.idempotencyKey !== undefined && (!key || key.length > 255)) {
    throw new DomainError("validation_error", "Idempotency-Key must be between 1 and 255 characters.", {
      fields: { "Idempotency-Key": ["Must be between 1 and 255 characters."] },
    });
  }
  const amount = parseWithdrawalAmount(input.amount, deps.config);
  const idempotency: IdempotencyScope | undefined = key
    ? { scope: `wallet:${organizerId}`, key, requestHash: await requestFingerprint({ amount }) }
    : undefined;
  if (idempotency) {
    const claim = await claimIdempotencyKey(deps.db, idempotency);
    if (claim.kind === "replay") return claim.result as WithdrawalResult;
    if (claim.kind === "in_progress")
      throw new DomainError("conflict", "A request with this Idempotency-Key is still being processed.");
    if (claim.kind === "conflict")
      throw new DomainError(
        "idempotency_conflict",
        "This Idempotency-Key was already used with a different request.",
      );
  }
  let decided: Awaited<ReturnType<OrganizerLedger["withdraw"]>>;
  try {
    decided = await organizerLedger(deps.ledgers, organizerId).withdraw({
      organizerId,
      amount,
      holdMs: deps.config.wallet.payoutHoldMs,
    });
  } catch (error) {
    // Nothing was decided that we know of: the same key may try again.
    if (idempotency) await releaseIdempotencyKey(deps.db, idempotency).catch(() => undefined);
    throw error;
  }
  if (!decided.ok) {
    // A refusal recorded nothing: the same key may try again once it can succeed.
    if (idempotency) await releaseIdempotencyKey(deps.db, idempotency);
    throw new DomainError(decided.reason, REFUSALS[decided.reason]);
  }
  const result: WithdrawalResult = {
    reference: decided.payout.reference,
    amount: decided.payout.amount,
    newBalance: decided.newBalance,
  };
  if (idempotency) await runBatch(deps.db, [completeIdempotencyKey(deps.db, idempotency, result)]);
  await deps.queue.send({ type: "payout", payoutId: decided.payout.id } satisfies DeliveryJob);
  return result;
}
