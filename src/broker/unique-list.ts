/**
 * Distinct values in the order first added, in storage reused from one call to the next: what routing
 * collects destinations (and a topic exchange its matching bindings) into. A routing usually reaches one
 * to a few of them, and a scan of so short a list is cheaper than a Set, whose clear() allocates a new
 * table each time; a list that outgrows the scan gets a Set index, so a large fanout stays linear.
 */

/** Past this many values, membership is looked up in a Set instead of scanned. */
const SCAN_MAX = 16;

/** An insertion-ordered set for short-lived, usually small collections. */
export class UniqueList<T> {
  // A count over reused slots: truncating an array by setting its length is a slow runtime call.
  private readonly slots: (T | undefined)[] = [];
  private count = 0;
  private index: Set<T> | undefined;

  /** Number of values. */
  get size(): number {
    return this.count;
  }

  /** The value at a position (0 <= position < size), in the order values were first added. */
  at(position: number): T {
    return this.slots[position] as T;
  }

  /** Adds a value unless it is already there. */
  add(value: T): void {
    if (this.index !== undefined) {
      if (this.index.has(value)) return;
      this.index.add(value);
    } else if (this.has(value)) {
      return;
    } else if (this.count >= SCAN_MAX) {
      this.index = new Set(this.slots.slice(0, this.count) as T[]);
      this.index.add(value);
    }
    this.slots[this.count++] = value;
  }

  /** True when the value was added. */
  has(value: T): boolean {
    if (this.index !== undefined) return this.index.has(value);
    for (let i = 0; i < this.count; i++) if (this.slots[i] === value) return true;
    return false;
  }

  /** Removes every value (and lets go of them). */
  clear(): void {
    for (let i = 0; i < this.count; i++) this.slots[i] = undefined;
    this.count = 0;
    this.index = undefined;
  }
}
