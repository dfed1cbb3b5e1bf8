/** The Worker entry: wiring only. Each invocation builds its services in src/compose.ts. */
import { createServices, type Runtime } from "./compose";
import { handleDeliveryBatch } from "./delivery/consumer";
import type { DeliveryJob } from "./delivery/jobs";
import { handleFetch } from "./http/app";
import { createLogger } from "./lib/logger";
import { runScheduled } from "./scheduled";

export { TierInventory } from "./inventory/tier-inventory";

function runtimeOf(env: Env, ctx: ExecutionContext): Runtime {
  return {
    waitUntil: (task) => ctx.waitUntil(task),
    selfFetch: (request) => handleFetch(request, env, ctx),
  };
}

export default {
  fetch: handleFetch,
  async queue(batch, env, ctx) {
    const log = createLogger({ component: "delivery", queue: batch.queue });
    await handleDeliveryBatch(batch, createServices(env, runtimeOf(env, ctx), log));
  },
  async scheduled(_controller, env, ctx) {
    const log = createLogger({ component: "cron" });
    ctx.waitUntil(runScheduled(createServices(env, runtimeOf(env, ctx), log)));
  },
} satisfies ExportedHandler<Env, DeliveryJob>;
