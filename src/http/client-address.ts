/**
 * The caller's address, for per-address limits. Behind Cloudflare `cf-connecting-ip` is set by
 * the edge and cannot be forged by the client (Cloudflare overwrites a client's own copy).
 * `x-real-ip` is only for local runs behind a proxy; `wrangler dev` sets neither.
 */
import type { AppContext } from "./route";

export function clientAddress(c: AppContext): string {
  return c.req.header("cf-connecting-ip") ?? c.req.header("x-real-ip") ?? "unknown";
}
