export { TierInventory } from "../../src/inventory/tier-inventory";
export default {
  async fetch(req: Request, env: any) {
    const u = new URL(req.url);
    const objects = Number(u.searchParams.get("objects") ?? 1);
    const holds = Number(u.searchParams.get("holds") ?? 2000);
    const conc = Number(u.searchParams.get("conc") ?? 100);
    const run = crypto.randomUUID();
    const stubs = Array.from({ length: objects }, (_, i) =>
      env.TIER_INVENTORY.get(env.TIER_INVENTORY.idFromName(`${run}:${i}`)),
    );
    let next = 0,
      ok = 0;
    const t0 = Date.now();
    await Promise.all(
      Array.from({ length: conc }, async () => {
        while (next < holds) {
          const i = next++;
          const r = await stubs[i % objects].reserve(
            `o${i}`,
            1,
            300000,
            { allocation: holds, sold: 0 },
            [`email:b${i}`, `phone:p${i}`],
            4,
          );
          if (r.ok) ok++;
        }
      }),
    );
    return Response.json({ ok, ms: Date.now() - t0, perSec: Math.round(ok / ((Date.now() - t0) / 1000)) });
  },
};
