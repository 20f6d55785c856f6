/**
 * Stores written by older Warrens open and keep what they hold: files from before progress existed
 * (tasks tables without the progress columns) gain the columns and record progress from then on
 * (SQLite, and PostgreSQL on a private server, test/helpers/postgres.ts); SQLite files of layout
 * version 1 (history in a rowid table with a UNIQUE index, whole events as bodies) and 2 (a WITHOUT
 * ROWID table, bodies without the key columns) move to layout 3 (the history in each task's row) with
 * their tasks and history.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { TASK_PROTOCOL_VERSION, type TaskEvent } from '../../../src/tasks/protocol.js';
import { applyEvent } from '../../../src/tasks/store/apply-event.js';
import type { TaskRecord } from '../../../src/tasks/store/result-store.js';
import { toTaskRow } from '../../../src/tasks/store/task-rows.js';
import { eventBody } from '../../../src/tasks/store/sqlite-task-history.js';
import { SCHEMA_VERSION } from '../../../src/tasks/store/sqlite-task-schema.js';
import { PostgresResultStore, SqliteResultStore, type ResultStore } from '../../../src/tasks/store/index.js';
import { skip, startTestPostgres, type TestPostgres } from '../../helpers/postgres.js';
import { runEvents, taskEvent } from './task-events.js';

const directory = mkdtempSync(join(tmpdir(), 'warren-store-upgrade-'));
let server: TestPostgres | undefined;
before(async () => {
  if (skip === false) server = await startTestPostgres('warren_upgrade');
});
after(async () => {
  rmSync(directory, { recursive: true, force: true });
  await server?.stop();
});

/** The tasks row every old layout holds: a running task, attempt 1. */
const OLD_ROW = ['t1', 'resize', 'running', 1, 1, '"p"', JSON.stringify({ attempts: 1, backoff: { kind: 'fixed', delayMs: 1, jitter: false }, timeoutMs: 0, priority: 0, delayMs: 0 }), 1_000, 1_010, 1_010];

/**
 * Checks that the opened store still holds the old record (with the progress an earlier open recorded,
 * if any), then that it records progress.
 */
async function checkUpgraded(store: ResultStore, progressBefore: number | undefined): Promise<void> {
  try {
    const record = await store.get('t1');
    assert.deepEqual([record?.state, record?.payload, record?.progress], ['running', 'p', progressBefore]);
    const at = 1_020 + (progressBefore ?? 0);
    const event = { protocol: TASK_PROTOCOL_VERSION, kind: 'progress', id: 't1', name: 'resize', run: 1, attempt: 1, at, progress: 30 + (progressBefore ?? 0) } as const;
    assert.equal((await store.recordProgress(event))?.progress, event.progress);
    assert.deepEqual([(await store.get('t1'))?.progress, (await store.get('t1'))?.progressAt], [event.progress, at]);
  } finally {
    await store.close();
  }
}

test('a SQLite file of the first layout gains the progress columns', async () => {
  const path = join(directory, 'old.sqlite');
  const db = new Database(path);
  db.exec(`CREATE TABLE tasks (id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL, run INTEGER NOT NULL,
    attempts INTEGER NOT NULL, payload TEXT, options TEXT NOT NULL, result TEXT, error TEXT, retry_at INTEGER,
    created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, updated_at INTEGER NOT NULL)`);
  db.prepare(`INSERT INTO tasks (id, name, state, run, attempts, payload, options, created_at, started_at, updated_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(...OLD_ROW);
  db.pragma('user_version = 1');
  db.close();
  await checkUpgraded(new SqliteResultStore(path), undefined);
  await checkUpgraded(new SqliteResultStore(path), 30); // opening again adds nothing twice
});

test('a PostgreSQL schema of the first layout gains the progress columns', { skip }, async () => {
  assert.ok(server !== undefined, 'the PostgreSQL server did not start');
  const url = await server.createSchema('old_layout');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE TABLE warren_tasks (id text PRIMARY KEY, name text NOT NULL, state text NOT NULL, run integer NOT NULL,
      attempts integer NOT NULL, payload json, options json NOT NULL, result json, error json, retry_at double precision,
      created_at double precision NOT NULL, started_at double precision, finished_at double precision,
      updated_at double precision NOT NULL, version integer NOT NULL)`);
    await client.query(`INSERT INTO warren_tasks (id, name, state, run, attempts, payload, options, created_at, started_at, updated_at, version)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)`, OLD_ROW);
  } finally {
    await client.end();
  }
  await checkUpgraded(await PostgresResultStore.open(url), undefined);
  await checkUpgraded(await PostgresResultStore.open(url), 30);
});

/** The tasks table and indexes of layouts 1 and 2 as the Warrens that wrote them created them (with the progress columns). */
const OLD_TASKS = `
  CREATE TABLE tasks (id TEXT PRIMARY KEY, name TEXT NOT NULL, state TEXT NOT NULL, run INTEGER NOT NULL,
    attempts INTEGER NOT NULL, payload TEXT, options TEXT NOT NULL, result TEXT, error TEXT, retry_at INTEGER,
    created_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, updated_at INTEGER NOT NULL, progress TEXT, progress_at INTEGER);
  CREATE INDEX tasks_by_created ON tasks (created_at, id);
  CREATE INDEX tasks_by_name ON tasks (name, created_at, id);
  CREATE INDEX tasks_by_state ON tasks (state, created_at, id);
  CREATE INDEX tasks_by_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL;
`;

/** The history table of each old layout, and how it laid out an event's body. */
const OLD_LAYOUTS = {
  1: {
    history: `CREATE TABLE task_events (seq INTEGER PRIMARY KEY, task_id TEXT NOT NULL, run INTEGER NOT NULL, attempt INTEGER NOT NULL,
      kind TEXT NOT NULL, at INTEGER NOT NULL, body TEXT NOT NULL, UNIQUE (task_id, run, attempt, kind, at));`,
    body: (event: TaskEvent) => JSON.stringify(event),
  },
  2: {
    history: `CREATE TABLE task_events (task_id TEXT NOT NULL, run INTEGER NOT NULL, attempt INTEGER NOT NULL, kind TEXT NOT NULL,
      at INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY KEY (task_id, run, attempt, kind, at)) WITHOUT ROWID;`,
    body: eventBody,
  },
} as const;

/** Writes a file of an old layout holding `events` (each task's row and history, as a Warren of that layout wrote them). */
function writeOldLayout(path: string, layout: keyof typeof OLD_LAYOUTS, events: readonly TaskEvent[]): Map<string, TaskRecord> {
  const db = new Database(path);
  const records = new Map<string, TaskRecord>();
  try {
    db.pragma('journal_mode = WAL');
    db.exec(`${OLD_TASKS} ${OLD_LAYOUTS[layout].history} PRAGMA user_version = ${layout};`);
    const insertEvent = db.prepare('INSERT OR IGNORE INTO task_events (task_id, run, attempt, kind, at, body) VALUES (?, ?, ?, ?, ?, ?)');
    for (const event of events) {
      records.set(event.id, applyEvent(records.get(event.id), event) ?? (records.get(event.id) as TaskRecord));
      insertEvent.run(event.id, event.run, event.attempt, event.kind, event.at, OLD_LAYOUTS[layout].body(event));
    }
    const insertTask = db.prepare('INSERT INTO tasks VALUES (@id, @name, @state, @run, @attempts, @payload, @options, @result, @error, @retry_at, @created_at, @started_at, @finished_at, @updated_at, @progress, @progress_at)');
    for (const record of records.values()) insertTask.run(toTaskRow(record));
  } finally {
    db.close();
  }
  return records;
}

for (const layout of [1, 2] as const) test(`a SQLite file of layout version ${layout} moves to layout 3 with its tasks and history`, async () => {
  const path = join(directory, `layout${layout}.sqlite`);
  const done = runEvents({ id: 'done', run: 1, attempts: 2, outcome: 'succeeded', payload: { w: 1 }, startAt: 1_000 });
  const running = runEvents({ id: 'running', run: 1, attempts: 1, outcome: 'running', payload: 'p', startAt: 2_000 });
  // Two outcomes of one attempt in the same millisecond: the history lists them in one fixed order.
  const tied = [taskEvent('queued', 'tied', { at: 3_000 }), taskEvent('succeeded', 'tied', { at: 3_010 }), taskEvent('cancelled', 'tied', { at: 3_010 })];
  // Times SQLite's JSON functions would write otherwise than JavaScript (1.0e+21, 17 digits), and a
  // payload nested deeper than SQLite's JSON parser goes: the move must take both as they are.
  const deep: unknown = JSON.parse(`${'['.repeat(1100)}${']'.repeat(1100)}`);
  const odd = [taskEvent('queued', 'odd', { at: 1_732_630_016_123.456, payload: deep }), taskEvent('started', 'odd', { at: 2e21 })];
  const records = writeOldLayout(path, layout, [...done, ...running, ...tied.reverse(), ...odd]);

  const store = new SqliteResultStore(path);
  try {
    for (const [id, record] of records) assert.deepEqual(await store.get(id), record, id);
    assert.deepEqual(await store.history('done'), done);
    assert.deepEqual(await store.history('running'), running);
    assert.deepEqual((await store.history('tied')).map((event) => event.kind), ['queued', 'cancelled', 'succeeded']);
    assert.deepEqual((await store.list({ state: 'running' })).map((record) => record.id), ['odd', 'running']);
    // An event the old file already holds is still recorded once; new events join the history.
    const started = running[1];
    assert.ok(started !== undefined);
    await store.apply(structuredClone(started));
    const succeeded = taskEvent('succeeded', 'running', { at: 2_100, result: 'r' });
    assert.equal((await store.apply(succeeded)).state, 'succeeded');
    assert.deepEqual(await store.history('running'), [...running, succeeded]);
    for (const event of odd) await store.apply(structuredClone(event));
    assert.deepEqual(await store.history('odd'), odd);
  } finally {
    await store.close();
  }
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(db.pragma('user_version', { simple: true }), SCHEMA_VERSION);
    assert.deepEqual(db.prepare("SELECT name FROM sqlite_schema WHERE name LIKE 'task_events%'").pluck().all(), ['task_events']);
    assert.equal(db.prepare('SELECT count(*) FROM task_events').pluck().get(), 0, 'every event moved into its row');
  } finally {
    db.close();
  }
  const reopened = new SqliteResultStore(path); // opening a layout 3 file again changes nothing
  try {
    assert.deepEqual(await reopened.history('done'), done);
  } finally {
    await reopened.close();
  }
});

test('a file of layout 3 opens as it is, marked with the layout of today, which an older Warren refuses', async () => {
  const path = join(directory, 'layout-3.sqlite');
  const store = new SqliteResultStore(path);
  const options = { attempts: 1, backoff: { kind: 'fixed' as const, delayMs: 0, jitter: false }, timeoutMs: 0, priority: 0, delayMs: 0 };
  const queued = taskEvent('queued', 'from-3', { at: 1_000, payload: { v: 3 }, options, enqueuedAt: 1_000 });
  await store.apply(queued);
  await store.close();
  // What a Warren of layout 3 left: the same tables, user_version 3, full entries only.
  const db = new Database(path);
  db.pragma('user_version = 3');
  const { history } = db.prepare('SELECT history FROM tasks WHERE id = ?').get('from-3') as { history: string };
  db.prepare('UPDATE tasks SET history = ? WHERE id = ?').run(`\n["queued",1,1,1000,${eventBody(queued)}]`, 'from-3');
  db.close();
  assert.ok(history.endsWith(',1]'), 'this layout left the payload to the row');
  const reopened = new SqliteResultStore(path);
  assert.deepEqual(await reopened.history('from-3'), [queued]);
  await reopened.close();
  const after = new Database(path, { readonly: true });
  assert.equal(after.pragma('user_version', { simple: true }), SCHEMA_VERSION);
  assert.ok(SCHEMA_VERSION > 3);
  after.close();
});
