/**
 * The deep end of a queue: messages whose bodies live only in the queue's store, in arrival order,
 * packed into chunks of typed arrays (29 bytes a message) instead of one object each. A queue holding
 * millions of messages keeps its memory to tens of megabytes this way; bodies are read back in batches
 * as consumers reach them.
 */
import { Deque } from '../util/deque.js';
import type { MessageLocation } from './ports.js';

const CHUNK_ENTRIES = 4096;
/** Value of a slot's redelivered byte once its message was removed from the middle (a tombstone). */
const REMOVED = 2;

interface Chunk {
  readonly locations: Float64Array;
  readonly sequences: Float64Array;
  readonly expiresAt: Float64Array;
  readonly sizes: Uint32Array;
  readonly redelivered: Uint8Array;
}

/** One paged-out message. */
export interface PagedMessage {
  readonly location: MessageLocation;
  readonly sequence: number;
  /** When it expires (ms since the epoch), or 0 for never. */
  readonly expiresAt: number;
  /** Body size in bytes (for x-max-length-bytes). */
  readonly size: number;
  readonly redelivered: boolean;
}

/** A FIFO of paged-out messages. */
export class PagedFifo {
  private readonly chunks = new Deque<Chunk>(16);
  /** Index of the head entry in the first chunk. */
  private head = 0;
  /** Index after the tail entry in the last chunk. */
  private tail = CHUNK_ENTRIES;
  private count = 0;
  /**
   * Slots of messages removed from the middle (management delete), skipped by shift. The head slot is
   * never one while messages remain, so shift and headExpiresAt need no check of their own.
   */
  private tombstones = 0;
  /** A drained chunk kept for reuse, so a queue hovering at a chunk boundary does not churn memory. */
  private spare: Chunk | undefined;

  /** Number of messages held. */
  get length(): number {
    return this.count;
  }

  /** Appends a message at the tail. */
  push(message: PagedMessage): void {
    if (this.tail === CHUNK_ENTRIES) {
      this.chunks.push(this.takeChunk());
      this.tail = 0;
      if (this.chunks.length === 1) this.head = 0;
    }
    const chunk = this.chunks.at(this.chunks.length - 1) as Chunk;
    chunk.locations[this.tail] = message.location;
    chunk.sequences[this.tail] = message.sequence;
    chunk.expiresAt[this.tail] = message.expiresAt;
    chunk.sizes[this.tail] = message.size;
    chunk.redelivered[this.tail] = message.redelivered ? 1 : 0;
    this.tail++;
    this.count++;
  }

  /** Removes and returns the head message, or undefined when empty. */
  shift(): PagedMessage | undefined {
    if (this.count === 0) return undefined;
    const chunk = this.chunks.peek() as Chunk;
    const at = this.head++;
    const message: PagedMessage = {
      location: chunk.locations[at] as MessageLocation,
      sequence: chunk.sequences[at] as number,
      expiresAt: chunk.expiresAt[at] as number,
      size: chunk.sizes[at] as number,
      redelivered: chunk.redelivered[at] === 1,
    };
    this.count--;
    if (this.count === 0) this.clear();
    else if (this.head === CHUNK_ENTRIES) this.dropFirstChunk();
    if (this.tombstones > 0) this.skipTombstones();
    return message;
  }

  /** Up to `count` messages from position `index` (0 is the head) on, in order (for browsing). */
  range(index: number, count: number): PagedMessage[] {
    const found: PagedMessage[] = [];
    if (index < 0 || index >= this.count) return found;
    const slots = this.count + this.tombstones;
    for (let slot = this.tombstones === 0 ? index : this.slotOfLive(index); slot < slots && found.length < count; slot++) {
      const { chunk, at } = this.place(slot);
      if (chunk.redelivered[at] !== REMOVED) found.push(this.messageAtSlot(slot));
    }
    return found;
  }

  /**
   * Removes the message with that sequence number from wherever it is (sequence numbers grow from head
   * to tail, so this is a binary search) and returns it, or undefined when none has it. Its slot stays
   * as a tombstone until the head passes it.
   */
  remove(sequence: number): PagedMessage | undefined {
    const slot = this.slotOfSequence(sequence);
    if (slot < 0) return undefined;
    const message = this.messageAtSlot(slot);
    const { chunk, at } = this.place(slot);
    chunk.redelivered[at] = REMOVED;
    this.count--;
    this.tombstones++;
    if (this.count === 0) this.clear();
    else this.skipTombstones();
    return message;
  }

  /** The head message's expiry (ms since the epoch, 0 for never), or undefined when empty. */
  headExpiresAt(): number | undefined {
    if (this.count === 0) return undefined;
    return (this.chunks.peek() as Chunk).expiresAt[this.head];
  }

  /** The head message's sequence number, or undefined when empty. */
  headSequence(): number | undefined {
    if (this.count === 0) return undefined;
    return (this.chunks.peek() as Chunk).sequences[this.head];
  }

  /** Calls `visit` with every message's location, head first. */
  forEachLocation(visit: (location: MessageLocation) => void): void {
    let remaining = this.count + this.tombstones;
    let start = this.head;
    for (const chunk of this.chunks) {
      const end = Math.min(CHUNK_ENTRIES, start + remaining);
      for (let i = start; i < end; i++) if (chunk.redelivered[i] !== REMOVED) visit(chunk.locations[i] as MessageLocation);
      remaining -= end - start;
      start = 0;
    }
  }

  /** Forgets every message. */
  clear(): void {
    while (this.chunks.length > 0) this.dropFirstChunk();
    this.head = 0;
    this.tail = CHUNK_ENTRIES;
    this.count = 0;
    this.tombstones = 0;
  }

  /** Moves the head past removed slots. */
  private skipTombstones(): void {
    for (;;) {
      const chunk = this.chunks.peek() as Chunk;
      if (chunk.redelivered[this.head] !== REMOVED) return;
      this.head++;
      this.tombstones--;
      if (this.head === CHUNK_ENTRIES) this.dropFirstChunk();
    }
  }

  /** The chunk and index of a slot counted from the head (removed slots included). */
  private place(slot: number): { chunk: Chunk; at: number } {
    const absolute = this.head + slot;
    const chunk = this.chunks.at(Math.floor(absolute / CHUNK_ENTRIES)) as Chunk;
    return { chunk, at: absolute % CHUNK_ENTRIES };
  }

  private messageAtSlot(slot: number): PagedMessage {
    const { chunk, at } = this.place(slot);
    return {
      location: chunk.locations[at] as MessageLocation,
      sequence: chunk.sequences[at] as number,
      expiresAt: chunk.expiresAt[at] as number,
      size: chunk.sizes[at] as number,
      redelivered: chunk.redelivered[at] === 1,
    };
  }

  /** The slot of the index-th message held, walking past removed slots. */
  private slotOfLive(index: number): number {
    let live = -1;
    let slot = 0;
    let start = this.head;
    for (const chunk of this.chunks) {
      for (let i = start; i < CHUNK_ENTRIES; i++, slot++) if (chunk.redelivered[i] !== REMOVED && ++live === index) return slot;
      start = 0;
    }
    return -1;
  }

  /** The slot holding a live message with that sequence number, or -1. */
  private slotOfSequence(sequence: number): number {
    let low = 0;
    let high = this.count + this.tombstones - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const { chunk, at } = this.place(middle);
      const found = chunk.sequences[at] as number;
      if (found === sequence) return chunk.redelivered[at] === REMOVED ? -1 : middle;
      if (found < sequence) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  }

  private dropFirstChunk(): void {
    this.spare = this.chunks.shift();
    this.head = 0;
  }

  private takeChunk(): Chunk {
    const spare = this.spare;
    if (spare !== undefined) {
      this.spare = undefined;
      return spare;
    }
    return {
      locations: new Float64Array(CHUNK_ENTRIES),
      sequences: new Float64Array(CHUNK_ENTRIES),
      expiresAt: new Float64Array(CHUNK_ENTRIES),
      sizes: new Uint32Array(CHUNK_ENTRIES),
      redelivered: new Uint8Array(CHUNK_ENTRIES),
    };
  }
}
