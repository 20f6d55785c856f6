/**
 * The records of unfinished tasks the SQLite store wrote or read lately, kept between commit rounds.
 * A task's events come a few at a time (queued, then started, then succeeded, usually in different
 * rounds); with its record at hand the next round neither reads nor parses the task's row. A record
 * here is exactly what the row holds, which only stays true while no one else writes the table: the
 * store forgets everything when another connection has committed (PRAGMA data_version), when a
 * transaction fails, and when it deletes tasks.
 *
 * The order of writing is a doubly linked list through the entries, not the Map's own insertion
 * order: dropping the oldest entry of a Map means a new iterator, which in V8 walks past every entry
 * deleted since the last rehash (every finished task is deleted), thousands of them in a full map.
 * The list makes remembering, forgetting and dropping the oldest O(1), and rewriting a kept task's
 * record moves its entry to the newest end without deleting it from the Map.
 */
import type { TaskRecord } from './result-store.js';

/** Bounds of the records kept: how many, and how much text their rows hold. */
export interface RecentRecordLimits {
  records: number;
  /** Characters of the rows' text (JSON values, id, name), summed over the records kept. */
  chars: number;
}

/** A kept record, its row's history text, and the size of the row's text. */
export interface RecentRecord {
  readonly record: TaskRecord;
  readonly history: string;
  readonly chars: number;
}

/** An entry of the Map, linked to the entries written just before and after it. */
interface Entry {
  readonly id: string;
  record: TaskRecord;
  history: string;
  chars: number;
  older: Entry | undefined;
  newer: Entry | undefined;
}

/**
 * Recently written records of unfinished tasks. At the bounds, a task not kept yet is not taken in,
 * rather than dropping the least recently written record: in a backlog (tasks submitted faster than
 * workers take them) the records kept are those of the tasks queued first, which the workers finish
 * first, while a task just queued waits behind all of them, so dropping the oldest would drop every
 * record just before its use. A record written again (its task moved on) is kept, and the least
 * recently written go to make room for it. The store forgets everything now and then (at each
 * retention pass, and when another connection wrote), so records of tasks that wait for long (delayed,
 * or with no worker) do not keep newer tasks out for good.
 */
export class RecentRecords {
  readonly #entries = new Map<string, Entry>();
  /** Ends of the list in order of writing: `#oldest` is dropped first. */
  #oldest: Entry | undefined;
  #newest: Entry | undefined;
  #chars = 0;

  constructor(private readonly limits: RecentRecordLimits) {}

  /**
   * The record of task `id` and the size of its row, if kept. The record is the very one kept, not a
   * copy: the caller must not change it (the shared transitions never change a record they are given)
   * nor hand it out, since records handed out are the receiver's to change.
   */
  get(id: string): RecentRecord | undefined {
    return this.#entries.get(id);
  }

  /** Whether `record` itself (not merely a record of its task) is kept. */
  holds(record: TaskRecord): boolean {
    return this.#entries.get(record.id)?.record === record;
  }

  /**
   * Keeps `record` (itself, which no one may change from now on) and the history text `history` as
   * what the row of its task now holds; `chars` is the size of that row's text (history included), or
   * more. A record bigger than the whole budget is not kept.
   */
  remember(record: TaskRecord, history: string, chars: number): void {
    if (chars > this.limits.chars) {
      this.forget(record.id);
      return;
    }
    let entry = this.#entries.get(record.id);
    if (entry === undefined) {
      if (this.#entries.size >= this.limits.records || this.#chars + chars > this.limits.chars) return;
      entry = { id: record.id, record, history, chars, older: undefined, newer: undefined };
      this.#entries.set(record.id, entry);
    } else {
      this.#chars -= entry.chars;
      entry.record = record;
      entry.history = history;
      entry.chars = chars;
      this.#unlink(entry);
    }
    this.#chars += chars;
    this.#append(entry);
    while (this.#entries.size > this.limits.records || this.#chars > this.limits.chars) this.#drop(this.#oldest as Entry);
  }

  /** Drops the record of task `id`, if kept. */
  forget(id: string): void {
    const entry = this.#entries.get(id);
    if (entry !== undefined) this.#drop(entry);
  }

  /** Drops every record. */
  clear(): void {
    this.#entries.clear();
    this.#oldest = undefined;
    this.#newest = undefined;
    this.#chars = 0;
  }

  /** How many records are kept. */
  get size(): number {
    return this.#entries.size;
  }

  #drop(entry: Entry): void {
    this.#entries.delete(entry.id);
    this.#chars -= entry.chars;
    this.#unlink(entry);
  }

  #append(entry: Entry): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest === undefined) this.#oldest = entry;
    else this.#newest.newer = entry;
    this.#newest = entry;
  }

  #unlink(entry: Entry): void {
    if (entry.older === undefined) this.#oldest = entry.newer;
    else entry.older.newer = entry.newer;
    if (entry.newer === undefined) this.#newest = entry.older;
    else entry.newer.older = entry.older;
    entry.older = undefined;
    entry.newer = undefined;
  }
}
