/**
 * The deep end of a queue: messages whose bodies live only in the queue's store, in arrival order,
 * packed into chunks of typed arrays (17 bytes a message) instead of one object each. A queue holding
 * millions of messages keeps its memory to tens of megabytes this way; bodies are read back in batches
 * as consumers reach them.
 */
import { Deque } from '../util/deque.js';
import type { MessageLocation } from './ports.js';

const CHUNK_ENTRIES = 4096;

interface Chunk {
  readonly locations: Float64Array;
  readonly sequences: Float64Array;
  readonly redelivered: Uint8Array;
}

/** One paged-out message, as shift() hands it back. */
export interface PagedMessage {
  readonly location: MessageLocation;
  readonly sequence: number;
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
  push(location: MessageLocation, sequence: number, redelivered: boolean): void {
    if (this.tail === CHUNK_ENTRIES) {
      this.chunks.push(this.takeChunk());
      this.tail = 0;
      if (this.chunks.length === 1) this.head = 0;
    }
    const chunk = this.chunks.at(this.chunks.length - 1) as Chunk;
    chunk.locations[this.tail] = location;
    chunk.sequences[this.tail] = sequence;
    chunk.redelivered[this.tail] = redelivered ? 1 : 0;
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
      redelivered: chunk.redelivered[at] === 1,
    };
    this.count--;
    if (this.count === 0) this.clear();
    else if (this.head === CHUNK_ENTRIES) this.dropFirstChunk();
    return message;
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
      redelivered: new Uint8Array(CHUNK_ENTRIES),
    };
  }
}
