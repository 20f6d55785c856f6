/**
 * The SQLite store's held 'queued' applies (held-applies.ts): an apply that may wait is committed with
 * its task's next event, or alone once its time is up, and nothing that reads the store can tell.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteResultStore } from '../../../src/tasks/store/index.js';
import { HeldApplies } from '../../../src/tasks/store/held-applies.js';
import type { TaskRecord } from '../../../src/tasks/store/result-store.js';
import { runEvents, taskEvent } from './task-events.js';
import { settledWithin } from '../../helpers/amqp.js';

const directory = mkdtempSync(join(tmpdir(), 'warren-held-applies-'));
let files = 0;
after(() => rmSync(directory, { recursive: true, force: true }));

function newFile(): string {
  files += 1;
  return join(directory, `store-${files}.sqlite`);
}

const MAY_WAIT = { mayWait: true };

/** The number of rows of `path`'s tasks table, read by a connection of its own. */
function rowsOnDisk(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

test("a new task's 'queued' apply that may wait is committed with its outcome, and ends as if applied at once", async () => {
  const path = newFile();
  const held = new SqliteResultStore(path, { holdMs: 60_000 });
  const plain = new SqliteResultStore(newFile(), { holdMs: 0 });
  try {
    const [queued, succeeded] = runEvents({ id: 'h1', run: 1, attempts: 1, outcome: 'succeeded', payload: { w: 1 }, startAt: 1_000, shortAttempts: true });
    assert.ok(queued !== undefined && succeeded !== undefined);
    const waiting = held.apply(queued, MAY_WAIT);
    assert.equal(await settledWithin(waiting, 100), false, 'the queued apply waits for the next event of its task');
    assert.equal(rowsOnDisk(path), 0, 'nothing is written meanwhile');
    const [queuedRecord, finished] = await Promise.all([waiting, held.apply(succeeded)]);
    assert.equal(finished.state, 'succeeded');
    assert.equal(queuedRecord.state, 'queued', 'the queued apply answers with the record it made');
    assert.equal(rowsOnDisk(path), 1);

    const expected = [await plain.apply(structuredClone(queued)), await plain.apply(structuredClone(succeeded))];
    assert.deepEqual([queuedRecord, finished], expected);
    assert.deepEqual(await held.get('h1'), await plain.get('h1'));
    assert.deepEqual(await held.history('h1'), await plain.history('h1'));
  } finally {
    await Promise.all([held.close(), plain.close()]);
  }
});

test('reads commit what is held first: get, list and history see a held apply', async () => {
  const store = new SqliteResultStore(newFile(), { holdMs: 60_000 });
  try {
    const expectations: [string, (id: string) => Promise<unknown>][] = [
      ['g', async (id) => (await store.get(id))?.state],
      ['l', async (id) => (await store.list({ state: 'queued' })).find((record) => record.id === id)?.state],
      ['h', async (id) => (await store.history(id)).map((event) => event.kind).join()],
    ];
    for (const [id, read] of expectations) {
      const waiting = store.apply(taskEvent('queued', id, { payload: id }), MAY_WAIT);
      assert.equal(await settledWithin(waiting, 30), false);
      assert.equal(String(await read(id)), 'queued', `${id}: the read saw the held event`);
      assert.equal((await waiting).state, 'queued', `${id}: the read committed it`);
    }
  } finally {
    await store.close();
  }
});

test("a held apply whose task hears nothing more is committed once its time is up", async () => {
  const path = newFile();
  const store = new SqliteResultStore(path, { holdMs: 150 });
  try {
    const started = performance.now();
    const record = await store.apply(taskEvent('queued', 'alone', { payload: 'p' }), MAY_WAIT);
    const waited = performance.now() - started;
    assert.equal(record.state, 'queued');
    assert.ok(waited >= 140 && waited < 2_000, `committed after its hold time (${waited.toFixed(0)} ms)`);
    assert.equal(rowsOnDisk(path), 1);
  } finally {
    await store.close();
  }
});

test('close commits what is held; a reopened store has it', async () => {
  const path = newFile();
  const store = new SqliteResultStore(path, { holdMs: 60_000 });
  const waiting = store.apply(taskEvent('queued', 'c1', { payload: 'kept' }), MAY_WAIT);
  await store.close();
  assert.equal((await waiting).state, 'queued');
  const reopened = new SqliteResultStore(path);
  try {
    assert.equal((await reopened.get('c1'))?.payload, 'kept');
  } finally {
    await reopened.close();
  }
});

test("only a new task's 'queued' apply that may wait is held", async () => {
  const store = new SqliteResultStore(newFile(), { holdMs: 60_000 });
  try {
    // Not allowed to wait.
    assert.equal(await settledWithin(store.apply(taskEvent('queued', 'n1')), 200), true);
    // Not a 'queued' event.
    assert.equal(await settledWithin(store.apply(taskEvent('started', 'n2'), MAY_WAIT), 200), true);
    // A task the store keeps a record of (n1, unfinished): a new run's 'queued' goes on at once.
    assert.equal(await settledWithin(store.apply(taskEvent('queued', 'n1', { run: 2, at: 2_000 }), MAY_WAIT), 200), true);
    assert.equal((await store.get('n1'))?.run, 2);
  } finally {
    await store.close();
  }
});

test('a progress report of a held task commits its queued apply first: the report finds the task', async () => {
  const store = new SqliteResultStore(newFile(), { holdMs: 60_000 });
  try {
    const waiting = store.apply(taskEvent('queued', 'p1'), MAY_WAIT);
    assert.equal(await settledWithin(waiting, 30), false);
    const progress = { protocol: 1, kind: 'progress', id: 'p1', name: 'resize', run: 1, attempt: 1, at: 2_000, progress: 40 } as const;
    // A report of an unknown task answers undefined (and makes no record): this one finds the held task's.
    const reported: TaskRecord | undefined = await store.recordProgress(progress);
    assert.equal(reported?.id, 'p1');
    assert.equal((await waiting).state, 'queued');
  } finally {
    await store.close();
  }
});

/** An apply as HeldApplies sees one. */
function holdable(id: string, kind = 'queued', mayWait = true): { event: { id: string; kind: string }; mayWait: boolean; heldUntil: number } {
  return { event: { id, kind }, mayWait, heldUntil: 0 };
}

test('HeldApplies: an apply goes out with the next of its task, ahead of it; the rest when their time is up', () => {
  const held = new HeldApplies<ReturnType<typeof holdable>>(100, 10);
  const a = holdable('a');
  const b = holdable('b');
  assert.deepEqual(held.sift([a, b], 0, () => false), []);
  assert.equal(held.size, 2);
  const outcome = holdable('a', 'succeeded');
  assert.deepEqual(held.sift([outcome], 50, () => false), [a, outcome]);
  assert.equal(held.nextDue(), 100);
  assert.deepEqual(held.sift([], 99, () => false), []);
  assert.deepEqual(held.sift([], 100, () => false), [b]);
  assert.equal(held.size, 0);
  assert.equal(held.nextDue(), undefined);
});

test('HeldApplies: no more than its limit are held, nor applies of known tasks or that may not wait', () => {
  const held = new HeldApplies<ReturnType<typeof holdable>>(100, 2);
  const applies = [holdable('a'), holdable('b'), holdable('c'), holdable('d', 'queued', false), holdable('known')];
  assert.deepEqual(held.sift(applies, 0, (id) => id === 'known'), applies.slice(2));
  assert.deepEqual(held.takeAll(), applies.slice(0, 2));
  assert.equal(held.size, 0);
});

test('HeldApplies: once most held applies ran out of time, nothing new is held for a while', () => {
  const held = new HeldApplies<ReturnType<typeof holdable>>(10, 10_000);
  // 600 held applies, none of whose tasks hears more: all run out of time.
  const first = Array.from({ length: 600 }, (_, index) => holdable(`e${index}`));
  assert.deepEqual(held.sift(first, 0, () => false), []);
  assert.equal(held.sift([], 10, () => false).length, 600);
  const next = holdable('next');
  assert.deepEqual(held.sift([next], 20, () => false), [next], 'not held while paused');
  const later = holdable('later');
  assert.deepEqual(held.sift([later], 2_000, () => false), [], 'held again after the pause');
});

test('HeldApplies: through thousands of holds, most released early, the rest still run out of time in order', () => {
  const held = new HeldApplies<ReturnType<typeof holdable>>(1_000, 100_000);
  const lonely: ReturnType<typeof holdable>[] = [];
  let now = 0;
  for (let index = 0; index < 10_000; index++) {
    const apply = holdable(`t${index}`);
    assert.deepEqual(held.sift([apply], now, () => false), []);
    if (index % 100 === 0) lonely.push(apply);
    else assert.deepEqual(held.sift([holdable(`t${index}`, 'succeeded')], now, () => false).map((out) => out.event.id), [`t${index}`, `t${index}`]);
    now += 0.01;
  }
  assert.equal(held.size, lonely.length);
  assert.equal(held.nextDue(), 1_000);
  assert.deepEqual(held.sift([], 2_000, () => false), lonely, 'the ones no event released, oldest first');
  assert.equal(held.size, 0);
  assert.equal(held.nextDue(), undefined);
});
