/**
 * "Why is it not running": a queued task's status carries a blockedReason computed from live state, for
 * each cause set up in turn: no worker consumes its name, every worker is busy, a delay, a retry backoff.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { connectTasks, createWorker, type TaskRecord, type TasksClient, type Worker } from '../../src/tasks/index.js';
import { waitFor } from '../helpers/amqp.js';

const skip = { skip: process.env['WARREN_TEST_URL'] ? 'runs its own Warren with its keeper' : false };
let node: WarrenNode;
let dataDir: string;
let url: string;
let client: TasksClient;
const workers: Worker[] = [];

before(async () => {
  if (skip.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-blocked-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  url = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  client = connectTasks({ url });
});

after(async () => {
  if (skip.skip !== false) return;
  for (const worker of workers) await worker.close();
  await client.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** The task as GET /api/tasks/{id} shows it, once the keeper has recorded it. */
async function status(id: string): Promise<{ state: string; blockedReason?: { kind: string; until?: string; consumers?: number } }> {
  // Read over HTTP only once the keeper has the record: before that the gateway answers from its memory
  // of recent submissions, which has no blockedReason.
  await waitFor(async () => (await client.get(id)) !== undefined, 3000, 'the keeper to record the task');
  const response = await fetch(`http://127.0.0.1:${node.httpPort}/api/tasks/${id}`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
  return (await response.json()) as { state: string; blockedReason?: { kind: string; until?: string; consumers?: number } };
}

async function startWorker(name: string, handler: () => Promise<unknown> | unknown, concurrency = 1): Promise<void> {
  const worker = createWorker({ url, concurrency, prefetchMultiplier: 1 });
  worker.handle(name, handler);
  await worker.start();
  workers.push(worker);
}

test('no worker consumes the task name: no_worker', skip, async () => {
  const handle = await client.submit('nobody-here', null);
  assert.deepEqual((await status(handle.id)).blockedReason, { kind: 'no_worker' });
});

test('every worker is busy: workers_busy with the number of consumers', skip, async () => {
  let release: () => void = () => {};
  const busy = new Promise<void>((resolve) => (release = resolve));
  await startWorker('slow-lane', () => busy);
  const running = await client.submit('slow-lane', 1);
  await waitFor(async () => (await client.get(running.id))?.state === 'running', 3000, 'the first task running');
  const waiting = await client.submit('slow-lane', 2);
  const seen = await status(waiting.id);
  assert.equal(seen.state, 'queued');
  assert.deepEqual(seen.blockedReason, { kind: 'workers_busy', consumers: 1 });
  release();
  assert.equal(await waiting.result({ timeoutMs: 5000 }), undefined);
});

test('a delayed task: delayed until its due time', skip, async () => {
  await startWorker('later', () => 'done');
  const handle = await client.submit('later', null, { delayMs: 5000 });
  // status() first: it waits for the keeper to have recorded the task, which may take a commit round.
  const seen = await status(handle.id);
  const record = (await client.get(handle.id)) as TaskRecord;
  assert.equal(seen.blockedReason?.kind, 'delayed');
  assert.equal(seen.blockedReason?.until, new Date(record.createdAt + 5000).toISOString());
});

test('a task waiting for its retry: retry_backoff until the next attempt', skip, async () => {
  await startWorker('fails-once', () => {
    throw new Error('not yet');
  });
  const handle = await client.submit('fails-once', null, { attempts: 2, backoff: { kind: 'fixed', delayMs: 5000 } });
  let record: TaskRecord | undefined;
  await waitFor(async () => (record = await client.get(handle.id))?.retryAt !== undefined, 3000, 'the first attempt to fail');
  const seen = await status(handle.id);
  assert.equal(seen.state, 'queued');
  assert.equal(seen.blockedReason?.kind, 'retry_backoff');
  assert.equal(seen.blockedReason?.until, new Date(record?.retryAt ?? 0).toISOString());
});
