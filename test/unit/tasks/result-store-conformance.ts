/**
 * The conformance suite every result store runs (sqlite-store.test.ts, postgres-store.test.ts): what
 * ResultStore promises, checked against the real database. The pure applyEvent is the oracle for
 * records: a store must hold exactly what folding its events through applyEvent gives.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TaskEvent } from '../../../src/tasks/protocol.js';
import { applyEvent } from '../../../src/tasks/store/apply-event.js';
import type { ResultStore, TaskRecord } from '../../../src/tasks/store/result-store.js';
import { runEvents, taskEvent, type RunPlan } from './task-events.js';
import { webhookStoreConformance } from './webhook-store-conformance.js';
import { progressAndCancellationConformance } from './result-store-progress-conformance.js';
import { schedulingStoreConformance } from './scheduling-store-conformance.js';

/** How the suite opens stores of one implementation. */
export interface ResultStoreHarness {
  /** Shown in the suite's name. */
  name: string;
  /** A new, empty place for a store: a file, a database, or ':memory:'. */
  newLocation(): Promise<string>;
  /** Opens a store at a location; two stores open at one location share their data if `persistent`. */
  open(location: string): Promise<ResultStore>;
  /** True when closing and reopening a location keeps what was stored. */
  persistent: boolean;
  /** node:test's skip option (a reason to skip, or false). */
  skip: string | false;
}

const TEST_TIMEOUT_MS = 60_000;

/** The record applying `events` in order gives, by the shared transition. */
function expectedRecord(events: readonly TaskEvent[]): TaskRecord | undefined {
  let record: TaskRecord | undefined;
  for (const event of events) record = applyEvent(record, event) ?? record;
  return record;
}

/** Events in order of when they happened (the order history() promises). */
function byTime(events: readonly TaskEvent[]): TaskEvent[] {
  return [...events].sort((a, b) => a.at - b.at);
}

/** The ids of records, in order. */
function ids(records: readonly TaskRecord[]): string[] {
  return records.map((record) => record.id);
}

/** A fixed shuffle, so failures reproduce: reverses, then swaps neighbours pairwise. */
function scrambled<T>(items: readonly T[]): T[] {
  const out = [...items].reverse();
  for (let i = 0; i + 1 < out.length; i += 2) [out[i], out[i + 1]] = [out[i + 1] as T, out[i] as T];
  return out;
}

/** Registers the conformance tests for one store implementation. */
export function resultStoreConformance(harness: ResultStoreHarness): void {
  const options = { skip: harness.skip, timeout: TEST_TIMEOUT_MS };

  /** Runs `body` on a store at a new location, closing it afterwards. */
  async function withStore(body: (store: ResultStore, location: string) => Promise<void>): Promise<void> {
    const location = await harness.newLocation();
    const store = await harness.open(location);
    try {
      await body(store, location);
    } finally {
      await store.close();
    }
  }

  /** Applies events one after another; returns the last apply's record. */
  async function applyInOrder(store: ResultStore, events: readonly TaskEvent[]): Promise<TaskRecord | undefined> {
    let record: TaskRecord | undefined;
    for (const event of events) record = await store.apply(event);
    return record;
  }

  describe(`${harness.name} result store conformance`, () => {
    describe('apply and get', () => {
      test('apply returns the record that get then returns; unknown ids are undefined', options, () =>
        withStore(async (store) => {
          assert.equal(await store.get('nope'), undefined);
          const events = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'running', payload: { w: 640 }, startAt: 1_000 });
          const record = await applyInOrder(store, events);
          assert.deepEqual(record, expectedRecord(events));
          assert.deepEqual(await store.get('t1'), record);
          assert.equal(record?.state, 'running');
        }));

      for (const plan of [
        { attempts: 3, outcome: 'succeeded' },
        { attempts: 2, outcome: 'dead' },
        { attempts: 1, outcome: 'failed' },
        { attempts: 2, outcome: 'retrying' },
        { attempts: 1, outcome: 'cancelled' },
      ] as const) {
        test(`a run of ${plan.attempts} attempt(s) ending ${plan.outcome} is stored as applyEvent folds it`, options, () =>
          withStore(async (store) => {
            const events = runEvents({ id: 't1', run: 1, payload: [1, 'two'], startAt: 1_000, ...plan });
            await applyInOrder(store, events);
            assert.deepEqual(await store.get('t1'), expectedRecord(events));
          }));
      }

      test('a manual retry (run 2) starts the record over', options, () =>
        withStore(async (store) => {
          const events = [
            ...runEvents({ id: 't1', run: 1, attempts: 2, outcome: 'dead', payload: 'p', startAt: 1_000 }),
            ...runEvents({ id: 't1', run: 2, attempts: 1, outcome: 'succeeded', payload: 'p', startAt: 5_000 }),
          ];
          await applyInOrder(store, events);
          const record = await store.get('t1');
          assert.deepEqual(record, expectedRecord(events));
          assert.equal(record?.run, 2);
          assert.equal(record?.error, undefined);
        }));

      test('a non-queued event for an unknown task creates the record; payload stays unknown', options, () =>
        withStore(async (store) => {
          const record = await store.apply(taskEvent('failed', 'ghost', { name: 'thumb', attempt: 2, at: 7_000, error: { name: 'E', message: 'm', retryable: false } }));
          assert.equal(record.state, 'failed');
          assert.equal(record.payload, undefined);
          assert.deepEqual(await store.get('ghost'), record);
        }));
    });

    describe('idempotent and order-tolerant', () => {
      test('the same event twice leaves one record and one history entry', options, () =>
        withStore(async (store) => {
          const events = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'succeeded', payload: { a: 1 }, startAt: 1_000 });
          for (const event of events) {
            const first = await store.apply(event);
            assert.deepEqual(await store.apply(structuredClone(event)), first);
          }
          assert.deepEqual(await store.get('t1'), expectedRecord(events));
          assert.deepEqual(await store.history('t1'), events);
        }));

      test('events applied out of order give the record of the in-order run', options, () =>
        withStore(async (store) => {
          const events = [
            ...runEvents({ id: 't1', run: 1, attempts: 3, outcome: 'dead', payload: { big: 'x'.repeat(100) }, startAt: 1_000 }),
            ...runEvents({ id: 't1', run: 2, attempts: 2, outcome: 'succeeded', payload: { big: 'x'.repeat(100) }, startAt: 9_000 }),
          ];
          await applyInOrder(store, scrambled(events));
          assert.deepEqual(await store.get('t1'), expectedRecord(events));
          assert.deepEqual(await store.history('t1'), byTime(events));
        }));

      test('an older event returns the record unchanged', options, () =>
        withStore(async (store) => {
          const events = runEvents({ id: 't1', run: 1, attempts: 1, outcome: 'succeeded', payload: 1, startAt: 1_000 });
          const done = await applyInOrder(store, events);
          const started = events.find((event) => event.kind === 'started');
          assert.ok(started !== undefined);
          assert.deepEqual(await store.apply(structuredClone(started)), done);
          assert.deepEqual(await store.get('t1'), done);
        }));

      test('many events for many tasks applied at once, in scrambled order, each land', options, () =>
        withStore(async (store) => {
          const outcomes = ['succeeded', 'dead', 'retrying', 'running', 'failed'] as const;
          const plans = Array.from({ length: 40 }, (_, index): RunPlan => ({
            id: `task-${index}`, run: 1, attempts: 1 + (index % 3), outcome: outcomes[index % outcomes.length] ?? 'succeeded',
            payload: { index }, startAt: 1_000 + index,
          }));
          const perTask = plans.map(runEvents);
          const everything = scrambled(perTask.flat());
          // Every event of a task in flight at once: concurrent first applies race to create the record.
          const records = await Promise.all(everything.map((event) => store.apply(event)));
          assert.equal(records.length, everything.length);
          for (const [index, events] of perTask.entries()) {
            assert.deepEqual(await store.get(`task-${index}`), expectedRecord(events), `task-${index}`);
            assert.deepEqual(await store.history(`task-${index}`), byTime(events));
          }
        }));

      // Only stores with a location two instances can share (files, databases) have this case.
      if (harness.persistent) test('two stores at one location (two keepers) applying at once agree', options, async () => {
        const location = await harness.newLocation();
        const [first, second] = [await harness.open(location), await harness.open(location)];
        try {
          const perTask = Array.from({ length: 10 }, (_, index) =>
            runEvents({ id: `task-${index}`, run: 1, attempts: 3, outcome: 'succeeded', payload: index, startAt: 1_000 }));
          const deliveries = scrambled(perTask.flat()).flatMap((event) => [event, structuredClone(event)]);
          await Promise.all(deliveries.map((event, index) => (index % 2 === 0 ? first : second).apply(event)));
          for (const [index, events] of perTask.entries()) {
            assert.deepEqual(await first.get(`task-${index}`), expectedRecord(events));
            assert.deepEqual(await second.history(`task-${index}`), byTime(events));
          }
        } finally {
          await Promise.all([first.close(), second.close()]);
        }
      });
    });

    describe('JSON values', () => {
      const values: Record<string, unknown> = {
        nested: { a: { b: { c: [1, 2, { d: [true, false, null] }] } }, empty: {}, list: [] },
        unicode: { text: 'héllo wörld ✓ 日本語 عربى 🎉👩‍👩‍👧 e\u0301', 'clé ✓': 'ключ', nul: 'a\u0000b', lone: '\ud800x\udfff' },
        large: { text: 'ünïcode-'.repeat(128 * 1024), list: Array.from({ length: 5_000 }, (_, i) => ({ i, s: String(i) })) },
        numbers: [0, -1, 1.5, -2.25e-7, 1e21, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER],
        null: null,
        string: 'just a string',
        emptyString: '',
        boolean: false,
      };
      for (const [label, value] of Object.entries(values)) {
        test(`payload and result round-trip: ${label}`, options, () =>
          withStore(async (store) => {
            const events = [
              taskEvent('queued', 't1', { payload: value }),
              taskEvent('started', 't1', { at: 1_010 }),
              taskEvent('succeeded', 't1', { at: 1_020, result: value }),
            ];
            await applyInOrder(store, events);
            const record = await store.get('t1');
            assert.deepEqual(record?.payload, value);
            assert.deepEqual(record?.result, value);
            assert.equal('payload' in (record ?? {}), true);
            assert.deepEqual(await store.history('t1'), events);
          }));
      }

      test('errors round-trip with their stack', options, () =>
        withStore(async (store) => {
          const error = { name: 'TypeError', message: 'bad “input”', retryable: false, stack: new Error('x').stack ?? '' };
          const record = await store.apply(taskEvent('failed', 't1', { error }));
          assert.deepEqual(record.error, error);
          assert.deepEqual((await store.get('t1'))?.error, error);
        }));
    });

    describe('list', () => {
      /** Ten tasks, created 100 ms apart, named resize/thumb alternately, in various states. */
      async function tenTasks(store: ResultStore): Promise<TaskRecord[]> {
        const outcomes = ['succeeded', 'running', 'dead', 'retrying', 'succeeded'] as const;
        for (let index = 0; index < 10; index++) {
          const name = index % 2 === 0 ? 'resize' : 'thumb';
          const outcome = outcomes[index % outcomes.length] ?? 'succeeded';
          await applyInOrder(store, runEvents({ id: `task-${index}`, name, run: 1, attempts: 1, outcome, payload: index, startAt: 1_000 + index * 100 }));
        }
        const records = await Promise.all(Array.from({ length: 10 }, (_, index) => store.get(`task-${index}`)));
        return records.filter((record): record is TaskRecord => record !== undefined).reverse();
      }

      test('newest first, filtered by name, state, or both', options, () =>
        withStore(async (store) => {
          const newestFirst = await tenTasks(store);
          assert.deepEqual(await store.list({}), newestFirst);
          assert.deepEqual(ids(await store.list({ name: 'thumb' })), ids(newestFirst.filter((r) => r.name === 'thumb')));
          assert.deepEqual(ids(await store.list({ state: 'succeeded' })), ['task-9', 'task-5', 'task-4', 'task-0']);
          assert.deepEqual(ids(await store.list({ name: 'resize', state: 'succeeded' })), ['task-4', 'task-0']);
          assert.deepEqual(ids(await store.list({ state: 'queued' })), ['task-8', 'task-3']);
          assert.deepEqual(await store.list({ name: 'nothing' }), []);
        }));

      test('limit and offset page through the listing', options, () =>
        withStore(async (store) => {
          const newestFirst = ids(await tenTasks(store));
          assert.deepEqual(ids(await store.list({ limit: 3 })), newestFirst.slice(0, 3));
          assert.deepEqual(ids(await store.list({ limit: 3, offset: 3 })), newestFirst.slice(3, 6));
          assert.deepEqual(ids(await store.list({ offset: 8 })), newestFirst.slice(8));
          assert.deepEqual(ids(await store.list({ name: 'resize', limit: 2, offset: 1 })), ['task-6', 'task-4']);
          assert.deepEqual(await store.list({ limit: 0 }), []);
          assert.deepEqual(await store.list({ offset: 50 }), []);
        }));

      test('tasks created at the same moment list in a stable order; the default limit is 100', options, () =>
        withStore(async (store) => {
          await Promise.all(Array.from({ length: 105 }, (_, index) => store.apply(taskEvent('queued', `same-${String(index).padStart(3, '0')}`, { payload: index }))));
          const listed = ids(await store.list({}));
          assert.equal(listed.length, 100);
          assert.deepEqual(listed, ids(await store.list({})));
          assert.equal(listed[0], 'same-104');
        }));
    });

    describe('history and retention', () => {
      test('history lists every distinct event oldest first; unknown ids have none', options, () =>
        withStore(async (store) => {
          const events = runEvents({ id: 't1', run: 1, attempts: 3, outcome: 'dead', payload: null, startAt: 1_000 });
          await applyInOrder(store, scrambled(events));
          assert.deepEqual(await store.history('t1'), byTime(events));
          assert.deepEqual(await store.history('nope'), []);
        }));

      test('deleteFinishedBefore removes finished tasks and their history, nothing else', options, () =>
        withStore(async (store) => {
          await applyInOrder(store, runEvents({ id: 'old-done', run: 1, attempts: 1, outcome: 'succeeded', payload: 1, startAt: 1_000 }));
          await applyInOrder(store, runEvents({ id: 'old-dead', run: 1, attempts: 2, outcome: 'dead', payload: 1, startAt: 1_000 }));
          await applyInOrder(store, runEvents({ id: 'old-running', run: 1, attempts: 1, outcome: 'running', payload: 1, startAt: 1_000 }));
          await applyInOrder(store, runEvents({ id: 'old-retrying', run: 1, attempts: 1, outcome: 'retrying', payload: 1, startAt: 1_000 }));
          await applyInOrder(store, runEvents({ id: 'new-done', run: 1, attempts: 1, outcome: 'succeeded', payload: 1, startAt: 50_000 }));
          assert.equal(await store.deleteFinishedBefore(10_000), 2);
          assert.equal(await store.get('old-done'), undefined);
          assert.equal(await store.get('old-dead'), undefined);
          assert.deepEqual(await store.history('old-dead'), []);
          assert.deepEqual(ids(await store.list({})).sort(), ['new-done', 'old-retrying', 'old-running']);
          assert.equal((await store.history('new-done')).length, 3);
          assert.equal(await store.deleteFinishedBefore(10_000), 0);
        }));
    });

    if (harness.persistent) test('what was stored is there after closing and reopening', options, async () => {
      const location = await harness.newLocation();
      const events = runEvents({ id: 't1', run: 1, attempts: 2, outcome: 'succeeded', payload: { keep: 'me ✓' }, startAt: 1_000 });
      const first = await harness.open(location);
      await applyInOrder(first, events);
      await first.close();
      const second = await harness.open(location);
      try {
        assert.deepEqual(await second.get('t1'), expectedRecord(events));
        assert.deepEqual(await second.history('t1'), events);
        assert.deepEqual(ids(await second.list({})), ['t1']);
        // The reopened store keeps applying on top of what it found.
        await second.apply(taskEvent('queued', 't1', { run: 2, at: 9_000, payload: 'again' }));
        assert.equal((await second.get('t1'))?.state, 'queued');
      } finally {
        await second.close();
      }
    });

    progressAndCancellationConformance(withStore, options);
    schedulingStoreConformance(harness, options);
  });
  webhookStoreConformance(harness);
}
