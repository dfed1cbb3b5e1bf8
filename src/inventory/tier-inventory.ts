/**
 * TierInventory: the single authority for one ticket tier's seats (one object per tier).
 *
 * Holds `allocation`, `sold` and the open holds (order id, quantity, expiry) in the object's
 * own SQLite storage. Every method runs check-and-write with no `await` in between, and a
 * Durable Object runs one call at a time, so two buyers can never both take the last seat.
 * An alarm set to the earliest hold expiry releases lapsed holds.
 *
 * Buyers: each order's buyer keys (`phone:…`, `email:…`, `user:…`; see types.ts) are kept in
 * `order_buyers` while the order holds or has bought seats here. A buyer has at most one open
 * hold on the tier: a reserve first releases every open hold sharing any key with it (contract
 * §4.3), in the same step as the seat check, so no number of parallel initiates from one phone,
 * email or account can hold more than one order's seats. Rows of sold orders are kept for
 * per-buyer limits across orders; rows of released holds go with them.
 *
 * Buyer limits (contract §15): a reserve given `maxPerBuyer` counts the seats of every order
 * sharing a key with it — live holds (other than those it replaces) and sold orders — and
 * refuses before looking at capacity when this one would go past the limit. Check and write
 * are one synchronous step, so of parallel orders by one buyer only those that fit succeed.
 *
 * Bootstrapping: the object learns its allocation (and any sales recorded before it
 * existed) from the first call that carries them; afterwards allocation only changes
 * through `setAllocation`, which refuses to go below sold + held.
 */
import { DurableObject } from "cloudflare:workers";
import type {
  AllocationResult,
  BuyerKey,
  BuyerLimit,
  ConfirmResult,
  InventorySnapshot,
  ReserveResult,
  TierSeed,
} from "./types";

/** Appended to a DELETE of buyer keys: the keys of orders that bought seats here stay. */
const UNSOLD = "AND order_id NOT IN (SELECT order_id FROM confirmed)";

/**
 * SQL to copy a snapshot into D1 without ever rolling the copy back to an older version: the
 * rule of services/tier-counts.ts, written raw because the object talks to its D1 binding directly.
 */
const COPY_COUNTS_SQL =
  "UPDATE tiers SET quantity_sold = ?, quantity_held = ?, inventory_version = ? WHERE id = ? AND inventory_version < ?";

export class TierInventory extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS inventory (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        allocation INTEGER NOT NULL,
        sold INTEGER NOT NULL,
        version INTEGER NOT NULL DEFAULT 0,
        tier_id TEXT
      );
      CREATE TABLE IF NOT EXISTS holds (
        order_id TEXT PRIMARY KEY,
        quantity INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS holds_expiry ON holds (expires_at);
      CREATE TABLE IF NOT EXISTS confirmed (
        order_id TEXT PRIMARY KEY,
        quantity INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS order_buyers (
        buyer_key TEXT NOT NULL,
        order_id TEXT NOT NULL,
        PRIMARY KEY (buyer_key, order_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS order_buyers_order ON order_buyers (order_id);
      CREATE TABLE IF NOT EXISTS returned_tickets (
        ticket_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL
      );
    `);
  }

  private isInitialised(): boolean {
    return this.sql.exec("SELECT 1 FROM inventory WHERE id = 1").toArray().length > 0;
  }

  private ensure(seed: TierSeed | undefined): void {
    const row = this.sql
      .exec<{ tier_id: string | null }>("SELECT tier_id FROM inventory WHERE id = 1")
      .toArray()[0];
    if (row) {
      if (row.tier_id === null && seed?.tierId)
        this.sql.exec("UPDATE inventory SET tier_id = ? WHERE id = 1", seed.tierId);
      return;
    }
    const allocation = Math.max(0, Math.floor(seed?.allocation ?? 0));
    const sold = Math.min(allocation, Math.max(0, Math.floor(seed?.sold ?? 0)));
    this.sql.exec(
      "INSERT INTO inventory (id, allocation, sold, version, tier_id) VALUES (1, ?, ?, 0, ?)",
      allocation,
      sold,
      seed?.tierId ?? null,
    );
  }

  /** Every state change bumps the version, so copies elsewhere can tell old from new. */
  private bump(): void {
    this.sql.exec("UPDATE inventory SET version = version + 1 WHERE id = 1");
  }

  private releaseExpired(now: number): boolean {
    this.sql.exec(
      `DELETE FROM order_buyers WHERE order_id IN (SELECT order_id FROM holds WHERE expires_at <= ?) ${UNSOLD}`,
      now,
    );
    const released = this.sql.exec("DELETE FROM holds WHERE expires_at <= ?", now).rowsWritten > 0;
    if (released) this.bump();
    return released;
  }

  /** Drop an order's hold (not its sale) and, unless it bought seats here, its buyer keys. */
  private dropHold(orderId: string): boolean {
    this.forgetBuyers(orderId);
    return this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId).rowsWritten > 0;
  }

  private forgetBuyers(orderId: string): void {
    this.sql.exec(`DELETE FROM order_buyers WHERE order_id = ? ${UNSOLD}`, orderId);
  }

  /** The live holds of other orders sharing any of `keys` (expired holds are already gone). */
  private holdsOfBuyer(keys: readonly BuyerKey[]): Array<{ order_id: string; quantity: number }> {
    if (keys.length === 0) return [];
    return this.sql
      .exec<{ order_id: string; quantity: number }>(
        `SELECT order_id, quantity FROM holds WHERE order_id IN
           (SELECT order_id FROM order_buyers WHERE buyer_key IN (${keys.map(() => "?").join(", ")}))
         ORDER BY order_id`,
        ...keys,
      )
      .toArray();
  }

  /**
   * Seats the buyer named by `keys` has on this tier in other orders than `orderId`: live
   * holds (except `excluded`, the holds this reserve replaces) plus sold orders (§15.3).
   */
  private seatsOfBuyer(keys: readonly BuyerKey[], orderId: string, excluded: readonly string[]): number {
    if (keys.length === 0) return 0;
    const marks = keys.map(() => "?").join(", ");
    const skip = [orderId, ...excluded];
    const skipMarks = skip.map(() => "?").join(", ");
    const row = this.sql
      .exec<{ seats: number }>(
        `WITH buyer_orders AS (
           SELECT DISTINCT order_id FROM order_buyers
           WHERE buyer_key IN (${marks}) AND order_id NOT IN (${skipMarks}))
         SELECT
           (SELECT COALESCE(SUM(quantity), 0) FROM holds WHERE order_id IN (SELECT order_id FROM buyer_orders))
           + (SELECT COALESCE(SUM(quantity), 0) FROM confirmed WHERE order_id IN (SELECT order_id FROM buyer_orders))
           AS seats`,
        ...keys,
        ...skip,
      )
      .one();
    return row.seats;
  }

  private read(now: number): InventorySnapshot {
    this.releaseExpired(now);
    const inv = this.sql
      .exec<{ allocation: number; sold: number; version: number }>(
        "SELECT allocation, sold, version FROM inventory WHERE id = 1",
      )
      .one();
    const held = this.sql
      .exec<{ held: number }>("SELECT COALESCE(SUM(quantity), 0) AS held FROM holds")
      .one().held;
    return {
      allocation: inv.allocation,
      sold: inv.sold,
      held,
      available: Math.max(0, inv.allocation - inv.sold - held),
      version: inv.version,
    };
  }

  private async armAlarm(): Promise<void> {
    const next = this.sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM holds").one().at;
    if (next === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }

  /** Current counts (live holds only). */
  async snapshot(seed?: TierSeed): Promise<InventorySnapshot> {
    this.ensure(seed);
    return this.read(Date.now());
  }

  /**
   * Hold `quantity` seats for `orderId` until now + holdMs, for the buyer named by
   * `buyerKeys`. The buyer's other open holds on this tier (any shared key) are replaced: their
   * seats count as free for this hold and are released with it. Idempotent per order: asking
   * again for the same order returns the existing hold, and for an order already sold here
   * holds nothing. A refusal writes nothing anywhere (the buyer's earlier hold stays).
   * With `maxPerBuyer`, the buyer's seats here (§15.3) plus `quantity` must fit it, or the
   * answer is `buyer_limit`, given before `sold_out`.
   */
  async reserve(
    orderId: string,
    quantity: number,
    holdMs: number,
    seed?: TierSeed,
    buyerKeys: readonly BuyerKey[] = [],
    maxPerBuyer: number | null = null,
  ): Promise<ReserveResult> {
    this.ensure(seed);
    const now = Date.now();
    const snapshot = this.read(now);
    if (this.sql.exec("SELECT 1 FROM confirmed WHERE order_id = ?", orderId).toArray().length > 0) {
      return { ok: true, alreadyConfirmed: true, snapshot };
    }
    const existing = this.sql
      .exec<{ expires_at: number }>("SELECT expires_at FROM holds WHERE order_id = ?", orderId)
      .toArray()[0];
    if (existing) {
      return { ok: true, alreadyConfirmed: false, expiresAt: existing.expires_at, replaced: [], snapshot };
    }
    const keys = [...new Set(buyerKeys)];
    const replaced = this.holdsOfBuyer(keys);
    if (maxPerBuyer !== null) {
      const has = this.seatsOfBuyer(
        keys,
        orderId,
        replaced.map((hold) => hold.order_id),
      );
      if (has + quantity > maxPerBuyer) {
        return {
          ok: false,
          reason: "buyer_limit",
          limit: maxPerBuyer,
          remaining: Math.max(0, maxPerBuyer - has),
          snapshot,
        };
      }
    }
    const available = snapshot.available + replaced.reduce((sum, hold) => sum + hold.quantity, 0);
    if (!Number.isInteger(quantity) || quantity < 1 || available < quantity) {
      return { ok: false, reason: "sold_out", available, snapshot };
    }
    for (const hold of replaced) this.dropHold(hold.order_id);
    const expiresAt = now + holdMs;
    this.sql.exec(
      "INSERT INTO holds (order_id, quantity, expires_at) VALUES (?, ?, ?)",
      orderId,
      quantity,
      expiresAt,
    );
    for (const key of keys) {
      this.sql.exec("INSERT OR IGNORE INTO order_buyers (buyer_key, order_id) VALUES (?, ?)", key, orderId);
    }
    this.bump();
    const after = this.read(now);
    // The alarm is armed after the write is visible; no await sits between check and write.
    await this.armAlarm();
    return {
      ok: true,
      alreadyConfirmed: false,
      expiresAt,
      replaced: replaced.map((hold) => hold.order_id),
      snapshot: after,
    };
  }

  /**
   * The order is paid: its hold becomes sold. After the hold lapsed the seats are taken
   * again only if still free. Idempotent: confirming twice sells once.
   *
   * Without a seed, an object that was never initialised answers `needs_seed` instead of
   * assuming an allocation of 0 (which would turn a paid order into a refund): callers skip
   * the D1 read of the tier on the hot path and pay for it only in that rare case.
   *
   * `buyer`: a late payment re-reserves like a new order, so it must fit the buyer's limit
   * too (else one phone could start many prompts, each replacing the last, and pay them all).
   * The keys are recorded again, since a lapsed hold's keys went with it.
   */
  async confirm(
    orderId: string,
    quantity: number,
    seed?: TierSeed,
    buyer?: BuyerLimit,
  ): Promise<ConfirmResult> {
    if (!seed && !this.isInitialised()) return { ok: false, reason: "needs_seed" };
    this.ensure(seed);
    const now = Date.now();
    const done = this.sql.exec("SELECT 1 FROM confirmed WHERE order_id = ?", orderId).toArray()[0];
    if (done) return { ok: true, snapshot: this.read(now), lateConfirm: false, alreadyConfirmed: true };

    const hold = this.sql
      .exec<{ quantity: number; expires_at: number }>(
        "SELECT quantity, expires_at FROM holds WHERE order_id = ?",
        orderId,
      )
      .toArray()[0];
    let lateConfirm = false;
    let seats = quantity;
    if (hold && hold.expires_at > now) {
      seats = hold.quantity;
      this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId);
    } else {
      if (hold) this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId);
      lateConfirm = true;
      const snapshot = this.read(now);
      const keys = [...new Set(buyer?.keys ?? [])];
      const overLimit =
        buyer?.maxPerBuyer != null && this.seatsOfBuyer(keys, orderId, []) + seats > buyer.maxPerBuyer;
      if (overLimit || snapshot.available < seats) {
        this.forgetBuyers(orderId);
        if (hold) this.bump();
        return { ok: false, reason: overLimit ? "buyer_limit" : "seats_gone", snapshot: this.read(now) };
      }
      for (const key of keys) {
        this.sql.exec("INSERT OR IGNORE INTO order_buyers (buyer_key, order_id) VALUES (?, ?)", key, orderId);
      }
    }
    this.sql.exec("UPDATE inventory SET sold = sold + ? WHERE id = 1", seats);
    this.sql.exec("INSERT INTO confirmed (order_id, quantity) VALUES (?, ?)", orderId, seats);
    this.bump();
    return { ok: true, snapshot: this.read(now), lateConfirm, alreadyConfirmed: false };
  }

  /**
   * A confirmed order's seats go back on sale: its "payment" turned out not to be one (a
   * receipt already used by another order). Idempotent; unknown orders are a no-op.
   */
  async returnSeats(orderId: string): Promise<InventorySnapshot> {
    const row = this.sql
      .exec<{ quantity: number }>("SELECT quantity FROM confirmed WHERE order_id = ?", orderId)
      .toArray()[0];
    if (row) {
      this.sql.exec("DELETE FROM confirmed WHERE order_id = ?", orderId);
      this.forgetBuyers(orderId);
      this.sql.exec("UPDATE inventory SET sold = MAX(0, sold - ?) WHERE id = 1", row.quantity);
      this.bump();
    }
    return this.read(Date.now());
  }

  /**
   * Refunded tickets' seats go back on sale (contract §13.3 rule 2), one seat per ticket.
   * Idempotent per ticket (a redelivered request returns nothing twice), and never more seats
   * than the order bought here.
   */
  async returnTickets(orderId: string, ticketIds: string[]): Promise<InventorySnapshot> {
    const row = this.sql
      .exec<{ quantity: number }>("SELECT quantity FROM confirmed WHERE order_id = ?", orderId)
      .toArray()[0];
    let returned = 0;
    for (const ticketId of new Set(ticketIds)) {
      if (!row || returned >= row.quantity) break;
      const inserted = this.sql.exec(
        "INSERT INTO returned_tickets (ticket_id, order_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        ticketId,
        orderId,
      ).rowsWritten;
      if (inserted > 0) returned++;
    }
    if (row && returned > 0) {
      this.sql.exec("UPDATE confirmed SET quantity = quantity - ? WHERE order_id = ?", returned, orderId);
      this.sql.exec("UPDATE inventory SET sold = MAX(0, sold - ?) WHERE id = 1", returned);
      this.bump();
    }
    return this.read(Date.now());
  }

  /** Give a hold back (payment failed or abandoned). Unknown orders are a no-op. */
  async release(orderId: string, seed?: TierSeed): Promise<InventorySnapshot> {
    this.ensure(seed);
    if (this.dropHold(orderId)) this.bump();
    return this.read(Date.now());
  }

  /** Organizer changes the allocation; never below what is sold or held. */
  async setAllocation(allocation: number, seed?: TierSeed): Promise<AllocationResult> {
    this.ensure(seed);
    const now = Date.now();
    const snapshot = this.read(now);
    const minimum = snapshot.sold + snapshot.held;
    if (!Number.isInteger(allocation) || allocation < minimum) {
      return { ok: false, reason: "below_committed", minimum, snapshot };
    }
    this.sql.exec("UPDATE inventory SET allocation = ? WHERE id = 1", allocation);
    this.bump();
    return { ok: true, snapshot: this.read(now) };
  }

  /** Event cancelled: no more sales, holds dropped. Sold seats stay counted for the record. */
  async close(seed?: TierSeed): Promise<InventorySnapshot> {
    this.ensure(seed);
    this.sql.exec(`DELETE FROM order_buyers WHERE 1 = 1 ${UNSOLD}`);
    this.sql.exec("DELETE FROM holds");
    const sold = this.sql.exec<{ sold: number }>("SELECT sold FROM inventory WHERE id = 1").one().sold;
    this.sql.exec("UPDATE inventory SET allocation = ? WHERE id = 1", sold);
    this.bump();
    return this.read(Date.now());
  }

  override async alarm(): Promise<void> {
    const released = this.releaseExpired(Date.now());
    await this.armAlarm();
    if (released) await this.copyCountsToD1();
  }

  /**
   * Keep D1's copy (used by listings) current when seats come back on their own. Only a
   * newer version overwrites, so a slow write never rolls the copy back.
   */
  private async copyCountsToD1(): Promise<void> {
    const tierId = this.sql
      .exec<{ tier_id: string | null }>("SELECT tier_id FROM inventory WHERE id = 1")
      .one().tier_id;
    if (!tierId) return;
    const snapshot = this.read(Date.now());
    await this.env.DB.prepare(COPY_COUNTS_SQL)
      .bind(snapshot.sold, snapshot.held, snapshot.version, tierId, snapshot.version)
      .run();
  }
}
