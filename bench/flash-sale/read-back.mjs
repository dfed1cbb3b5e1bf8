/**
 * After the server stopped: the sale read back from D1 (`wrangler d1 execute --local
 * --persist-to …`) and from the tier's Durable Object storage (sqlite3, when installed):
 * tickets issued, orders, sold + held against the allocation.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { d1Query } from "../../scripts/wrangler.mjs";
import { STATE_DIR, TARGET } from "./layout.mjs";

export async function readBack(data) {
  const t = data.saleTier.id;
  const [tier] = await d1Query(
    TARGET,
    `SELECT quantity_allocated AS allocated, quantity_sold AS sold, quantity_held AS held, inventory_version AS version FROM tiers WHERE id = '${t}'`,
  );
  const orders = await d1Query(
    TARGET,
    `SELECT status, COUNT(*) AS orders, SUM(quantity) AS seats, SUM(amount) AS amount FROM orders WHERE tier_id = '${t}' GROUP BY status ORDER BY status`,
  );
  const [tickets] = await d1Query(
    TARGET,
    `SELECT COUNT(*) AS tickets, COUNT(DISTINCT order_id) AS orders, COUNT(DISTINCT owner_id) AS owners,
       (SELECT COUNT(*) FROM (SELECT o.id FROM orders o LEFT JOIN tickets k ON k.order_id = o.id
          WHERE o.tier_id = '${t}' AND o.status = 'COMPLETED' GROUP BY o.id HAVING COUNT(k.id) <> o.quantity)) AS mismatched,
       (SELECT COUNT(*) FROM orders WHERE tier_id = '${t}' AND status = 'COMPLETED' AND mpesa_receipt_number IS NULL) AS without_receipt
     FROM tickets WHERE tier_id = '${t}'`,
  );
  const [pending] = await d1Query(
    TARGET,
    `SELECT COUNT(*) AS n FROM orders WHERE tier_id = '${t}' AND status = 'PENDING' AND checkout_request_id IS NULL`,
  );
  const [users] = await d1Query(
    TARGET,
    `SELECT COUNT(*) AS sale_guests FROM users WHERE is_guest = 1 AND email LIKE '%.sale%@flash-sale.bench'`,
  );
  return {
    tier,
    orders,
    tickets,
    users,
    pendingWithoutPush: Number(pending?.n ?? 0),
    objects: readObjects(),
  };
}

/** The tier objects' own storage (SQLite files of the Durable Objects), when sqlite3 is installed. */
function readObjects() {
  const doDir = path.join(STATE_DIR, "v3", "do");
  if (!existsSync(doDir)) return { note: "no Durable Object storage found" };
  const dirs = readdirSync(doDir).filter((d) => d.includes("TierInventory"));
  const files = dirs.flatMap((d) =>
    readdirSync(path.join(doDir, d))
      .filter((f) => f.endsWith(".sqlite"))
      .map((f) => path.join(doDir, d, f)),
  );
  const rows = [];
  const problems = [];
  for (const file of files) {
    try {
      const tables = execFileSync("sqlite3", ["-readonly", file, ".tables"], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      if (!/\binventory\b/.test(tables)) continue; // the namespace's metadata.sqlite
      const out = execFileSync(
        "sqlite3",
        [
          "-readonly",
          "-json",
          file,
          "SELECT tier_id, allocation, sold, version, (SELECT COUNT(*) FROM holds) AS holds, (SELECT COALESCE(SUM(quantity), 0) FROM holds) AS held, (SELECT COUNT(*) FROM confirmed) AS confirmed, (SELECT COALESCE(SUM(quantity), 0) FROM confirmed) AS confirmed_seats FROM inventory",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] },
      );
      rows.push(...JSON.parse(out || "[]"));
    } catch (error) {
      problems.push(
        error.code === "ENOENT" ? "sqlite3 is not installed" : String(error.stderr ?? error.message).trim(),
      );
    }
  }
  if (rows.length === 0) return { note: problems[0] ?? "no tier object storage found" };
  return { rows };
}
