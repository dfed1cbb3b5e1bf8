/**
 * Swagger UI's prebuilt files, imported as text: the Text `[[rules]]` in wrangler.toml make
 * wrangler (and @cloudflare/vitest-pool-workers, which reads the same rules) bundle them as
 * strings instead of running them as modules.
 */
declare module "swagger-ui-dist/swagger-ui-bundle.js" {
  const text: string;
  export default text;
}

declare module "swagger-ui-dist/swagger-ui.css" {
  const text: string;
  export default text;
}
