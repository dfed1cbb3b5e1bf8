import { type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Database = ReturnType<typeof createDb>;

/** One drizzle handle per request (cheap: it only wraps the D1 binding). */
export function createDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

/**
 * The same handle over a D1 session (read replication). drizzle only calls `prepare` and
 * `batch`, which a session has exactly as the binding does; its types just do not list
 * sessions yet.
 */
export function createSessionDb(session: D1DatabaseSession): Database {
  return createDb(session as unknown as D1Database);
}

export type Statement = BatchItem<"sqlite">;

/**
 * `db.batch` for a list whose length is only known at run time (drizzle types the batch as a
 * non-empty tuple). One round trip, one transaction; results in statement order.
 */
export async function runBatch(db: Database, statements: Statement[]): Promise<unknown[]> {
  const [first, ...rest] = statements;
  if (!first) return [];
  return db.batch([first, ...rest]);
}

/**
 * Raw SQL (`sql\`…\``) as a batch statement. drizzle's D1 batch binds parameters on the
 * query's prepared `stmt`, which its raw-SQL query (`db.run`) does not carry (drizzle-orm
 * 0.4x): give it one, so conditional INSERT … SELECT statements join a transaction with
 * parameters bound by D1, never spliced into the text.
 */
export function batchableSql(db: Database, query: SQL): Statement {
  const raw = db.run(query);
  const { sql: text } = raw.getQuery();
  Object.assign(raw, { stmt: db.$client.prepare(text) });
  return raw;
}

/**
 * A UUID v4 made by SQLite, for rows an INSERT … SELECT creates (one per selected row). Each
 * reference draws new random bytes, so use it once per row.
 */
export const SQL_UUID_TEXT =
  "lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";
export const SQL_UUID = sql.raw(SQL_UUID_TEXT);
