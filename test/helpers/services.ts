/** The composition root as the Worker's entry points use it, for tests that call a service. */
import { env } from "cloudflare:workers";
import { createServices, type Runtime, type Services } from "../../src/compose";
import { createLogger } from "../../src/lib/logger";

/** Services over `targetEnv` (the test bindings by default); waitUntil runs nothing later. */
export function servicesFor(targetEnv: Env = env, runtime: Partial<Runtime> = {}): Services {
  return createServices(
    targetEnv,
    { waitUntil: () => undefined, selfFetch: (request) => fetch(request), ...runtime },
    createLogger({ component: "test" }),
  );
}
