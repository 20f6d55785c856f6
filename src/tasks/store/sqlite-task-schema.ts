/**
 * The tables of the SQLite result store, the upgrade of files older Warrens wrote, and how an event
 * is laid out in a task_events row.
 *
 * Layout version 2 (PRAGMA user_version) keeps the history in a WITHOUT ROWID table keyed by the
 * columns that identify an event: version 1 had a rowid table plus a UNIQUE index over those same
 * columns, so every event was written to two B-trees. The body of an event row holds the event's JSON
 * without the key columns (task id, kind, run, attempt, time), which the row already has: the history
 * is most of the file, and every byte of it is written twice (WAL, then checkpoint) at each commit.
 * Bodies a version 1 file holds (whole events) stay as they are: reading takes the key columns from
 * the row, and a whole event's own copies of them (the same values, since they were its key) come
 * after and win, which gives the same event either way.
 */
import type Database from 'better-sqlite3';
import type { TaskEvent } from '../protocol.js';
import { SQLITE_SCHEDULING_SCHEMA } from './sqlite-scheduling.js';
import { SQLITE_WEBHOOK_SCHEMA } from './sqlite-webhooks.js';

/** Version of the table layout, kept in PRAGMA user_version. */
export const SCHEMA_VERSION = 2;

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
    progress_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS tasks_by_created ON tasks (created_at, id);
  CREATE INDEX IF NOT EXISTS tasks_by_name ON tasks (name, created_at, id);
  CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state, created_at, id);
  CREATE INDEX IF NOT EXISTS tasks_by_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
`;

/** The history table of layout 2; `body` is the event's JSON less the key columns (eventBody). */
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
    addMissingTaskColumns(db);
    if (hasColumn(db, 'task_events', 'seq')) moveHistoryToLayout2(db);
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

/** Copies a layout 1 history (rowid table, UNIQUE index) into the layout 2 table, whole bodies and all. */
function moveHistoryToLayout2(db: Database.Database): void {
  db.exec(`
    ALTER TABLE task_events RENAME TO task_events_layout1;
    ${TASK_EVENTS_SCHEMA}
    INSERT OR IGNORE INTO task_events (task_id, run, attempt, kind, at, body)
      SELECT task_id, run, attempt, kind, at, body FROM task_events_layout1 ORDER BY seq;
    DROP TABLE task_events_layout1;
  `);
}

/** A row of task_events as history() reads it. */
export interface TaskEventRow {
  task_id: string;
  run: number;
  attempt: number;
  kind: string;
  at: number;
  body: string;
}

/** The body column of an event's row: its JSON without the fields the key columns hold. */
export function eventBody(event: TaskEvent): string {
  const { id: _id, kind: _kind, run: _run, attempt: _attempt, at: _at, ...rest } = event;
  return JSON.stringify(rest);
}

/** The event a row holds (either layout's body), its fields in the order the protocol lists them. */
export function eventOfRow(row: TaskEventRow): TaskEvent {
  const { protocol, name, ...rest } = JSON.parse(row.body) as Omit<TaskEvent, 'id' | 'kind' | 'run' | 'attempt' | 'at'>;
  return { protocol, kind: row.kind as TaskEvent['kind'], id: row.task_id, name, run: row.run, attempt: row.attempt, at: row.at, ...rest };
}
