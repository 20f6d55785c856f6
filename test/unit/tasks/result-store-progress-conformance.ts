/**
 * The conformance cases of progress reports and cancellation (result-store-conformance.ts runs them for
 * every store): recordProgress keeps the latest report of the attempt the record reflects without
 * changing its state, and a cancelled run stays cancelled whatever of it arrives later.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TASK_PROTOCOL_VERSION } from '../../../src/tasks/protocol.js';
import type { ResultStore } from '../../../src/tasks/store/result-store.js';
import { cancelledEvent } from '../../../src/tasks/task-cancellation.js';
import type { TaskProgress, TaskProgressEvent } from '../../../src/tasks/task-progress.js';
import { runEvents, taskEvent } from './task-events.js';

/** Runs a body on a fresh store of the implementation under test. */
export type WithStore = (body: (store: ResultStore, location: string) => Promise<void>) => Promise<void>;

/** A progress report of task `id` (run 1, attempt 1 unless overridden). */
function progressEvent(id: string, progress: TaskProgress, fields: Partial<TaskProgressEvent> = {}): TaskProgressEvent {
  return { protocol: TASK_PROTOCOL_VERSION, kind: 'progress', id, name: 'resize', run: 1, attempt: 1, at: 1_000, progress, ...fields };
}

/** Registers the progress and cancellation cases. */
export function progressAndCancellationConformance(withStore: WithStore, options: { skip: string | false; timeout: number }): void {
  describe('progress', () => {
    test('the latest report of the running attempt is kept with its time; the state does not change', options, () =>
      withStore(async (store) => {
        const started = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'running', payload: null, startAt: 1_000 });
        for (const event of started) await store.apply(event);
        const before = await store.get('t1');
        const first = await store.recordProgress(progressEvent('t1', 10, { at: 1_100 }));
        assert.deepEqual(first, { ...before, progress: 10, progressAt: 1_100 });
        await store.recordProgress(progressEvent('t1', { step: 'encode', done: 3, of: 7 }, { at: 1_300 }));
        // An older report arriving late does not replace a newer one.
        await store.recordProgress(progressEvent('t1', 20, { at: 1_200 }));
        const record = await store.get('t1');
        assert.deepEqual([record?.state, record?.progress, record?.progressAt], ['running', { step: 'encode', done: 3, of: 7 }, 1_300]);
        assert.equal(record?.updatedAt, before?.updatedAt, 'progress is not a change of state');
        assert.deepEqual(await store.history('t1'), started, 'progress is not kept in the history');
      }));

    test('reports of an unknown task, another attempt or another run are ignored', options, () =>
      withStore(async (store) => {
        assert.equal(await store.recordProgress(progressEvent('nope', 50)), undefined);
        assert.equal(await store.get('nope'), undefined);
        for (const event of runEvents({ id: 't1', run: 1, attempts: 2, outcome: 'running', payload: null, startAt: 1_000 })) await store.apply(event);
        await store.recordProgress(progressEvent('t1', 50, { attempt: 1, at: 2_000 }));
        await store.recordProgress(progressEvent('t1', 60, { attempt: 3, at: 2_000 }));
        await store.recordProgress(progressEvent('t1', 70, { run: 2, attempt: 2, at: 2_000 }));
        const record = await store.get('t1');
        assert.deepEqual([record?.state, record?.attempts, record?.progress, record?.progressAt], ['running', 2, undefined, undefined]);
      }));

    test('an attempt\'s last report stays when it ends; a report after the end is ignored; the next attempt starts without', options, () =>
      withStore(async (store) => {
        const events = runEvents({ id: 't1', run: 1, attempts: 2, outcome: 'succeeded', payload: null, startAt: 1_000 });
        const [queued, started1, retrying1, started2, succeeded2] = events;
        assert.ok(queued && started1 && retrying1 && started2 && succeeded2);
        for (const event of [queued, started1]) await store.apply(event);
        await store.recordProgress(progressEvent('t1', 40, { at: started1.at + 1 }));
        await store.apply(retrying1);
        assert.deepEqual([(await store.get('t1'))?.state, (await store.get('t1'))?.progress], ['queued', 40]);
        await store.apply(started2);
        assert.equal((await store.get('t1'))?.progress, undefined, 'a new attempt has no progress yet');
        await store.recordProgress(progressEvent('t1', 90, { attempt: 2, at: started2.at + 1 }));
        await store.apply(succeeded2);
        await store.recordProgress(progressEvent('t1', 95, { attempt: 2, at: succeeded2.at + 100 }));
        const record = await store.get('t1');
        assert.deepEqual([record?.state, record?.progress, record?.progressAt], ['succeeded', 90, started2.at + 1]);
      }));

    test('JSON values of progress round-trip', options, () =>
      withStore(async (store) => {
        for (const event of runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'running', payload: null, startAt: 1_000 })) await store.apply(event);
        const value = { text: 'ünïcode ✓ 🎉', nul: 'a\u0000b', nested: { list: [1, null, true, 0.5] } };
        await store.recordProgress(progressEvent('t1', value, { at: 1_500 }));
        assert.deepEqual((await store.get('t1'))?.progress, value);
        assert.deepEqual((await store.list({}))[0]?.progress, value);
      }));
  });

  describe('cancellation', () => {
    test('a cancelled run stays cancelled: late outcomes and later attempts of it change nothing', options, () =>
      withStore(async (store) => {
        const events = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'running', payload: 'p', startAt: 1_000 });
        for (const event of events) await store.apply(event);
        const running = await store.get('t1');
        assert.ok(running !== undefined);
        const cancelled = await store.apply(cancelledEvent(running, 2_000));
        assert.deepEqual([cancelled.state, cancelled.attempts, cancelled.finishedAt, cancelled.error?.name], ['cancelled', 1, 2_000, 'TaskCancelledError']);
        await store.apply(taskEvent('succeeded', 't1', { at: 2_100, result: 'late' }));
        await store.apply(taskEvent('started', 't1', { attempt: 2, at: 2_200 }));
        await store.apply(taskEvent('dead', 't1', { attempt: 2, at: 2_300, error: { name: 'E', message: 'm', retryable: true } }));
        assert.deepEqual(await store.get('t1'), { ...cancelled, updatedAt: 2_300 });
        assert.deepEqual((await store.list({ state: 'cancelled' })).map((record) => record.id), ['t1']);
      }));

    test('a queued task cancelled before any attempt is cancelled at attempt 1', options, () =>
      withStore(async (store) => {
        const queued = await store.apply(taskEvent('queued', 't1', { payload: 1 }));
        const cancelled = await store.apply(cancelledEvent(queued, 1_500));
        assert.deepEqual([cancelled.state, cancelled.attempts, cancelled.startedAt], ['cancelled', 1, undefined]);
        assert.deepEqual((await store.history('t1')).map((event) => event.kind), ['queued', 'cancelled']);
      }));
  });
}
