/**
 * The records of unfinished tasks the SQLite store wrote or read lately, kept between commit rounds.
 * A task's events come a few at a time (queued, then started, then succeeded, usually in different
 * rounds); with its record at hand the next round neither reads nor parses the task's row. A record
 * here is exactly what the row holds, which only stays true while no one else writes the table: the
 * store forgets everything when another connection has committed (PRAGMA data_version), when a
 * transaction fails, and when it deletes tasks.
 */
import type { TaskRecord } from './result-store.js';

/** Bounds of the records kept: how many, and how much text their rows hold. */
export interface RecentRecordLimits {
  records: number;
  /** Characters of the rows' text (JSON values, id, name), summed over the records kept. */
  chars: number;
}

interface Entry {
  record: TaskRecord;
  chars: number;
}

/** Recently written records of unfinished tasks, the least recently written dropped first. */
export class RecentRecords {
  /** In order of writing: a Map iterates in insertion order, so the first entry is the oldest. */
  readonly #entries = new Map<string, Entry>();
  #chars = 0;

  constructor(private readonly limits: RecentRecordLimits) {}

  /**
   * The record of task `id` and the size of its row, if kept. The record is the very one kept, not a
   * copy: the caller must not change it (the shared transitions never change a record they are given)
   * nor hand it out, since records handed out are the receiver's to change.
   */
  get(id: string): Readonly<Entry> | undefined {
    return this.#entries.get(id);
  }

  /** Whether `record` itself (not merely a record of its task) is kept. */
  holds(record: TaskRecord): boolean {
    return this.#entries.get(record.id)?.record === record;
  }

  /**
   * Keeps `record` (itself, which no one may change from now on) as what the row of its task now
   * holds; `chars` is the size of that row's text, or more. A record bigger than the whole budget is
   * not kept.
   */
  remember(record: TaskRecord, chars: number): void {
    this.forget(record.id);
    if (chars > this.limits.chars) return;
    this.#entries.set(record.id, { record, chars });
    this.#chars += chars;
    if (this.#entries.size <= this.limits.records && this.#chars <= this.limits.chars) return;
    for (const [id, entry] of this.#entries) {
      if (this.#entries.size <= this.limits.records && this.#chars <= this.limits.chars) break;
      this.#entries.delete(id);
      this.#chars -= entry.chars;
    }
  }

  /** Drops the record of task `id`, if kept. */
  forget(id: string): void {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    this.#entries.delete(id);
    this.#chars -= entry.chars;
  }

  /** Drops every record. */
  clear(): void {
    this.#entries.clear();
    this.#chars = 0;
  }

  /** How many records are kept. */
  get size(): number {
    return this.#entries.size;
  }
}
