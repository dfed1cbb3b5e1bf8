/**
 * A sharded tier as its callers see it: the same methods, with the same answers, as one
 * TierInventory object (client.ts picks this or the object itself). README "Sharded tiers".
 *
 * Seats. A buyer's seats are held on their home shard (the owner of their email key,
 * shard-names.ts). A home short of seats borrows allocation from its siblings in the same
 * call, so a buyer is told "sold out" only when no shard has the seats: the last seats are
 * reachable from every home, and the shards' allocations always sum to the tier's.
 *
 * Buyers (§4.3 one open hold, §15 limits). A buyer is any of up to three keys, and two orders
 * are the same buyer's when they share any one, so no single key can route all of a buyer's
 * orders to one place. Instead each key has an owner shard that keeps the ledger of the
 * orders carrying it, and a reserve is two-phase: (1) lock the order's keys on their owners
 * (one call per owner, in parallel; the home is always one of them and takes the seats in the
 * same call) and read their ledgers; (2) decide exactly as one object would — the buyer's
 * live holds are replaced, their bought seats count against `max_per_buyer` — then record
 * the order and unlock (or drop the tentative seats and unlock). Any two orders sharing a key
 * meet at that key's lock, so of concurrent orders by one buyer each sees the others' final
 * state: the limit is exact, at the price of a second round trip and a lock that makes a
 * buyer's own parallel orders queue (a busy lock is retried after a short random wait).
 * Confirm takes the same locks (a payment and a new order of the same buyer cannot cross).
 */
import { homeShard, keyOwner, shardName } from "./shard-names";
import type { TierInventory } from "./tier-inventory";
import { sumSnapshots } from "./tier-inventory";
import type {
  AllocationResult,
  BuyerKey,
  BuyerLimit,
  ConfirmResult,
  InventorySnapshot,
  LedgerEntry,
  ReserveResult,
  ShardPrepareResult,
} from "./types";

type Stub = DurableObjectStub<TierInventory>;

/** How often a reserve or confirm tries again when one of its buyer keys is locked. */
const LOCK_ATTEMPTS = 60;

/** The newest snapshot this isolate has seen of each shard: a tier's counts are their sum. */
const lastSeen = new Map<string, InventorySnapshot>();

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class ShardedTier {
  private readonly namespace: DurableObjectNamespace<TierInventory>;
  private readonly tierId: string;
  private readonly shards: number;

  constructor(namespace: DurableObjectNamespace<TierInventory>, tierId: string, shards: number) {
    this.namespace = namespace;
    this.tierId = tierId;
    this.shards = shards;
  }

  private stub(index: number): Stub {
    return this.namespace.get(this.namespace.idFromName(shardName(this.tierId, index)));
  }

  private coordinator(): Stub {
    return this.namespace.get(this.namespace.idFromName(`tier:${this.tierId}`));
  }

  private seen(index: number, snapshot: InventorySnapshot): void {
    const name = shardName(this.tierId, index);
    const before = lastSeen.get(name);
    if (!before || before.version <= snapshot.version) lastSeen.set(name, snapshot);
  }

  /**
   * The tier's counts from the newest snapshot seen of each shard (the ones never seen are
   * asked for). Callers copy it to D1 (newer versions only); the shards' alarms copy a fresh
   * sum within about a second of any change, so D1 ends exact.
   */
  private async total(): Promise<InventorySnapshot> {
    const all = Array.from({ length: this.shards }, (_, i) => i);
    const missing = all.filter((i) => !lastSeen.has(shardName(this.tierId, i)));
    await Promise.all(missing.map(async (i) => this.seen(i, await this.stub(i).snapshot())));
    return sumSnapshots(all.map((i) => lastSeen.get(shardName(this.tierId, i)) as InventorySnapshot));
  }

  private async everyShard(call: (stub: Stub) => Promise<InventorySnapshot>): Promise<InventorySnapshot> {
    const snapshots = await Promise.all(Array.from({ length: this.shards }, (_, i) => call(this.stub(i))));
    snapshots.forEach((snapshot, i) => {
      this.seen(i, snapshot);
    });
    return sumSnapshots(snapshots);
  }

  /** The order's keys grouped by owner shard; the home is always present (maybe keyless). */
  private owners(keys: readonly BuyerKey[], orderId: string) {
    const home = homeShard(keys, orderId, this.shards);
    const byShard = new Map<number, BuyerKey[]>([[home, []]]);
    for (const key of new Set(keys)) {
      const owner = keyOwner(key, this.shards);
      byShard.set(owner, [...(byShard.get(owner) ?? []), key]);
    }
    return { home, byShard: [...byShard].sort((a, b) => a[0] - b[0]) };
  }

  /**
   * Phase one on every owner: all locked (answers by shard), or, if any was busy, the locks
   * that were taken are given back (with any fresh tentative seats) and it waits and retries.
   */
  private async lockAll(
    orderId: string,
    byShard: ReadonlyArray<readonly [number, readonly BuyerKey[]]>,
    seatsAt: number | null,
    seats: () => { quantity: number; expiresAt: number },
  ): Promise<Map<number, Extract<ShardPrepareResult, { busy: false }>>> {
    for (let attempt = 0; attempt < LOCK_ATTEMPTS; attempt++) {
      const wanted = seats();
      const answers = await Promise.all(
        byShard.map(([index, keys]) =>
          this.stub(index).shardPrepare(orderId, keys, index === seatsAt ? wanted : null),
        ),
      );
      answers.forEach((answer, i) => {
        this.seen(byShard[i]?.[0] ?? 0, answer.snapshot);
      });
      for (const answer of answers) {
        if (!answer.busy) for (const lent of answer.lenders) this.seen(lent.index, lent.snapshot);
      }
      if (answers.every((a) => !a.busy)) {
        return new Map(
          answers.map((a, i) => [byShard[i]?.[0] ?? 0, a as Extract<ShardPrepareResult, { busy: false }>]),
        );
      }
      await Promise.all(
        answers.map((answer, i) => {
          const [index, keys] = byShard[i] ?? [0, []];
          if (answer.busy) return undefined;
          const fresh = answer.seats?.ok === true && "fresh" in answer.seats && answer.seats.fresh;
          return this.stub(index).shardCommit(orderId, keys, null, [], fresh);
        }),
      );
      await sleep(2 + Math.random() * Math.min(50, 5 * (attempt + 1)));
    }
    throw new Error(`tier ${this.tierId}: buyer keys stayed locked`);
  }

  private async commitAll(
    orderId: string,
    byShard: ReadonlyArray<readonly [number, readonly BuyerKey[]]>,
    record: { quantity: number; expiresAt: number | null; seatShard: number } | null,
    forget: readonly string[],
    dropSeatsAt: number | null,
  ): Promise<void> {
    const snapshots = await Promise.all(
      byShard.map(([index, keys]) =>
        this.stub(index).shardCommit(orderId, keys, record, forget, index === dropSeatsAt),
      ),
    );
    snapshots.forEach((snapshot, i) => {
      this.seen(byShard[i]?.[0] ?? 0, snapshot);
    });
  }

  /** Other orders in the ledgers read, once each, with their newest state. */
  private static others(
    answers: Iterable<Extract<ShardPrepareResult, { busy: false }>>,
    orderId: string,
  ): { own: LedgerEntry[]; others: Map<string, LedgerEntry> } {
    const own: LedgerEntry[] = [];
    const others = new Map<string, LedgerEntry>();
    for (const answer of answers) {
      for (const entry of answer.entries) {
        if (entry.orderId === orderId) {
          own.push(entry);
          continue;
        }
        const before = others.get(entry.orderId);
        // A sold row wins over a held one (a payment recorded on one owner before another).
        if (!before || entry.expiresAt === null) others.set(entry.orderId, entry);
      }
    }
    return { own, others };
  }

  async snapshot(): Promise<InventorySnapshot> {
    return this.everyShard((stub) => stub.snapshot());
  }

  async reserve(
    orderId: string,
    quantity: number,
    holdMs: number,
    buyerKeys: readonly BuyerKey[] = [],
    maxPerBuyer: number | null = null,
  ): Promise<ReserveResult> {
    const { home, byShard } = this.owners(buyerKeys, orderId);
    const answers = await this.lockAll(orderId, byShard, home, () => ({
      quantity,
      expiresAt: Date.now() + holdMs,
    }));
    const seats = answers.get(home)?.seats;
    if (!seats) throw new Error("home shard answered no seats");
    const freshSeats = seats.ok && "fresh" in seats && seats.fresh;
    if (seats.ok && "alreadyConfirmed" in seats) {
      await this.commitAll(orderId, byShard, null, [], null);
      return { ok: true, alreadyConfirmed: true, snapshot: await this.total() };
    }
    if (seats.ok && !freshSeats) {
      // Asked again for an order that already holds: the same hold, nothing replaced.
      await this.commitAll(
        orderId,
        byShard,
        { quantity, expiresAt: seats.expiresAt, seatShard: home },
        [],
        null,
      );
      return {
        ok: true,
        alreadyConfirmed: false,
        expiresAt: seats.expiresAt,
        replaced: [],
        snapshot: await this.total(),
      };
    }
    if (!seats.ok && "ended" in seats) {
      await this.commitAll(orderId, byShard, null, [], null);
      return { ok: false, reason: "ended", snapshot: await this.total() };
    }
    const now = Date.now();
    const { others } = ShardedTier.others(answers.values(), orderId);
    const replaced = [...others.values()].filter((e) => e.expiresAt !== null && e.expiresAt > now);
    const bought = [...others.values()]
      .filter((e) => e.expiresAt === null)
      .reduce((n, e) => n + e.quantity, 0);
    if (maxPerBuyer !== null && bought + quantity > maxPerBuyer) {
      await this.commitAll(orderId, byShard, null, [], freshSeats ? home : null);
      return {
        ok: false,
        reason: "buyer_limit",
        limit: maxPerBuyer,
        remaining: Math.max(0, maxPerBuyer - bought),
        snapshot: await this.total(),
      };
    }
    if (!seats.ok) {
      await this.commitAll(orderId, byShard, null, [], null);
      const mine = replaced.reduce((n, e) => n + e.quantity, 0);
      return {
        ok: false,
        reason: "sold_out",
        available: seats.available + mine,
        snapshot: await this.total(),
      };
    }
    const replacedIds = replaced.map((e) => e.orderId).sort();
    await this.commitAll(
      orderId,
      byShard,
      { quantity, expiresAt: seats.expiresAt, seatShard: home },
      replacedIds,
      null,
    );
    // The replaced orders' holds go after the new one is recorded, and their ledger rows on
    // every shard (also under keys this order does not share), like release().
    await Promise.all(replaced.map((e) => this.release(e.orderId)));
    return {
      ok: true,
      alreadyConfirmed: false,
      expiresAt: seats.expiresAt,
      replaced: replacedIds,
      snapshot: await this.total(),
    };
  }

  async confirm(
    orderId: string,
    quantity: number,
    buyer?: BuyerLimit,
  ): Promise<Exclude<ConfirmResult, { reason: "needs_seed" }>> {
    const keys = buyer?.keys ?? [];
    if (keys.length === 0) return this.confirmWithoutKeys(orderId, quantity);
    const { home, byShard } = this.owners(keys, orderId);
    const answers = await this.lockAll(orderId, byShard, null, () => ({ quantity, expiresAt: 0 }));
    const { own, others } = ShardedTier.others(answers.values(), orderId);
    // Where the hold is: the home, else (keys changed since the hold?) wherever the ledger says.
    const places = [...new Set([home, ...own.map((e) => e.seatShard)])];
    for (const index of places) {
      const r = await this.stub(index).shardConfirm(orderId, quantity, false);
      this.seen(index, r.snapshot);
      if (r.ok) {
        await this.commitAll(
          orderId,
          byShard,
          { quantity: r.quantity, expiresAt: null, seatShard: index },
          [],
          null,
        );
        return {
          ok: true,
          snapshot: await this.total(),
          lateConfirm: false,
          alreadyConfirmed: r.alreadyConfirmed,
        };
      }
    }
    // Paid after the hold lapsed (or was replaced): a new reservation, so the limit applies
    // with everything else the buyer holds or bought (§15.3), as on one object.
    const now = Date.now();
    const has = [...others.values()]
      .filter((e) => e.expiresAt === null || e.expiresAt > now)
      .reduce((n, e) => n + e.quantity, 0);
    if (buyer?.maxPerBuyer != null && has + quantity > buyer.maxPerBuyer) {
      await this.commitAll(orderId, byShard, null, [], null);
      return { ok: false, reason: "buyer_limit", snapshot: await this.total() };
    }
    const done = await this.stub(home).shardConfirm(orderId, quantity, true);
    this.seen(home, done.snapshot);
    if (!done.ok) {
      await this.commitAll(orderId, byShard, null, [], null);
      return { ok: false, reason: "seats_gone", snapshot: await this.total() };
    }
    await this.commitAll(
      orderId,
      byShard,
      { quantity: done.quantity, expiresAt: null, seatShard: home },
      [],
      null,
    );
    return { ok: true, snapshot: await this.total(), lateConfirm: true, alreadyConfirmed: false };
  }

  /** A confirm with no buyer keys (none of the Worker's own callers): find the hold anywhere. */
  private async confirmWithoutKeys(
    orderId: string,
    quantity: number,
  ): Promise<Exclude<ConfirmResult, { reason: "needs_seed" }>> {
    const answers = await Promise.all(
      Array.from({ length: this.shards }, (_, i) => this.stub(i).shardConfirm(orderId, quantity, false)),
    );
    answers.forEach((a, i) => {
      this.seen(i, a.snapshot);
    });
    let hit: Awaited<ReturnType<Stub["shardConfirm"]>> | undefined = answers.find((a) => a.ok);
    let late = false;
    if (!hit) {
      const home = homeShard([], orderId, this.shards);
      const tried = await this.stub(home).shardConfirm(orderId, quantity, true);
      this.seen(home, tried.snapshot);
      hit = tried;
      late = true;
    }
    if (!hit.ok) return { ok: false, reason: "seats_gone", snapshot: await this.total() };
    const sold = hit.quantity;
    await Promise.all(
      Array.from({ length: this.shards }, (_, i) => this.stub(i).shardLedgerSold(orderId, sold)),
    );
    return {
      ok: true,
      snapshot: await this.total(),
      lateConfirm: late,
      alreadyConfirmed: hit.alreadyConfirmed,
    };
  }

  release(orderId: string): Promise<InventorySnapshot> {
    return this.everyShard((stub) => stub.shardRelease(orderId));
  }

  returnSeats(orderId: string): Promise<InventorySnapshot> {
    return this.everyShard((stub) => stub.shardReturnSeats(orderId));
  }

  returnTickets(orderId: string, ticketIds: string[]): Promise<InventorySnapshot> {
    return this.everyShard((stub) => stub.shardReturnTickets(orderId, ticketIds));
  }

  close(): Promise<InventorySnapshot> {
    return this.everyShard((stub) => stub.shardClose());
  }

  async setAllocation(allocation: number): Promise<AllocationResult> {
    const result = await this.coordinator().setShardedAllocation(allocation);
    // The coordinator read every shard: forget this isolate's older copies.
    for (let i = 0; i < this.shards; i++) lastSeen.delete(shardName(this.tierId, i));
    return result;
  }
}
