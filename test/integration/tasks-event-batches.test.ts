/**
 * Batched state events (docs/task-protocol.md, section 3) on an in-process Warren: a busy SDK client sends
 * the queued events of its submissions of one moment, and a busy SDK worker its outcomes, as one
 * `batch.<name>` message holding a JSON array; the keeper records
 * every event of such a message, drops only a malformed one, and takes the whole message again when its
 * store refused one of them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startWarren } from '../../src/main.js';
import { connectTasks, createWorker } from '../../src/tasks/index.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { DEFAULT_TASK_OPTIONS, KEEPER_QUEUE, TASK_EVENTS_EXCHANGE, type TaskEvent } from '../../src/tasks/protocol.js';
import { openClient, waitFor } from '../helpers/amqp.js';
import { MemoryResultStore } from '../helpers/memory-result-store.js';
import { startTestBroker } from '../helpers/broker.js';
import { startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';

test('a busy client sends its queued events and a busy worker its outcomes in batch messages; the keeper records each task once', async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-event-batches-'));
  const node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  const cleanups: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const url = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
  const name = uniqueTaskName('batched');

  // An observer's queue, bound as the protocol tells: it sees every event message of the task name.
  const channel = await (await openClient(t, url)).channel();
  await channel.assertExchange(TASK_EVENTS_EXCHANGE, 'topic', { durable: true });
  const observed = await channel.assertQueue('', { exclusive: true });
  await channel.bindQueue(observed.queue, TASK_EVENTS_EXCHANGE, `*.${name}`);
  const messages: { routingKey: string; body: unknown }[] = [];
  await channel.consume(observed.queue, (message) => {
    if (message !== null) messages.push({ routingKey: message.fields.routingKey, body: JSON.parse(message.content.toString()) });
  }, { noAck: true });

  const worker = createWorker({ url, concurrency: 16 });
  cleanups.push(() => worker.close());
  worker.on('error', (error) => assert.fail(`worker error: ${error.message}`));
  worker.handle<number, number>(name, async (payload) => payload * 2);
  await worker.start();
  const client = connectTasks({ url });
  cleanups.push(() => client.close());

  const count = 400;
  const handles = await Promise.all(Array.from({ length: count }, (_, i) => client.submit<number, number>(name, i)));
  const results = await Promise.all(handles.map((handle) => handle.result({ timeoutMs: 20_000 })));
  assert.deepEqual(results, Array.from({ length: count }, (_, i) => i * 2));

  const events: TaskEvent[] = [];
  await waitFor(() => {
    events.length = 0;
    for (const { body } of messages) events.push(...(Array.isArray(body) ? (body as TaskEvent[]) : [body as TaskEvent]));
    return events.length >= 2 * count;
  }, 10_000, 'a queued and a succeeded event per task');
  assert.equal(events.length, 2 * count, 'no other event');
  const batches = messages.filter((message) => message.routingKey === `batch.${name}`);
  for (const batch of batches) assert.ok(Array.isArray(batch.body) && batch.body.length >= 2, 'a batch holds several events');
  for (const single of messages.filter((message) => message.routingKey !== `batch.${name}`)) {
    assert.ok(!Array.isArray(single.body) && single.routingKey === `${(single.body as TaskEvent).kind}.${name}`, 'an event alone goes as before');
  }
  // The worker's outcomes and the client's queued events each travelled in batches (of one kind: a worker
  // sends outcomes, a client submissions).
  const kindsOfBatches = batches.map((batch) => new Set((batch.body as TaskEvent[]).map((event) => event.kind)));
  assert.ok(kindsOfBatches.some((kinds) => kinds.size === 1 && kinds.has('succeeded')), 'the worker sent a batch of outcomes');
  assert.ok(kindsOfBatches.some((kinds) => kinds.size === 1 && kinds.has('queued')), 'the client sent a batch of queued events');
  assert.ok(kindsOfBatches.every((kinds) => kinds.size === 1), 'no batch mixes queued events and outcomes');
  const indexOf = new Map(handles.map((handle, i) => [handle.id, i]));
  for (const kind of ['queued', 'succeeded'] as const) {
    const ofKind = events.filter((event) => event.kind === kind);
    assert.equal(ofKind.length, count, `one ${kind} event per task`);
    assert.deepEqual(new Set(ofKind.map((event) => event.id)), new Set(indexOf.keys()));
  }
  for (const event of events) {
    assert.equal(event.name, name);
    const i = indexOf.get(event.id) ?? Number.NaN;
    if (event.kind === 'succeeded') assert.equal(event.result, i * 2, 'each outcome carries its own task\'s result');
    else assert.equal(event.payload, i, 'each queued event carries its own task\'s payload');
  }

  await waitFor(async () => (await client.get(handles[count - 1]!.id))?.state === 'succeeded', 10_000, 'the last record');
  const records = await Promise.all(handles.map((handle) => client.get(handle.id)));
  assert.deepEqual(records.map((record) => record?.result), results, 'every result stored by the keeper');
});

test('the keeper records each event of a batch message, drops a malformed one, and takes the message again when its store refused one', async (t) => {
  const broker = await startTasksBroker(t);
  const store = new MemoryResultStore();
  const keeper = await startKeeper({ url: broker.url, store });
  t.after(() => keeper.close());
  const channel = await (await openClient(t, broker.url)).confirmChannel();
  const name = uniqueTaskName('raw-batch');
  const queued = (id: string): TaskEvent => ({
    protocol: 1, kind: 'queued', id, name, run: 1, attempt: 1, at: 1000, payload: id, options: DEFAULT_TASK_OPTIONS, enqueuedAt: 1000,
  });
  const succeeded = (id: string): TaskEvent => ({ protocol: 1, kind: 'succeeded', id, name, run: 1, attempt: 1, at: 2000, result: `${id} done`, startedAt: 1500, worker: 'w' });
  const publishBatch = async (events: unknown[]): Promise<void> => {
    channel.publish(TASK_EVENTS_EXCHANGE, `batch.${name}`, Buffer.from(JSON.stringify(events)), { deliveryMode: 2, contentType: 'application/json' });
    await channel.waitForConfirms();
  };

  const [a, b] = [randomUUID(), randomUUID()];
  await publishBatch([queued(a), { protocol: 1, kind: 'exploded', id: a }, queued(b), succeeded(a)]);
  await waitFor(async () => (await store.get(a))?.state === 'succeeded' && (await store.get(b)) !== undefined, 5000, 'the batch recorded');
  await waitFor(async () => (await channel.checkQueue(KEEPER_QUEUE)).messageCount === 0, 3000, 'the batch acknowledged');
  assert.deepEqual(store.applied.map((event) => event.kind), ['queued', 'queued', 'succeeded'], 'the malformed event never reached the store');
  assert.equal((await store.get(a))?.result, `${a} done`);
  assert.equal((await store.get(a))?.payload, a);
  assert.equal((await store.get(b))?.state, 'queued');

  const c = randomUUID();
  store.failApplies = 1;
  await publishBatch([queued(c), succeeded(c)]);
  await waitFor(async () => store.applied.filter((event) => event.id === c).length === 4, 5000, 'the refused batch applied again');
  assert.deepEqual(store.applied.filter((event) => event.id === c).map((event) => event.kind), ['queued', 'succeeded', 'queued', 'succeeded'], 'the whole batch came again');
  const record = await store.get(c);
  assert.equal(record?.state, 'succeeded');
  assert.equal(record?.payload, c, 'the payload of the queued event applied the second time');
  await waitFor(async () => (await channel.checkQueue(KEEPER_QUEUE)).messageCount === 0, 3000, 'the batch acknowledged at last');
});

test('batches never make a message the broker refuses for its size: large payloads and results each go alone', async (t) => {
  const broker = await startTestBroker({ limits: { messageSizeMaxBytes: 1024 * 1024 } });
  // Closed newest first, the broker last.
  const cleanups: (() => Promise<void>)[] = [];
  t.after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await broker.close();
  });
  const keeper = await startKeeper({ url: broker.url, store: new MemoryResultStore() });
  cleanups.push(() => keeper.close());
  const name = uniqueTaskName('large');
  const worker = createWorker({ url: broker.url, concurrency: 5 });
  cleanups.push(() => worker.close());
  worker.on('error', (error) => assert.fail(`worker error: ${error.message}`));
  worker.handle<string, string>(name, async (payload) => payload.toUpperCase());
  await worker.start();
  const client = connectTasks({ url: broker.url });
  cleanups.push(() => client.close());

  // Five submits of 300 KiB in one turn: together, their queued events would pass the 1 MiB limit.
  const payloads = Array.from({ length: 5 }, (_, i) => String.fromCharCode(97 + i).repeat(300 * 1024));
  const handles = await Promise.all(payloads.map((payload) => client.submit<string, string>(name, payload)));
  const results = await Promise.all(handles.map((handle) => handle.result({ timeoutMs: 20_000 })));
  assert.deepEqual(results, payloads.map((payload) => payload.toUpperCase()));
  for (const handle of handles) {
    await waitFor(async () => (await keeper.get(handle.id))?.state === 'succeeded', 10_000, 'the stored result');
  }
});
