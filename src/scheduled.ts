/**
 * The cron trigger (every minute): settle PENDING orders whose hold lapsed (STK query), sweep
 * refunds and reconcile B2C attempts with no Result (Transaction Status query), then
 * housekeeping that keeps D1 small and nothing stuck. Each step lives beside the table it
 * works on; this file only sequences them.
 * Each step is independent and bounded; one failing does not stop the others.
 */
import type { Services } from "./compose";
import { describeError } from "./lib/logger";
import { requeueStuckMail } from "./mail/mail-sweeps";
import { purgeAccountTokens } from "./services/account-token-purges";
import { queryOpenB2CAttempts } from "./services/b2c-reconciliation";
import { purgeIdempotencyKeys } from "./services/idempotency-purges";
import { requeueStuckPayouts } from "./services/organizer-wallet/payouts";
import { purgeRateLimits } from "./services/rate-limit";
import { sweepRefunds } from "./services/refunds/sweep";
import { purgeDeadSessions, purgeExpiredBlacklist } from "./services/session-purges";
import { PAID_UNFULFILLED_REASON, settlePendingOrders } from "./services/settlement";
import { requeueUndeliveredOrders } from "./services/ticket-delivery";
import { requeueUndeliveredTransfers } from "./services/ticket-transfer";
import { purgeOldWebhookDeliveries, requeueOverdueWebhooks } from "./services/webhooks/sweep";

export async function runScheduled(
  services: Services,
  now = Date.now(),
): Promise<Record<string, number | string>> {
  const { db, log, queue } = services;
  const results: Record<string, number | string> = {};

  // Money first: settle orders whose hold lapsed without a callback.
  try {
    const settlement = await settlePendingOrders(services, log, now);
    for (const [key, value] of Object.entries(settlement)) results[`settlement_${key}`] = value;
  } catch (error) {
    results.settlement = "error";
    log.error("settlement failed", describeError(error));
  }

  // Money out: refunds nothing may leave stuck (§13.3 rule 4, §13.4), then B2C attempts
  // with no Result asked about (Transaction Status query; it never sends money).
  try {
    const sweep = await sweepRefunds(services, PAID_UNFULFILLED_REASON, now);
    for (const [key, value] of Object.entries(sweep)) results[`refunds_${key}`] = value;
  } catch (error) {
    results.refunds = "error";
    log.error("refund sweep failed", describeError(error));
  }

  const steps: Array<[string, () => Promise<number>]> = [
    ["b2c_status_queries", () => queryOpenB2CAttempts(services, now)],
    ["requeued_payouts", () => requeueStuckPayouts(db, queue, now)],
    ["purged_blacklisted_tokens", () => purgeExpiredBlacklist(db, now)],
    ["purged_sessions", () => purgeDeadSessions(db, now)],
    ["purged_account_tokens", () => purgeAccountTokens(db, now)],
    ["purged_rate_limits", () => purgeRateLimits(db, now)],
    ["purged_idempotency_keys", () => purgeIdempotencyKeys(db, now)],
    ["requeued_mail", () => requeueStuckMail(db, queue, now)],
    ["requeued_ticket_deliveries", () => requeueUndeliveredOrders(db, queue, now)],
    ["requeued_transfer_deliveries", () => requeueUndeliveredTransfers(db, queue, now)],
    ["requeued_webhook_deliveries", () => requeueOverdueWebhooks(db, queue, now)],
    ["purged_webhook_events", () => purgeOldWebhookDeliveries(db, now)],
  ];
  for (const [name, step] of steps) {
    try {
      results[name] = await step();
    } catch (error) {
      results[name] = "error";
      log.error(`cron step ${name} failed`, describeError(error));
    }
  }
  log.info("cron finished", results);
  return results;
}
