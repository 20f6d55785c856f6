/**
 * The deep end of a queue: messages whose bodies live only in the queue's store, in arrival order,
 * packed into chunks of typed arrays (29 bytes a message) instead of one object each. A queue holding
 * millions of messages keeps its memory to tens of megabytes this way; bodies are read back in batches
 * as consumers reach them.
 */
import { Deque } from '../util/deque.js';
import type { MessageLocation } from './ports.js';

const CHUNK_ENTRIES = 4096;

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
    return message;
  }

  /** The head message's expiry (ms since the epoch, 0 for never), or undefined when empty. */
  headExpiresAt(): number | undefined {
    if (this.count === 0) return undefined;
    return (this.chunks.peek() as Chunk).expiresAt[this.head];
  }

  /** Calls `visit` with every message's location, head first. */
  forEachLocation(visit: (location: MessageLocation) => void): void {
    let remaining = this.count;
    let start = this.head;
    for (const chunk of this.chunks) {
      const end = Math.min(CHUNK_ENTRIES, start + remaining);
      for (let i = start; i < end; i++) visit(chunk.locations[i] as MessageLocation);
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
