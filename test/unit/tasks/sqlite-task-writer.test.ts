/**
 * How the SQLite store writes task rows: an INSERT for a new task, then UPDATEs of only the columns an
 * event changed. The row must always hold what a fresh write of the whole record would, and columns an
 * event left alone must not be written at all (so the indexes over them are not touched).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { TASK_PROTOCOL_VERSION, type TaskEvent } from '../../../src/tasks/protocol.js';
import { applyEvent } from '../../../src/tasks/store/apply-event.js';
import { applyProgress } from '../../../src/tasks/store/apply-progress.js';
import type { TaskRecord } from '../../../src/tasks/store/result-store.js';
import { SqliteResultStore } from '../../../src/tasks/store/sqlite-store.js';
import { SqliteTaskWriter } from '../../../src/tasks/store/sqlite-task-writer.js';
import { TASK_COLUMNS, UPDATABLE_TASK_COLUMNS, taskRowValues, toTaskRow } from '../../../src/tasks/store/task-rows.js';
import type { TaskProgressEvent } from '../../../src/tasks/task-progress.js';
import { SAMPLE_OPTIONS, runEvents, taskEvent } from './task-events.js';

const directory = mkdtempSync(join(tmpdir(), 'warren-task-writer-'));
let files = 0;
after(() => rmSync(directory, { recursive: true, force: true }));

/** A database with the store's schema, opened directly. */
async function database(): Promise<Database.Database> {
  const path = join(directory, `tasks-${++files}.sqlite`);
  await new SqliteResultStore(path).close();
  return new Database(path);
}

/** Freezes a record and every value in it, so that a transition changing it in place throws. */
function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

function progress(at: number, value: number, fields: Partial<TaskProgressEvent> = {}): TaskProgressEvent {
  return { protocol: TASK_PROTOCOL_VERSION, kind: 'progress', id: 't1', name: 'resize', run: 1, attempt: 1, at, progress: value, ...fields };
}

/** Two runs with retries, progress and an out-of-order event: every kind of column change. */
const STEPS: (TaskEvent | TaskProgressEvent)[] = [
  taskEvent('started', 't1', { at: 1_010 }), // before its queued event: the record starts without a payload
  taskEvent('queued', 't1', { at: 1_000, enqueuedAt: 990, payload: { w: 640 }, options: SAMPLE_OPTIONS }),
  progress(1_015, 10),
  taskEvent('retrying', 't1', { at: 1_020, error: { name: 'E', message: 'first', retryable: true }, retryAt: 2_000 }),
  taskEvent('started', 't1', { attempt: 2, at: 2_010 }),
  progress(2_015, 50, { attempt: 2 }),
  taskEvent('succeeded', 't1', { attempt: 2, at: 2_020, result: { ok: true } }),
  taskEvent('started', 't1', { at: 1_010 }), // a late duplicate changes nothing
  ...runEvents({ id: 't1', run: 2, attempts: 1, outcome: 'dead', payload: 'again', startAt: 5_000 }),
];

test('the updatable columns are every column but id, in table order; a row is laid out as toTaskRow says', () => {
  assert.deepEqual(UPDATABLE_TASK_COLUMNS.map(([column]) => column), TASK_COLUMNS.slice(1));
  let record: TaskRecord | undefined;
  for (const step of STEPS) {
    record = (step.kind === 'progress' ? applyProgress(record, step) : applyEvent(record, step)) ?? record;
    assert.ok(record !== undefined);
    const row = toTaskRow(record);
    assert.deepEqual(taskRowValues(record), TASK_COLUMNS.map((column) => row[column]));
    assert.deepEqual(UPDATABLE_TASK_COLUMNS.map(([, codec]) => codec.value(record as TaskRecord)), TASK_COLUMNS.slice(1).map((column) => row[column]));
  }
});

test('after each write the row holds exactly the record; the transitions never change the record they are given', async () => {
  const db = await database();
  try {
    const writer = new SqliteTaskWriter(db);
    const select = db.prepare(`SELECT ${TASK_COLUMNS.join(', ')} FROM tasks WHERE id = ?`);
    let stored: TaskRecord | undefined;
    for (const step of STEPS) {
      // Frozen: the writer compares JSON values by identity, which is sound only if transitions are pure.
      const next = step.kind === 'progress' ? applyProgress(deepFreeze(stored), step) : applyEvent(deepFreeze(stored), step);
      if (next === undefined) continue;
      writer.write(stored, next, '');
      assert.deepEqual(select.get('t1'), toTaskRow(next), `after ${step.kind} at ${step.at}`);
      stored = next;
    }
    assert.equal(stored?.run, 2);
  } finally {
    db.close();
  }
});

test('an event writes only the columns it changes: started and succeeded leave payload, options, name and creation alone', async () => {
  const db = await database();
  try {
    db.exec(`CREATE TABLE written (kind TEXT);
      CREATE TRIGGER untouched AFTER UPDATE OF name, payload, options, created_at ON tasks BEGIN INSERT INTO written VALUES ('untouched'); END;
      CREATE TRIGGER state AFTER UPDATE OF state ON tasks BEGIN INSERT INTO written VALUES ('state'); END;`);
    const writer = new SqliteTaskWriter(db);
    const queued = applyEvent(undefined, taskEvent('queued', 't1', { payload: { big: 'x'.repeat(1000) }, options: SAMPLE_OPTIONS }));
    assert.ok(queued !== undefined);
    writer.write(undefined, queued, '');
    const started = applyEvent(queued, taskEvent('started', 't1', { at: 1_010 }));
    assert.ok(started !== undefined);
    writer.write(queued, started, '');
    const succeeded = applyEvent(started, taskEvent('succeeded', 't1', { at: 1_020, result: 'done' }));
    assert.ok(succeeded !== undefined);
    writer.write(started, succeeded, '');
    writer.write(succeeded, { ...succeeded }, ''); // nothing changed: no statement at all
    assert.deepEqual(db.prepare('SELECT kind FROM written').pluck().all(), ['state', 'state']);
    assert.deepEqual(db.prepare(`SELECT ${TASK_COLUMNS.join(', ')} FROM tasks`).all(), [toTaskRow(succeeded)]);
  } finally {
    db.close();
  }
});

test('the history text is written whole by the INSERT and appended to by UPDATEs, alone when no column changed', async () => {
  const db = await database();
  try {
    db.exec(`CREATE TABLE written (kind TEXT);
      CREATE TRIGGER columns AFTER UPDATE OF state, updated_at ON tasks BEGIN INSERT INTO written VALUES ('columns'); END;
      CREATE TRIGGER history AFTER UPDATE OF history ON tasks BEGIN INSERT INTO written VALUES ('history'); END;`);
    const writer = new SqliteTaskWriter(db);
    const history = db.prepare<[string], string>('SELECT history FROM tasks WHERE id = ?').pluck();
    const queued = applyEvent(undefined, taskEvent('queued', 't1', { payload: 'p' }));
    assert.ok(queued !== undefined);
    assert.ok(writer.insertIfAbsent(queued, '\n[1]') !== undefined);
    assert.equal(writer.insertIfAbsent(queued, '\n[2]'), undefined, 'a second INSERT of the task leaves its row');
    const started = applyEvent(queued, taskEvent('started', 't1', { at: 1_010 }));
    assert.ok(started !== undefined);
    writer.write(queued, started, ',\n[3]');
    writer.write(started, started, ',\n[4]');
    assert.equal(history.get('t1'), '\n[1],\n[3],\n[4]');
    assert.deepEqual(db.prepare('SELECT kind FROM written ORDER BY kind').pluck().all(), ['columns', 'history', 'history']);
  } finally {
    db.close();
  }
});
