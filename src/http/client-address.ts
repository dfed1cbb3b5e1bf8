/**
 * The caller's address, for per-address limits. Behind Cloudflare `cf-connecting-ip` is set by
 * the edge and cannot be forged by the client. (Same rule as routes/auth.ts, which keeps its
 * own copy for now; the two can be merged.)
 */
import type { AppContext } from "./route";

export function clientAddress(c: AppContext): string {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "unknown";
}
