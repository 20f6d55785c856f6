/**
 * Progress and cancellation on a real in-process node (its result keeper with a SQLite store, its HTTP
 * gateway) with real workers: progress a handler reports is seen through the SDK (get, handle.progress,
 * handle.onProgress), HTTP GET and a reply_to queue read with amqplib; cancelling a running task aborts
 * the handler's signal and ends the task 'cancelled' (SDK and HTTP DELETE), without retry or
 * dead-lettering; a task cancelled while queued never runs, even on a worker started afterwards; a
 * finished task answers 409.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib, { type ConsumeMessage } from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { SqliteResultStore } from '../../src/tasks/store/sqlite-store.js';
import type { TaskView } from '../../src/http/task-view.js';
import {
  KeeperRequestError,
  TaskCancelledError,
  TaskFailedError,
  connectTasks,
  createWorker,
  deadLetterQueueName,
  taskQueueName,
  type SettledDelivery,
  type TaskContext,
  type TaskProgress,
  type TasksClient,
  type Worker,
} from '../../src/tasks/index.js';
import { waitFor } from '../helpers/amqp.js';
import { collectingQueue, uniqueTaskName } from '../helpers/tasks.js';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'runs its own Warren with its keeper' : false, timeout: 30_000 } as const;
const GUEST = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

let node: WarrenNode;
let dataDir: string;
let url: string;
let client: TasksClient;
let worker: Worker;
const settled: SettledDelivery[] = [];

/** Names of the shared worker's tasks. */
const REPORTING = uniqueTaskName('progress');
const CANCELLABLE = uniqueTaskName('cancellable');
/** Gates the 'reporting' handler waits on, by task id; resolved by the tests. */
const gates = new Map<string, () => void>();
/** What each 'cancellable' handler saw its signal abort with, by task id. */
const abortReasons = new Map<string, unknown>();
const cancellableStarted = new Set<string>();

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-progress-cancel-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  url = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  worker = createWorker({ url, concurrency: 4 });
  worker.handle(REPORTING, async (_payload, ctx) => {
    ctx.progress(10);
    ctx.progress(50);
    ctx.progress({ stage: 'encode', done: 3, of: 7 });
    await new Promise<void>((resolve) => gates.set(ctx.id, resolve));
    return 'done';
  });
  worker.handle(CANCELLABLE, (_payload, ctx) => {
    cancellableStarted.add(ctx.id);
    return new Promise((_resolve, reject) => {
      ctx.signal.addEventListener('abort', () => {
        abortReasons.set(ctx.id, ctx.signal.reason);
        reject(ctx.signal.reason as Error);
      });
    });
  });
  worker.on('settled', (delivery) => settled.push(delivery));
  await worker.start();
  client = connectTasks({ url });
});

after(async () => {
  if (options.skip !== false) return;
  for (const open of gates.values()) open();
  await worker.close();
  await client.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

function http(path: string, method = 'GET'): Promise<Response> {
  return fetch(`http://127.0.0.1:${node.httpPort}${path}`, { method, headers: GUEST });
}


/** Messages in a queue, by a passive check over amqplib. */
async function messagesIn(queue: string): Promise<number> {
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

const LAST_PROGRESS = { stage: 'encode', done: 3, of: 7 };

test('progress is seen through SDK get, handle.progress(), handle.onProgress(), HTTP GET and a reply_to queue', options, async () => {
  const results = await collectingQueue(url);
  try {
    // Submitted with a reply queue of the client's own: onProgress gets the reports live from it.
    const live = await client.submit(REPORTING, null);
    const heard: TaskProgress[] = [];
    const stop = live.onProgress((progress) => heard.push(progress));
    // Submitted with a reply_to of our own: the worker publishes progress messages there, then the result.
    const routed = await client.submit(REPORTING, null, { replyTo: results.queue, correlationId: 'job-1' });

    for (const handle of [live, routed]) {
      await waitFor(async () => JSON.stringify((await client.get(handle.id))?.progress) === JSON.stringify(LAST_PROGRESS), 5000, 'progress recorded');
      const record = await client.get(handle.id);
      assert.equal(record?.state, 'running', 'progress does not change the state');
      assert.ok(typeof record.progressAt === 'number' && record.progressAt >= (record.startedAt ?? 0));
      assert.deepEqual(await handle.progress(), LAST_PROGRESS);
      const view = (await (await http(`/api/tasks/${handle.id}`)).json()) as TaskView;
      assert.deepEqual([view.state, view.progress], ['running', LAST_PROGRESS]);
      assert.equal(view.progressAt, new Date(record.progressAt).toISOString());
    }
    await waitFor(() => heard.some((progress) => JSON.stringify(progress) === JSON.stringify(LAST_PROGRESS)), 3000, 'onProgress heard the last report');
    assert.ok(heard.length <= 2, 'the listener came after the first report at most');

    const progressMessages = (): ConsumeMessage[] => results.received.filter((message) => message.properties.type === 'progress');
    await waitFor(() => progressMessages().length > 0 && JSON.parse(progressMessages().at(-1)?.content.toString() ?? '{}').progress?.stage === 'encode', 3000, 'progress on the reply_to queue');
    const message = progressMessages().at(-1);
    assert.equal(message?.properties.correlationId, 'job-1');
    const body = JSON.parse(message?.content.toString() ?? '{}') as Record<string, unknown>;
    assert.deepEqual([body['id'], body['name'], body['run'], body['attempt'], body['progress']], [routed.id, REPORTING, 1, 1, LAST_PROGRESS]);
    assert.equal(body['state'], undefined, 'a progress message is not a reply');
    // Three rapid reports are coalesced: the first goes out at once, the latest one interval later (50 never).
    assert.deepEqual(progressMessages().map((received) => JSON.parse(received.content.toString()).progress), [10, LAST_PROGRESS]);

    for (const handle of [live, routed]) gates.get(handle.id)?.();
    assert.equal(await live.result({ timeoutMs: 5000 }), 'done');
    assert.equal(await routed.result({ timeoutMs: 5000 }), 'done');
    await waitFor(() => results.received.some((received) => received.properties.type === 'result'), 3000, 'the final reply');
    const final = results.received.find((received) => received.properties.type === 'result');
    assert.equal(JSON.parse(final?.content.toString() ?? '{}').state, 'succeeded');
    const finished = await client.get(routed.id);
    assert.deepEqual([finished?.state, finished?.progress], ['succeeded', LAST_PROGRESS], 'the last progress stays on the finished task');
    stop();
  } finally {
    await results.close();
  }
});

test('ctx.progress refuses values that are not progress, and the handler sees the TypeError', options, async () => {
  const name = uniqueTaskName('bad-progress');
  const own = createWorker({ url, concurrency: 1 });
  own.handle(name, (_payload, ctx) => {
    const refused: string[] = [];
    for (const value of [101, -1, Number.NaN, 'half', [1], null, { big: 'x'.repeat(70_000) }]) {
      try {
        ctx.progress(value as TaskProgress);
      } catch (error) {
        refused.push((error as Error).name);
      }
    }
    return refused;
  });
  await own.start();
  try {
    const handle = await client.submit<null, string[]>(name, null);
    assert.deepEqual(await handle.result({ timeoutMs: 5000 }), Array(7).fill('TypeError'));
  } finally {
    await own.close();
  }
});

test('a progress report made after the attempt ended is checked and dropped: nothing follows the result', options, async () => {
  const name = uniqueTaskName('late-progress');
  const kept = new Map<string, TaskContext>();
  const own = createWorker({ url, concurrency: 1 });
  own.handle(name, (_payload, ctx) => {
    kept.set(ctx.id, ctx);
    return 'ok';
  });
  await own.start();
  const results = await collectingQueue(url);
  try {
    const first = await client.submit(name, null, { replyTo: results.queue, correlationId: 'first' });
    await waitFor(() => results.received.some((message) => message.properties.correlationId === 'first'), 5000, 'the first result');
    const ctx = kept.get(first.id);
    assert.ok(ctx !== undefined);
    ctx.progress(70);
    assert.throws(() => ctx.progress('half' as unknown as TaskProgress), TypeError, 'a late report is still checked');
    // The worker publishes progress and results on one channel, in order: a report published just now
    // would reach the queue before the next task's result.
    await client.submit(name, null, { replyTo: results.queue, correlationId: 'second' });
    await waitFor(() => results.received.some((message) => message.properties.correlationId === 'second'), 5000, 'the second result');
    assert.deepEqual(results.received.map((message) => [message.properties.correlationId, message.properties.type]), [['first', 'result'], ['second', 'result']]);
    await waitFor(async () => (await client.get(first.id))?.state === 'succeeded', 5000, 'the first outcome recorded');
    assert.equal((await client.get(first.id))?.progress, undefined);
  } finally {
    await results.close();
    await own.close();
  }
});

test('handle.cancel() of a running task aborts its signal; the task ends cancelled, not retried or dead-lettered', options, async () => {
  const handle = await client.submit(CANCELLABLE, null, { attempts: 3 });
  await waitFor(async () => cancellableStarted.has(handle.id) && (await client.get(handle.id))?.state === 'running', 5000, 'the handler running');
  const record = await handle.cancel();
  assert.equal(record.state, 'cancelled');
  assert.equal(record.error?.name, 'TaskCancelledError');
  await waitFor(() => abortReasons.has(handle.id), 3000, 'the handler saw its signal abort');
  const reason = abortReasons.get(handle.id);
  assert.ok(reason instanceof TaskCancelledError);
  assert.match(reason.message, /cancelled/);
  await assert.rejects(handle.result({ timeoutMs: 5000 }), (error: unknown) => error instanceof TaskCancelledError && error instanceof TaskFailedError && error.state === 'cancelled');
  await waitFor(() => settled.some((delivery) => delivery.id === handle.id), 3000, 'the worker settled the delivery');
  assert.deepEqual(settled.filter((delivery) => delivery.id === handle.id).map((delivery) => delivery.outcome), ['cancelled']);
  const after = await client.get(handle.id);
  assert.deepEqual([after?.state, after?.attempts], ['cancelled', 1]);
  assert.equal(await messagesIn(deadLetterQueueName(CANCELLABLE)), 0);
  assert.equal(await messagesIn(taskQueueName(CANCELLABLE)), 0, 'acked, not retried');
  // Another client's handle made from the id learns it from the keeper.
  const other = connectTasks({ url });
  try {
    await assert.rejects(other.handle(handle.id).result({ timeoutMs: 5000 }), TaskCancelledError);
  } finally {
    await other.close();
  }
});

test('DELETE /api/tasks/{id} cancels a running task (200 with the task), then answers 409; 404 for an unknown task', options, async () => {
  const handle = await client.submit(CANCELLABLE, { via: 'http' });
  await waitFor(async () => cancellableStarted.has(handle.id) && (await client.get(handle.id))?.state === 'running', 5000, 'the handler running');
  const response = await http(`/api/tasks/${handle.id}`, 'DELETE');
  assert.equal(response.status, 200);
  const view = (await response.json()) as TaskView;
  assert.deepEqual([view.id, view.state, view.error?.name], [handle.id, 'cancelled', 'TaskCancelledError']);
  assert.ok(view.finishedAt !== undefined);
  await waitFor(() => abortReasons.has(handle.id), 3000, 'the handler saw its signal abort');
  assert.equal((abortReasons.get(handle.id) as Error).name, 'TaskCancelledError');
  assert.equal(((await (await http(`/api/tasks/${handle.id}`)).json()) as TaskView).state, 'cancelled');
  const again = await http(`/api/tasks/${handle.id}`, 'DELETE');
  assert.equal(again.status, 409);
  assert.match(((await again.json()) as { reason: string }).reason, /already cancelled/);
  assert.equal((await http('/api/tasks/no-such-task', 'DELETE')).status, 404);
});

test('cancelling a finished task is a conflict (SDK and HTTP)', options, async () => {
  const handle = await client.submit(REPORTING, null);
  await waitFor(() => gates.has(handle.id), 5000, 'the handler running');
  gates.get(handle.id)?.();
  assert.equal(await handle.result({ timeoutMs: 5000 }), 'done');
  await waitFor(async () => (await client.get(handle.id))?.state === 'succeeded', 3000, 'the keeper recorded the success');
  await assert.rejects(handle.cancel(), (error: unknown) => error instanceof KeeperRequestError && error.code === 'conflict');
  assert.equal((await http(`/api/tasks/${handle.id}`, 'DELETE')).status, 409);
  assert.equal((await client.get(handle.id))?.state, 'succeeded');
  await assert.rejects(client.cancel('no-such-task'), (error: unknown) => error instanceof KeeperRequestError && error.code === 'not_found');
});

test('a task cancelled while queued never runs, on a worker started afterwards; result() rejects with TaskCancelledError', options, async () => {
  const name = uniqueTaskName('queued-cancel');
  const ran: string[] = [];
  const submitter = connectTasks({ url });
  try {
    const cancelled = await submitter.submit(name, 'cancel me');
    const kept = await submitter.submit(name, 'run me');
    await waitFor(async () => (await submitter.get(cancelled.id))?.state === 'queued', 3000, 'the keeper recorded the task');
    // Cancelled over HTTP, so the submitting client hears of it only when the worker skips the task.
    const response = await http(`/api/tasks/${cancelled.id}`, 'DELETE');
    assert.equal(response.status, 200);
    assert.equal(((await response.json()) as TaskView).state, 'cancelled');

    const late = createWorker({ url, concurrency: 1 });
    const lateSettled: SettledDelivery[] = [];
    late.handle<string, string>(name, (payload) => {
      ran.push(payload);
      return payload;
    });
    late.on('settled', (delivery) => lateSettled.push(delivery));
    await late.start();
    try {
      await assert.rejects(cancelled.result({ timeoutMs: 5000 }), TaskCancelledError);
      assert.equal(await kept.result({ timeoutMs: 5000 }), 'run me');
      await waitFor(() => lateSettled.length === 2, 3000, 'both deliveries settled');
      assert.deepEqual(ran, ['run me'], 'the cancelled task\'s handler never ran');
      assert.deepEqual(lateSettled.map((delivery) => [delivery.id, delivery.outcome]), [[cancelled.id, 'cancelled'], [kept.id, 'succeeded']]);
      const record = await submitter.get(cancelled.id);
      assert.deepEqual([record?.state, record?.startedAt], ['cancelled', undefined]);
      assert.equal(await messagesIn(taskQueueName(name)), 0);
    } finally {
      await late.close();
    }
  } finally {
    await submitter.close();
  }
});

test('a task cancelled while queued is skipped by a worker that is already running when its notice comes', options, async () => {
  const name = uniqueTaskName('notice-cancel');
  const ran: string[] = [];
  let release: () => void = () => {};
  const busy = new Promise<void>((resolve) => (release = resolve));
  const own = createWorker({ url, concurrency: 1, prefetchMultiplier: 1 });
  own.handle<string, string>(name, async (payload) => {
    ran.push(payload);
    if (payload === 'first') await busy;
    return payload;
  });
  await own.start();
  try {
    const first = await client.submit(name, 'first');
    const second = await client.submit(name, 'second');
    await waitFor(() => ran.length === 1, 3000, 'the first task running');
    await waitFor(async () => (await client.get(second.id))?.state === 'queued', 3000, 'the second task recorded');
    await second.cancel();
    await assert.rejects(second.result({ timeoutMs: 1000 }), TaskCancelledError);
    release();
    assert.equal(await first.result({ timeoutMs: 5000 }), 'first');
    await waitFor(async () => (await messagesIn(taskQueueName(name))) === 0 && own.runningCount === 0, 3000, 'the queue drained');
    assert.deepEqual(ran, ['first']);
  } finally {
    release();
    await own.close();
  }
});

test('the OpenAPI document has the DELETE route and the progress fields', options, async () => {
  const document = (await (await http('/api/tasks/openapi.json')).json()) as {
    paths: Record<string, Record<string, { responses?: Record<string, unknown> }>>;
    components: { schemas: { Task: { properties: Record<string, unknown> } } };
  };
  const statuses = Object.keys(document.paths['/api/tasks/{id}']?.['delete']?.responses ?? {});
  for (const status of ['200', '404', '409']) assert.ok(statuses.includes(status), status);
  assert.ok('progress' in document.components.schemas.Task.properties);
  assert.ok('progressAt' in document.components.schemas.Task.properties);
});

test('with the keeper in another process, DELETE cancels through it over AMQP', options, async () => {
  const otherDataDir = await mkdtemp(join(tmpdir(), 'warren-remote-cancel-'));
  const other = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir: otherDataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  const store = new SqliteResultStore(':memory:');
  const keeper = await startKeeper({ url: `amqp://guest:guest@127.0.0.1:${other.amqpPort}`, store });
  try {
    const base = `http://127.0.0.1:${other.httpPort}`;
    const submitted = await fetch(`${base}/api/tasks/${uniqueTaskName('remote')}`, {
      method: 'POST', headers: { ...GUEST, 'content-type': 'application/json' }, body: '{"payload": 1}',
    });
    assert.equal(submitted.status, 202);
    const { id } = (await submitted.json()) as { id: string };
    // At once: the gateway waits for the keeper to record its own submission rather than answering 404.
    const cancelled = await fetch(`${base}/api/tasks/${id}`, { method: 'DELETE', headers: GUEST });
    assert.equal(cancelled.status, 200);
    assert.equal(((await cancelled.json()) as TaskView).state, 'cancelled');
    assert.equal((await store.get(id))?.state, 'cancelled');
    assert.equal((await fetch(`${base}/api/tasks/${id}`, { method: 'DELETE', headers: GUEST })).status, 409);
  } finally {
    await keeper.close();
    await store.close();
    await other.close();
    await rm(otherDataDir, { recursive: true, force: true });
  }
});
