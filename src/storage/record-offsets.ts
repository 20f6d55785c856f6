/**
 * A set of record offsets within one segment, kept as a bitmap. No two records of a segment start closer
 * than the smallest record's size, so offset / that size is a distinct slot for every record: a lookup
 * is a shift and a mask instead of a hash probe into a set that grows to tens of thousands of numbers,
 * and memory is one bit per smallest possible record (70 KiB for a full 8 MiB segment of the smallest
 * messages, far less than a Set holding the same offsets).
 */

/** Bytes the bitmap starts with once the first offset is added; it doubles as offsets grow. */
const INITIAL_BYTES = 1024;

/** Offsets of records at least `spacingBytes` apart. */
export class RecordOffsets {
  private bits = new Uint8Array(0);

  constructor(private readonly spacingBytes: number) {}

  /** True when the offset was added. */
  has(offset: number): boolean {
    const slot = Math.floor(offset / this.spacingBytes);
    const index = slot >>> 3;
    return index < this.bits.length && ((this.bits[index] as number) & (1 << (slot & 7))) !== 0;
  }

  /**
   * True when an offset at or above `offset` was added, or one that shares its slot (below it by less
   * than the spacing: no record can start there if a record ends at `offset`).
   */
  hasFrom(offset: number): boolean {
    const slot = Math.floor(offset / this.spacingBytes);
    const first = slot >>> 3;
    if (first < this.bits.length && ((this.bits[first] as number) & (0xff << (slot & 7))) !== 0) return true;
    for (let index = first + 1; index < this.bits.length; index++) if (this.bits[index] !== 0) return true;
    return false;
  }

  /** Adds an offset. */
  add(offset: number): void {
    const slot = Math.floor(offset / this.spacingBytes);
    const index = slot >>> 3;
    if (index >= this.bits.length) this.grow(index + 1);
    this.bits[index] = (this.bits[index] as number) | (1 << (slot & 7));
  }

  private grow(bytes: number): void {
    let capacity = Math.max(INITIAL_BYTES, this.bits.length * 2);
    while (capacity < bytes) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.bits);
    this.bits = next;
  }
}
