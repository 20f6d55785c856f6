/**
 * The tables of the SQLite result store, and the upgrade of files older Warrens wrote.
 *
 * Layout version 3 (PRAGMA user_version) keeps each task's history in its own row (the `history`
 * column, sqlite-task-history.ts) up to HISTORY_ROW_CHARS_MAX, and the entries that do not fit there
 * in task_events, a WITHOUT ROWID table keyed by the columns that identify an event, whose `body` is
 * the event's JSON less those columns. Versions 1 and 2 kept every event in task_events (version 1: a
 * rowid table plus a UNIQUE index over the key, whole events as bodies; version 2: the table of today).
 * Opening such a file moves every task's events into its row, as entries made of those same columns
 * and body (a row may then hold more than HISTORY_ROW_CHARS_MAX: later events go to task_events), and
 * leaves task_events empty. Rows of task_events whose task has no row (no Warren wrote any) are dropped.
 * The move is one transaction: every keeper on the file must be stopped for it, and no older Warren
 * opens the file afterwards.
 *
 * Version 4 has version 3's tables; its history text may also hold entries that leave a 'queued'
 * event's payload and options to the row's columns (sqlite-task-history.ts), which a Warren of version 3
 * would read as events without them, and would not write out in full before changing the row's payload.
 * A file of version 3 is taken as it is (none of its entries is such) and marked 4, so that no older
 * Warren opens it afterwards.
 */
import type Database from 'better-sqlite3';
import { SQLITE_SCHEDULING_SCHEMA } from './sqlite-scheduling.js';
import { SQLITE_WEBHOOK_SCHEMA } from './sqlite-webhooks.js';

/** Version of the table layout, kept in PRAGMA user_version. */
export const SCHEMA_VERSION = 4;

/** The history table (layout 2's, and layout 3's overflow); `body` is the event's JSON less the key columns (eventBody). */
const TASK_EVENTS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS task_events (
    task_id TEXT NOT NULL,
    run INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (task_id, run, attempt, kind, at)
  ) WITHOUT ROWID;
`;

const TASKS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    run INTEGER NOT NULL,
    attempts INTEGER NOT NULL,
    payload TEXT,
    options TEXT NOT NULL,
    result TEXT,
    error TEXT,
    retry_at INTEGER,
    created_at INTEGER NOT NULL,
    started_at INTEGER,
    finished_at INTEGER,
    updated_at INTEGER NOT NULL,
    progress TEXT,
    progress_at INTEGER,
    history TEXT NOT NULL DEFAULT ''
  );
  CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks (created_at, id);
  CREATE INDEX IF NOT EXISTS tasks_by_name ON tasks (name, created_at, id);
  CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state, created_at, id);
`;

/**
 * The index on finish time that files of earlier Warrens have. Retention finds finished tasks through
 * tasks_by_state instead (SQLITE_FINISHED_TASKS), so each new task's row goes into one B-tree fewer:
 * about 0.25 us of CPU less per event (`npm run bench:store -- --store sqlite --ids ordered --tasks
 * 40000 --rounds 3 --lag 5000`, three alternated pairs: 8.22-9.27 against 8.56-9.28). An older Warren
 * opening the file makes it again (CREATE INDEX IF NOT EXISTS), which does no harm either way.
 */
const DROPPED_INDEXES = 'DROP INDEX IF EXISTS tasks_by_finished;';

/** Columns of the tasks table added after the first layout, with their SQL types (first-layout files lack them). */
const ADDED_TASK_COLUMNS: readonly (readonly [string, string])[] = [
  ['progress', 'TEXT'],
  ['progress_at', 'INTEGER'],
];

/**
 * Creates the tables, or upgrades those of an older layout, in one write transaction: stores opening
 * one file at once (several keepers) take turns, and a failed upgrade leaves the file as it was.
 */
export function createTaskSchema(db: Database.Database): void {
  db.transaction(() => {
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) throw new Error(`task result store has schema version ${version}; this Warren knows up to ${SCHEMA_VERSION}`);
    db.exec(TASKS_SCHEMA);
    db.exec(DROPPED_INDEXES);
    addMissingTaskColumns(db);
    if (!hasColumn(db, 'tasks', 'history')) moveHistoryIntoRows(db);
    db.exec(TASK_EVENTS_SCHEMA);
    db.exec(SQLITE_WEBHOOK_SCHEMA);
    db.exec(SQLITE_SCHEDULING_SCHEMA);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

function hasColumn(db: Database.Database, table: string, column: string): boolean {
  return (db.pragma(`table_info(${table})`) as { name: string }[]).some((info) => info.name === column);
}

/** Columns added after the first layout (additive: a file an older Warren wrote gains them). */
function addMissingTaskColumns(db: Database.Database): void {
  for (const [column, type] of ADDED_TASK_COLUMNS) if (!hasColumn(db, 'tasks', column)) db.exec(`ALTER TABLE tasks ADD COLUMN ${column} ${type}`);
}

/**
 * Gives the tasks table of a layout 1 or 2 file its history column, filled from task_events (which
 * either layout has, with the same columns), and then drops task_events (the caller makes it anew,
 * empty). The order of the entries is left to SQLite: histories are sorted when read. A file of the
 * very first layout, with no task_events yet, only gains the column. An entry's key fields are written
 * as JavaScript writes numbers (historyKey), not as SQLite's JSON functions would (`1.0e+21`, 17
 * digits), so that a redelivered event finds its entry; its body goes in as the text it is (compact
 * JSON, written by JSON.stringify), which SQLite's JSON parser, with its depth limit, never reads.
 */
function moveHistoryIntoRows(db: Database.Database): void {
  db.exec("ALTER TABLE tasks ADD COLUMN history TEXT NOT NULL DEFAULT ''");
  const hasEventsTable = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'task_events'").get() !== undefined;
  if (!hasEventsTable) return;
  db.function('warren_js_number', { deterministic: true }, (value: unknown) => String(value));
  db.exec(`
    UPDATE tasks SET history = coalesce((
      SELECT group_concat(
        char(10) || '[' || json_quote(kind) || ',' || warren_js_number(run) || ',' || warren_js_number(attempt) || ','
          || warren_js_number(at) || ',' || replace(body, char(10), ' ') || ']',
        ','
      ) FROM task_events WHERE task_id = tasks.id
    ), '');
    DROP TABLE task_events;
  `);
}
