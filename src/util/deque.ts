/**
 * A growable ring buffer: O(1) push and shift at either end without the array reshuffling
 * that Array.prototype.shift does on large arrays.
 */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  /** Creates an empty deque; capacity must be a power of two. */
  constructor(initialCapacity = 16) {
    this.items = new Array<T | undefined>(initialCapacity);
  }

  /** Number of items held. */
  get length(): number {
    return this.count;
  }

  /** Appends an item at the tail. */
  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  /** Inserts an item at the head. */
  unshift(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.count++;
  }

  /** Removes and returns the head item, or undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  /** Returns the head item without removing it. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** Returns the item at position index from the head (0-based), or undefined. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    return this.items[(this.head + index) & (this.items.length - 1)];
  }

  /** Removes and returns the item at position index from the head, closing the gap (O(n)), or undefined. */
  removeAt(index: number): T | undefined {
    if (index < 0 || index >= this.count) return undefined;
    const mask = this.items.length - 1;
    const item = this.items[(this.head + index) & mask];
    for (let i = index; i < this.count - 1; i++) this.items[(this.head + i) & mask] = this.items[(this.head + i + 1) & mask];
    this.items[(this.head + this.count - 1) & mask] = undefined;
    this.count--;
    return item;
  }

  /** Removes every item and returns how many there were. */
  clear(): number {
    const removed = this.count;
    this.items = new Array<T | undefined>(16);
    this.head = 0;
    this.count = 0;
    return removed;
  }

  /** Iterates from head to tail. */
  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.items[(this.head + i) & (this.items.length - 1)] as T;
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.items.length * 2);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) & (this.items.length - 1)];
    this.items = next;
    this.head = 0;
  }
}
