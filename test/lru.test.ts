import { describe, expect, it } from "vitest";
import { LruMap } from "../src/lib/lru";

describe("LruMap (bounded per-isolate caches)", () => {
  it("keeps at most its size, forgetting the least recently stored first", () => {
    const cache = new LruMap<string, number>(2);
    cache.set("a", 1).set("b", 2);
    cache.set("a", 10); // stored again: now the newest
    cache.set("c", 3);
    expect([...cache.entries()]).toEqual([
      ["a", 10],
      ["c", 3],
    ]);
    expect(cache.has("b")).toBe(false);
  });
});
