/**
 * The tables of the SQLite result store, and the upgrade of files older Warrens wrote.
 *
 * Layout version 3 (PRAGMA user_version) keeps each task's history in its own row (the `history`
 * column, sqlite-task-history.ts). Versions 1 and 2 kept it in a task_events table, a row per event
 * (version 1: a rowid table plus a UNIQUE index over the event's key; version 2: a WITHOUT ROWID table
 * keyed by it), each holding the event's key columns and a body: the event's JSON (version 1) or that
 * JSON less the key columns (version 2). Opening such a file moves every task's events into its row, as
 * entries made of those same columns and body, and drops the table.
 */
import type Database from 'better-sqlite3';
import { SQLITE_SCHEDULING_SCHEMA } from './sqlite-scheduling.js';
import { SQLITE_WEBHOOK_SCHEMA } from './sqlite-webhooks.js';

/** Version of the table layout, kept in PRAGMA user_version. */
export const SCHEMA_VERSION = 3;

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
  CREATE INDEX IF NOT EXISTS tasks_by_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
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
    if (!hasColumn(db, 'tasks', 'history')) moveHistoryIntoRows(db);
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
 * either layout has, with the same columns) and then dropped. The order of the entries is left to
 * SQLite: histories are sorted when read. A file of the very first layout, with no task_events yet,
 * only gains the column.
 */
function moveHistoryIntoRows(db: Database.Database): void {
  db.exec("ALTER TABLE tasks ADD COLUMN history TEXT NOT NULL DEFAULT ''");
  const hasEventsTable = db.prepare("SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'task_events'").get() !== undefined;
  if (!hasEventsTable) return;
  db.exec(`
    UPDATE tasks SET history = coalesce((
      SELECT group_concat(char(10) || json_array(kind, run, attempt, at, json(body)), ',') FROM task_events WHERE task_id = tasks.id
    ), '');
    DROP TABLE task_events;
  `);
}
