/**
 * What every result store's webhook deliveries promise (store.webhooks), run by the result store
 * conformance suite against each implementation: one delivery per task run, claims that lease each
 * due delivery to one claimer (also across two stores open at one location), attempts written only by
 * the lease holder, and deliveries deleted with their tasks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ResultStore } from '../../../src/tasks/store/result-store.js';
import type { NewWebhookDelivery } from '../../../src/tasks/webhooks/webhook-delivery.js';
import type { ResultStoreHarness } from './result-store-conformance.js';
import { runEvents } from './task-events.js';

const TEST_TIMEOUT_MS = 60_000;

function newDelivery(taskId: string, fields: Partial<NewWebhookDelivery> = {}): NewWebhookDelivery {
  return {
    taskId,
    run: 1,
    url: 'https://app.example/hooks?order=1',
    messageId: `msg_${taskId}`,
    eventType: 'task.succeeded',
    body: '{"type":"task.succeeded","data":{"text":"ünïcode ✓","n":1.50}}',
    nextAttemptAt: 1_000,
    createdAt: 1_000,
    ...fields,
  };
}

const claimAt = (now: number, leaseToken: string, limit = 10) => ({ now, leaseUntil: now + 30_000, leaseToken, limit });

/** Registers the webhook delivery tests for one store implementation. */
export function webhookStoreConformance(harness: ResultStoreHarness): void {
  const options = { skip: harness.skip, timeout: TEST_TIMEOUT_MS };

  async function withStore(body: (store: ResultStore, location: string) => Promise<void>): Promise<void> {
    const location = await harness.newLocation();
    const store = await harness.open(location);
    try {
      await body(store, location);
    } finally {
      await store.close();
    }
  }

  describe(`${harness.name} webhook deliveries`, () => {
    test('one delivery per task run; latest is the highest run, body kept byte for byte', options, () =>
      withStore(async ({ webhooks }) => {
        assert.equal(await webhooks.latest('t1'), undefined);
        assert.equal(await webhooks.add(newDelivery('t1')), true);
        assert.equal(await webhooks.add(newDelivery('t1', { messageId: 'msg_other' })), false);
        const first = await webhooks.latest('t1');
        assert.deepEqual(first, { ...newDelivery('t1'), state: 'pending', attempts: [] });
        assert.equal(await webhooks.add(newDelivery('t1', { run: 2, messageId: 'msg_run2' })), true);
        assert.equal((await webhooks.latest('t1'))?.messageId, 'msg_run2');
      }));

    test('a claim leases due deliveries once, oldest first; an expired lease can be claimed again', options, () =>
      withStore(async ({ webhooks }) => {
        await webhooks.add(newDelivery('late', { nextAttemptAt: 5_000 }));
        await webhooks.add(newDelivery('early', { nextAttemptAt: 2_000 }));
        await webhooks.add(newDelivery('future', { nextAttemptAt: 50_000 }));
        assert.deepEqual((await webhooks.claim(claimAt(6_000, 'a'))).map((delivery) => delivery.taskId), ['early', 'late']);
        assert.deepEqual(await webhooks.claim(claimAt(7_000, 'b')), [], 'leased ones are not claimed twice');
        assert.deepEqual((await webhooks.claim(claimAt(36_000, 'c', 1))).map((delivery) => delivery.taskId), ['early'], 'the lease ran out; limit 1');
      }));

    test('only the lease holder records an attempt; recording appends it, sets the state and frees the lease', options, () =>
      withStore(async ({ webhooks }) => {
        await webhooks.add(newDelivery('t1'));
        await webhooks.claim(claimAt(1_000, 'holder'));
        const attempt = { at: 1_000, durationMs: 12, status: 500 };
        assert.equal(await webhooks.recordAttempt({ taskId: 't1', run: 1, leaseToken: 'intruder', attempt, state: 'delivered' }), false);
        assert.equal(await webhooks.recordAttempt({ taskId: 't1', run: 1, leaseToken: 'holder', attempt, state: 'pending', nextAttemptAt: 2_000 }), true);
        assert.equal(await webhooks.recordAttempt({ taskId: 't1', run: 1, leaseToken: 'holder', attempt, state: 'pending' }), false, 'the lease is gone');
        assert.deepEqual(await webhooks.claim(claimAt(1_500, 'next')), [], 'not due yet');
        const [again] = await webhooks.claim(claimAt(2_000, 'next'));
        assert.deepEqual(again?.attempts, [attempt]);
        const error = { at: 2_000, durationMs: 3, error: 'ECONNREFUSED' };
        assert.equal(await webhooks.recordAttempt({ taskId: 't1', run: 1, leaseToken: 'next', attempt: error, state: 'failed' }), true);
        const settled = await webhooks.latest('t1');
        assert.deepEqual([settled?.state, settled?.attempts, settled?.nextAttemptAt], ['failed', [attempt, error], undefined]);
        assert.deepEqual(await webhooks.claim(claimAt(99_000, 'late')), [], 'a failed delivery is never claimed');
      }));

    test('a released delivery can be claimed at once', options, () =>
      withStore(async ({ webhooks }) => {
        await webhooks.add(newDelivery('t1'));
        await webhooks.claim(claimAt(1_000, 'closing'));
        await webhooks.release({ taskId: 't1', run: 1, leaseToken: 'someone else' });
        assert.deepEqual(await webhooks.claim(claimAt(1_000, 'x')), []);
        await webhooks.release({ taskId: 't1', run: 1, leaseToken: 'closing' });
        assert.equal((await webhooks.claim(claimAt(1_000, 'next'))).length, 1);
      }));

    test('deliveries go with their tasks when retention deletes them', options, () =>
      withStore(async (store) => {
        for (const event of runEvents({ id: 'old', run: 1, attempts: 1, outcome: 'succeeded', startAt: 1_000 })) await store.apply(event);
        for (const event of runEvents({ id: 'new', run: 1, attempts: 1, outcome: 'succeeded', startAt: 50_000 })) await store.apply(event);
        await store.webhooks.add(newDelivery('old'));
        await store.webhooks.add(newDelivery('new'));
        assert.equal(await store.deleteFinishedBefore(10_000), 1);
        assert.equal(await store.webhooks.latest('old'), undefined);
        assert.ok(await store.webhooks.latest('new'));
      }));

    if (harness.persistent) test('two stores open at one location never claim the same delivery', options, async () => {
      const location = await harness.newLocation();
      const first = await harness.open(location);
      const second = await harness.open(location);
      try {
        for (let index = 0; index < 40; index++) await first.webhooks.add(newDelivery(`t${index}`));
        const claims = await Promise.all(
          Array.from({ length: 8 }, (_, index) => (index % 2 === 0 ? first : second).webhooks.claim(claimAt(2_000, `claimer-${index}`, 7))),
        );
        const claimed = claims.flat().map((delivery) => delivery.taskId);
        assert.equal(new Set(claimed).size, claimed.length, 'no delivery claimed twice');
        assert.equal(claimed.length, 40);
      } finally {
        await first.close();
        await second.close();
      }
    });
  });
}
