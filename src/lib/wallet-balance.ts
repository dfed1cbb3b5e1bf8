/**
 * An organizer's balances (contract §17) as sums of ledger entries: pure, so the wallet,
 * the withdrawal check (the organizer's ledger object) and the recomputation test all count
 * the same way. No counter is ever stored.
 *
 * - A SALE, its FEE and its REFUNDs belong to an event: available once the event has ended
 *   `PAYOUT_HOLD_DAYS` ago (by its current end, and never before the entry's own
 *   `available_at`), pending until then; a cancelled event's never become available.
 * - PAYOUT (−) and PAYOUT_REVERSED (+) move the available balance at once: a withdrawal is
 *   taken when it is recorded, not when M-Pesa confirms it, so two in flight cannot both
 *   spend the same shillings.
 */

export const DAY_MS = 24 * 60 * 60 * 1000;

/** Entries (or sums of entries sharing these facts): what the balance depends on. */
export interface LedgerAmount {
  type: "SALE" | "FEE" | "REFUND" | "PAYOUT" | "PAYOUT_REVERSED";
  status: "COMPLETED" | "PENDING" | "FAILED";
  /** Signed whole shillings. */
  amount: number;
  availableAt: number | null;
  /** The entry's event, as it is now (null for payouts, or an event that is gone). */
  event: { endAt: number; cancelled: boolean } | null;
}

export interface WalletBalance {
  /** What may be withdrawn now. */
  available: number;
  /** Proceeds not yet available (held until the event ended PAYOUT_HOLD_DAYS ago, or cancelled). */
  pendingBalance: number;
  /** Withdrawals recorded and not yet settled by M-Pesa. */
  pendingPayouts: number;
  /** Sales − fees − refunds, ever. */
  totalEarned: number;
}

/** Whether an event's proceeds may be withdrawn at `now`. */
export function isAvailable(entry: Pick<LedgerAmount, "availableAt" | "event">, holdMs: number, now: number) {
  if (!entry.event || entry.event.cancelled) return false;
  return now >= Math.max(entry.availableAt ?? 0, entry.event.endAt + holdMs);
}

export function walletBalance(
  entries: readonly LedgerAmount[],
  options: { holdMs: number; now: number },
): WalletBalance {
  const balance: WalletBalance = { available: 0, pendingBalance: 0, pendingPayouts: 0, totalEarned: 0 };
  for (const entry of entries) {
    switch (entry.type) {
      case "SALE":
      case "FEE":
      case "REFUND":
        balance.totalEarned += entry.amount;
        if (isAvailable(entry, options.holdMs, options.now)) balance.available += entry.amount;
        else balance.pendingBalance += entry.amount;
        break;
      case "PAYOUT":
        balance.available += entry.amount;
        if (entry.status === "PENDING") balance.pendingPayouts -= entry.amount;
        break;
      case "PAYOUT_REVERSED":
        balance.available += entry.amount;
        break;
    }
  }
  return balance;
}

/** PLATFORM_FEE_PERCENT of a sale, rounded down to the shilling (basis points keep it exact). */
export function platformFee(amount: number, feeBasisPoints: number): number {
  if (amount <= 0 || feeBasisPoints <= 0) return 0;
  return Math.floor((amount * feeBasisPoints) / 10_000);
}
