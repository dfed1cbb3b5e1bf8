/** The Worker entry: wiring only. Each invocation builds its services in src/compose.ts. */
import { createServices, type Runtime, type Services } from "./compose";
import { ConfigError } from "./config";
import { handleDeliveryBatch } from "./delivery/consumer";
import type { DeliveryJob } from "./delivery/jobs";
import { handleFetch } from "./http/app";
import { createLogger, type Logger } from "./lib/logger";
import { runScheduled } from "./scheduled";

export { OrganizerLedger } from "./inventory/organizer-ledger";
export { PromoCodeUses } from "./inventory/promo-code-uses";
export { TierInventory } from "./inventory/tier-inventory";

function runtimeOf(env: Env, ctx: ExecutionContext): Runtime {
  return {
    waitUntil: (task) => ctx.waitUntil(task),
    selfFetch: (request) => handleFetch(request, env, ctx),
  };
}

/**
 * Services for a queue batch or a cron tick, or null when the configuration is unusable:
 * then the invocation does nothing but log one line (fetch refuses in http/middleware/fail-closed.ts).
 */
function servicesOrRefuse(env: Env, ctx: ExecutionContext, log: Logger): Services | null {
  try {
    return createServices(env, runtimeOf(env, ctx), log);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    log.error("refusing to run: invalid configuration", { reason: error.message });
    return null;
  }
}

export default {
  fetch: handleFetch,
  async queue(batch, env, ctx) {
    const log = createLogger({ component: "delivery", queue: batch.queue });
    const services = servicesOrRefuse(env, ctx, log);
    // Not acknowledged: the jobs come back once the deployment is fixed (or dead-letter).
    if (!services) return batch.retryAll();
    await handleDeliveryBatch(batch, services);
  },
  async scheduled(_controller, env, ctx) {
    const log = createLogger({ component: "cron" });
    const services = servicesOrRefuse(env, ctx, log);
    if (services) ctx.waitUntil(runScheduled(services));
  },
} satisfies ExportedHandler<Env, DeliveryJob>;
