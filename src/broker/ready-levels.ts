/**
 * The ready messages of a queue as its priority levels: one ReadyList per level (a single one without
 * x-max-priority). A message waits in the level of its priority (priorities above the highest level
 * count as the highest), the highest non-empty level delivers first, and drop-head takes from the
 * lowest; counts, bytes and browsing span all levels.
 */
import type { Message, QueueEntry } from './message.js';
import type { PagedFifo } from './paged-fifo.js';
import { ReadyList, type ReadyItem } from './ready-list.js';

/** A queue's ready messages, one list per priority level. */
export class ReadyLevels {
  /** The lists, lowest priority (0) first. */
  readonly levels: readonly ReadyList[];

  constructor(levelCount: number) {
    this.levels = Array.from({ length: levelCount }, () => new ReadyList(levelCount === 1 ? 1024 : 16));
  }

  /** Number of ready messages over all levels. */
  get length(): number {
    let count = 0;
    for (const level of this.levels) count += level.length;
    return count;
  }

  /** Body bytes of the ready messages over all levels. */
  get bytes(): number {
    let bytes = 0;
    for (const level of this.levels) bytes += level.bytes;
    return bytes;
  }

  /** The lowest sequence number among the levels' heads (the oldest ready message), or undefined when none is ready. */
  oldestSequence(): number | undefined {
    let oldest: number | undefined;
    for (const level of this.levels) {
      const sequence = level.headSequence();
      if (sequence !== undefined && (oldest === undefined || sequence < oldest)) oldest = sequence;
    }
    return oldest;
  }

  /** The level a message waits in. */
  levelOf(message: Message): ReadyList {
    if (this.levels.length === 1) return this.levels[0] as ReadyList;
    return this.levels[Math.min(message.priority, this.levels.length - 1)] as ReadyList;
  }

  /** The level that delivers next, or undefined when no message is ready. */
  highestNonEmpty(): ReadyList | undefined {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const level = this.levels[i] as ReadyList;
      if (level.length > 0) return level;
    }
    return undefined;
  }

  /** Drop-head takes the oldest message of the lowest priority first, as RabbitMQ's priority queues do. */
  lowestNonEmpty(): ReadyList | undefined {
    return this.levels.find((level) => level.length > 0);
  }

  /** The earliest expiry among the levels' heads (messages expire from the head), or +Infinity for none. */
  nextHeadExpiry(): number {
    let next = Number.POSITIVE_INFINITY;
    for (const level of this.levels) {
      const expiresAt = level.headExpiresAt();
      if (expiresAt !== undefined && expiresAt !== 0 && expiresAt < next) next = expiresAt;
    }
    return next;
  }

  /** Puts delivered entries back in their levels, each in its original place (by sequence). */
  requeue(entries: readonly QueueEntry[]): void {
    if (this.levels.length === 1) (this.levels[0] as ReadyList).requeue(entries);
    else {
      const byLevel = new Map<ReadyList, QueueEntry[]>();
      for (const entry of entries) {
        const level = this.levelOf(entry.message);
        const group = byLevel.get(level);
        if (group === undefined) byLevel.set(level, [entry]);
        else group.push(entry);
      }
      for (const [level, levelEntries] of byLevel) level.requeue(levelEntries);
    }
  }

  /** Browsing: the ready messages at positions [offset, offset + limit) in delivery order, consuming nothing. */
  page(offset: number, limit: number): ReadyItem[] {
    const items: ReadyItem[] = [];
    let skip = offset;
    for (let i = this.levels.length - 1; i >= 0 && items.length < limit; i--) {
      const level = this.levels[i] as ReadyList;
      if (skip >= level.length) skip -= level.length;
      else {
        level.page(skip, limit - items.length, items);
        skip = 0;
      }
    }
    return items;
  }

  /** Removes the ready message with that sequence number from whichever level holds it; undefined when none does. */
  remove(sequence: number): ReadyItem | undefined {
    for (const level of this.levels) {
      const removed = level.remove(sequence);
      if (removed !== undefined) return removed;
    }
    return undefined;
  }

  /** Empties every level, handing every in-memory entry and every paged-out location to the visitors. */
  clear(visitEntry: (entry: QueueEntry) => void, visitPaged: (paged: PagedFifo) => void): void {
    for (const level of this.levels) level.clear(visitEntry, visitPaged);
  }
}
