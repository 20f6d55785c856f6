/**
 * How the SQLite store writes task rows. A task the batch found unknown is one INSERT. A known one is
 * an UPDATE of only the columns whose values changed: writing every column would re-encode the
 * payload and options and move the task in every index (by creation, name, state, finish) at each
 * event, where a typical event changes the state and a few times, so two of the four indexes. The
 * history text (sqlite-task-history.ts) is written whole by an INSERT and appended to by an UPDATE (or,
 * when the store rewrote entries already in the row, written whole by the UPDATE too).
 *
 * The values go to a statement as arguments (`run(...values)`), not as one array: better-sqlite3 reads an
 * array's elements one by one through V8's object API, and arguments straight from the call (a 16-value
 * UPDATE: 1.46-1.59 us against 1.84-2.15 per run, minimum and median of eight alternated runs of 300,000).
 */
import type Database from 'better-sqlite3';
import type { TaskRecord } from './result-store.js';
import { TASK_COLUMNS, UPDATABLE_TASK_COLUMNS, taskRowValues, type SqlValue } from './task-rows.js';

/** Most UPDATE statements kept prepared; the transitions change a few dozen sets of columns at most. */
const UPDATE_STATEMENTS_MAX = 256;

/** The bit of an UPDATE's column set that stands for an append to the history (after every column's own bit). */
const HISTORY_BIT = 1 << UPDATABLE_TASK_COLUMNS.length;
/** The bit that stands for the history written whole (instead of appended to). */
const WHOLE_HISTORY_BIT = HISTORY_BIT << 1;

/** Writes task rows to the tasks table of one database; the caller holds a write transaction. */
export class SqliteTaskWriter {
  readonly #db: Database.Database;
  readonly #insert: Database.Statement<SqlValue[]>;
  readonly #insertIfAbsent: Database.Statement<SqlValue[]>;
  /** UPDATE statements by the set of columns they write (bit i: UPDATABLE_TASK_COLUMNS[i]; HISTORY_BIT: an append to the history; WHOLE_HISTORY_BIT: the history replaced). */
  readonly #updates = new Map<number, Database.Statement<SqlValue[]>>();

  constructor(db: Database.Database) {
    this.#db = db;
    const insert = `INSERT INTO tasks (${TASK_COLUMNS.join(', ')}, history) VALUES (${TASK_COLUMNS.map(() => '?').join(', ')}, ?)`;
    this.#insert = db.prepare<SqlValue[]>(insert);
    this.#insertIfAbsent = db.prepare<SqlValue[]>(`${insert} ON CONFLICT (id) DO NOTHING`);
  }

  /**
   * Inserts the row of `record`, with the history text `history`, unless its task has a row already;
   * returns how many characters of text it wrote, or undefined when a row was there (and is left as it was).
   */
  insertIfAbsent(record: TaskRecord, history: string): number | undefined {
    const values = taskRowValues(record);
    values.push(history);
    return this.#insertIfAbsent.run(...values).changes === 0 ? undefined : textChars(values);
  }

  /**
   * Writes `record`, the new state of a task whose row holds `stored` (undefined: no row yet), and
   * adds `history` to the end of its history text (with `'whole'`: makes it the whole history text).
   * `stored` must be exactly what the row holds: the record read from it, or the one last written to
   * it. Returns how many characters of text it wrote.
   */
  write(stored: TaskRecord | undefined, record: TaskRecord, history: string, how: 'append' | 'whole' = 'append'): number {
    if (stored === undefined) {
      const values = taskRowValues(record);
      values.push(history);
      this.#insert.run(...values);
      return textChars(values);
    }
    let columns = 0;
    const values: SqlValue[] = [];
    let bit = 1;
    for (const [, codec] of UPDATABLE_TASK_COLUMNS) {
      if (codec.changed(stored, record)) {
        columns |= bit;
        values.push(codec.value(record));
      }
      bit <<= 1;
    }
    if (how === 'whole') {
      columns |= WHOLE_HISTORY_BIT;
      values.push(history);
    } else if (history !== '') {
      columns |= HISTORY_BIT;
      values.push(history);
    }
    if (columns === 0) return 0;
    values.push(record.id);
    this.#update(columns).run(...values);
    return textChars(values);
  }

  #update(columns: number): Database.Statement<SqlValue[]> {
    let statement = this.#updates.get(columns);
    if (statement === undefined) {
      const assignments = UPDATABLE_TASK_COLUMNS.filter((_, index) => (columns & (1 << index)) !== 0).map(([column]) => `${column} = ?`);
      if ((columns & HISTORY_BIT) !== 0) assignments.push('history = history || ?');
      if ((columns & WHOLE_HISTORY_BIT) !== 0) assignments.push('history = ?');
      statement = this.#db.prepare<SqlValue[]>(`UPDATE tasks SET ${assignments.join(', ')} WHERE id = ?`);
      if (this.#updates.size < UPDATE_STATEMENTS_MAX) this.#updates.set(columns, statement);
    }
    return statement;
  }
}

/** Characters of the text values among `values`. */
function textChars(values: readonly SqlValue[]): number {
  let chars = 0;
  for (const value of values) if (typeof value === 'string') chars += value.length;
  return chars;
}
