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
import { coordinatorName, plannedShards, shardName, splitEvenly } from "./shard-names";
import type {
  AllocationResult,
  BuyerKey,
  BuyerLimit,
  ConfirmResult,
  InventorySnapshot,
  LedgerEntry,
  PeekResult,
  ReserveResult,
  ShardConfirmResult,
  ShardPrepareResult,
  ShardSeatAnswer,
  TierLayout,
  TierSeed,
} from "./types";

/** An open hold as the object lists it. */
interface HeldSeats {
  order_id: string;
  quantity: number;
}

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
      CREATE TABLE IF NOT EXISTS ended_orders (
        order_id TEXT PRIMARY KEY,
        ended_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS ended_orders_at ON ended_orders (ended_at);
    `);
  }

  /**
   * The tables of a sharded tier's objects, made when the object becomes a coordinator or a
   * shard (an unsharded tier's object never has them).
   */
  private createShardTables(): void {
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS tier_layout (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        shards INTEGER NOT NULL,
        tier_id TEXT,
        allocation INTEGER NOT NULL,
        sold INTEGER NOT NULL,
        ready INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE IF NOT EXISTS shard_meta (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        tier_id TEXT NOT NULL,
        shard_index INTEGER NOT NULL,
        shard_count INTEGER NOT NULL,
        copy_due_at INTEGER
      );
      CREATE TABLE IF NOT EXISTS ledger (
        buyer_key TEXT NOT NULL,
        order_id TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        expires_at INTEGER,
        seat_shard INTEGER NOT NULL,
        PRIMARY KEY (buyer_key, order_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS ledger_order ON ledger (order_id);
      CREATE TABLE IF NOT EXISTS ledger_returned (
        ticket_id TEXT PRIMARY KEY,
        order_id TEXT NOT NULL
      );
      CREATE TABLE IF NOT EXISTS buyer_locks (
        buyer_key TEXT PRIMARY KEY,
        order_id TEXT NOT NULL,
        until INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS lent (
        transfer_id TEXT PRIMARY KEY,
        granted INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS borrowing (
        transfer_id TEXT PRIMARY KEY,
        from_index INTEGER NOT NULL,
        wanted INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
    `);
  }

  private hasTable(name: string): boolean {
    return (
      this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length >
      0
    );
  }

  /** What this object is, read once per instance (a layout never changes once decided). */
  private roleCache: "single" | "coordinator" | "shard" | undefined;

  private role(): "single" | "coordinator" | "shard" {
    if (this.roleCache) return this.roleCache;
    let role: "single" | "coordinator" | "shard" = "single";
    if (this.hasTable("shard_meta")) {
      if (this.sql.exec("SELECT 1 FROM shard_meta WHERE id = 1").toArray().length > 0) role = "shard";
      else if (this.sql.exec("SELECT 1 FROM tier_layout WHERE id = 1").toArray().length > 0)
        role = "coordinator";
    }
    // An uninitialised object may still become a coordinator or a shard; an initialised one
    // that is neither stays one object for good.
    if (role !== "single" || this.isInitialised()) this.roleCache = role;
    return role;
  }

  /** A sharded tier's coordinator holds no seats: its callers go through the client. */
  private refuseIfCoordinator(): void {
    if (this.role() === "coordinator")
      throw new Error("sharded tier: reach its seats through inventory/client.ts");
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
    this.sql.exec("DELETE FROM ended_orders WHERE ended_at <= ?", now - TierInventory.ENDED_KEEP_MS);
    this.sql.exec(
      `DELETE FROM order_buyers WHERE order_id IN (SELECT order_id FROM holds WHERE expires_at <= ?) ${UNSOLD}`,
      now,
    );
    const released = this.sql.exec("DELETE FROM holds WHERE expires_at <= ?", now).rowsWritten > 0;
    if (released) this.bump();
    return released;
  }

  /**
   * How long a released order is remembered as ended (see endOrder): far longer than any
   * initiate takes to walk its tiers, far shorter than anything worth keeping.
   */
  private static readonly ENDED_KEEP_MS = 60 * 60 * 1000;

  /**
   * Drop an order's hold (not its sale) and, unless it bought seats here, its buyer keys; the
   * order is remembered as ended, so it can never hold here again (see endOrder).
   */
  private dropHold(orderId: string): boolean {
    this.forgetBuyers(orderId);
    this.endOrder(orderId);
    return this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId).rowsWritten > 0;
  }

  /**
   * A released or replaced order stays ended on this tier, even when the release arrives before
   * the order's own reserve. An order takes its tiers one after another, so a buyer's newer
   * initiate can replace it on one tier and release it everywhere while it is still on its way
   * to the next: without this mark it would then hold there, a hold that D1 and its other tiers
   * no longer have, counting against the buyer's limit until it lapsed (contract §11.4: the
   * replaced order goes whole). Order ids are never reused, so nothing legitimate is refused.
   */
  private endOrder(orderId: string): void {
    this.sql.exec(
      "INSERT INTO ended_orders (order_id, ended_at) VALUES (?, ?) ON CONFLICT (order_id) DO NOTHING",
      orderId,
      Date.now(),
    );
  }

  private isEnded(orderId: string): boolean {
    return this.sql.exec("SELECT 1 FROM ended_orders WHERE order_id = ?", orderId).toArray().length > 0;
  }

  private forgetBuyers(orderId: string): void {
    this.sql.exec(`DELETE FROM order_buyers WHERE order_id = ? ${UNSOLD}`, orderId);
  }

  /** The live holds of other orders sharing any of `keys` (expired holds are already gone). */
  private holdsOfBuyer(keys: readonly BuyerKey[]): HeldSeats[] {
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
    if (this.role() === "coordinator") return this.shardedSnapshot();
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
    this.refuseIfCoordinator();
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
    if (this.isEnded(orderId)) return { ok: false, reason: "ended", snapshot };
    const keys = [...new Set(buyerKeys)];
    const decision = this.newHoldDecision(orderId, quantity, keys, maxPerBuyer, snapshot);
    if (!decision.ok) return decision;
    const { replaced } = decision;
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
   * Whether a new hold of `quantity` for this buyer fits, decided as reserve decides it and
   * writing nothing: the buyer's limit first (their open holds here are replaced, so they do
   * not count), then the seats (their replaced holds' seats count as free).
   */
  private newHoldDecision(
    orderId: string,
    quantity: number,
    keys: readonly BuyerKey[],
    maxPerBuyer: number | null,
    snapshot: InventorySnapshot,
  ): Extract<ReserveResult, { reason: "sold_out" | "buyer_limit" }> | { ok: true; replaced: HeldSeats[] } {
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
    return { ok: true, replaced };
  }

  /**
   * What `reserve` would answer a new order right now, holding nothing: a checkout that
   * already knows another of its reservations will be refused (a used-up promo code) learns
   * whether the tier's answer comes first (§11.4: tiers, then the code) without taking and
   * giving back a seat.
   */
  async peek(
    quantity: number,
    seed?: TierSeed,
    buyerKeys: readonly BuyerKey[] = [],
    maxPerBuyer: number | null = null,
  ): Promise<PeekResult> {
    this.refuseIfCoordinator();
    this.ensure(seed);
    const snapshot = this.read(Date.now());
    const decision = this.newHoldDecision("", quantity, [...new Set(buyerKeys)], maxPerBuyer, snapshot);
    return decision.ok ? { ok: true, snapshot } : decision;
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
    this.refuseIfCoordinator();
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
    this.refuseIfCoordinator();
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
    this.refuseIfCoordinator();
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
    this.refuseIfCoordinator();
    this.ensure(seed);
    if (this.dropHold(orderId)) this.bump();
    return this.read(Date.now());
  }

  /** Organizer changes the allocation; never below what is sold or held. */
  async setAllocation(allocation: number, seed?: TierSeed): Promise<AllocationResult> {
    this.refuseIfCoordinator();
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
    this.refuseIfCoordinator();
    this.ensure(seed);
    this.sql.exec(`DELETE FROM order_buyers WHERE 1 = 1 ${UNSOLD}`);
    this.sql.exec("DELETE FROM holds");
    const sold = this.sql.exec<{ sold: number }>("SELECT sold FROM inventory WHERE id = 1").one().sold;
    this.sql.exec("UPDATE inventory SET allocation = ? WHERE id = 1", sold);
    this.bump();
    return this.read(Date.now());
  }

  override async alarm(): Promise<void> {
    if (this.role() === "shard") return this.shardAlarm();
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

  // ===========================================================================================
  // Sharded tiers (README "Sharded tiers"). The methods below are called by
  // inventory/sharded-tier.ts only. A coordinator (`tier:<id>`) decides and remembers the
  // layout, changes the allocation across shards and copies the summed counts to D1; it is on
  // no buyer's path. A shard (`tier:<id>#<n>`) is a seat object like an unsharded tier's (the
  // same tables and rules for holds, sales, returns, alarms) plus two things:
  //  - the ledger of the buyer keys it owns (hash of the key): per key, the orders carrying it,
  //    their seats, hold expiry (null once sold) and seat shard; with a short lock per key, so
  //    a reserve that locks all its keys' owners sees every order that shares a key with it
  //    and nothing changes under it until it commits (two-phase locking: exact limits);
  //  - lending: a shard whose free seats run out borrows allocation from its siblings,
  //    idempotently per transfer id, so the last seats of the tier are reachable from any
  //    buyer's home shard and the shards' allocations always sum to the tier's.
  // ===========================================================================================

  /** How long a buyer key stays locked if the client that locked it never commits. */
  private static readonly LOCK_MS = 10_000;
  /** How long after a change a shard copies the tier's summed counts to D1 (listings). */
  private static readonly COPY_DELAY_MS = 1_000;
  /** A borrow whose lender never answered is asked again (idempotently) after this long. */
  private static readonly BORROW_RETRY_MS = 5_000;

  private stubOf(name: string) {
    const ns = this.env.TIER_INVENTORY;
    return ns.get(ns.idFromName(name));
  }

  private layoutRow() {
    if (!this.hasTable("tier_layout")) return undefined;
    return this.sql
      .exec<{ shards: number; tier_id: string | null; allocation: number; sold: number; ready: number }>(
        "SELECT shards, tier_id, allocation, sold, ready FROM tier_layout WHERE id = 1",
      )
      .toArray()[0];
  }

  private initialising: Promise<void> | null = null;

  /**
   * The tier's layout, decided once: an object that already holds seats stays one object
   * (every tier created before sharding existed); a new one is sharded when its seed's
   * allocation reaches TIER_SHARD_THRESHOLD (or `seed.shards` says so). A sharded layout is
   * answered only once every shard has its starting allocation.
   */
  async layout(seed?: TierSeed): Promise<TierLayout> {
    const row = this.layoutRow();
    if (row) {
      if (!row.ready) await this.initShards();
      return { shards: row.shards };
    }
    if (this.isInitialised()) return { shards: 1 };
    if (!seed) return { shards: 0 };
    const allocation = Math.max(0, Math.floor(seed.allocation));
    const planned =
      seed.shards !== undefined
        ? Math.max(1, Math.min(64, Math.floor(seed.shards)))
        : plannedShards(allocation, this.env as unknown as Record<string, string | undefined>);
    if (planned < 2 || !seed.tierId) {
      this.ensure(seed);
      return { shards: 1 };
    }
    this.createShardTables();
    const sold = Math.min(allocation, Math.max(0, Math.floor(seed.sold)));
    this.sql.exec(
      "INSERT INTO tier_layout (id, shards, tier_id, allocation, sold, ready) VALUES (1, ?, ?, ?, ?, 0)",
      planned,
      seed.tierId,
      allocation,
      sold,
    );
    this.roleCache = "coordinator";
    await this.initShards();
    return { shards: planned };
  }

  private initShards(): Promise<void> {
    if (!this.initialising) {
      this.initialising = (async () => {
        const row = this.layoutRow();
        if (!row?.tier_id) return;
        const tierId = row.tier_id;
        await Promise.all(
          Array.from({ length: row.shards }, (_, i) =>
            this.stubOf(shardName(tierId, i)).shardInit(
              tierId,
              i,
              row.shards,
              splitEvenly(row.allocation, row.shards, i),
              splitEvenly(row.sold, row.shards, i),
            ),
          ),
        );
        this.sql.exec("UPDATE tier_layout SET ready = 1 WHERE id = 1");
      })().finally(() => {
        this.initialising = null;
      });
    }
    return this.initialising;
  }

  private async shardSnapshots(): Promise<InventorySnapshot[]> {
    const row = this.layoutRow();
    if (!row?.tier_id) return [];
    if (!row.ready) await this.initShards();
    const tierId = row.tier_id;
    return Promise.all(
      Array.from({ length: row.shards }, (_, i) => this.stubOf(shardName(tierId, i)).snapshot()),
    );
  }

  private async shardedSnapshot(): Promise<InventorySnapshot> {
    return sumSnapshots(await this.shardSnapshots());
  }

  /**
   * Copy the tier's summed counts to D1 (called by the shards' alarms, at most about once a
   * second per shard). The version is the sum of the shards' versions: each only grows, so a
   * fresh sum is never below one written from older reads, and D1 ends at the newest.
   */
  async refreshCounts(): Promise<InventorySnapshot | null> {
    const row = this.layoutRow();
    if (!row?.tier_id) return null;
    const snapshot = await this.shardedSnapshot();
    await this.env.DB.prepare(COPY_COUNTS_SQL)
      .bind(snapshot.sold, snapshot.held, snapshot.version, row.tier_id, snapshot.version)
      .run();
    return snapshot;
  }

  private allocationQueue: Promise<unknown> = Promise.resolve();

  /**
   * The organizer's new allocation for a sharded tier, never below what is sold or held. Up:
   * the new seats are spread over the shards. Down: seats are taken from shards' free seats
   * (never from holds or sales); if the free seats are not enough, what was taken is put back
   * and the answer is `below_committed`. One change at a time (queued in this object).
   */
  async setShardedAllocation(allocation: number): Promise<AllocationResult> {
    const run = this.allocationQueue.then(() => this.changeAllocation(allocation));
    this.allocationQueue = run.catch(() => undefined);
    return run;
  }

  private async changeAllocation(allocation: number): Promise<AllocationResult> {
    const row = this.layoutRow();
    if (!row?.tier_id) throw new Error("not a sharded tier");
    const tierId = row.tier_id;
    const shard = (i: number) => this.stubOf(shardName(tierId, i));
    const before = await this.shardSnapshots();
    const total = sumSnapshots(before);
    if (!Number.isInteger(allocation) || allocation < total.sold + total.held) {
      return { ok: false, reason: "below_committed", minimum: total.sold + total.held, snapshot: total };
    }
    if (allocation > total.allocation) {
      const delta = allocation - total.allocation;
      await Promise.all(before.map((_, i) => shard(i).shardResize(splitEvenly(delta, before.length, i))));
    } else if (allocation < total.allocation) {
      let left = total.allocation - allocation;
      const taken: Array<[number, number]> = [];
      // Most free first: the fewest calls, and busy shards keep their seats.
      const order = before.map((snap, i) => [i, snap.available] as const).sort((a, b) => b[1] - a[1]);
      for (const [i] of order) {
        if (left === 0) break;
        const { changed } = await shard(i).shardResize(-left);
        if (changed < 0) taken.push([i, -changed]);
        left += changed;
      }
      if (left > 0) {
        await Promise.all(taken.map(([i, n]) => shard(i).shardResize(n)));
        const now = await this.shardedSnapshot();
        return { ok: false, reason: "below_committed", minimum: now.sold + now.held, snapshot: now };
      }
    }
    return { ok: true, snapshot: await this.shardedSnapshot() };
  }

  // --- shard side ------------------------------------------------------------------------

  private shardMeta() {
    return this.sql
      .exec<{ tier_id: string; shard_index: number; shard_count: number; copy_due_at: number | null }>(
        "SELECT tier_id, shard_index, shard_count, copy_due_at FROM shard_meta WHERE id = 1",
      )
      .one();
  }

  /** Become shard `index` of `count` with its starting seats (idempotent; first call wins). */
  async shardInit(
    tierId: string,
    index: number,
    count: number,
    allocation: number,
    sold: number,
  ): Promise<void> {
    this.createShardTables();
    if (this.sql.exec("SELECT 1 FROM shard_meta WHERE id = 1").toArray().length > 0) return;
    this.ensure({ allocation, sold, tierId });
    this.sql.exec(
      "INSERT INTO shard_meta (id, tier_id, shard_index, shard_count) VALUES (1, ?, ?, ?)",
      tierId,
      index,
      count,
    );
    this.roleCache = "shard";
  }

  private requireShard(): void {
    if (this.role() !== "shard") throw new Error("not a tier shard");
  }

  /** A change happened: bump the version and make sure D1's copy follows within a second. */
  private async changed(now: number): Promise<void> {
    this.bump();
    const meta = this.shardMeta();
    if (meta.copy_due_at === null) {
      this.sql.exec("UPDATE shard_meta SET copy_due_at = ? WHERE id = 1", now + TierInventory.COPY_DELAY_MS);
    }
    await this.armShardAlarm();
  }

  private async armShardAlarm(): Promise<void> {
    const times = [
      this.sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM holds").one().at,
      this.shardMeta().copy_due_at,
      this.sql.exec<{ at: number | null }>("SELECT MIN(created_at) AS at FROM borrowing").one().at,
    ].filter((t): t is number => t !== null);
    if (times.length === 0) return;
    const next = Math.min(...times);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }

  private async shardAlarm(): Promise<void> {
    const now = Date.now();
    const released = this.releaseExpired(now);
    this.sql.exec("DELETE FROM ledger WHERE expires_at IS NOT NULL AND expires_at <= ?", now);
    this.sql.exec("DELETE FROM buyer_locks WHERE until <= ?", now);
    await this.settleBorrowing(now - TierInventory.BORROW_RETRY_MS);
    const meta = this.shardMeta();
    const copyDue = meta.copy_due_at !== null && meta.copy_due_at <= now;
    if (released || copyDue) {
      this.sql.exec("UPDATE shard_meta SET copy_due_at = NULL WHERE id = 1");
      await this.stubOf(coordinatorName(meta.tier_id)).refreshCounts();
    }
    await this.armShardAlarm();
  }

  /** The ledger rows of `keys` (expired holds left out), every order's. */
  private ledgerOf(keys: readonly string[], now: number): LedgerEntry[] {
    if (keys.length === 0) return [];
    return this.sql
      .exec<{ order_id: string; quantity: number; expires_at: number | null; seat_shard: number }>(
        `SELECT DISTINCT order_id, quantity, expires_at, seat_shard FROM ledger
         WHERE buyer_key IN (${keys.map(() => "?").join(", ")}) AND (expires_at IS NULL OR expires_at > ?)`,
        ...keys,
        now,
      )
      .toArray()
      .map((r) => ({
        orderId: r.order_id,
        quantity: r.quantity,
        expiresAt: r.expires_at,
        seatShard: r.seat_shard,
      }));
  }

  /**
   * Phase one of a reserve or a confirm: lock `keys` (the ones of the order this shard owns)
   * for `orderId` and answer their ledger rows. If another order holds one of the locks,
   * nothing is locked and the answer is `busy`. On the buyer's home shard (`seats` given) the
   * seats are held in the same step (tentatively: phase two drops them if the order is
   * refused); a dry home borrows from its siblings first.
   */
  async shardPrepare(
    orderId: string,
    keys: readonly string[],
    seats: { quantity: number; expiresAt: number } | null,
  ): Promise<ShardPrepareResult> {
    this.requireShard();
    const now = Date.now();
    this.releaseExpired(now);
    const unique = [...new Set(keys)];
    const taken = unique.some(
      (key) =>
        this.sql
          .exec(
            "SELECT 1 FROM buyer_locks WHERE buyer_key = ? AND order_id != ? AND until > ?",
            key,
            orderId,
            now,
          )
          .toArray().length > 0,
    );
    if (taken) return { busy: true, snapshot: this.read(now) };
    for (const key of unique) {
      this.sql.exec(
        "INSERT INTO buyer_locks (buyer_key, order_id, until) VALUES (?, ?, ?) ON CONFLICT (buyer_key) DO UPDATE SET order_id = excluded.order_id, until = excluded.until",
        key,
        orderId,
        now + TierInventory.LOCK_MS,
      );
    }
    const entries = this.ledgerOf(unique, now);
    const round: Round = { attempt: 0, empty: false, lenders: [] };
    const answer = seats ? await this.takeSeats(orderId, seats.quantity, seats.expiresAt, round) : null;
    return { busy: false, entries, seats: answer, snapshot: this.read(Date.now()), lenders: round.lenders };
  }

  private async takeSeats(
    orderId: string,
    quantity: number,
    expiresAt: number,
    round: Round,
  ): Promise<ShardSeatAnswer> {
    for (;;) {
      const now = Date.now();
      if (this.sql.exec("SELECT 1 FROM confirmed WHERE order_id = ?", orderId).toArray().length > 0) {
        return { ok: true, alreadyConfirmed: true };
      }
      const existing = this.sql
        .exec<{ expires_at: number }>(
          "SELECT expires_at FROM holds WHERE order_id = ? AND expires_at > ?",
          orderId,
          now,
        )
        .toArray()[0];
      if (existing) return { ok: true, fresh: false, expiresAt: existing.expires_at };
      if (this.isEnded(orderId)) return { ok: false, ended: true };
      const available = this.read(now).available;
      if (Number.isInteger(quantity) && quantity >= 1 && available >= quantity) {
        this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId);
        this.sql.exec(
          "INSERT INTO holds (order_id, quantity, expires_at) VALUES (?, ?, ?)",
          orderId,
          quantity,
          expiresAt,
        );
        await this.changed(now);
        return { ok: true, fresh: true, expiresAt };
      }
      if (!Number.isInteger(quantity) || quantity < 1) return { ok: false, available };
      if (round.attempt === 0 && now < this.dryUntil) return { ok: false, available };
      // Dry: ask the siblings (in parallel) for what is missing, then look again.
      if (!(await this.refill(quantity - available, round))) {
        if (round.empty) this.dryUntil = Date.now() + TierInventory.DRY_MS;
        return { ok: false, available: this.read(Date.now()).available };
      }
    }
  }

  /** Rounds of borrowing before a dry shard answers "sold out" (see refill). */
  private static readonly REFILL_ROUNDS = 12;

  /**
   * How long a shard that found the whole tier dry answers "sold out" from its own count
   * without asking its siblings again. At the end of a stadium sale thousands of buyers a
   * second would each make a round of calls to every sibling (two rounds, up to 15 each) to
   * learn what the last round learnt; within this window a seat given back on a sibling (a
   * failed payment) is reachable from that sibling's buyers at once and from this shard's
   * after at most this long. Seats that come back here are used at once. A late payment
   * (shardConfirm) always asks: money has moved.
   */
  private static readonly DRY_MS = 500;

  /**
   * Until when this shard believes the tier dry (in memory: a restarted object asks again).
   * Every broadcast that can put seats back on some shard (a release, returned seats or
   * tickets, an allocation change) ends it on every shard; only a hold lapsing on a sibling
   * (its own alarm) waits out the window.
   */
  private dryUntil = 0;

  /**
   * Borrow what is missing; false when the tier has none to give. Another call may take the
   * borrowed seats first (then it borrows again), and seats in flight between two other
   * shards are in nobody's count for a moment, so "none" is believed only when two rounds a
   * few milliseconds apart both bring nothing (or after REFILL_ROUNDS rounds).
   */
  private async refill(missing: number, round: Round): Promise<boolean> {
    if (round.attempt++ >= TierInventory.REFILL_ROUNDS) return false;
    if ((await this.borrow(missing, round.lenders)) > 0) {
      round.empty = false;
      return true;
    }
    if (round.empty) return false;
    round.empty = true;
    await new Promise<void>((resolve) => setTimeout(resolve, 3));
    return true;
  }

  /** Borrow up to `wanted` seats from each sibling; answers how many arrived. */
  private async borrow(
    wanted: number,
    lenders: Array<{ index: number; snapshot: InventorySnapshot }>,
  ): Promise<number> {
    const now = Date.now();
    await this.settleBorrowing(now - TierInventory.BORROW_RETRY_MS);
    const meta = this.shardMeta();
    const transfers: Array<{ id: string; from: number }> = [];
    for (let i = 0; i < meta.shard_count; i++) {
      if (i === meta.shard_index) continue;
      const id = crypto.randomUUID();
      // Recorded before asking, so a lost answer is asked for again (same id, same grant).
      this.sql.exec(
        "INSERT INTO borrowing (transfer_id, from_index, wanted, created_at) VALUES (?, ?, ?, ?)",
        id,
        i,
        wanted,
        now,
      );
      transfers.push({ id, from: i });
    }
    const answers = await Promise.allSettled(
      transfers.map((t) => this.stubOf(shardName(meta.tier_id, t.from)).shardLend(t.id, wanted)),
    );
    let got = 0;
    answers.forEach((answer, i) => {
      const transfer = transfers[i];
      if (answer.status === "fulfilled" && transfer) {
        got += this.applyBorrow(transfer.id, answer.value.granted);
        lenders.push({ index: transfer.from, snapshot: answer.value.snapshot });
      }
    });
    if (got > 0) await this.changed(Date.now());
    else await this.armShardAlarm();
    return got;
  }

  /** Apply a lender's grant once: whoever deletes the pending row adds the seats. */
  private applyBorrow(transferId: string, granted: number): number {
    if (this.sql.exec("DELETE FROM borrowing WHERE transfer_id = ?", transferId).rowsWritten === 0) return 0;
    if (granted > 0) this.sql.exec("UPDATE inventory SET allocation = allocation + ? WHERE id = 1", granted);
    return granted;
  }

  /** Ask again, with the same ids, every lender whose answer never arrived (before `olderThan`). */
  private async settleBorrowing(olderThan: number): Promise<void> {
    const pending = this.sql
      .exec<{ transfer_id: string; from_index: number; wanted: number }>(
        "SELECT transfer_id, from_index, wanted FROM borrowing WHERE created_at <= ?",
        olderThan,
      )
      .toArray();
    if (pending.length === 0) return;
    const meta = this.shardMeta();
    let got = 0;
    for (const row of pending) {
      try {
        const lent = await this.stubOf(shardName(meta.tier_id, row.from_index)).shardLend(
          row.transfer_id,
          row.wanted,
        );
        got += this.applyBorrow(row.transfer_id, lent.granted);
      } catch {
        // The lender is unreachable: its row stays, and the next alarm asks again.
      }
    }
    if (got > 0) this.bump();
  }

  /** Give up to `wanted` free seats of this shard's allocation to a sibling (once per id). */
  async shardLend(
    transferId: string,
    wanted: number,
  ): Promise<{ granted: number; snapshot: InventorySnapshot }> {
    this.requireShard();
    const done = this.sql
      .exec<{ granted: number }>("SELECT granted FROM lent WHERE transfer_id = ?", transferId)
      .toArray()[0];
    if (done) return { granted: done.granted, snapshot: this.read(Date.now()) };
    const now = Date.now();
    const granted = Math.max(0, Math.min(Math.floor(wanted), this.read(now).available));
    this.sql.exec("INSERT INTO lent (transfer_id, granted) VALUES (?, ?)", transferId, granted);
    if (granted > 0) {
      this.sql.exec("UPDATE inventory SET allocation = allocation - ? WHERE id = 1", granted);
      await this.changed(now);
    }
    return { granted, snapshot: this.read(now) };
  }

  /**
   * Phase two: record the order under this shard's keys (`record`: its seats, hold expiry or
   * null once sold, seat shard) or not (null: refused), forget the orders it replaced, and
   * unlock. `dropSeats`: the tentative hold phase one took here goes back.
   */
  async shardCommit(
    orderId: string,
    keys: readonly string[],
    record: { quantity: number; expiresAt: number | null; seatShard: number } | null,
    forget: readonly string[],
    dropSeats: boolean,
  ): Promise<InventorySnapshot> {
    this.requireShard();
    const now = Date.now();
    const unique = [...new Set(keys)];
    for (const id of forget)
      this.sql.exec("DELETE FROM ledger WHERE order_id = ? AND expires_at IS NOT NULL", id);
    if (record) {
      for (const key of unique) {
        this.sql.exec(
          `INSERT INTO ledger (buyer_key, order_id, quantity, expires_at, seat_shard) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (buyer_key, order_id) DO UPDATE SET quantity = excluded.quantity,
             expires_at = excluded.expires_at, seat_shard = excluded.seat_shard`,
          key,
          orderId,
          record.quantity,
          record.expiresAt,
          record.seatShard,
        );
      }
    } else {
      this.sql.exec("DELETE FROM ledger WHERE order_id = ? AND expires_at IS NOT NULL", orderId);
    }
    for (const key of unique) {
      this.sql.exec("DELETE FROM buyer_locks WHERE buyer_key = ? AND order_id = ?", key, orderId);
    }
    if (dropSeats && this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId).rowsWritten > 0) {
      await this.changed(now);
    }
    return this.read(now);
  }

  /**
   * Sell `orderId`'s seats held here. Without a live hold: with `late`, take `quantity` free
   * seats (borrowing if dry) or answer `seats_gone`; without, answer `no_hold`. Idempotent.
   */
  async shardConfirm(orderId: string, quantity: number, late: boolean): Promise<ShardConfirmResult> {
    this.requireShard();
    const round: Round = { attempt: 0, empty: false, lenders: [] };
    for (;;) {
      const now = Date.now();
      if (this.sql.exec("SELECT 1 FROM confirmed WHERE order_id = ?", orderId).toArray().length > 0) {
        const q = this.sql
          .exec<{ quantity: number }>("SELECT quantity FROM confirmed WHERE order_id = ?", orderId)
          .one();
        return {
          ok: true,
          quantity: q.quantity,
          lateConfirm: false,
          alreadyConfirmed: true,
          snapshot: this.read(now),
        };
      }
      const hold = this.sql
        .exec<{ quantity: number; expires_at: number }>(
          "SELECT quantity, expires_at FROM holds WHERE order_id = ?",
          orderId,
        )
        .toArray()[0];
      let seats = quantity;
      if (hold && hold.expires_at > now) {
        seats = hold.quantity;
      } else {
        if (!late) return { ok: false, reason: "no_hold", snapshot: this.read(now) };
        if (hold) this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId);
        const available = this.read(now).available;
        if (available < seats) {
          if (await this.refill(seats - available, round)) continue;
          if (hold) await this.changed(now);
          return { ok: false, reason: "seats_gone", snapshot: this.read(Date.now()) };
        }
      }
      this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId);
      this.sql.exec("UPDATE inventory SET sold = sold + ? WHERE id = 1", seats);
      this.sql.exec("INSERT INTO confirmed (order_id, quantity) VALUES (?, ?)", orderId, seats);
      await this.changed(now);
      return {
        ok: true,
        quantity: seats,
        lateConfirm: !(hold && hold.expires_at > now),
        alreadyConfirmed: false,
        snapshot: this.read(now),
      };
    }
  }

  /** Mark `orderId` sold in this shard's ledger (a confirm that carried no buyer keys). */
  async shardLedgerSold(orderId: string, quantity: number): Promise<void> {
    this.requireShard();
    this.sql.exec("UPDATE ledger SET expires_at = NULL, quantity = ? WHERE order_id = ?", quantity, orderId);
  }

  /** Give a hold back and forget the order's unsold ledger rows here (a broadcast: any shard). */
  async shardRelease(orderId: string): Promise<InventorySnapshot> {
    this.requireShard();
    this.dryUntil = 0;
    const now = Date.now();
    this.sql.exec("DELETE FROM ledger WHERE order_id = ? AND expires_at IS NOT NULL", orderId);
    this.endOrder(orderId);
    if (this.sql.exec("DELETE FROM holds WHERE order_id = ?", orderId).rowsWritten > 0)
      await this.changed(now);
    return this.read(now);
  }

  /** returnSeats on a shard: the seats (if sold here) and the order's ledger rows (if any). */
  async shardReturnSeats(orderId: string): Promise<InventorySnapshot> {
    this.requireShard();
    this.dryUntil = 0;
    this.sql.exec("DELETE FROM ledger WHERE order_id = ?", orderId);
    const row = this.sql
      .exec<{ quantity: number }>("SELECT quantity FROM confirmed WHERE order_id = ?", orderId)
      .toArray()[0];
    if (row) {
      this.sql.exec("DELETE FROM confirmed WHERE order_id = ?", orderId);
      this.sql.exec("UPDATE inventory SET sold = MAX(0, sold - ?) WHERE id = 1", row.quantity);
      await this.changed(Date.now());
    }
    return this.read(Date.now());
  }

  /**
   * returnTickets on a shard: the seats as an unsharded tier returns them (if sold here), and
   * one seat fewer per new ticket in the order's sold ledger rows (if any), so the buyer's
   * count (§15.3: tickets not cancelled) follows. Idempotent per ticket on both sides.
   */
  async shardReturnTickets(orderId: string, ticketIds: string[]): Promise<InventorySnapshot> {
    this.requireShard();
    this.dryUntil = 0;
    const ledgerRow = this.sql
      .exec<{ quantity: number }>(
        "SELECT MAX(quantity) AS quantity FROM ledger WHERE order_id = ? AND expires_at IS NULL",
        orderId,
      )
      .toArray()[0];
    if (ledgerRow && ledgerRow.quantity !== null) {
      let fewer = 0;
      for (const ticketId of new Set(ticketIds)) {
        if (fewer >= ledgerRow.quantity) break;
        // rowsWritten counts the primary key's index too (2 for one new row): test it, never add it.
        const inserted = this.sql.exec(
          "INSERT INTO ledger_returned (ticket_id, order_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
          ticketId,
          orderId,
        ).rowsWritten;
        if (inserted > 0) fewer++;
      }
      if (fewer > 0) {
        this.sql.exec(
          "UPDATE ledger SET quantity = MAX(0, quantity - ?) WHERE order_id = ? AND expires_at IS NULL",
          fewer,
          orderId,
        );
      }
    }
    const before = this.read(Date.now()).version;
    const after = await this.returnTickets(orderId, ticketIds);
    if (after.version !== before) await this.changed(Date.now());
    return this.read(Date.now());
  }

  /** Add `delta` seats (> 0), or take up to −delta free seats (< 0). Answers the change made. */
  async shardResize(delta: number): Promise<{ changed: number; snapshot: InventorySnapshot }> {
    this.requireShard();
    this.dryUntil = 0;
    const now = Date.now();
    const change = delta >= 0 ? Math.floor(delta) : -Math.min(Math.floor(-delta), this.read(now).available);
    if (change !== 0) {
      this.sql.exec("UPDATE inventory SET allocation = allocation + ? WHERE id = 1", change);
      await this.changed(now);
    }
    return { changed: change, snapshot: this.read(now) };
  }

  /** Event cancelled: as close() on an unsharded tier, and the shard's unsold ledger rows go. */
  async shardClose(): Promise<InventorySnapshot> {
    this.requireShard();
    this.sql.exec("DELETE FROM ledger WHERE expires_at IS NOT NULL");
    this.sql.exec("DELETE FROM buyer_locks");
    const snapshot = await this.close();
    await this.changed(Date.now());
    return snapshot;
  }
}

/** One seat step's borrowing: rounds so far, whether the last brought nothing, lenders' counts. */
interface Round {
  attempt: number;
  empty: boolean;
  lenders: Array<{ index: number; snapshot: InventorySnapshot }>;
}

/** A sharded tier's counts: the sum of its shards' (version: the sum of their versions). */
export function sumSnapshots(snapshots: readonly InventorySnapshot[]): InventorySnapshot {
  const total = { allocation: 0, sold: 0, held: 0, available: 0, version: 0 };
  for (const s of snapshots) {
    total.allocation += s.allocation;
    total.sold += s.sold;
    total.held += s.held;
    total.available += s.available;
    total.version += s.version;
  }
  return total;
}
