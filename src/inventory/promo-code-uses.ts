/**
 * PromoCodeUses: the single writer of one promo code's uses (one object per code, contract
 * §12.3), as TierInventory is of a tier's seats.
 *
 * One use = one discounted seat. The object keeps `max_uses`, `max_uses_per_buyer`, the uses
 * consumed by paid orders, and the live reservations per order with the order's buyer keys,
 * in its own SQLite storage. Every method checks and writes with no `await` in between and a
 * Durable Object runs one call at a time, so however many checkouts race for a code:
 *   used + held ≤ max_uses, and per buyer (orders sharing any key) ≤ max_uses_per_buyer,
 * at every instant. Usage is never counted after the fact (Hi.Events#1223 counted it on
 * completion, and one single-use code was redeemed by many parallel checkouts).
 *
 * Reservations lapse at the order's `expires_at` (an alarm and every call drop lapsed ones),
 * so a Worker dying between reserve and release never keeps uses. Limits change only through
 * `setLimits`, which refuses a `max_uses` below used + held in the same step as reservations.
 * Refunds never give uses back (§12.3): only `returnUses` does, for a payment that turned out
 * not to be one or a late payment whose seats are gone.
 */
import { DurableObject } from "cloudflare:workers";
import type {
  PromoConsumeRequest,
  PromoConsumeResult,
  PromoLimitsResult,
  PromoReserveRequest,
  PromoReserveResult,
  PromoRetireResult,
  PromoSeed,
  PromoSnapshot,
} from "./promo-types";
import type { BuyerKey } from "./types";

/** Appended to a DELETE of buyer keys: the keys of orders that consumed uses stay. */
const UNCONSUMED = "AND order_id NOT IN (SELECT order_id FROM consumed)";

type LimitsRow = {
  max_uses: number | null;
  max_uses_per_buyer: number | null;
  used: number;
  discount_given: number;
  retired: number;
  version: number;
};

/** A limit of null means none. */
const room = (limit: number | null, taken: number) =>
  limit === null ? Number.POSITIVE_INFINITY : Math.max(0, limit - taken);

const validLimit = (value: number | null) => value === null || (Number.isInteger(value) && value >= 1);

export class PromoCodeUses extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS limits (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        max_uses INTEGER,
        max_uses_per_buyer INTEGER,
        used INTEGER NOT NULL DEFAULT 0,
        discount_given INTEGER NOT NULL DEFAULT 0,
        retired INTEGER NOT NULL DEFAULT 0,
        version INTEGER NOT NULL DEFAULT 0,
        promo_code_id TEXT
      );
      CREATE TABLE IF NOT EXISTS reservations (
        order_id TEXT PRIMARY KEY,
        seats INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS reservations_expiry ON reservations (expires_at);
      CREATE TABLE IF NOT EXISTS consumed (
        order_id TEXT PRIMARY KEY,
        seats INTEGER NOT NULL,
        discount INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS order_buyers (
        buyer_key TEXT NOT NULL,
        order_id TEXT NOT NULL,
        PRIMARY KEY (buyer_key, order_id)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS order_buyers_order ON order_buyers (order_id);
    `);
  }

  private isInitialised(): boolean {
    return this.sql.exec("SELECT 1 FROM limits WHERE id = 1").toArray().length > 0;
  }

  /** Learn the limits from the first call that carries them; never assume "unlimited". */
  private ensure(seed: PromoSeed | undefined): void {
    if (!seed || this.isInitialised()) return;
    const maxUses = validLimit(seed.maxUses) ? seed.maxUses : null;
    const perBuyer = validLimit(seed.maxUsesPerBuyer) ? seed.maxUsesPerBuyer : null;
    this.sql.exec(
      "INSERT INTO limits (id, max_uses, max_uses_per_buyer, promo_code_id) VALUES (1, ?, ?, ?)",
      maxUses,
      perBuyer,
      seed.promoCodeId ?? null,
    );
  }

  private bump(): void {
    this.sql.exec("UPDATE limits SET version = version + 1 WHERE id = 1");
  }

  private forgetBuyers(orderId: string): void {
    this.sql.exec(`DELETE FROM order_buyers WHERE order_id = ? ${UNCONSUMED}`, orderId);
  }

  private dropReservation(orderId: string): boolean {
    this.forgetBuyers(orderId);
    return this.sql.exec("DELETE FROM reservations WHERE order_id = ?", orderId).rowsWritten > 0;
  }

  private releaseExpired(now: number): boolean {
    this.sql.exec(
      `DELETE FROM order_buyers WHERE order_id IN (SELECT order_id FROM reservations WHERE expires_at <= ?) ${UNCONSUMED}`,
      now,
    );
    const released = this.sql.exec("DELETE FROM reservations WHERE expires_at <= ?", now).rowsWritten > 0;
    if (released) this.bump();
    return released;
  }

  private read(now: number): PromoSnapshot {
    this.releaseExpired(now);
    // An object never told its limits reads as empty; only a seeded call initialises it.
    const row = this.sql
      .exec<LimitsRow>(
        "SELECT max_uses, max_uses_per_buyer, used, discount_given, retired, version FROM limits WHERE id = 1",
      )
      .toArray()[0] ?? {
      max_uses: null,
      max_uses_per_buyer: null,
      used: 0,
      discount_given: 0,
      retired: 0,
      version: 0,
    };
    const held = this.sql
      .exec<{ held: number }>("SELECT COALESCE(SUM(seats), 0) AS held FROM reservations")
      .one().held;
    return {
      maxUses: row.max_uses,
      maxUsesPerBuyer: row.max_uses_per_buyer,
      used: row.used,
      held,
      discountGiven: row.discount_given,
      retired: row.retired === 1,
      version: row.version,
    };
  }

  /**
   * Seats the buyer already has on this code: live reservations and consumed uses of every
   * order sharing any of `keys`, except the orders in `except` (being replaced).
   */
  private buyerSeats(keys: readonly BuyerKey[], except: readonly string[]): number {
    if (keys.length === 0) return 0;
    const orderIds = this.sql
      .exec<{ order_id: string }>(
        `SELECT DISTINCT order_id FROM order_buyers WHERE buyer_key IN (${keys.map(() => "?").join(", ")})`,
        ...keys,
      )
      .toArray()
      .map((row) => row.order_id)
      .filter((id) => !except.includes(id));
    let seats = 0;
    for (const orderId of orderIds) {
      const held = this.sql
        .exec<{ seats: number }>(
          "SELECT seats FROM reservations WHERE order_id = ? UNION ALL SELECT seats FROM consumed WHERE order_id = ?",
          orderId,
          orderId,
        )
        .toArray();
      for (const row of held) seats += row.seats;
    }
    return seats;
  }

  private liveReservation(orderId: string): { seats: number; expires_at: number } | undefined {
    return this.sql
      .exec<{ seats: number; expires_at: number }>(
        "SELECT seats, expires_at FROM reservations WHERE order_id = ?",
        orderId,
      )
      .toArray()[0];
  }

  private consumedSeats(orderId: string): number | undefined {
    return this.sql
      .exec<{ seats: number }>("SELECT seats FROM consumed WHERE order_id = ?", orderId)
      .toArray()[0]?.seats;
  }

  private async armAlarm(): Promise<void> {
    const next = this.sql
      .exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM reservations")
      .one().at;
    if (next === null) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next) await this.ctx.storage.setAlarm(next);
  }

  /** Current counts (live reservations only). */
  async snapshot(seed?: PromoSeed): Promise<PromoSnapshot> {
    this.ensure(seed);
    return this.read(Date.now());
  }

  /**
   * Reserve up to `seats` uses for `orderId` until `expiresAt`: k = min(seats, max_uses −
   * used − held, max_uses_per_buyer − the buyer's used and held), k ≥ 1, or a refusal that
   * writes nothing. Idempotent per order: asking again answers the existing reservation
   * (or the consumed uses of a paid order).
   */
  async reserve(
    orderId: string,
    request: PromoReserveRequest,
    seed?: PromoSeed,
  ): Promise<PromoReserveResult> {
    this.ensure(seed);
    if (!this.isInitialised()) return { ok: false, reason: "needs_seed" };
    const now = Date.now();
    const snapshot = this.read(now);
    const consumed = this.consumedSeats(orderId);
    if (consumed !== undefined) return { ok: true, granted: consumed, alreadyConsumed: true, snapshot };
    const existing = this.liveReservation(orderId);
    if (existing) {
      return {
        ok: true,
        granted: existing.seats,
        expiresAt: existing.expires_at,
        alreadyConsumed: false,
        released: [],
        snapshot,
      };
    }
    if (!Number.isInteger(request.seats) || request.seats < 1 || !(request.expiresAt > now)) {
      return { ok: false, reason: "invalid_request", snapshot };
    }
    if (snapshot.retired) return { ok: false, reason: "exhausted", snapshot };

    const replaced = [...new Set(request.replaces ?? [])].filter(
      (id) => id !== orderId && this.liveReservation(id) !== undefined,
    );
    const replacedSeats = replaced.reduce((sum, id) => sum + (this.liveReservation(id)?.seats ?? 0), 0);
    const keys = [...new Set(request.buyerKeys)];
    const total = room(snapshot.maxUses, snapshot.used + snapshot.held - replacedSeats);
    const perBuyer = room(snapshot.maxUsesPerBuyer, this.buyerSeats(keys, replaced));
    const granted = Math.min(request.seats, total, perBuyer);
    if (granted < 1) {
      return { ok: false, reason: total < 1 ? "exhausted" : "buyer_limit", snapshot };
    }

    for (const id of replaced) this.dropReservation(id);
    this.sql.exec(
      "INSERT INTO reservations (order_id, seats, expires_at) VALUES (?, ?, ?)",
      orderId,
      granted,
      request.expiresAt,
    );
    for (const key of keys) {
      this.sql.exec("INSERT OR IGNORE INTO order_buyers (buyer_key, order_id) VALUES (?, ?)", key, orderId);
    }
    this.bump();
    const after = this.read(now);
    await this.armAlarm();
    return {
      ok: true,
      granted,
      expiresAt: request.expiresAt,
      alreadyConsumed: false,
      released: replaced,
      snapshot: after,
    };
  }

  /**
   * Whether a reserve for the buyer named by `buyerKeys` would certainly answer `exhausted`
   * now, writing nothing: even with every live reservation of this buyer's counted as
   * replaced (a reserve discounts only the orders it replaces, a subset), no use is left.
   * False when it cannot say (an object never seeded) or a use may remain.
   */
  async usedUpFor(buyerKeys: readonly BuyerKey[]): Promise<boolean> {
    if (!this.isInitialised()) return false;
    const snapshot = this.read(Date.now());
    if (snapshot.retired) return true;
    const keys = [...new Set(buyerKeys)];
    const theirs = this.sql
      .exec<{ seats: number }>(
        keys.length === 0
          ? "SELECT 0 AS seats"
          : `SELECT COALESCE(SUM(seats), 0) AS seats FROM reservations WHERE order_id IN
               (SELECT order_id FROM order_buyers WHERE buyer_key IN (${keys.map(() => "?").join(", ")}))`,
        ...keys,
      )
      .one().seats;
    return room(snapshot.maxUses, snapshot.used + snapshot.held - theirs) < 1;
  }

  /** The hold ended (refusal, Daraja failure, expiry, replacement): uses go back. Idempotent. */
  async release(orderId: string): Promise<PromoSnapshot> {
    if (this.dropReservation(orderId)) this.bump();
    return this.read(Date.now());
  }

  /**
   * The order is paid: its reserved uses become used. After the reservation lapsed the same
   * number of uses is taken again only if the code and the buyer still have them (late
   * payment; the caller re-reserves the seats with it, all or nothing). Idempotent.
   */
  async consume(
    orderId: string,
    request: PromoConsumeRequest,
    seed?: PromoSeed,
  ): Promise<PromoConsumeResult> {
    if (!seed && !this.isInitialised()) return { ok: false, reason: "needs_seed" };
    this.ensure(seed);
    const now = Date.now();
    const consumed = this.consumedSeats(orderId);
    if (consumed !== undefined) {
      return {
        ok: true,
        seats: consumed,
        lateConsume: false,
        alreadyConsumed: true,
        snapshot: this.read(now),
      };
    }
    const discount = Math.max(0, Math.floor(request.discount) || 0);
    const live = this.liveReservation(orderId);
    let seats: number;
    let lateConsume = false;
    if (live && live.expires_at > now) {
      seats = live.seats;
      this.sql.exec("DELETE FROM reservations WHERE order_id = ?", orderId);
    } else {
      if (live) this.dropReservation(orderId);
      lateConsume = true;
      seats = Math.max(0, Math.floor(request.seats) || 0);
      const snapshot = this.read(now);
      const keys = [...new Set(request.buyerKeys ?? [])];
      const fits =
        room(snapshot.maxUses, snapshot.used + snapshot.held) >= seats &&
        room(snapshot.maxUsesPerBuyer, this.buyerSeats(keys, [orderId])) >= seats;
      if (!fits) {
        if (live) this.bump();
        return { ok: false, reason: "uses_gone", snapshot: this.read(now) };
      }
      for (const key of keys) {
        this.sql.exec("INSERT OR IGNORE INTO order_buyers (buyer_key, order_id) VALUES (?, ?)", key, orderId);
      }
    }
    this.sql.exec(
      "INSERT INTO consumed (order_id, seats, discount) VALUES (?, ?, ?)",
      orderId,
      seats,
      discount,
    );
    this.sql.exec(
      "UPDATE limits SET used = used + ?, discount_given = discount_given + ? WHERE id = 1",
      seats,
      discount,
    );
    this.bump();
    return { ok: true, seats, lateConsume, alreadyConsumed: false, snapshot: this.read(now) };
  }

  /**
   * A consumed order's uses come back: its payment was not one (a reused receipt), or a late
   * payment's seats were gone after its uses were taken. Never for refunds (§12.3). Idempotent.
   */
  async returnUses(orderId: string): Promise<PromoSnapshot> {
    const row = this.sql
      .exec<{ seats: number; discount: number }>(
        "SELECT seats, discount FROM consumed WHERE order_id = ?",
        orderId,
      )
      .toArray()[0];
    if (row) {
      this.sql.exec("DELETE FROM consumed WHERE order_id = ?", orderId);
      this.forgetBuyers(orderId);
      this.sql.exec(
        "UPDATE limits SET used = MAX(0, used - ?), discount_given = MAX(0, discount_given - ?) WHERE id = 1",
        row.seats,
        row.discount,
      );
      this.bump();
    }
    return this.read(Date.now());
  }

  /**
   * The organizer edits the limits. A `max_uses` below used + held is refused here, in the
   * same step as reservations, so no reservation can slip between the check and the write.
   * Lowering `max_uses_per_buyer` affects new reservations only.
   */
  async setLimits(
    limits: { maxUses: number | null; maxUsesPerBuyer: number | null },
    seed?: PromoSeed,
  ): Promise<PromoLimitsResult> {
    this.ensure(seed);
    if (!this.isInitialised()) return { ok: false, reason: "needs_seed" };
    const now = Date.now();
    const snapshot = this.read(now);
    const minimum = snapshot.used + snapshot.held;
    if (!validLimit(limits.maxUses) || !validLimit(limits.maxUsesPerBuyer)) {
      return { ok: false, reason: "below_committed", minimum, snapshot };
    }
    if (limits.maxUses !== null && limits.maxUses < minimum) {
      return { ok: false, reason: "below_committed", minimum, snapshot };
    }
    this.sql.exec(
      "UPDATE limits SET max_uses = ?, max_uses_per_buyer = ? WHERE id = 1",
      limits.maxUses,
      limits.maxUsesPerBuyer,
    );
    this.bump();
    return { ok: true, snapshot: this.read(now) };
  }

  /**
   * The code is being deleted: allowed only while never used nor held, and from then on
   * nothing is reserved, so a checkout that read the code before the delete cannot use it.
   */
  async retire(seed?: PromoSeed): Promise<PromoRetireResult> {
    this.ensure(seed);
    if (!this.isInitialised()) return { ok: false, reason: "needs_seed" };
    const snapshot = this.read(Date.now());
    if (snapshot.used + snapshot.held > 0) return { ok: false, reason: "in_use", snapshot };
    this.sql.exec("UPDATE limits SET retired = 1 WHERE id = 1");
    this.bump();
    return { ok: true, snapshot: this.read(Date.now()) };
  }

  /** The delete did not happen after all (D1 failed): the code takes reservations again. */
  async unretire(): Promise<PromoSnapshot> {
    this.sql.exec("UPDATE limits SET retired = 0 WHERE id = 1");
    this.bump();
    return this.read(Date.now());
  }

  override async alarm(): Promise<void> {
    this.releaseExpired(Date.now());
    await this.armAlarm();
  }
}
