/**
 * The worker's prefetch window against an in-process Warren: short tasks grow it (the worker moves to
 * a new consumer with the larger prefetch, as the management API shows, and every task still runs
 * once), and a fixed prefetchMultiplier keeps it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { connectTasks, createWorker, taskQueueName, type TasksClient, type Worker } from '../../src/tasks/index.js';
import { waitFor } from '../helpers/amqp.js';

let node: WarrenNode;
let dataDir: string;
let url: string;
let client: TasksClient;
const authorization = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'warren-prefetch-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  url = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  client = connectTasks({ url });
});

after(async () => {
  await client.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The prefetch count of each consumer of `queue`, from GET /api/consumers. */
async function consumerPrefetchCounts(queue: string): Promise<number[]> {
  const response = await fetch(`http://127.0.0.1:${node.httpPort}/api/consumers/%2F`, { headers: { authorization } });
  assert.equal(response.status, 200);
  const consumers = (await response.json()) as { queue: { name: string }; prefetch_count: number }[];
  return consumers.filter((consumer) => consumer.queue.name === queue).map((consumer) => consumer.prefetch_count);
}

/**
 * Submits `count` tasks of `name` and waits until the worker settled them all, each handler taking
 * `handlerMs`; returns the handler's runs per task id.
 */
async function runTasks(worker: Worker, name: string, count: number, handlerMs = 0): Promise<Map<string, number>> {
  const runs = new Map<string, number>();
  let settled = 0;
  worker.on('settled', (delivery) => {
    assert.equal(delivery.outcome, 'succeeded');
    settled++;
  });
  worker.handle<null, null>(name, async (_payload, ctx) => {
    runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
    if (handlerMs > 0) await new Promise((resolve) => setTimeout(resolve, handlerMs));
    return null;
  });
  worker.on('error', (error) => assert.fail(`worker error: ${error.message}`));
  await worker.start();
  await Promise.all(Array.from({ length: count }, () => client.submit(name, null, { reply: false })));
  await waitFor(() => settled === count, 20_000, `${count} tasks settled`);
  return runs;
}

test('short tasks grow the default window past 4 per slot; the queue then has one consumer, with that prefetch, and each task ran once', async () => {
  const name = 'window.grows';
  const worker = createWorker({ url, concurrency: 1 });
  try {
    const runs = await runTasks(worker, name, 1500);
    assert.equal(runs.size, 1500);
    assert.ok([...runs.values()].every((count) => count === 1), 'every task ran exactly once');
    assert.ok(worker.prefetchCount > 4, `the window grew (it is ${worker.prefetchCount})`);
    // A move asked for during the last one may still be under way (two consumers for a moment): once
    // the moves are done, one consumer with the worker's prefetch.
    const consumers = (): Promise<number[]> => consumerPrefetchCounts(taskQueueName(name));
    await waitFor(async () => JSON.stringify(await consumers()) === JSON.stringify([worker.prefetchCount]), 5000, 'one consumer, with the prefetch of the worker');
  } finally {
    await worker.close();
  }
});

test('long tasks keep the default window at 4 per slot: their outcomes are seldom in flight', async () => {
  const name = 'window.long';
  const worker = createWorker({ url, concurrency: 4 });
  try {
    // 100 tasks of 50 ms on 4 slots: about 1.3 s, so at least one period (1 s) ends and decides.
    await runTasks(worker, name, 100, 50);
    assert.equal(worker.prefetchCount, 16);
    assert.deepEqual(await consumerPrefetchCounts(taskQueueName(name)), [16]);
  } finally {
    await worker.close();
  }
});

test('a fixed prefetchMultiplier keeps the window at concurrency x multiplier', async () => {
  const name = 'window.fixed';
  const worker = createWorker({ url, concurrency: 1, prefetchMultiplier: 2 });
  try {
    await runTasks(worker, name, 600);
    assert.equal(worker.prefetchCount, 2);
    assert.deepEqual(await consumerPrefetchCounts(taskQueueName(name)), [2]);
  } finally {
    await worker.close();
  }
});
