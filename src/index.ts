/** The Worker entry: wiring only. */

import { handleDeliveryBatch } from "./delivery/consumer";
import type { DeliveryJob } from "./delivery/jobs";
import { handleFetch } from "./http/app";
import { runScheduled } from "./scheduled";

export { TierInventory } from "./inventory/tier-inventory";

export default {
  fetch: handleFetch,
  async queue(batch, env) {
    await handleDeliveryBatch(batch, env);
  },
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(
      runScheduled(env, {
        selfFetch: (request) => handleFetch(request, env, ctx),
        schedule: (task) => ctx.waitUntil(task),
      }),
    );
  },
} satisfies ExportedHandler<Env, DeliveryJob>;
