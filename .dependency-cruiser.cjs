/**
 * The layer rule of README "Architecture", checked by `npm run lint:layers` (part of
 * `npm test`): imports point down only, and there are no import cycles.
 *
 *   entry (index.ts, compose.ts)
 *     → http/ (fetch) · delivery/ (queue) · cron/ scheduled (cron)
 *       → services/
 *         → inventory/ · integrations/ · render/ · mail/ · db/ · delivery/jobs.ts
 *           → lib/ (and config.ts, env.ts)
 */
const LOWER = "^src/(inventory|integrations|render|mail|db)/";
const ENTRY_LEVEL = "^src/(index|compose|scheduled)\\.ts$|^src/cron/";

module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle means two modules are one; split the shared part out.",
      from: {},
      to: { circular: true },
    },
    {
      name: "only-http-knows-hono",
      severity: "error",
      comment: "Status codes, requests and responses live in src/http/ only.",
      from: { path: "^src/", pathNot: "^src/http/" },
      to: { path: "node_modules/(hono|@hono/)" },
    },
    {
      name: "nothing-imports-http",
      severity: "error",
      comment: "The HTTP layer is on top: services and below never see it.",
      from: { path: "^src/", pathNot: ["^src/http/", "^src/index\\.ts$"] },
      to: { path: "^src/http/" },
    },
    {
      name: "nothing-imports-entry-points",
      severity: "error",
      comment: "The entry points wire the Worker; nothing below them imports them (compose's types aside).",
      from: { path: "^src/", pathNot: ENTRY_LEVEL },
      to: { path: "^src/(index|scheduled)\\.ts$|^src/cron/" },
    },
    {
      name: "services-below-the-entry-points",
      severity: "error",
      comment: "Services take their deps as arguments; only entry points build them (compose.ts).",
      from: { path: "^src/services/" },
      to: { path: "^src/compose\\.ts$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "delivery-consumer-is-an-entry-point",
      severity: "error",
      comment: "Only the queue's job schemas (delivery/jobs.ts) may be imported from below the consumer.",
      from: { path: "^src/", pathNot: ["^src/delivery/", ENTRY_LEVEL] },
      to: { path: "^src/delivery/", pathNot: "^src/delivery/jobs\\.ts$" },
    },
    {
      name: "lower-layers-do-not-call-up",
      severity: "error",
      comment: "Objects, clients, rendering, mail and the schema never import a use case.",
      from: { path: LOWER },
      to: { path: "^src/(services|http|delivery|compose)", pathNot: "^src/delivery/jobs\\.ts$" },
    },
    {
      name: "render-is-pure",
      severity: "error",
      comment: "Ticket graphics take data and give bytes: no storage, no mail, no clients.",
      from: { path: "^src/render/" },
      to: { path: "^src/", pathNot: "^src/(render|lib)/" },
    },
    {
      name: "lib-is-pure",
      severity: "error",
      comment: "lib/ holds pure helpers: no storage, no HTTP, nothing of ours above it.",
      from: { path: "^src/lib/" },
      to: { path: ["^src/(?!lib/)", "node_modules/(drizzle-orm|hono|@hono/)"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "worker-configuration\\.d\\.ts$" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".d.ts", ".js", ".mjs"] },
    moduleSystems: ["es6"],
  },
};
