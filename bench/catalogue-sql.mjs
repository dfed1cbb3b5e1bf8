/**
 * The exact D1 statements the listing code issues, captured without a server.
 *
 * Bundles src/services/event-catalogue.ts and src/db/client.ts (`bundleSource`, wrangler's own
 * esbuild: no new dependency) and calls the real `listPublicEvents` / `buildMatchExpression`
 * against a D1 stand-in that records every statement instead of running it. The benchmark
 * uses this to check that a search listing is a single D1 statement, and to time that same
 * SQL inside the local D1 simulator with `wrangler d1 execute --file` (its `meta.duration`).
 */
import path from "node:path";
import { bundleSource } from "./common.mjs";

/** A D1Database that records statements and answers every one with no rows. */
function recordingD1(log) {
  const statement = (sql) => {
    const stmt = {
      sql,
      params: [],
      bind(...params) {
        stmt.params = params;
        return stmt;
      },
      async all() {
        log.push({ sql: stmt.sql, params: stmt.params });
        return { success: true, results: [], meta: {} };
      },
      async raw() {
        log.push({ sql: stmt.sql, params: stmt.params });
        return [];
      },
      async first() {
        log.push({ sql: stmt.sql, params: stmt.params });
        return null;
      },
      async run() {
        log.push({ sql: stmt.sql, params: stmt.params });
        return { success: true, results: [], meta: {} };
      },
    };
    return stmt;
  };
  return {
    prepare: statement,
    async batch(list) {
      for (const stmt of list) log.push({ sql: stmt.sql, params: stmt.params, batched: true });
      return list.map(() => ({ success: true, results: [], meta: {} }));
    },
    async exec(sql) {
      log.push({ sql, params: [] });
      return { count: 1, duration: 0 };
    },
  };
}

/** Loads the real listing code (bundled into `outDir`). */
export function loadCatalogue(outDir) {
  return bundleSource(
    [
      'export { createDb } from "./src/db/client.ts";',
      'export { buildMatchExpression, listPublicEvents } from "./src/services/event-catalogue.ts";',
    ].join("\n"),
    path.join(outDir, "event-catalogue.bundle.mjs"),
  );
}

/**
 * The statements one `GET /api/events/?q=<word>&min_price=<n>` (first page, 20 items) makes.
 * @returns {Promise<Array<{ sql: string, params: unknown[] }>>}
 */
export async function captureListingStatements(catalogue, { word, minPrice, now = Date.now() }) {
  const log = [];
  const db = catalogue.createDb(recordingD1(log));
  await catalogue.listPublicEvents(
    db,
    { ordering: "start_datetime", match: catalogue.buildMatchExpression(word), minPrice },
    { limit: 20, offset: 0 },
    now,
  );
  return log;
}

/** A statement with its `?` parameters written in as SQL literals (for `d1 execute --file`). */
export function inlineParams(sql, params) {
  let i = 0;
  const literal = (value) => {
    if (value === null || value === undefined) return "NULL";
    if (typeof value === "number" || typeof value === "bigint") return String(value);
    if (typeof value === "boolean") return value ? "1" : "0";
    return `'${String(value).replaceAll("'", "''")}'`;
  };
  // drizzle never puts a `?` inside a literal of its own, and the values are bound, not inlined.
  const text = sql.replace(/\?/g, () => literal(params[i++]));
  if (i !== params.length) throw new Error(`Expected ${i} parameters, got ${params.length}`);
  return text;
}
