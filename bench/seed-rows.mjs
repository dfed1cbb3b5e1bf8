/**
 * Rows and SQL shared by the benchmarks' data modules (listing-data.mjs, flash-sale-data.mjs).
 * Rows match migrations/*.sql (UUID ids, epoch-ms times, 0/1 booleans).
 */
import { sqlValue } from "../scripts/seed-data.mjs";

/** The benchmark organizer's `users` row: verified, no password (never logged in). */
export function organizerRow({ id, username, email, firstName, lastName, now }) {
  return {
    id,
    username,
    email,
    password_hash: null,
    role: "ORGANIZER",
    first_name: firstName,
    last_name: lastName,
    is_verified: true,
    is_guest: false,
    is_active: true,
    created_at: now,
    updated_at: now,
  };
}

/** `INSERT INTO table (...) VALUES (...), (...);` for rows with the same keys. */
export function insertMany(table, rows) {
  const columns = Object.keys(rows[0]);
  const values = rows.map((row) => `(${columns.map((c) => sqlValue(row[c])).join(", ")})`);
  return `INSERT INTO ${table} (${columns.join(", ")}) VALUES\n${values.join(",\n")};`;
}
