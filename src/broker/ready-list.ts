/**
 * The ready messages of a queue (or of one priority level of it), in delivery order: entries returned
 * by consumers first (`requeued`, ordered by their original sequence), then entries in memory
 * (`resident`), then entries whose bodies wait on disk (`paged`), read back in batches when reached.
 */
import { Deque } from '../util/deque.js';
import type { QueueEntry } from './message.js';
import { PagedFifo, type PagedMessage } from './paged-fifo.js';

/** Reads a paged-out message back into a queue entry. */
export type PageIn = (paged: PagedMessage) => QueueEntry;

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
    // One linear merge keeps requeueing a large batch (a consumer with many unacked messages died) cheap.
    this.requeued = mergeBySequence(this.requeued.slice(this.requeuedHead), returned);
    this.requeuedHead = 0;
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
