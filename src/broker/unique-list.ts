/**
 * Distinct values in the order first added, in a list reused from one call to the next: what routing
 * collects destinations (and a topic exchange its matching bindings) into. A routing usually reaches one
 * to a few of them, and a scan of so short a list is cheaper than a Set, whose clear() allocates a new
 * table each time; a list that outgrows the scan gets a Set index, so a large fanout stays linear.
 */

/** Past this many values, membership is looked up in a Set instead of scanned. */
const SCAN_MAX = 16;

/** An insertion-ordered set for short-lived, usually small collections. */
export class UniqueList<T> {
  /** The values, in the order first added; read it between add() calls and clear(). */
  readonly items: T[] = [];
  private index: Set<T> | undefined;

  /** Number of values. */
  get size(): number {
    return this.items.length;
  }

  /** Adds a value unless it is already there. */
  add(value: T): void {
    if (this.index !== undefined) {
      if (this.index.has(value)) return;
      this.index.add(value);
    } else if (this.items.includes(value)) {
      return;
    } else if (this.items.length >= SCAN_MAX) {
      this.index = new Set(this.items);
      this.index.add(value);
    }
    this.items.push(value);
  }

  /** True when the value was added. */
  has(value: T): boolean {
    return this.index !== undefined ? this.index.has(value) : this.items.includes(value);
  }

  /** Removes every value. */
  clear(): void {
    this.items.length = 0;
    this.index = undefined;
  }
}
