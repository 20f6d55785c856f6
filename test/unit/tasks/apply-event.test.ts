/** The shared state transition of the result stores: ordering, merging, and order independence. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_TASK_OPTIONS, type TaskEvent } from '../../../src/tasks/protocol.js';
import { applyEvent } from '../../../src/tasks/store/apply-event.js';
import type { TaskRecord } from '../../../src/tasks/store/result-store.js';
import { SAMPLE_OPTIONS, runEvents, taskEvent, type RunPlan } from './task-events.js';

/** Applies events in the given order, as a store would (keeping the record when nothing changes). */
function applyAll(events: readonly TaskEvent[], start?: TaskRecord): TaskRecord | undefined {
  let record = start;
  for (const event of events) record = applyEvent(record, event) ?? record;
  return record;
}

const error = { name: 'Error', message: 'boom', retryable: true };

describe('applyEvent in order', () => {
  test('queued creates the record from what was submitted', () => {
    const record = applyEvent(undefined, taskEvent('queued', 't1', { at: 1_005, enqueuedAt: 1_000, payload: { w: 1 }, options: SAMPLE_OPTIONS }));
    assert.deepEqual(record, {
      id: 't1', name: 'resize', state: 'queued', run: 1, attempts: 0, payload: { w: 1 }, options: SAMPLE_OPTIONS,
      createdAt: 1_000, updatedAt: 1_005,
    });
  });

  test('started, retrying, started, succeeded walk through the states', () => {
    const queued = applyAll([taskEvent('queued', 't1', { payload: 'p', options: SAMPLE_OPTIONS })]);
    const running = applyAll([taskEvent('started', 't1', { at: 1_010 })], queued);
    assert.equal(running?.state, 'running');
    assert.equal(running?.attempts, 1);
    assert.equal(running?.startedAt, 1_010);

    const retrying = applyAll([taskEvent('retrying', 't1', { at: 1_020, error, retryAt: 2_000 })], running);
    assert.equal(retrying?.state, 'queued');
    assert.equal(retrying?.attempts, 1);
    assert.equal(retrying?.retryAt, 2_000);
    assert.deepEqual(retrying?.error, error);
    assert.equal(retrying?.startedAt, 1_010, 'the failed attempt keeps its start');

    const second = applyAll([taskEvent('started', 't1', { attempt: 2, at: 2_001 })], retrying);
    assert.equal(second?.state, 'running');
    assert.equal(second?.attempts, 2);
    assert.equal(second?.startedAt, 2_001);
    assert.equal(second?.retryAt, undefined, 'no retry is due once the attempt started');
    assert.equal(second?.error, undefined, 'the running attempt has no error yet');

    const done = applyAll([taskEvent('succeeded', 't1', { attempt: 2, at: 2_050, result: [1, 2] })], second);
    assert.deepEqual(done, {
      id: 't1', name: 'resize', state: 'succeeded', run: 1, attempts: 2, payload: 'p', options: SAMPLE_OPTIONS,
      result: [1, 2], createdAt: 1_000, startedAt: 2_001, finishedAt: 2_050, updatedAt: 2_050,
    });
  });

  for (const kind of ['failed', 'dead', 'cancelled'] as const) {
    test(`${kind} records the error and the finish`, () => {
      const record = applyAll([taskEvent('queued', 't1'), taskEvent('started', 't1', { at: 1_010 }), taskEvent(kind, 't1', { at: 1_020, error })]);
      assert.equal(record?.state, kind);
      assert.deepEqual(record?.error, error);
      assert.equal(record?.finishedAt, 1_020);
      assert.equal(record?.startedAt, 1_010);
      assert.equal('result' in (record ?? {}), false);
    });
  }

  test('a new run starts clean and outranks everything of the old run', () => {
    const dead = applyAll(runEvents({ id: 't1', run: 1, attempts: 2, outcome: 'dead', payload: 'p', startAt: 1_000 }));
    assert.equal(dead?.state, 'dead');
    const rerun = applyAll([taskEvent('queued', 't1', { run: 2, at: 5_000, enqueuedAt: 1_000, payload: 'p', options: SAMPLE_OPTIONS })], dead);
    assert.deepEqual(rerun, {
      id: 't1', name: 'resize', state: 'queued', run: 2, attempts: 0, payload: 'p', options: SAMPLE_OPTIONS,
      createdAt: 1_000, updatedAt: 5_000,
    });
    assert.ok(rerun !== undefined);
    assert.equal(applyEvent(rerun, taskEvent('dead', 't1', { attempt: 2, at: 1_040, error })), undefined, 'the old run\'s outcome is stale');
  });
});

describe('applyEvent out of order and repeated', () => {
  test('the same event twice changes nothing the second time', () => {
    const event = taskEvent('queued', 't1', { payload: { nested: [1, { a: 'b' }] }, options: SAMPLE_OPTIONS });
    const record = applyEvent(undefined, event);
    assert.ok(record !== undefined);
    assert.equal(applyEvent(record, structuredClone(event)), undefined);
  });

  test('an older event does not move the state back', () => {
    const record = applyAll([taskEvent('queued', 't1'), taskEvent('started', 't1', { at: 1_010 }), taskEvent('succeeded', 't1', { at: 1_020, result: 1 })]);
    assert.ok(record !== undefined);
    assert.equal(applyEvent(record, taskEvent('started', 't1', { at: 1_010 })), undefined);
    assert.equal(applyEvent(record, taskEvent('queued', 't1')), undefined);
  });

  test('a non-queued event for an unknown task creates a record from what it carries', () => {
    const record = applyEvent(undefined, taskEvent('started', 't9', { name: 'thumb', attempt: 2, at: 3_000 }));
    assert.deepEqual(record, {
      id: 't9', name: 'thumb', state: 'running', run: 1, attempts: 2, payload: undefined, options: DEFAULT_TASK_OPTIONS,
      startedAt: 3_000, createdAt: 3_000, updatedAt: 3_000,
    });
  });

  test('a late queued event fills in payload, options and creation time but not the state', () => {
    const record = applyAll([taskEvent('succeeded', 't1', { at: 1_020, result: 'r' })]);
    const filled = applyAll([taskEvent('queued', 't1', { at: 1_001, enqueuedAt: 1_000, payload: 'p', options: SAMPLE_OPTIONS })], record);
    assert.equal(filled?.state, 'succeeded');
    assert.equal(filled?.payload, 'p');
    assert.deepEqual(filled?.options, SAMPLE_OPTIONS);
    assert.equal(filled?.createdAt, 1_000);
    assert.equal(filled?.updatedAt, 1_020);
  });

  test('an outcome without a started event carries the start of its attempt', () => {
    const record = applyAll([taskEvent('queued', 't1'), taskEvent('succeeded', 't1', { at: 1_020, result: 1, startedAt: 1_012, worker: 'w' })]);
    assert.equal(record?.state, 'succeeded');
    assert.equal(record?.startedAt, 1_012);
    const retried = applyAll([taskEvent('retrying', 't1', { at: 1_020, startedAt: 1_011, error: { name: 'E', message: 'm', retryable: true } })], record);
    assert.deepEqual(retried, record, 'an outcome that ranks lower changes nothing');
  });

  test('a late start of the attempt the record reflects fills in startedAt', () => {
    const record = applyAll([taskEvent('queued', 't1'), taskEvent('failed', 't1', { at: 1_030, error })]);
    assert.equal(record?.startedAt, undefined);
    assert.equal(applyAll([taskEvent('started', 't1', { at: 1_010 })], record)?.startedAt, 1_010);
  });

  test('conflicting outcomes of one attempt settle on the same winner in either order', () => {
    const retrying = taskEvent('retrying', 't1', { at: 1_020, error, retryAt: 3_000 });
    const cancelled = taskEvent('cancelled', 't1', { at: 1_025 });
    const succeeded = taskEvent('succeeded', 't1', { at: 1_030, result: 'r' });
    assert.equal(applyAll([retrying, cancelled])?.state, 'cancelled');
    assert.equal(applyAll([cancelled, retrying])?.state, 'cancelled');
    assert.deepEqual(applyAll([succeeded, cancelled]), applyAll([cancelled, succeeded]));
    // A cancel is final for its run: the outcome of an attempt that raced it does not undo it.
    assert.equal(applyAll([cancelled, succeeded])?.state, 'cancelled');
  });

  test('nothing later in a cancelled run changes the record; a new run does', () => {
    const cancelled = applyAll([taskEvent('queued', 't1'), taskEvent('started', 't1', { at: 1_010 }), taskEvent('cancelled', 't1', { at: 1_020, error })]);
    const late = [
      taskEvent('retrying', 't1', { at: 1_030, error, retryAt: 2_000 }),
      taskEvent('started', 't1', { attempt: 2, at: 2_010 }),
      taskEvent('succeeded', 't1', { attempt: 2, at: 2_020, result: 'r' }),
    ];
    assert.equal(applyAll(late, cancelled)?.state, 'cancelled');
    assert.equal(applyAll(late, cancelled)?.finishedAt, 1_020);
    assert.equal(applyAll([taskEvent('queued', 't1', { run: 2, at: 3_000 })], cancelled)?.state, 'queued');
  });
});

const outcome = fc.constantFrom<RunPlan['outcome']>('succeeded', 'failed', 'dead', 'cancelled', 'retrying', 'running');
const finalOutcome = fc.constantFrom<RunPlan['outcome']>('failed', 'dead', 'cancelled');

/** One to three runs of a task: every run but the last ended (so it could be retried by hand). */
const taskRuns = fc
  .tuple(fc.array(fc.tuple(fc.integer({ min: 1, max: 4 }), finalOutcome, fc.boolean()), { maxLength: 2 }), fc.integer({ min: 1, max: 4 }), outcome, fc.boolean(), fc.jsonValue())
  .map(([earlier, lastAttempts, lastOutcome, lastShort, payload]) => {
    const plans = [...earlier, [lastAttempts, lastOutcome, lastShort] as const].map(([attempts, end, shortAttempts], index): RunPlan => ({
      id: 'task', run: index + 1, attempts, outcome: end, payload, startAt: 1_000 + index * 1_000, shortAttempts,
    }));
    return plans.flatMap(runEvents);
  });

/** The events in a random order, some of them delivered twice. */
const shuffledWithDuplicates = taskRuns.chain((events) =>
  fc
    .tuple(fc.array(fc.double({ noNaN: true }), { minLength: events.length * 2, maxLength: events.length * 2 }), fc.array(fc.boolean(), { minLength: events.length, maxLength: events.length }))
    .map(([keys, twice]) => {
      const deliveries = events.flatMap((event, index) => (twice[index] ? [event, structuredClone(event)] : [event]));
      const order = deliveries.map((event, index) => ({ event, key: keys[index] ?? 0 })).sort((a, b) => a.key - b.key);
      return { events, shuffled: order.map(({ event }) => event) };
    }),
);

test('property: any permutation of the events, with duplicates, yields the record that applying them in order does', () => {
  fc.assert(
    fc.property(shuffledWithDuplicates, ({ events, shuffled }) => {
      assert.deepEqual(applyAll(shuffled), applyAll(events));
    }),
    { numRuns: 500 },
  );
});

test('property: applying a run in order ends in the state of its outcome, with matching fields', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 4 }), outcome, fc.boolean(), (attempts, end, shortAttempts) => {
      const events = runEvents({ id: 'task', run: 1, attempts, outcome: end, payload: 'p', startAt: 1_000, shortAttempts });
      const record = applyAll(events);
      const state = end === 'retrying' ? 'queued' : end === 'running' ? 'running' : end;
      assert.equal(record?.state, state);
      assert.equal(record?.attempts, attempts);
      assert.equal(record?.payload, 'p');
      assert.equal(record?.updatedAt, events.at(-1)?.at);
      assert.equal(record?.finishedAt !== undefined, ['succeeded', 'failed', 'dead', 'cancelled'].includes(end));
      assert.equal(record?.retryAt !== undefined, end === 'retrying');
      assert.equal(record?.result !== undefined, end === 'succeeded');
      const lastStart = events.filter((event) => event.attempt === attempts && (event.kind === 'started' || event.startedAt !== undefined)).at(-1);
      if (end !== 'cancelled') assert.equal(record?.startedAt, lastStart?.kind === 'started' ? lastStart.at : lastStart?.startedAt, 'the last attempt\'s start');
    }),
  );
});
