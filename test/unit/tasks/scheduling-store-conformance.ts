/**
 * The conformance suite of SchedulingStore (idempotency keys, schedules, schedule slots), run by
 * resultStoreConformance for every result store. Races are real: claims are made at once through two
 * stores opened at one location when the harness is persistent (two keepers on one database).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_TASK_OPTIONS } from '../../../src/tasks/protocol.js';
import type { Schedule } from '../../../src/tasks/schedule.js';
import type { ResultStore } from '../../../src/tasks/store/result-store.js';
import type { IdempotencyKeyClaim } from '../../../src/tasks/store/scheduling-store.js';
import type { ResultStoreHarness } from './result-store-conformance.js';
import { taskEvent } from './task-events.js';

const HOUR = 3_600_000;

function claim(id: string, claimedAt: number, overrides: Partial<IdempotencyKeyClaim> = {}): IdempotencyKeyClaim {
  return { name: 'charge', key: 'order-1', id, claimedAt, expiresAt: claimedAt + 24 * HOUR, abandonedBefore: claimedAt - 60_000, ...overrides };
}

function schedule(id: string, overrides: Partial<Schedule> = {}): Schedule {
  return { id, name: 'report', cron: '*/5 * * * *', tz: 'UTC', payload: { keep: 'me ✓' }, options: DEFAULT_TASK_OPTIONS, createdAt: 1_000, updatedAt: 1_000, ...overrides };
}

/** Registers the SchedulingStore tests for one store implementation. */
export function schedulingStoreConformance(harness: ResultStoreHarness, options: { skip: string | false; timeout: number }): void {
  async function withStores(body: (store: ResultStore, other: ResultStore) => Promise<void>): Promise<void> {
    const location = await harness.newLocation();
    const store = await harness.open(location);
    const other = harness.persistent ? await harness.open(location) : store;
    try {
      await body(store, other);
    } finally {
      if (other !== store) await other.close();
      await store.close();
    }
  }

  describe('idempotency keys', () => {
    test('the first claim wins; later claims get its task as a replay; another name or key is free', options, () =>
      withStores(async (store) => {
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('t1', 10_000)), { id: 't1', replayed: false });
        await store.apply(taskEvent('queued', 't1'));
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('t2', 20_000)), { id: 't1', replayed: true });
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('t3', 20_000, { name: 'refund' })), { id: 't3', replayed: false });
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('t4', 20_000, { key: 'order-2' })), { id: 't4', replayed: false });
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('t1', 30_000)), { id: 't1', replayed: false }, 'the holder asking again is no replay');
      }));

    test('concurrent claims of one key through two stores: exactly one wins', options, () =>
      withStores(async (store, other) => {
        const owners = await Promise.all(Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? store : other).scheduling.claimIdempotencyKey(claim(`c${index}`, 10_000))));
        assert.equal(new Set(owners.map((owner) => owner.id)).size, 1);
        assert.equal(owners.filter((owner) => !owner.replayed).length, 1);
      }));

    test('an expired key is taken over; an abandoned one (task never recorded) too, a recorded one not', options, () =>
      withStores(async (store) => {
        await store.scheduling.claimIdempotencyKey(claim('old', 0, { expiresAt: 5_000 }));
        await store.apply(taskEvent('queued', 'old'));
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('new', 4_999, { abandonedBefore: -1 })), { id: 'old', replayed: true });
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('new', 5_000, { abandonedBefore: -1 })), { id: 'new', replayed: false });
        await store.scheduling.claimIdempotencyKey(claim('phantom', 0, { key: 'k2' }));
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('x', 60_000, { key: 'k2', abandonedBefore: -1 })), { id: 'phantom', replayed: true });
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('x', 60_000, { key: 'k2', abandonedBefore: 0 })), { id: 'x', replayed: false });
        await store.apply(taskEvent('queued', 'x'));
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('y', 200_000, { key: 'k2', abandonedBefore: 100_000 })), { id: 'x', replayed: true });
      }));

    test('release frees a key only for its holder; expired keys are deleted', options, () =>
      withStores(async (store) => {
        await store.scheduling.claimIdempotencyKey(claim('t1', 0, { expiresAt: 100 }));
        assert.equal(await store.scheduling.releaseIdempotencyKey({ name: 'charge', key: 'order-1', id: 'other' }), false);
        assert.equal(await store.scheduling.releaseIdempotencyKey({ name: 'charge', key: 'order-1', id: 't1' }), true);
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('t2', 1, { expiresAt: 100 })), { id: 't2', replayed: false });
        await store.scheduling.claimIdempotencyKey(claim('t3', 1, { key: 'later', expiresAt: 500 }));
        assert.equal(await store.scheduling.deleteExpiredIdempotencyKeys(100), 1);
        assert.equal(await store.scheduling.deleteExpiredIdempotencyKeys(100), 0);
        assert.deepEqual(await store.scheduling.claimIdempotencyKey(claim('t4', 200, { key: 'later', abandonedBefore: -1 })), { id: 't3', replayed: true });
      }));
  });

  describe('schedules and slots', () => {
    test('put, get, list by id, replace keeping createdAt, delete', options, () =>
      withStores(async (store) => {
        assert.deepEqual(await store.scheduling.putSchedule(schedule('b')), schedule('b'));
        await store.scheduling.putSchedule(schedule('a', { payload: null }));
        assert.deepEqual(await store.scheduling.getSchedule('b'), schedule('b'));
        assert.equal(await store.scheduling.getSchedule('nope'), undefined);
        assert.deepEqual((await store.scheduling.listSchedules()).map((s) => s.id), ['a', 'b']);
        const replaced = await store.scheduling.putSchedule(schedule('b', { cron: '0 * * * *', tz: 'Europe/Berlin', createdAt: 9_000, updatedAt: 9_000 }));
        assert.deepEqual(replaced, schedule('b', { cron: '0 * * * *', tz: 'Europe/Berlin', updatedAt: 9_000 }));
        assert.equal(await store.scheduling.deleteSchedule('b'), true);
        assert.equal(await store.scheduling.deleteSchedule('b'), false);
        assert.deepEqual((await store.scheduling.listSchedules()).map((s) => s.id), ['a']);
      }));

    test('a slot is claimed once, even racing through two stores; never for a missing schedule or behind a later slot', options, () =>
      withStores(async (store, other) => {
        await store.scheduling.putSchedule(schedule('s'));
        const slot = (taskId: string, slotAt = 300_000) => ({ scheduleId: 's', slotAt, taskId, claimedAt: slotAt });
        const wins = await Promise.all(Array.from({ length: 10 }, (_, index) => (index % 2 === 0 ? store : other).scheduling.claimScheduleSlot(slot(`t${index}`))));
        assert.equal(wins.filter(Boolean).length, 1);
        assert.equal(await store.scheduling.claimScheduleSlot(slot('older', 0)), false, 'an older slot behind a claimed one');
        assert.equal(await store.scheduling.claimScheduleSlot(slot('newer', 600_000)), true);
        assert.equal(await store.scheduling.claimScheduleSlot({ ...slot('x'), scheduleId: 'missing' }), false);
      }));

    test('unsubmitted slots past the lease are reclaimed once; submitted ones never; old ones are deleted but the latest kept', options, () =>
      withStores(async (store, other) => {
        await store.scheduling.putSchedule(schedule('s'));
        await store.scheduling.claimScheduleSlot({ scheduleId: 's', slotAt: 100, taskId: 'a', claimedAt: 100 });
        await store.scheduling.markScheduleSlotSubmitted({ scheduleId: 's', slotAt: 100, submittedAt: 101 });
        await store.scheduling.claimScheduleSlot({ scheduleId: 's', slotAt: 200, taskId: 'b', claimedAt: 200 });
        assert.deepEqual(await store.scheduling.reclaimScheduleSlots({ claimedBefore: 200, claimedAt: 1_000 }), [], 'within the lease');
        const [first, second] = await Promise.all([
          store.scheduling.reclaimScheduleSlots({ claimedBefore: 201, claimedAt: 1_000 }),
          other.scheduling.reclaimScheduleSlots({ claimedBefore: 201, claimedAt: 1_000 }),
        ]);
        assert.deepEqual([...(first ?? []), ...(second ?? [])], [{ scheduleId: 's', slotAt: 200, taskId: 'b', claimedAt: 1_000 }]);
        await store.scheduling.markScheduleSlotSubmitted({ scheduleId: 's', slotAt: 200, submittedAt: 1_001 });
        assert.deepEqual(await store.scheduling.reclaimScheduleSlots({ claimedBefore: 5_000, claimedAt: 6_000 }), []);
        assert.equal(await store.scheduling.deleteScheduleSlotsBefore(10_000), 1, 'the latest slot stays');
        assert.equal(await store.scheduling.claimScheduleSlot({ scheduleId: 's', slotAt: 150, taskId: 'c', claimedAt: 7_000 }), false, 'still behind the latest');
        assert.equal(await store.scheduling.deleteSchedule('s'), true);
        await store.scheduling.putSchedule(schedule('s'));
        assert.equal(await store.scheduling.claimScheduleSlot({ scheduleId: 's', slotAt: 150, taskId: 'c', claimedAt: 7_000 }), true, 'a deleted schedule takes its slots along');
      }));

    if (harness.persistent) test('schedules and slots are there after closing and reopening', options, async () => {
      const location = await harness.newLocation();
      const first = await harness.open(location);
      await first.scheduling.putSchedule(schedule('kept'));
      await first.scheduling.claimScheduleSlot({ scheduleId: 'kept', slotAt: 300_000, taskId: 't', claimedAt: 300_000 });
      await first.close();
      const second = await harness.open(location);
      try {
        assert.deepEqual(await second.scheduling.listSchedules(), [schedule('kept')]);
        assert.equal(await second.scheduling.claimScheduleSlot({ scheduleId: 'kept', slotAt: 300_000, taskId: 'u', claimedAt: 300_001 }), false);
      } finally {
        await second.close();
      }
    });
  });
}
