/**
 * Issue 5, durability of the task layer across a broker restart (startWarren again on the same data
 * directory and port): submitted tasks, delayed ones included, and state events no keeper had consumed
 * yet all survive; a keeper that was running reconnects by itself; a client's handles from before the
 * restart get their results from the keeper, and the client reconnects on its next call.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { waitFor } from '../helpers/amqp.js';
import { freePort } from '../helpers/checks.js';
import { startFakeWorker } from '../helpers/fake-task-worker.js';
import { MemoryResultStore } from '../helpers/memory-result-store.js';
import { uniqueTaskName } from '../helpers/tasks.js';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { connectTasks } from '../../src/tasks/client.js';
import { startKeeper } from '../../src/tasks/keeper.js';

const inProcessOnly = { skip: process.env['WARREN_TEST_URL'] ? 'restarts an in-process broker' : false };

/** A broker that can be restarted on the same data directory and port. */
interface RestartableBroker {
  url: string;
  restart(): Promise<void>;
}

async function restartableBroker(t: TestContext): Promise<RestartableBroker> {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-tasks-restart-'));
  const amqpPort = await freePort();
  const start = (): Promise<WarrenNode> =>
    startWarren({ amqpPort, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  let node = await start();
  t.after(async () => {
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  return {
    url: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    restart: async () => {
      await node.close();
      node = await start();
    },
  };
}

test('a broker restart loses no submitted task and no state event', inProcessOnly, async (t) => {
  const broker = await restartableBroker(t);
  const store = new MemoryResultStore();
  const name = uniqueTaskName('durable');
  const tasks = connectTasks({ url: broker.url });
  t.after(() => tasks.close());

  const keeper = await startKeeper({ url: broker.url, store });
  const recorded = await tasks.submit<number, number>(name, 1);
  await waitFor(async () => (await store.get(recorded.id)) !== undefined, 3000, 'the first record');
  await keeper.close();
  // No keeper consumes now: these events wait in the keeper queue, the tasks in their queues.
  const pending = await tasks.submit<number, number>(name, 2);
  const delayed = await tasks.submit<number, number>(name, 3, { delayMs: 300 });
  assert.equal(await store.get(pending.id), undefined);

  await broker.restart();
  const keeperAfter = await startKeeper({ url: broker.url, store });
  t.after(() => keeperAfter.close());
  await waitFor(async () => (await store.get(delayed.id)) !== undefined, 3000, 'the events sent while no keeper ran');
  assert.equal((await store.get(pending.id))?.payload, 2);
  assert.equal((await store.get(delayed.id))?.options.delayMs, 300);

  const worker = await startFakeWorker(broker.url, name, (task) => ({ succeed: (task.payload as number) * 10 }));
  t.after(() => worker.close());
  // The reply queue died with the old connection, so these results come from the keeper.
  const results = await Promise.all([recorded, pending, delayed].map((handle) => handle.result({ timeoutMs: 5000 })));
  assert.deepEqual(results, [10, 20, 30]);
  assert.deepEqual(worker.seen.map((task) => task.payload).sort(), [1, 2, 3], 'each task ran once');

  // The client reconnects on its next call and gets replies again.
  const fresh = await tasks.submit<number, number>(name, 4);
  assert.equal(await fresh.result({ timeoutMs: 5000 }), 40);
});

test('a running keeper reconnects after a broker restart and records what comes next', inProcessOnly, async (t) => {
  const broker = await restartableBroker(t);
  const store = new MemoryResultStore();
  const keeper = await startKeeper({ url: broker.url, store });
  t.after(() => keeper.close());
  const tasks = connectTasks({ url: broker.url });
  t.after(() => tasks.close());
  const before = await tasks.submit(uniqueTaskName('before'), 'a');
  await waitFor(async () => (await store.get(before.id)) !== undefined, 3000, 'the record before the restart');

  await broker.restart();
  const after = await tasks.submit(uniqueTaskName('after'), 'b');
  await waitFor(async () => (await store.get(after.id)) !== undefined, 5000, 'the record after the restart');
  assert.equal((await tasks.get(after.id))?.state, 'queued', 'the reconnected keeper answers requests too');
});
