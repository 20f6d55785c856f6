/**
 * The ready messages of a queue (or of one priority level of it), in delivery order: entries returned
 * by consumers first (`requeued`, ordered by their original sequence), then entries in memory
 * (`resident`), then entries whose bodies wait on disk (`paged`), read back in batches when reached.
 */
import { Deque } from '../util/deque.js';
import type { QueueEntry } from './message.js';
import { PagedFifo, type PagedMessage } from './paged-fifo.js';

/** One ready message as browsing sees it: an entry held in memory, or the place of one whose body is on disk. */
export type ReadyItem = { entry: QueueEntry; paged?: undefined } | { entry?: undefined; paged: PagedMessage };

/** Reads a paged-out message back into a queue entry. */
export type PageIn = (paged: PagedMessage) => QueueEntry;

/** Returned entries put back one by one, in place; a larger batch is merged in one pass. */
const REQUEUE_INSERTS_MAX = 16;

/** Ready messages in delivery order. */
export class ReadyList {
  private readonly resident: Deque<QueueEntry>;
  private readonly paged = new PagedFifo();
  private requeued: QueueEntry[] = [];
  private requeuedHead = 0;
  /** Body bytes of every ready message (x-max-length-bytes counts these). */
  bytes = 0;

  constructor(initialCapacity = 1024) {
    this.resident = new Deque<QueueEntry>(initialCapacity);
  }

  /** Number of ready messages. */
  get length(): number {
    return this.resident.length + this.paged.length + this.requeued.length - this.requeuedHead;
  }

  /** Messages held in memory that were never delivered. */
  get residentLength(): number {
    return this.resident.length;
  }

  /** Messages whose bodies are only on disk. */
  get pagedLength(): number {
    return this.paged.length;
  }

  /** Appends an entry held in memory. */
  push(entry: QueueEntry): void {
    this.resident.push(entry);
    this.bytes += entry.message.body.length;
  }

  /** Appends a message whose body is on disk. */
  pushPaged(message: PagedMessage): void {
    this.paged.push(message);
    this.bytes += message.size;
  }

  /** Puts delivered entries back, each in its original place (by sequence). */
  requeue(entries: readonly QueueEntry[]): void {
    if (entries.length === 0) return;
    const returned = [...entries].sort((a, b) => a.sequence - b.sequence);
    for (const entry of returned) this.bytes += entry.message.body.length;
    if (returned.length <= REQUEUE_INSERTS_MAX && this.requeuedHead < this.requeued.length) {
      // A few entries (a nack or reject each) go in where they belong: a merge would copy every entry
      // returned before them, each time.
      for (const entry of returned) this.requeued.splice(this.insertionPoint(entry.sequence), 0, entry);
      return;
    }
    // One linear merge keeps requeueing a large batch (a consumer with many unacked messages died) cheap.
    this.requeued = mergeBySequence(this.requeued.slice(this.requeuedHead), returned);
    this.requeuedHead = 0;
  }

  /** Where an entry with this sequence number goes among the returned entries still waiting. */
  private insertionPoint(sequence: number): number {
    let from = this.requeuedHead;
    let to = this.requeued.length;
    while (from < to) {
      const middle = (from + to) >>> 1;
      if ((this.requeued[middle] as QueueEntry).sequence < sequence) from = middle + 1;
      else to = middle;
    }
    return from;
  }

  /** Appends to `into` the ready messages at positions [offset, offset + limit) in delivery order, consuming nothing. */
  page(offset: number, limit: number, into: ReadyItem[]): void {
    const end = offset + limit;
    const requeuedCount = this.requeued.length - this.requeuedHead;
    let index = offset;
    for (; index < end && index < requeuedCount; index++) into.push({ entry: this.requeued[this.requeuedHead + index] as QueueEntry });
    const inMemory = requeuedCount + this.resident.length;
    for (; index < end && index < inMemory; index++) into.push({ entry: this.resident.at(index - requeuedCount) as QueueEntry });
    if (index >= end) return;
    for (const paged of this.paged.range(index - inMemory, end - index)) into.push({ paged });
  }

  /**
   * Removes the ready message with that sequence number from wherever it waits and returns it, or
   * undefined when none has it. Each part of the list is ordered by sequence, so finding it is a binary
   * search; an entry in memory is spliced out (O(n) in the window), a paged-out one left as a tombstone.
   */
  remove(sequence: number): ReadyItem | undefined {
    const requeued = this.requeued;
    const inRequeued = searchSequence(this.requeuedHead, requeued.length - 1, (i) => (requeued[i] as QueueEntry).sequence, sequence);
    if (inRequeued >= 0) {
      const [entry] = requeued.splice(inRequeued, 1) as [QueueEntry];
      if (this.requeuedHead === requeued.length) {
        this.requeued = [];
        this.requeuedHead = 0;
      }
      this.bytes -= entry.message.body.length;
      return { entry };
    }
    const resident = this.resident;
    const inResident = searchSequence(0, resident.length - 1, (i) => (resident.at(i) as QueueEntry).sequence, sequence);
    if (inResident >= 0) {
      const entry = resident.removeAt(inResident) as QueueEntry;
      this.bytes -= entry.message.body.length;
      return { entry };
    }
    const paged = this.paged.remove(sequence);
    if (paged === undefined) return undefined;
    this.bytes -= paged.size;
    return { paged };
  }

  /** Removes and returns the head entry, reading up to `batch` paged-out messages back when memory ran dry. */
  shift(pageIn: PageIn, batch: number): QueueEntry | undefined {
    const entry = this.takeHead(pageIn, batch);
    if (entry !== undefined) this.bytes -= entry.message.body.length;
    return entry;
  }

  /** The head message's expiry (0 for never), or undefined when the list is empty. */
  headExpiresAt(): number | undefined {
    if (this.requeuedHead < this.requeued.length) return (this.requeued[this.requeuedHead] as QueueEntry).expiresAt;
    const head = this.resident.peek();
    return head !== undefined ? head.expiresAt : this.paged.headExpiresAt();
  }

  /** The oldest ready message's sequence number (returned messages come first), or undefined when empty. */
  headSequence(): number | undefined {
    if (this.requeuedHead < this.requeued.length) return (this.requeued[this.requeuedHead] as QueueEntry).sequence;
    const head = this.resident.peek();
    return head !== undefined ? head.sequence : this.paged.headSequence();
  }

  /** Empties the list, handing every in-memory entry and every paged-out location to the visitors. */
  clear(visitEntry: (entry: QueueEntry) => void, visitPaged: (paged: PagedFifo) => void): void {
    for (let i = this.requeuedHead; i < this.requeued.length; i++) visitEntry(this.requeued[i] as QueueEntry);
    for (const entry of this.resident) visitEntry(entry);
    visitPaged(this.paged);
    this.requeued = [];
    this.requeuedHead = 0;
    this.resident.clear();
    this.paged.clear();
    this.bytes = 0;
  }

  private takeHead(pageIn: PageIn, batch: number): QueueEntry | undefined {
    if (this.requeuedHead < this.requeued.length) {
      const entry = this.requeued[this.requeuedHead++];
      if (this.requeuedHead === this.requeued.length) {
        this.requeued = [];
        this.requeuedHead = 0;
      }
      return entry;
    }
    if (this.resident.length === 0 && this.paged.length > 0) {
      for (let i = 0; i < batch && this.paged.length > 0; i++) this.resident.push(pageIn(this.paged.shift() as PagedMessage));
    }
    return this.resident.shift();
  }
}

/** The index in [low, high] whose sequence is `sequence` (sequences ascend with the index), or -1. */
function searchSequence(low: number, high: number, sequenceAt: (index: number) => number, sequence: number): number {
  let from = low;
  let to = high;
  while (from <= to) {
    const middle = (from + to) >>> 1;
    const found = sequenceAt(middle);
    if (found === sequence) return middle;
    if (found < sequence) from = middle + 1;
    else to = middle - 1;
  }
  return -1;
}

function mergeBySequence(left: readonly QueueEntry[], right: readonly QueueEntry[]): QueueEntry[] {
  if (left.length === 0) return [...right];
  const merged: QueueEntry[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length && j < right.length) {
    const a = left[i] as QueueEntry;
    const b = right[j] as QueueEntry;
    if (a.sequence <= b.sequence) {
      merged.push(a);
      i++;
    } else {
      merged.push(b);
      j++;
    }
  }
  while (i < left.length) merged.push(left[i++] as QueueEntry);
  while (j < right.length) merged.push(right[j++] as QueueEntry);
  return merged;
}
