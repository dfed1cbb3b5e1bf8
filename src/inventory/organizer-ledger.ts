/**
 * OrganizerLedger: the single writer of one organizer's withdrawals (one object per
 * organizer, contract §17), as TierInventory is of a tier's seats.
 *
 * The ledger itself lives in D1 (ledger-store.ts); what must not race is "is the available
 * balance at least the amount?" followed by "record the PAYOUT". Only this object records
 * PAYOUT entries, and it does the read, the check and the write inside
 * `blockConcurrencyWhile`, so no other call into the object runs in between, D1 round trips
 * included (an input gate alone would let calls interleave while D1 answers). However many
 * withdrawals race, each sees every PAYOUT recorded before it: the balance never goes below
 * zero by a withdrawal. Other writers only add money (SALE, PAYOUT_REVERSED) or take what a
 * fan is owed (REFUND, FEE), which is not this object's to refuse.
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { createDb, runBatch } from "../db/client";
import { payouts, users } from "../db/schema";
import { walletBalance } from "../lib/wallet-balance";
import { ledgerAmounts, payoutEntryStatement } from "./ledger-store";

export interface WithdrawRequest {
  organizerId: string;
  /** Whole shillings, already checked against PAYOUT_MIN_KES and the B2C maximum. */
  amount: number;
  holdMs: number;
}

export type WithdrawResult =
  | {
      ok: true;
      payout: { id: string; reference: string; amount: number; phone: string };
      /** The available balance after this withdrawal. */
      newBalance: number;
    }
  /** Nothing recorded. */
  | {
      ok: false;
      reason: "wallet_inactive" | "wallet_frozen" | "kyc_required" | "insufficient_balance";
      available: number;
    };

const REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/** `WD-XXXXXXXX` (40 random bits). */
export function payoutReference(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return `WD-${Array.from(bytes, (b) => REFERENCE_ALPHABET[b % REFERENCE_ALPHABET.length]).join("")}`;
}

export class OrganizerLedger extends DurableObject<Env> {
  withdraw(request: WithdrawRequest): Promise<WithdrawResult> {
    return this.ctx.blockConcurrencyWhile(() => this.checkAndRecord(request));
  }

  private async checkAndRecord(request: WithdrawRequest): Promise<WithdrawResult> {
    const db = createDb(this.env.DB);
    const now = Date.now();
    const [organizer, amounts] = await Promise.all([
      db.query.users.findFirst({
        where: eq(users.id, request.organizerId),
        columns: { walletId: true, isKycVerified: true, payoutPhone: true, isWalletFrozen: true },
      }),
      ledgerAmounts(db, request.organizerId),
    ]);
    const { available } = walletBalance(amounts, { holdMs: request.holdMs, now });
    const refuse = (reason: Extract<WithdrawResult, { ok: false }>["reason"]): WithdrawResult => ({
      ok: false,
      reason,
      available,
    });
    if (!organizer?.walletId) return refuse("wallet_inactive");
    if (organizer.isWalletFrozen) return refuse("wallet_frozen");
    if (!organizer.isKycVerified || !organizer.payoutPhone) return refuse("kyc_required");
    if (request.amount > available) return refuse("insufficient_balance");

    const payout = {
      id: crypto.randomUUID(),
      organizerId: request.organizerId,
      reference: payoutReference(),
      amount: request.amount,
      phone: organizer.payoutPhone,
    };
    // The payout and its PAYOUT entry in one transaction: the balance drops as it is recorded.
    // A reference another payout already has (40 random bits: rare) fails the whole batch.
    for (let attempt = 1; ; attempt++) {
      try {
        await runBatch(db, [
          db.insert(payouts).values({ ...payout, status: "PENDING", createdAt: now, updatedAt: now }),
          payoutEntryStatement(db, payout, now),
        ]);
        break;
      } catch (error) {
        if (attempt >= 3 || !String(error).includes("payouts.reference")) throw error;
        payout.reference = payoutReference();
      }
    }
    return {
      ok: true,
      payout: { id: payout.id, reference: payout.reference, amount: payout.amount, phone: payout.phone },
      newBalance: available - request.amount,
    };
  }
}

/** How the rest of the Worker reaches an organizer's ledger object. */
export function organizerLedger(
  namespace: DurableObjectNamespace<OrganizerLedger>,
  organizerId: string,
): DurableObjectStub<OrganizerLedger> {
  return namespace.get(namespace.idFromName(`organizer:${organizerId}`));
}
