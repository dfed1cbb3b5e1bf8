/**
 * The render benchmark's Worker: the production renderer (src/render/render-ticket.ts)
 * behind a few routes that bench/render.mjs calls from outside, one render per request, so
 * the host measures time per ticket (workerd's clock only moves between I/O, not during a
 * render) and the process's memory.
 *
 *   GET  /noop                  the request overhead, for reference
 *   GET  /init                  instantiate resvg's wasm only (no render), to see what that costs
 *   POST /poster                the poster JPEG/PNG to use (prepared once, as in production)
 *   GET  /render?poster=0|1     one ticket of the bench's one event; answers its size
 *   GET  /render?poster=0|1&event=new   one ticket of an event never rendered before (the
 *                               renderer's per-isolate caches cannot help: the cold case)
 *   GET  /batch?n=10&poster=1   n tickets in a row, as one delivery job renders an order
 *   GET  /memory                the size of resvg's wasm linear memory (it never shrinks)
 */

import { loadTicketKey, signTicket } from "../../src/lib/ticket-signing";
import {
  ensureRenderer,
  type PreparedPoster,
  preparePoster,
  renderTicketPng,
} from "../../src/render/render-ticket";

// The test suite's throwaway Ed25519 key (vitest.config.ts): a real-length qr_code_hash.
const BENCH_SIGNING_KEY = "MC4CAQAwBQYDK2VwBCIEIFGerDwdhSZkmnqdtGtLOG6//U/gPBmdXmaq9uZGVmv8";

let poster: PreparedPoster | null = null;

// Bench only: keep a handle on resvg's wasm instance (instantiated on the first render) to
// report its linear memory, which workerd's process figures cannot separate from the rest.
let wasmMemory: WebAssembly.Memory | undefined;
const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (
  module: WebAssembly.Module,
  imports?: WebAssembly.Imports,
) => Promise<WebAssembly.Instance>;
(WebAssembly as { instantiate: unknown }).instantiate = async (
  module: WebAssembly.Module,
  imports?: WebAssembly.Imports,
) => {
  const instance = await instantiate(module, imports);
  const memory = instance.exports.memory;
  if (memory instanceof WebAssembly.Memory) wasmMemory = memory;
  return instance;
};
let seq = 0;

async function renderOne(withPoster: boolean, newEvent = false) {
  const ticketId = crypto.randomUUID();
  const qr = await signTicket(await loadTicketKey(BENCH_SIGNING_KEY), {
    ticketId,
    eventId: crypto.randomUUID(),
    tierId: crypto.randomUUID(),
  });
  seq++;
  return renderTicketPng(
    {
      ticketId,
      qrContent: qr,
      // A new event shares nothing with the last: title, date, venue and tier all differ.
      eventTitle: `Nairobi Jazz Night: Sauti za Usiku Live at the Carnivore${newEvent ? ` ${seq}` : ""}`,
      startAt: Date.UTC(2026, 11, 5, 15, 0, 0) + (newEvent ? seq * 3_600_000 : 0),
      locationName: `Carnivore Grounds, Langata Road, Nairobi${newEvent ? ` Gate ${seq}` : ""}`,
      tierName: `${seq % 2 ? "VIP Early Bird" : "Regular"}${newEvent ? ` ${seq}` : ""}`,
      attendeeName: seq % 3 ? "Wanjiku Kamau" : `Achieng 🎉 ${"Otieno-Wanjiru ".repeat(20)}`,
      position: { index: 1 + (seq % 4), count: 4 },
    },
    withPoster ? poster : null,
  );
}

export default {
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const withPoster = url.searchParams.get("poster") === "1";
    if (withPoster && !poster) return Response.json({ error: "POST /poster first" }, { status: 409 });
    switch (url.pathname) {
      case "/noop":
        return Response.json({ ok: true });
      case "/init":
        await ensureRenderer();
        return Response.json({ ok: true });
      case "/memory":
        return Response.json({ wasm_bytes: wasmMemory?.buffer.byteLength ?? null });
      case "/poster": {
        poster = await preparePoster(new Uint8Array(await request.arrayBuffer()));
        return Response.json({ ok: poster !== null });
      }
      case "/render": {
        const ticket = await renderOne(withPoster, url.searchParams.get("event") === "new");
        return Response.json({
          bytes: ticket.png.byteLength,
          width: ticket.width,
          height: ticket.height,
          with_poster: ticket.withPoster,
        });
      }
      case "/batch": {
        const n = Math.min(50, Math.max(1, Number(url.searchParams.get("n") ?? 10)));
        const sizes: number[] = [];
        for (let i = 0; i < n; i++) sizes.push((await renderOne(withPoster)).png.byteLength);
        return Response.json({ sizes });
      }
      default:
        return new Response("not found", { status: 404 });
    }
  },
} satisfies ExportedHandler;
