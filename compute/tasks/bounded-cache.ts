/**
 * A least-recently-used cache bounded by the total size of its values (bytes,
 * as `sizeOf` counts them). A value larger than the bound is never kept.
 */
export class BoundedCache<V> {
  private readonly entries = new Map<string, V>();
  private used = 0;

  constructor(
    readonly capacity: number,
    private readonly sizeOf: (value: V) => number,
  ) {}

  get size(): number {
    return this.used;
  }

  get(key: string): V | undefined {
    const value = this.entries.get(key);
    if (value !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.entries.delete(key);
      this.entries.set(key, value);
    }
    return value;
  }

  set(key: string, value: V): void {
    const size = this.sizeOf(value);
    this.delete(key);
    if (size > this.capacity) return;
    this.entries.set(key, value);
    this.used += size;
    for (const [oldest, old] of this.entries) {
      if (this.used <= this.capacity) break;
      this.entries.delete(oldest);
      this.used -= this.sizeOf(old);
    }
  }

  delete(key: string): void {
    const old = this.entries.get(key);
    if (old === undefined) return;
    this.entries.delete(key);
    this.used -= this.sizeOf(old);
  }

  clear(): void {
    this.entries.clear();
    this.used = 0;
  }
}
