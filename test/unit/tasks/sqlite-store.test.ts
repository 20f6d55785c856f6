/** The SQLite result store runs the conformance suite on a file and in memory, plus its own details. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteResultStore, openResultStore } from '../../../src/tasks/store/index.js';
import type { ApplyListener } from '../../../src/tasks/store/result-store.js';
import { SQLITE_FINISHED_TASKS } from '../../../src/tasks/store/sqlite-retention.js';
import { startModuleWorker } from '../../../src/util/module-worker.js';
import { resultStoreConformance } from './result-store-conformance.js';
import { runEvents, taskEvent } from './task-events.js';
import { waitFor } from '../../helpers/amqp.js';
import { HISTORY_ROW_CHARS_MAX, fullEntryChars, historyEntry, historyKey, rowPayloadEntry } from '../../../src/tasks/store/sqlite-task-history.js';

const directory = mkdtempSync(join(tmpdir(), 'warren-sqlite-store-'));
let files = 0;
after(() => rmSync(directory, { recursive: true, force: true }));

/** A new file path in the test directory (in a subfolder the store has to create). */
function newFile(): string {
  files += 1;
  return join(directory, `store-${files}`, 'tasks.sqlite');
}

/** A new store file, made by the store and then changed by `change` through a plain connection (as an older or newer Warren would have left it). */
async function newFileChanged(change: (db: Database.Database) => void): Promise<string> {
  const path = newFile();
  await new SqliteResultStore(path).close();
  const db = new Database(path);
  change(db);
  db.close();
  return path;
}

resultStoreConformance({
  name: 'SQLite file',
  newLocation: async () => newFile(),
  open: async (location) => new SqliteResultStore(location),
  persistent: true,
  skip: false,
});

resultStoreConformance({
  name: 'SQLite in memory, through openResultStore',
  newLocation: async () => 'sqlite::memory:',
  open: (location) => openResultStore(location),
  persistent: false,
  skip: false,
});

test('the store is a WAL-mode SQLite file with a tasks table', async () => {
  const path = newFile();
  const store = await openResultStore(`sqlite:${path}`);
  await store.apply(taskEvent('queued', 't1'));
  await store.close();
  const db = new Database(path, { readonly: true });
  try {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.deepEqual(db.prepare('SELECT id, state FROM tasks').all(), [{ id: 't1', state: 'queued' }]);
  } finally {
    db.close();
  }
  // Another process (a second keeper) may use the same file, here with the lighter durability setting.
  const second = new SqliteResultStore(path, { synchronous: 'NORMAL' });
  assert.equal((await second.get('t1'))?.state, 'queued');
  await second.close();
});

test('a new file has 16 KB pages; a file made with 4 KB pages keeps them and opens as before', async () => {
  const fresh = newFile();
  const store = new SqliteResultStore(fresh);
  await store.apply(taskEvent('queued', 'p1'));
  await store.close();
  const pageSize = (path: string): unknown => {
    const db = new Database(path, { readonly: true });
    try {
      return db.pragma('page_size', { simple: true });
    } finally {
      db.close();
    }
  };
  assert.equal(pageSize(fresh), 16_384);
  const older = newFile();
  const before = new SqliteResultStore(older);
  await before.close();
  // Remade as an older Warren left it: 4 KB pages, already in WAL mode.
  rmSync(older);
  rmSync(`${older}-wal`, { force: true });
  rmSync(`${older}-shm`, { force: true });
  const made = new Database(older);
  made.pragma('page_size = 4096');
  made.pragma('journal_mode = WAL');
  made.close();
  const reopened = new SqliteResultStore(older);
  await reopened.apply(taskEvent('queued', 'p2'));
  assert.equal((await reopened.get('p2'))?.state, 'queued');
  await reopened.close();
  assert.equal(pageSize(older), 4096);
});

test('applies waiting when the store closes are committed first; later ones are refused', async () => {
  const path = newFile();
  const store = new SqliteResultStore(path);
  const pending = store.apply(taskEvent('queued', 't1', { payload: 'p' }));
  await store.close();
  assert.equal((await pending).state, 'queued');
  await assert.rejects(store.apply(taskEvent('started', 't1')), /closed/);
  const reopened = new SqliteResultStore(path);
  assert.equal((await reopened.get('t1'))?.payload, 'p');
  await reopened.close();
});

test('applyThen tells one listener of each apply, with its context, once committed; a closed store refuses', async () => {
  const path = newFile();
  const store = new SqliteResultStore(path, { commitIntervalMs: 200 });
  await store.apply(taskEvent('queued', 'then-0'));
  const told: string[] = [];
  const listener: ApplyListener<string> = {
    applied: (record, event, context) => told.push(`${context} ${event.kind} ${record.id} ${record.state}`),
    refused: (error, event, context) => told.push(`${context} ${event.kind} refused: ${(error as Error).message}`),
  };
  store.applyThen(taskEvent('queued', 'then-1'), undefined, listener, 'first');
  store.applyThen(taskEvent('started', 'then-0'), { mayWait: true }, listener, 'second');
  assert.deepEqual(told, [], 'nobody is told before the commit');
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(told, [], 'the round waits for the spacing: still not committed');
  await waitFor(() => told.length === 2, 5_000, 'both applies told');
  assert.deepEqual(told, ['first queued then-1 queued', 'second started then-0 running']);
  assert.equal((await store.get('then-1'))?.state, 'queued');
  await store.close();
  store.applyThen(taskEvent('succeeded', 'then-0', { result: 1 }), undefined, listener, 'third');
  assert.equal(told.length, 2, 'a refusal is told later, not from within applyThen');
  await waitFor(() => told.length === 3, 5_000, 'the refusal told');
  assert.equal(told[2], 'third succeeded refused: task result store is closed');
  const reopened = new SqliteResultStore(path);
  assert.equal((await reopened.get('then-0'))?.state, 'running');
  await reopened.close();
});

test('retention finds finished tasks through tasks_by_state; a file with the old index on finish time loses it', async () => {
  const path = await newFileChanged((old) => old.exec('CREATE INDEX tasks_by_finished ON tasks (finished_at) WHERE finished_at IS NOT NULL'));
  const store = new SqliteResultStore(path);
  for (const event of [taskEvent('queued', 'kept'), taskEvent('queued', 'gone', { at: 1000 }), taskEvent('succeeded', 'gone', { at: 2000, result: 1 })]) await store.apply(event);
  assert.equal(await store.deleteFinishedBefore(3000), 1);
  assert.equal(await store.get('gone'), undefined);
  assert.equal((await store.get('kept'))?.state, 'queued');
  await store.close();
  const db = new Database(path, { readonly: true });
  try {
    const indexes = (db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'tasks'").all() as { name: string }[]).map((row) => row.name);
    assert.ok(!indexes.includes('tasks_by_finished'), indexes.join(', '));
    for (const sql of [`DELETE FROM tasks WHERE ${SQLITE_FINISHED_TASKS}`, `SELECT id FROM tasks WHERE ${SQLITE_FINISHED_TASKS}`]) {
      const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all({ before: 1 }) as { detail: string }[]).map((row) => row.detail).join(' | ');
      assert.match(plan, /SEARCH tasks USING INDEX tasks_by_state/, plan);
    }
  } finally {
    db.close();
  }
});

test('commit rounds are at least commitIntervalMs apart, but an apply after a quiet spell commits at once', async () => {
  const intervalMs = 300;
  const store = new SqliteResultStore(newFile(), { commitIntervalMs: intervalMs });
  const firstRound = performance.now();
  await store.apply(taskEvent('queued', 'g1'));
  // Applies of later turns wait for the next round, which starts intervalMs after the first one.
  const later = [store.apply(taskEvent('started', 'g1')), new Promise<void>((resolve) => setImmediate(resolve)).then(() => store.apply(taskEvent('queued', 'g2')))];
  await Promise.all(later);
  assert.ok(performance.now() - firstRound >= intervalMs - 5, 'the second round waited for the interval');
  assert.equal((await store.get('g1'))?.state, 'running');
  assert.equal((await store.get('g2'))?.state, 'queued');
  // After a quiet spell longer than the interval, nothing holds a round back.
  await new Promise((resolve) => setTimeout(resolve, intervalMs + 50));
  const quietApply = performance.now();
  await store.apply(taskEvent('succeeded', 'g1', { result: 1 }));
  assert.ok(performance.now() - quietApply < intervalMs, 'an apply after a quiet spell commits in its own turn');
  await store.close();
});

test('enough waiting applies start a round at once, whatever the spacing', async () => {
  const store = new SqliteResultStore(newFile(), { commitIntervalMs: 5_000 });
  await store.apply(taskEvent('queued', 'many-0'));
  const started = performance.now();
  await Promise.all(Array.from({ length: 400 }, (_, index) => store.apply(taskEvent('queued', `many-${index + 1}`))));
  assert.ok(performance.now() - started < 2_500, 'the 400 applies did not wait out the 5 s spacing');
  await store.close();
});

test('close commits the applies that wait for the spacing', async () => {
  const path = newFile();
  const store = new SqliteResultStore(path, { commitIntervalMs: 5_000 });
  await store.apply(taskEvent('queued', 'spaced'));
  const waiting = store.apply(taskEvent('started', 'spaced'));
  const started = performance.now();
  await store.close();
  assert.equal((await waiting).state, 'running');
  assert.ok(performance.now() - started < 2_500, 'close did not wait out the spacing');
  const reopened = new SqliteResultStore(path);
  assert.equal((await reopened.get('spaced'))?.state, 'running');
  await reopened.close();
});

test('stores opening one new file at the same moment all open it (the switch to WAL mode is retried)', async () => {
  // Two connections switching a new file to WAL mode at once: SQLite answers one of them SQLITE_BUSY at
  // once (no busy timeout), in about one race in twelve here; 60 races all have to succeed.
  for (let race = 0; race < 60; race++) {
    const path = newFile();
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const threads = [0, 1].map(() => startModuleWorker(import.meta.url, 'open-store-worker', { path, ready, threads: 2 }));
    const exits = threads.map((thread) => once(thread, 'exit'));
    const outcomes = await Promise.all(threads.map(async (thread) => String((await once(thread, 'message'))[0])));
    assert.deepEqual(outcomes, ['ok', 'ok'], `race ${race}`);
    await Promise.all(exits);
  }
});

test('a newer schema version is refused', async () => {
  const path = await newFileChanged((db) => db.pragma('user_version = 99'));
  assert.throws(() => new SqliteResultStore(path), /schema version 99/);
});

test('a store that kept a record between rounds sees what another store on the file wrote since', async () => {
  const path = newFile();
  const [first, second] = [new SqliteResultStore(path), new SqliteResultStore(path)];
  try {
    const [queued, started, succeeded] = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'succeeded', payload: 'p', startAt: 1_000 });
    assert.ok(queued !== undefined && started !== undefined && succeeded !== undefined);
    await first.apply(queued);
    assert.equal((await first.apply(started)).state, 'running'); // the first store keeps the running record
    assert.equal((await second.apply(succeeded)).state, 'succeeded');
    // A redelivered started event changes nothing: the answer is the finished record, not the kept one.
    const finished = { ...(await first.apply(structuredClone(started))) };
    assert.deepEqual(finished, await second.get('t1'));
    assert.equal(finished.state, 'succeeded');
    assert.equal(finished.result !== undefined, true);
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
});

test('records handed out are the caller\'s: changing one changes neither the store nor a later answer', async () => {
  const store = new SqliteResultStore(newFile());
  try {
    const [queued, started] = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'running', payload: { w: 1 }, startAt: 1_000 });
    assert.ok(queued !== undefined && started !== undefined);
    const record = await store.apply(queued);
    Object.assign(record, { state: 'dead', name: 'changed by the caller' });
    const running = await store.apply(started);
    assert.deepEqual([running.state, running.name], ['running', 'resize']);
    Object.assign(running, { attempts: 99 });
    assert.equal((await store.apply(structuredClone(started))).attempts, 1);
    assert.deepEqual(await store.get('t1'), { ...running, attempts: 1 });
  } finally {
    await store.close();
  }
});

test('a task\'s events meet a row the store did not know of: the batch ends as if the row had been read first', async () => {
  const path = newFile();
  const [first, second] = [new SqliteResultStore(path), new SqliteResultStore(path)];
  try {
    const [queued, started, succeeded] = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'succeeded', payload: { big: 'p' }, startAt: 1_000 });
    assert.ok(queued !== undefined && started !== undefined && succeeded !== undefined);
    const stored = await first.apply(queued);
    // The second store keeps no record of t1 and takes the redelivered 'queued' for a new task's: the
    // batch's three events meet the row the first store wrote only at the INSERT.
    const [again, running, finished] = await Promise.all([second.apply(structuredClone(queued)), second.apply(started), second.apply(succeeded)]);
    assert.deepEqual(again, stored);
    assert.deepEqual([running.state, running.payload, running.createdAt], ['running', { big: 'p' }, 1_000]);
    assert.deepEqual([finished.state, finished.payload, finished.options], ['succeeded', { big: 'p' }, queued.options]);
    assert.deepEqual(await second.get('t1'), finished);
    assert.deepEqual(await first.get('t1'), finished);
    // A redelivered 'queued' of the finished (and forgotten) task leaves it finished, and answers so.
    assert.deepEqual(await second.apply(structuredClone(queued)), finished);
    assert.deepEqual((await second.history('t1')).map((event) => event.kind), ['queued', 'started', 'succeeded']);
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
});

test('a new task\'s events in one batch make one row, and a progress report of an unknown task makes none', async () => {
  const path = newFile();
  const store = new SqliteResultStore(path);
  try {
    const [queued, started] = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'running', payload: 'p', startAt: 1_000 });
    assert.ok(queued !== undefined && started !== undefined);
    const progress = { protocol: queued.protocol, kind: 'progress', id: 'unknown', name: 'resize', run: 1, attempt: 1, at: 2_000, progress: 5 } as const;
    const [record, , nothing] = await Promise.all([store.apply(started), store.apply(queued), store.recordProgress(progress)]);
    assert.equal(record.state, 'running');
    assert.equal(nothing, undefined);
    assert.deepEqual(await store.get('t1'), await store.apply(structuredClone(started)));
    assert.equal(await store.get('unknown'), undefined);
  } finally {
    await store.close();
  }
});

test('a history entry is found by its key only: values that spell an entry\'s key, with or without a newline, are not entries', async () => {
  const path = newFile();
  const lookalike = ['succeeded', 1, 1, 1_020, { protocol: 1, name: 'resize', result: 'x' }];
  const [queued, started, succeeded] = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'succeeded', payload: { nested: lookalike, text: '\n["succeeded",1,1,1020,{}]' }, startAt: 1_000 });
  assert.ok(queued !== undefined && started !== undefined && succeeded !== undefined);
  assert.equal(succeeded.at, 1_020);
  let store = new SqliteResultStore(path);
  try {
    await store.apply(queued);
    await store.apply(started);
  } finally {
    await store.close();
  }
  // Reopened: the task's row is read, not kept, so the history text is what the check searches.
  store = new SqliteResultStore(path);
  try {
    assert.equal((await store.apply(succeeded)).state, 'succeeded');
    await store.apply(structuredClone(started)); // redelivered: still one entry
    assert.deepEqual(await store.history('t1'), [queued, started, succeeded]);
    const raw = new Database(path, { readonly: true });
    try {
      const history = raw.prepare<[string], string>('SELECT history FROM tasks WHERE id = ?').pluck().get('t1');
      assert.equal(history?.split('\n').length, 4, 'three entries, each after a newline');
    } finally {
      raw.close();
    }
  } finally {
    await store.close();
  }
});

test('a row takes history entries up to its limit; the rest, and an entry bigger than the limit, go to task_events, each once', async () => {
  const path = newFile();
  const store = new SqliteResultStore(path);
  const bigPayload = { image: 'x'.repeat(HISTORY_ROW_CHARS_MAX) };
  const stack = 'e'.repeat(4096);
  const events = [taskEvent('queued', 't1', { at: 1_000, payload: bigPayload })];
  for (let attempt = 1; attempt <= 12; attempt++) {
    events.push(taskEvent('started', 't1', { attempt, at: 1_000 + attempt * 10 }));
    events.push(taskEvent('retrying', 't1', { attempt, at: 1_005 + attempt * 10, retryAt: 1_010 + attempt * 10, error: { name: 'E', message: 'again', stack, retryable: true } }));
  }
  try {
    for (const event of events) await store.apply(event);
    // Every event again, as redeliveries: whether in the row or in task_events, each is recorded once.
    for (const event of events) await store.apply(structuredClone(event));
    assert.deepEqual(await store.history('t1'), events);
    const raw = new Database(path, { readonly: true });
    try {
      const history = raw.prepare<[string], string>('SELECT history FROM tasks WHERE id = ?').pluck().get('t1') ?? '';
      assert.ok(history.length <= HISTORY_ROW_CHARS_MAX, `the row holds ${history.length} characters of history`);
      assert.ok(!history.includes('"queued"'), 'the queued entry, bigger than the limit, is not in the row');
      const rows = raw.prepare('SELECT count(*) FROM task_events WHERE task_id = ?').pluck().get('t1') as number;
      assert.equal(rows + history.split('\n').length - 1, events.length, 'each event in one place');
      assert.ok(rows > 1 && rows < events.length, `${rows} events in task_events`);
    } finally {
      raw.close();
    }
    assert.equal(await store.deleteFinishedBefore(Number.MAX_SAFE_INTEGER), 0, 'the task is not finished');
    await store.apply(taskEvent('dead', 't1', { attempt: 12, at: 2_000, error: { name: 'E', message: 'gave up', retryable: false } }));
    assert.equal(await store.deleteFinishedBefore(Number.MAX_SAFE_INTEGER), 1);
    assert.deepEqual(await store.history('t1'), []);
  } finally {
    await store.close();
  }
});

test("a 'queued' entry leaves the payload and options to the row's columns, and history() gives them back", async () => {
  const path = newFile();
  const store = new SqliteResultStore(path);
  const options = { attempts: 3, backoff: { kind: 'fixed' as const, delayMs: 50, jitter: false }, timeoutMs: 0, priority: 0, delayMs: 0 };
  const payload = { marker: 'payload-held-once', sizes: [1, 2, 3] };
  const queued = taskEvent('queued', 'slim-1', { at: 1_000, payload, options, enqueuedAt: 1_000 });
  await store.apply(queued);
  await store.apply(taskEvent('succeeded', 'slim-1', { at: 1_010, result: 'ok', startedAt: 1_005 }));
  const db = new Database(path, { readonly: true });
  const row = db.prepare('SELECT payload, history FROM tasks WHERE id = ?').get('slim-1') as { payload: string; history: string };
  db.close();
  assert.equal(row.payload, JSON.stringify(payload));
  assert.ok(!row.history.includes('payload-held-once'), 'the history text does not hold the payload again');
  const history = await store.history('slim-1');
  assert.deepEqual(history[0], queued);
  assert.equal(history.length, 2);
  await store.close();
});

test("a later run's 'queued' event with another payload keeps the earlier run's payload in its entry, kept or read from the file", async () => {
  const options = { attempts: 1, backoff: { kind: 'fixed' as const, delayMs: 0, jitter: false }, timeoutMs: 0, priority: 0, delayMs: 0 };
  const first = taskEvent('queued', 'rerun', { at: 1_000, payload: { v: 1 }, options, enqueuedAt: 1_000 });
  const dead = taskEvent('dead', 'rerun', { at: 1_010, error: { message: 'no', name: 'Error', retryable: false }, startedAt: 1_005 });
  const second = taskEvent('queued', 'rerun', { run: 2, at: 2_000, payload: { v: 2 }, options: { ...options, attempts: 4 }, enqueuedAt: 1_000 });
  for (const reopenBetweenRuns of [false, true]) {
    const path = newFile();
    let store = new SqliteResultStore(path);
    await store.apply(first);
    // Unfinished, the task's record is kept between rounds; finished (dead), the next round reads its row.
    if (reopenBetweenRuns) {
      await store.apply(dead);
      await store.close();
      store = new SqliteResultStore(path);
    }
    await store.apply(second);
    const history = await store.history('rerun');
    assert.deepEqual(history.filter((event) => event.kind === 'queued'), [first, second], `reopened between runs: ${reopenBetweenRuns}`);
    const record = await store.get('rerun');
    assert.deepEqual(record?.payload, { v: 2 });
    await store.close();
    const reopened = new SqliteResultStore(path);
    assert.deepEqual((await reopened.history('rerun')).filter((event) => event.kind === 'queued'), [first, second]);
    await reopened.close();
  }
});

test("both runs' 'queued' events in one commit round each keep their own payload", async () => {
  const store = new SqliteResultStore(newFile());
  const first = taskEvent('queued', 'same-round', { at: 1_000, payload: 'one', options: { attempts: 1, backoff: { kind: 'fixed', delayMs: 0, jitter: false }, timeoutMs: 0, priority: 0, delayMs: 0 }, enqueuedAt: 1_000 });
  const second = taskEvent('queued', 'same-round', { run: 2, at: 2_000, payload: 'two', options: { attempts: 2, backoff: { kind: 'fixed', delayMs: 0, jitter: false }, timeoutMs: 0, priority: 0, delayMs: 0 }, enqueuedAt: 1_000 });
  await Promise.all([store.apply(first), store.apply(second)]);
  assert.deepEqual((await store.history('same-round')).filter((event) => event.kind === 'queued'), [first, second]);
  await store.close();
});

test("an entry left without the payload counts the payload's size: one that would not fit in full goes to task_events, once", async () => {
  const options = { attempts: 3, backoff: { kind: 'fixed' as const, delayMs: 0, jitter: false }, timeoutMs: 0, priority: 0, delayMs: 0 };
  // Reruns with payloads bigger than a row's history takes: each run's 'queued' entry goes to task_events
  // in full, and writing the earlier runs' entries out never takes their payloads into the row.
  const path = newFile();
  const store = new SqliteResultStore(path);
  const applied: string[] = [];
  for (let run = 1; run <= 3; run++) {
    const queued = taskEvent('queued', 'big', { run, at: run * 10_000, payload: { blob: String(run).repeat(HISTORY_ROW_CHARS_MAX) }, options, enqueuedAt: 10_000 });
    await store.apply(queued);
    await store.apply(taskEvent('dead', 'big', { run, at: run * 10_000 + 10, error: { name: 'Error', message: 'no', retryable: false } }));
    applied.push(JSON.stringify(queued));
  }
  assert.deepEqual((await store.history('big')).filter((event) => event.kind === 'queued').map((event) => JSON.stringify(event)), applied);
  await store.close();
  const db = new Database(path, { readonly: true });
  const { history } = db.prepare('SELECT history FROM tasks WHERE id = ?').get('big') as { history: string };
  db.close();
  assert.ok(history.length <= HISTORY_ROW_CHARS_MAX, `history text of ${history.length} characters`);

  // A 'queued' event whose full entry did not fit, redelivered once its payload and options are the
  // row's again: its entry without them would fit now, but the event is in task_events already.
  const second = new SqliteResultStore(newFile());
  const other = { ...options, priority: 5 };
  await second.apply(taskEvent('queued', 'twice', { at: 900, payload: 'z', options: structuredClone(options), enqueuedAt: 900 }));
  for (let attempt = 1; attempt <= 13; attempt++) {
    await second.apply(taskEvent('retrying', 'twice', { attempt, at: 1_000 + attempt, error: { name: 'E', message: 'e'.repeat(950), retryable: true }, retryAt: 5 }));
  }
  const late = taskEvent('queued', 'twice', { at: 2_000, payload: 'S'.repeat(4_000), options: structuredClone(options), enqueuedAt: 900 });
  await second.apply(late);
  await second.apply(taskEvent('queued', 'twice', { at: 2_100, payload: 'w', options: structuredClone(other), enqueuedAt: 900 }));
  await second.apply(structuredClone(late));
  const keys = (await second.history('twice')).filter((event) => event.kind === 'queued').map((event) => event.at);
  assert.deepEqual(keys, [900, 2_000, 2_100]);
  await second.close();
});

test('fullEntryChars gives the length of the full entry of a queued event', () => {
  const options = { attempts: 2, backoff: { kind: 'exponential' as const, delayMs: 10, jitter: true }, timeoutMs: 5, priority: 1, delayMs: 0 };
  for (const payload of [null, 0, '', 'é\n"x"', [0, 1], { a: { b: [',1]'] } }, 'S'.repeat(100)]) {
    const event = taskEvent('queued', 'sizes', { at: 1_234.5, payload, options, enqueuedAt: 1_000 });
    const key = historyKey(event);
    assert.equal(fullEntryChars(rowPayloadEntry(key, event), event), historyEntry(key, event).length, JSON.stringify(payload));
  }
});
