/**
 * A Map that keeps at most `maxEntries`, forgetting the least recently stored first. For
 * per-isolate caches: an isolate lives for many requests, and nothing else bounds them.
 */
export class LruMap<K, V> extends Map<K, V> {
  readonly maxEntries: number;

  constructor(maxEntries: number) {
    super();
    this.maxEntries = maxEntries;
  }

  override set(key: K, value: V): this {
    // Re-inserting moves the key to the end: Map iterates in insertion order.
    super.delete(key);
    super.set(key, value);
    while (this.size > this.maxEntries) {
      const oldest = this.keys().next();
      if (oldest.done) break;
      super.delete(oldest.value);
    }
    return this;
  }
}
