/** The SQLite result store in a worker thread (what `warren server` uses) passes the same conformance suite. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ThreadedResultStore } from '../../../src/tasks/store/index.js';
import { resultStoreConformance } from './result-store-conformance.js';
import { taskEvent } from './task-events.js';
import { settledWithin } from '../../helpers/amqp.js';

const directory = mkdtempSync(join(tmpdir(), 'warren-threaded-store-'));
let files = 0;
after(() => rmSync(directory, { recursive: true, force: true }));

/** A new file path in the test directory. */
function newFile(): string {
  return join(directory, `store-${++files}`, 'tasks.sqlite');
}

resultStoreConformance({
  name: 'SQLite in a worker thread',
  newLocation: async () => newFile(),
  open: async (location) => new ThreadedResultStore(location),
  persistent: true,
  skip: false,
});

test('calls of one turn travel together, yet each settles on its own: an event that cannot be cloned fails alone', async () => {
  const store = new ThreadedResultStore(newFile());
  try {
    const [before, unclonable, after, missing] = await Promise.allSettled([
      store.apply(taskEvent('queued', 't1', { payload: 'p' })),
      store.apply(taskEvent('queued', 't2', { payload: { callback: () => undefined } })),
      store.apply(taskEvent('queued', 't3', { payload: 'p' })),
      store.get('t2'),
    ]);
    assert.equal(before.status === 'fulfilled' && before.value.id, 't1');
    assert.equal(unclonable.status === 'rejected' && (unclonable.reason as Error).name, 'DataCloneError');
    assert.equal(after.status === 'fulfilled' && after.value.id, 't3');
    assert.deepEqual(missing, { status: 'fulfilled', value: undefined });
    assert.deepEqual((await store.list({})).map((record) => record.id).sort(), ['t1', 't3']);
  } finally {
    await store.close();
  }
});

test("an apply that may wait crosses to the thread: the store holds it until its task's next event", async () => {
  const store = new ThreadedResultStore(newFile(), { holdMs: 60_000 });
  try {
    // The thread is up (and an apply that may not wait commits at once) before the one that may.
    await store.apply(taskEvent('queued', 'w0', { payload: 'p' }));
    const waiting = store.apply(taskEvent('queued', 'w1', { payload: 'p' }), { mayWait: true });
    assert.equal(await settledWithin(waiting, 200), false, 'held in the thread');
    const finished = await store.apply(taskEvent('succeeded', 'w1', { at: 2_000, result: 1 }));
    assert.equal(finished.state, 'succeeded');
    assert.equal((await waiting).state, 'queued');
  } finally {
    await store.close();
  }
});
