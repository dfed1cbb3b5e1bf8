/**
 * The latency model's delay layer (issue 15, part 1): the Worker's bindings wrapped so that
 * every call that would cross the network in production waits one modelled round trip before
 * it runs, and is written down on the request's trace.
 *
 * Locally D1, the Durable Objects, R2 and the Queue live on this machine, so a request that
 * makes five sequential D1 calls looks as fast as one that makes one. In production each D1
 * call from an edge in Nairobi to a primary in Europe is ~150 ms. Waiting that long here turns
 * the count of far round trips into wall time, including what the code overlaps
 * (`Promise.all`) and what it leaves to `waitUntil` (not waited for by the fan).
 *
 * Bindings are recognised by shape, not by name, so a binding added later (a promo-code or
 * ledger object, a second queue) is modelled without touching this file:
 * - D1 (`prepare` + `batch`): one round trip per statement run or per batch; to the primary,
 *   except reads inside a D1 session (`withSession`) that has not written yet, which a read
 *   replica near the edge answers (a bookmark is assumed to be caught up, the optimistic
 *   case; after a write the session reads from the primary, the conservative case).
 * - a Durable Object namespace (`idFromName`): one round trip per call on a stub (RPC or
 *   `fetch`); creating ids and stubs is local.
 * - R2 (`head` + `put` + `list`): one round trip per call.
 * - a Queue producer (`sendBatch`): one round trip per send.
 * - `fetch` to `MPESA_BASE_URL` (Daraja): one round trip (see worker.mjs).
 * Production code knows nothing of this; it lives in bench/ only.
 */

/** The modelled round-trip times in ms, from the bench's `--var BENCH_RTT_*` values. */
export function delaysFrom(env) {
  const ms = (name, fallback) => {
    const value = Number(env[name]);
    return Number.isFinite(value) && value >= 0 ? value : fallback;
  };
  return {
    d1Primary: ms("BENCH_RTT_D1_PRIMARY_MS", 150),
    d1Replica: ms("BENCH_RTT_D1_REPLICA_MS", 15),
    durableObject: ms("BENCH_RTT_DO_MS", 60),
    r2: ms("BENCH_RTT_R2_MS", 60),
    queue: ms("BENCH_RTT_QUEUE_MS", 20),
    daraja: ms("BENCH_RTT_DARAJA_MS", 40),
  };
}

const wait = (ms) => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve());

/** Waits the round trip, runs the call, and records it on the trace (what, start and end times). */
export async function farCall(trace, kind, ms, run, name = kind) {
  const call = { kind, name, start: performance.now(), end: Number.NaN };
  trace.calls.push(call);
  try {
    await wait(ms);
    return await run();
  } finally {
    call.end = performance.now();
  }
}

/** A short, stable name for a statement: its verb and table (`SELECT tiers⋈events`). */
export function statementName(text) {
  const s = text.replace(/\s+/g, " ").trim();
  const verb = s.split(" ")[0].toUpperCase();
  const table =
    /^(?:insert into|update|delete from)\s+"?(\w+)"?/i.exec(s)?.[1] ??
    /\bfrom\s+"?(\w+)"?/i.exec(s)?.[1] ??
    "";
  const join = /\bjoin\s+"?(\w+)"?/i.exec(s)?.[1];
  return `${verb} ${table}${join ? `⋈${join}` : ""}`.trim();
}

const READ_ONLY = /^\s*(select|with|pragma)\b/i;
const WRITES = /\b(insert|update|delete|replace)\b/i;
const isRead = (text) => READ_ONLY.test(text) && !WRITES.test(text);

/**
 * A D1 database or session. `session` is null for the plain binding (always the primary), or
 * `{ wrote: boolean }` for a session (reads from a replica until it writes).
 */
function farD1(d1, trace, delays, session) {
  const target = (reads) => (session && !session.wrote && reads ? "d1-replica" : "d1-primary");
  const run = (reads, name, call) => {
    const kind = target(reads);
    if (session && !reads) session.wrote = true;
    return farCall(trace, kind, kind === "d1-replica" ? delays.d1Replica : delays.d1Primary, call, name);
  };
  const statement = (stmt, text) => ({
    inner: stmt,
    sql: text,
    bind: (...params) => statement(stmt.bind(...params), text),
    run: () => run(isRead(text), statementName(text), () => stmt.run()),
    all: () => run(isRead(text), statementName(text), () => stmt.all()),
    raw: (options) => run(isRead(text), statementName(text), () => stmt.raw(options)),
    first: (column) => run(isRead(text), statementName(text), () => stmt.first(column)),
  });
  const wrapped = {
    prepare: (text) => statement(d1.prepare(text), text),
    batch: (list) =>
      run(
        list.every((s) => isRead(s.sql ?? "")),
        `batch[${list.map((s) => statementName(s.sql ?? "")).join(" + ")}]`,
        () => d1.batch(list.map((s) => s.inner ?? s)),
      ),
  };
  if (session) return { ...wrapped, getBookmark: () => d1.getBookmark() };
  return {
    ...wrapped,
    exec: (text) => run(false, statementName(text), () => d1.exec(text)),
    dump: () => d1.dump(),
    withSession: (constraintOrBookmark) => {
      const inner = d1.withSession(constraintOrBookmark);
      const startsOnPrimary = constraintOrBookmark === "first-primary";
      return farD1(inner, trace, delays, { wrote: startsOnPrimary });
    },
  };
}

/** A stub whose every call (RPC method or fetch) is one round trip to the object. */
function farStub(stub, trace, delays) {
  return new Proxy(stub, {
    get(target, property) {
      const value = Reflect.get(target, property);
      // `then` stays the stub's own, so a stub returned from an async function is not taken
      // for a promise; `id` and `name` are local.
      if (typeof property !== "string" || property === "then" || property === "id" || property === "name")
        return value;
      return (...args) =>
        farCall(
          trace,
          "durable-object",
          delays.durableObject,
          () => target[property](...args),
          `DO ${property}`,
        );
    },
  });
}

function farNamespace(namespace, trace, delays) {
  return new Proxy(namespace, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === "get" || property === "getByName") {
        return (...args) => farStub(target[property](...args), trace, delays);
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** R2 or a Queue: every method call is one round trip of `kind`. */
function farMethods(binding, trace, kind, ms) {
  return new Proxy(binding, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (typeof value !== "function") return value;
      return (...args) => farCall(trace, kind, ms, () => value.apply(target, args), `${kind} ${property}`);
    },
  });
}

/** `env` with every far binding wrapped; plain vars and secrets are passed through. */
export function farEnv(env, trace, delays) {
  const out = {};
  for (const [name, binding] of Object.entries(env)) {
    if (binding && typeof binding === "object") {
      if (typeof binding.prepare === "function" && typeof binding.batch === "function") {
        out[name] = farD1(binding, trace, delays, null);
        continue;
      }
      if (typeof binding.idFromName === "function") {
        out[name] = farNamespace(binding, trace, delays);
        continue;
      }
      if (
        typeof binding.head === "function" &&
        typeof binding.put === "function" &&
        typeof binding.list === "function"
      ) {
        out[name] = farMethods(binding, trace, "r2", delays.r2);
        continue;
      }
      if (typeof binding.sendBatch === "function") {
        out[name] = farMethods(binding, trace, "queue", delays.queue);
        continue;
      }
    }
    out[name] = binding;
  }
  return out;
}

/**
 * The far round trips a request waited for: of the calls that ended before its answer was
 * ready, the longest chain of calls that did not overlap (calls run side by side cost one
 * round trip). Calls still running when the answer was ready were left to `waitUntil` and are
 * not on the fan's path. Returns the chain's length, by kind and as its steps' names, and
 * every finished call's count by kind.
 */
export function criticalPath(calls, answeredAt) {
  const done = calls.filter((c) => c.end <= answeredAt).sort((a, b) => a.end - b.end);
  const chain = {};
  const steps = [];
  const all = {};
  let trips = 0;
  let lastEnd = Number.NEGATIVE_INFINITY;
  for (const call of done) {
    all[call.kind] = (all[call.kind] ?? 0) + 1;
    // Greedy by earliest end finds the most non-overlapping calls: the sequential trips.
    if (call.start >= lastEnd - 0.5) {
      chain[call.kind] = (chain[call.kind] ?? 0) + 1;
      steps.push(call.name);
      trips++;
      lastEnd = call.end;
    }
  }
  return { trips, chain, steps, all, background: calls.length - done.length };
}
