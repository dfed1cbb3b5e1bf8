/**
 * Non-JavaScript modules the Worker imports. wrangler bundles them by type (its default rule
 * makes `*.wasm` a CompiledWasm module; the `[[rules]]` in wrangler.toml make `*.ttf` Data),
 * and @cloudflare/vitest-pool-workers reads the same rules from wrangler.toml for the tests.
 */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

declare module "*.ttf" {
  const data: ArrayBuffer;
  export default data;
}

/** What the PNG encoder uses of `node:zlib` (workerd implements it under nodejs_compat). */
declare module "node:zlib" {
  export function deflateSync(
    data: Uint8Array,
    options?: { level?: number; finishFlush?: number },
  ): Uint8Array;
  export const constants: { Z_SYNC_FLUSH: number };
}
