/** GET /api/pay/verify/<order_id>/ for every accepted order: COMPLETED, and its ticket ids. */
import { fmt, log, step } from "../common.mjs";
import { pool, requestJson } from "../http-json.mjs";

export async function verifyPhase(server, agent, opts, accepted) {
  step(`Verify: GET /api/pay/verify/<order_id>/ for ${accepted.length} orders`);
  const { results, seconds } = await pool(accepted.length, opts.callbackConcurrency, async (k) => {
    const r = await requestJson(agent, {
      url: `${server.baseUrl}/api/pay/verify/${accepted[k].json.order_id}/`,
    });
    const ok = r.status === 200 && r.json?.status === "COMPLETED";
    return { ...r, ok, tickets: Array.isArray(r.json?.ticket_ids) ? r.json.ticket_ids : [] };
  });
  log(`  ${results.reduce((sum, r) => sum + r.tickets.length, 0)} ticket ids in ${fmt(seconds, 2)} s`);
  return { results, seconds };
}
