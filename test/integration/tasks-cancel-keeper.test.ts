/**
 * The keeper's side of cancellation on an in-process Warren (startKeeper with an in-memory store, so a
 * second keeper can take over the first one's records): a worker that started while no keeper ran
 * cannot have heard a cancel notice nor asked for recent cancels, and runs the task; the keeper that
 * records its 'started' event sends the notice again and the handler is aborted. Also the keeper
 * requests 'cancel' and 'cancelled' in their documented JSON, and the progress events it records.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { waitFor } from '../helpers/amqp.js';
import { nextMessage } from '../helpers/consumers.js';
import { MemoryResultStore } from '../helpers/memory-result-store.js';
import { startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';
import { connectTasks } from '../../src/tasks/client.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { KEEPER_REQUESTS_QUEUE, TASK_EVENTS_EXCHANGE, TASK_PROTOCOL_VERSION } from '../../src/tasks/protocol.js';
import { TaskCancelledError } from '../../src/tasks/task-cancellation.js';
import { createWorker, type SettledDelivery } from '../../src/tasks/worker.js';

test('a worker that started while no keeper ran is told again when its start is recorded, and aborts', async (t) => {
  const broker = await startTasksBroker(t);
  const store = new MemoryResultStore();
  const tasks = connectTasks({ url: broker.url });
  t.after(() => tasks.close());
  const name = uniqueTaskName('renotify');

  const first = await startKeeper({ url: broker.url, store });
  const handle = await tasks.submit(name, 'payload');
  await waitFor(async () => (await store.get(handle.id))?.state === 'queued', 3000, 'the task recorded');
  assert.equal((await first.cancel(handle.id)).state, 'cancelled');
  await first.close();

  // No keeper runs: the worker cannot learn of the cancel, and runs the task.
  const reasons: unknown[] = [];
  const settled: SettledDelivery[] = [];
  const worker = createWorker({ url: broker.url, concurrency: 1 });
  worker.handle(name, (_payload, ctx) => new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => {
      reasons.push(ctx.signal.reason);
      reject(ctx.signal.reason as Error);
    });
  }));
  worker.on('settled', (delivery) => settled.push(delivery));
  worker.on('error', () => undefined); // the broker may stop before the worker when the test ends
  await worker.start();
  t.after(() => worker.close());
  await waitFor(() => worker.runningCount === 1, 3000, 'the handler running');

  const second = await startKeeper({ url: broker.url, store });
  t.after(() => second.close());
  await waitFor(() => reasons.length === 1, 5000, 'the handler aborted');
  assert.ok(reasons[0] instanceof TaskCancelledError);
  await waitFor(() => settled.length === 1, 3000, 'the delivery settled');
  assert.equal(settled[0]?.outcome, 'cancelled');
  const record = await store.get(handle.id);
  assert.equal(record?.state, 'cancelled', 'the start of a cancelled run does not revive it');
});

test('keeper requests cancel and cancelled answer in the documented JSON; progress events are recorded', async (t) => {
  const broker = await startTasksBroker(t);
  const store = new MemoryResultStore();
  const keeper = await startKeeper({ url: broker.url, store });
  t.after(() => keeper.close());
  const tasks = connectTasks({ url: broker.url });
  t.after(() => tasks.close());
  const name = uniqueTaskName('requests');
  const handle = await tasks.submit(name, null);
  await waitFor(async () => (await store.get(handle.id))?.state === 'queued', 3000, 'the task recorded');

  const connection = await amqplib.connect(broker.url);
  t.after(() => connection.close().catch(() => undefined));
  const channel = await connection.createChannel();
  const { queue: replyQueue } = await channel.assertQueue('', { exclusive: true });
  const ask = async (request: unknown): Promise<Record<string, unknown>> => {
    const correlationId = randomUUID();
    channel.sendToQueue(KEEPER_REQUESTS_QUEUE, Buffer.from(JSON.stringify(request)), { replyTo: replyQueue, correlationId, contentType: 'application/json' });
    const reply = await nextMessage(channel, replyQueue, 3000);
    assert.equal(reply.properties.correlationId, correlationId);
    return JSON.parse(reply.content.toString()) as Record<string, unknown>;
  };
  const publishEvent = (routingKey: string, body: string): void => {
    channel.publish(TASK_EVENTS_EXCHANGE, routingKey, Buffer.from(body), { contentType: 'application/json' });
  };

  const cancelled = await ask({ op: 'cancel', id: handle.id });
  assert.equal(cancelled['ok'], true);
  assert.equal((cancelled['record'] as { state: string }).state, 'cancelled');
  assert.deepEqual(await ask({ op: 'cancelled', names: [name, 'other'] }), { ok: true, cancelled: [{ id: handle.id, run: 1 }] });
  assert.equal(((await ask({ op: 'cancel', id: handle.id }))['error'] as { code: string }).code, 'conflict');
  assert.equal(((await ask({ op: 'cancel', id: 'nope' }))['error'] as { code: string }).code, 'not_found');
  assert.equal(((await ask({ op: 'cancelled', names: ['bad name!'] }))['error'] as { code: string }).code, 'bad_request');
  assert.equal(((await ask({ op: 'cancelled', names: [] }))['error'] as { code: string }).code, 'bad_request');

  // Progress of a running task, sent by hand as any worker would; a malformed one is dropped.
  const running = await tasks.submit(name, null);
  const event = { protocol: TASK_PROTOCOL_VERSION, id: running.id, name, run: 1, attempt: 1 };
  await waitFor(async () => (await store.get(running.id))?.state === 'queued', 3000, 'the task recorded');
  publishEvent(`started.${name}`, JSON.stringify({ ...event, kind: 'started', at: Date.now(), worker: 'w' }));
  await waitFor(async () => (await store.get(running.id))?.state === 'running', 3000, 'the task running');
  publishEvent(`progress.${name}`, JSON.stringify({ ...event, kind: 'progress', at: Date.now(), progress: 200 }));
  publishEvent(`progress.${name}`, 'not json');
  publishEvent(`progress.${name}`, JSON.stringify({ ...event, kind: 'progress', at: Date.now() + 1, progress: { rows: 12 } }));
  await waitFor(async () => (await store.get(running.id))?.progressAt !== undefined, 3000, 'the progress recorded');
  const record = await store.get(running.id);
  assert.deepEqual([record?.state, record?.progress], ['running', { rows: 12 }]);
});

test('handle.cancel() right after submit waits for the keeper to record the task; client.cancel of an unknown id does not', async (t) => {
  const broker = await startTasksBroker(t);
  const store = new MemoryResultStore();
  const keeper = await startKeeper({ url: broker.url, store });
  t.after(() => keeper.close());
  const tasks = connectTasks({ url: broker.url });
  t.after(() => tasks.close());
  const handle = await tasks.submit(uniqueTaskName('at-once'), null);
  const record = await handle.cancel();
  assert.deepEqual([record.id, record.state], [handle.id, 'cancelled']);
  await assert.rejects(handle.result({ timeoutMs: 1000 }), TaskCancelledError);
  const started = Date.now();
  await assert.rejects(tasks.cancel(randomUUID()), { name: 'KeeperRequestError', code: 'not_found' });
  assert.ok(Date.now() - started < 500, 'an id alone is not waited for');
});
