/**
 * Progress and cancellation on Debian's RabbitMQ without plugins (a private node started here), with
 * the result keeper on a SQLite store in memory: progress reaches the record and a reply_to queue, a
 * running handler is aborted by a cancel, and a task cancelled while queued never runs on a worker
 * started afterwards. In CI a missing RabbitMQ fails this file; elsewhere it is skipped.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqplib, { type ConsumeMessage } from 'amqplib';
import { waitFor } from '../helpers/amqp.js';
import { skip, startTestRabbitmq } from '../helpers/rabbitmq.js';
import { SqliteResultStore, TaskCancelledError, connectTasks, createWorker, startKeeper, type TasksClient } from '../../src/tasks/index.js';

const options = { skip, timeout: 30_000 };
let url: string;
let client: TasksClient;
const cleanup: (() => Promise<unknown>)[] = [];
const aborted = new Map<string, unknown>();

before(async () => {
  if (skip !== false) return;
  const rabbitmq = await startTestRabbitmq();
  cleanup.push(() => rabbitmq.stop());
  url = rabbitmq.url;
  const store = new SqliteResultStore(':memory:');
  cleanup.push(() => store.close());
  const keeper = await startKeeper({ url, store });
  cleanup.push(() => keeper.close());
  client = connectTasks({ url });
  cleanup.push(() => client.close());
  const worker = createWorker({ url, concurrency: 4, shutdownTimeoutMs: 1000 });
  cleanup.push(() => worker.close());
  worker.handle('rmq.progress', async (_payload, ctx) => {
    ctx.progress(25);
    await new Promise((resolve) => setTimeout(resolve, 150));
    ctx.progress({ phase: 'last' });
    return 'ok';
  });
  worker.handle('rmq.cancel', (_payload, ctx) => new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => {
      aborted.set(ctx.id, ctx.signal.reason);
      reject(ctx.signal.reason as Error);
    });
  }));
  await worker.start();
});

after(async () => {
  for (const stop of cleanup.reverse()) await stop().catch(() => undefined);
});

test('on RabbitMQ, progress reaches the record and the reply_to queue', options, async () => {
  const connection = await amqplib.connect(url);
  try {
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const received: ConsumeMessage[] = [];
    await channel.consume(queue, (message) => void (message !== null && received.push(message)), { noAck: true });
    const handle = await client.submit('rmq.progress', null, { replyTo: queue });
    assert.equal(await handle.result({ timeoutMs: 10_000 }), 'ok');
    await waitFor(() => received.some((message) => message.properties.type === 'result'), 5000, 'the final reply');
    const types = received.map((message) => message.properties.type as string);
    assert.deepEqual(types, ['progress', 'progress', 'result']);
    assert.deepEqual(received.slice(0, 2).map((message) => JSON.parse(message.content.toString()).progress), [25, { phase: 'last' }]);
    await waitFor(async () => (await client.get(handle.id))?.state === 'succeeded', 5000, 'the record');
    assert.deepEqual(await handle.progress(), { phase: 'last' });
  } finally {
    await connection.close();
  }
});

test('on RabbitMQ, cancel aborts a running handler and keeps a queued task from running', options, async () => {
  const running = await client.submit('rmq.cancel', null);
  await waitFor(async () => (await client.get(running.id))?.state === 'running', 10_000, 'the handler running');
  assert.equal((await running.cancel()).state, 'cancelled');
  await waitFor(() => aborted.has(running.id), 5000, 'the handler aborted');
  assert.ok(aborted.get(running.id) instanceof TaskCancelledError);
  await assert.rejects(running.result({ timeoutMs: 5000 }), TaskCancelledError);

  const ran: string[] = [];
  const queued = await client.submit('rmq.later', 'never');
  assert.equal((await queued.cancel()).state, 'cancelled');
  const late = createWorker({ url, concurrency: 1 });
  late.handle<string, string>('rmq.later', (payload) => (ran.push(payload), payload));
  await late.start();
  try {
    await assert.rejects(queued.result({ timeoutMs: 5000 }), TaskCancelledError);
    const after = await client.submit<string, string>('rmq.later', 'runs');
    assert.equal(await after.result({ timeoutMs: 5000 }), 'runs');
    assert.deepEqual(ran, ['runs']);
  } finally {
    await late.close();
  }
});
