/**
 * Issue 6, idempotency keys on an in-process Warren with a real keeper and worker: a repeated key
 * returns the existing task (per task name), concurrent submits with one key from two clients create one
 * task, the key is free again after the keeper's window (simulated clock), a claim whose submitter died
 * before publishing is taken over after a minute, and bad keys are refused.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { connectTasks, type TasksClient } from '../../src/tasks/client.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { TaskValidationError } from '../../src/tasks/task-errors.js';
import { createWorker } from '../../src/tasks/worker.js';
import { waitFor } from '../helpers/amqp.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { MemoryResultStore } from '../helpers/memory-result-store.js';
import { startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';

const HOUR = 60 * 60 * 1000;
const options = { timeout: 60_000 };

interface Setup {
  url: string;
  store: MemoryResultStore;
  clock: ManualClock;
  tasks: TasksClient;
  /** Payloads the worker ran, per task name. */
  ran: Map<string, unknown[]>;
}

/** Broker, keeper (simulated clock, `windowMs`), a worker for `names` that echoes payloads, and a client. */
async function setUp(t: TestContext, names: string[], windowMs?: number): Promise<Setup> {
  const closers: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const close of closers.reverse()) await close();
  });
  const broker = await startTasksBroker(t);
  const store = new MemoryResultStore();
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const keeper = await startKeeper({ url: broker.url, store, clock, ...(windowMs === undefined ? {} : { idempotencyWindowMs: windowMs }) });
  closers.push(() => keeper.close());
  const ran = new Map<string, unknown[]>();
  const worker = createWorker({ url: broker.url, concurrency: 4, shutdownTimeoutMs: 1000 });
  for (const name of names) {
    ran.set(name, []);
    worker.handle(name, (payload) => {
      ran.get(name)?.push(payload);
      return { echo: payload };
    });
  }
  await worker.start();
  closers.push(() => worker.close());
  const tasks = connectTasks({ url: broker.url });
  closers.push(() => tasks.close());
  return { url: broker.url, store, clock, tasks, ran };
}

test('a repeated key returns the existing task, with its result; the same key under another task name is another task', options, async (t) => {
  const name = uniqueTaskName('charge');
  const other = uniqueTaskName('refund');
  const { tasks, ran, store } = await setUp(t, [name, other]);
  const first = await tasks.submit(name, { amount: 10 }, { idempotencyKey: 'order-17' });
  assert.equal(first.replayed, false);
  assert.deepEqual(await first.result({ timeoutMs: 5000 }), { echo: { amount: 10 } });
  const again = await tasks.submit(name, { amount: 10 }, { idempotencyKey: 'order-17' });
  assert.equal(again.id, first.id);
  assert.equal(again.replayed, true);
  assert.deepEqual(await again.result({ timeoutMs: 5000 }), { echo: { amount: 10 } });
  const elsewhere = await tasks.submit(other, 'x', { idempotencyKey: 'order-17' });
  assert.notEqual(elsewhere.id, first.id);
  assert.equal(elsewhere.replayed, false);
  await elsewhere.result({ timeoutMs: 5000 });
  assert.deepEqual(ran.get(name), [{ amount: 10 }], 'the task ran once');
  assert.equal((await store.list({ name })).length, 1);
  const plain = await tasks.submit(name, { amount: 10 });
  assert.notEqual(plain.id, first.id, 'a submit without a key is always new');
});

test('concurrent submits with one key, from two clients, create one task', options, async (t) => {
  const name = uniqueTaskName('concurrent');
  const { tasks, url, ran, store } = await setUp(t, [name]);
  const second = connectTasks({ url });
  t.after(() => second.close());
  const handles = await Promise.all(
    Array.from({ length: 12 }, (_, index) => (index % 2 === 0 ? tasks : second).submit(name, 'once', { idempotencyKey: 'shared-key' })),
  );
  const ids = new Set(handles.map((handle) => handle.id));
  assert.equal(ids.size, 1, 'every submit got the same task');
  assert.equal(handles.filter((handle) => !handle.replayed).length, 1, 'exactly one submit created it');
  await handles[0]?.result({ timeoutMs: 5000 });
  await waitFor(async () => (await store.list({ name })).length === 1, 3000, 'the task recorded');
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(ran.get(name), ['once']);
  assert.equal((await store.list({ name })).length, 1);
});

test('a key is free again once the keeper window passed', options, async (t) => {
  const name = uniqueTaskName('window');
  const { tasks, clock } = await setUp(t, [name], 2 * HOUR);
  const first = await tasks.submit(name, 1, { idempotencyKey: 'nightly' });
  await first.result({ timeoutMs: 5000 });
  await clock.advance(2 * HOUR - 1);
  assert.equal((await tasks.submit(name, 1, { idempotencyKey: 'nightly' })).id, first.id, 'still within the window');
  await clock.advance(1);
  const fresh = await tasks.submit(name, 2, { idempotencyKey: 'nightly' });
  assert.notEqual(fresh.id, first.id);
  assert.equal(fresh.replayed, false);
  assert.deepEqual(await fresh.result({ timeoutMs: 5000 }), { echo: 2 });
  assert.equal((await tasks.submit(name, 3, { idempotencyKey: 'nightly' })).id, fresh.id, 'the new claim holds the key');
});

test('a claim whose submitter died before publishing is taken over after a minute', options, async (t) => {
  const name = uniqueTaskName('abandoned');
  const { tasks, clock, store } = await setUp(t, [name]);
  // What a submitter that died between its claim and its publish leaves: a key held by a task never recorded.
  const now = clock.now();
  await store.scheduling.claimIdempotencyKey({ name, key: 'k', id: 'never-published', claimedAt: now, expiresAt: now + 24 * HOUR, abandonedBefore: now - 60_000 });
  assert.equal((await tasks.submit(name, 1, { idempotencyKey: 'k' })).id, 'never-published', 'within a minute the claim stands');
  await clock.advance(60_000);
  const taken = await tasks.submit(name, 1, { idempotencyKey: 'k' });
  assert.notEqual(taken.id, 'never-published');
  assert.deepEqual(await taken.result({ timeoutMs: 5000 }), { echo: 1 });
});

test('an empty, too long or control-character key is refused before anything is sent', options, async (t) => {
  const name = uniqueTaskName('badkey');
  const { tasks, store } = await setUp(t, [name]);
  for (const key of ['', 'k'.repeat(256), 'line\nbreak']) {
    await assert.rejects(tasks.submit(name, null, { idempotencyKey: key }), TaskValidationError, JSON.stringify(key));
  }
  assert.equal((await tasks.submit(name, null, { idempotencyKey: 'k'.repeat(255) })).replayed, false, '255 characters are fine');
  await waitFor(async () => (await store.list({ name })).length === 1, 3000, 'only the good submit recorded');
});
