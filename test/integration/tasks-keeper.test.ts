/**
 * Issue 5, the result keeper (src/tasks/keeper.ts) on an in-process Warren: it records the events of
 * submitted and worked tasks, answers get/list/retry over AMQP in the documented JSON, drops malformed
 * events, requeues events its store refused, retries dead tasks out of the dead-letter queue, and
 * deletes finished tasks after the retention period. Results of tasks submitted elsewhere come from it.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { drain, openClient, waitFor } from '../helpers/amqp.js';
import { nextMessage } from '../helpers/consumers.js';
import { startFakeWorker } from '../helpers/fake-task-worker.js';
import { MemoryResultStore } from '../helpers/memory-result-store.js';
import { startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';
import { connectTasks, type TasksClient } from '../../src/tasks/client.js';
import { startKeeper, type Keeper } from '../../src/tasks/keeper.js';
import {
  DEFAULT_TASK_OPTIONS,
  KEEPER_QUEUE,
  KEEPER_REQUESTS_QUEUE,
  TASK_EVENTS_EXCHANGE,
  deadLetterQueueName,
  taskQueueName,
} from '../../src/tasks/protocol.js';
import { KeeperRequestError } from '../../src/tasks/task-errors.js';
import { taskMessage } from '../../src/tasks/task-message.js';

interface Setup {
  url: string;
  store: MemoryResultStore;
  keeper: Keeper;
  tasks: TasksClient;
}

async function setUp(t: TestContext, keeperOptions: { retentionMs?: number; retentionCheckIntervalMs?: number } = {}): Promise<Setup> {
  const broker = await startTasksBroker(t);
  const store = new MemoryResultStore();
  const keeper = await startKeeper({ url: broker.url, store, ...keeperOptions });
  t.after(() => keeper.close());
  const tasks = connectTasks({ url: broker.url });
  t.after(() => tasks.close());
  return { url: broker.url, store, keeper, tasks };
}

async function fakeWorker(t: TestContext, url: string, name: string, decide: Parameters<typeof startFakeWorker>[2]): ReturnType<typeof startFakeWorker> {
  const worker = await startFakeWorker(url, name, decide);
  t.after(() => worker.close());
  return worker;
}

const boom = { name: 'Error', message: 'boom', retryable: true };

test('the keeper records every event of a task and answers get and list through the client', async (t) => {
  const { url, store, tasks } = await setUp(t);
  const name = uniqueTaskName('square');
  await fakeWorker(t, url, name, (task) => ({ succeed: (task.payload as number) ** 2 }));
  const handle = await tasks.submit<number, number>(name, 7, { attempts: 2 });
  assert.equal(await handle.result({ timeoutMs: 5000 }), 49);
  await waitFor(async () => (await store.get(handle.id))?.state === 'succeeded', 3000, 'the succeeded record');
  const record = await tasks.get(handle.id);
  assert.ok(record !== undefined);
  assert.equal(record.state, 'succeeded');
  assert.equal(record.result, 49);
  assert.equal(record.payload, 7);
  assert.equal(record.options.attempts, 2);
  assert.equal(record.run, 1);
  assert.equal(record.attempts, 1);
  assert.deepEqual((await store.history(handle.id)).map((event) => event.kind), ['queued', 'started', 'succeeded']);
  assert.deepEqual(await handle.status(), record);

  const other = await tasks.submit(uniqueTaskName('idle'), 'waits');
  await waitFor(async () => (await store.get(other.id)) !== undefined, 3000, 'the queued record');
  assert.deepEqual((await tasks.list({ name })).map((r) => r.id), [handle.id]);
  assert.deepEqual((await tasks.list({ state: 'queued' })).map((r) => r.id), [other.id]);
  assert.deepEqual((await tasks.list({ limit: 1 })).map((r) => r.id), [other.id], 'newest first');
  assert.equal(await tasks.get(randomUUID()), undefined, 'an unknown task has no record');
  await assert.rejects(tasks.list({ limit: 0 }), (error: unknown) => error instanceof KeeperRequestError && error.code === 'bad_request');
});

test('keeper requests and replies on the wire: JSON in, JSON to reply_to with the correlation_id', async (t) => {
  const { url, store, tasks } = await setUp(t);
  const handle = await tasks.submit(uniqueTaskName('wire'), { a: 1 });
  await waitFor(async () => (await store.get(handle.id)) !== undefined, 3000, 'the record');
  const ch = await (await openClient(t, url)).confirmChannel();
  const { queue: replyTo } = await ch.assertQueue('', { exclusive: true });
  const ask = async (body: string): Promise<unknown> => {
    const correlationId = randomUUID();
    ch.sendToQueue(KEEPER_REQUESTS_QUEUE, Buffer.from(body), { replyTo, correlationId, contentType: 'application/json' });
    await ch.waitForConfirms();
    const reply = await nextMessage(ch, replyTo);
    assert.equal(reply.properties.correlationId, correlationId);
    return JSON.parse(reply.content.toString());
  };
  const got = (await ask(JSON.stringify({ op: 'get', id: handle.id }))) as { ok: boolean; record: { id: string; state: string } };
  assert.equal(got.ok, true);
  assert.equal(got.record.id, handle.id);
  assert.equal(got.record.state, 'queued');
  assert.deepEqual(await ask(JSON.stringify({ op: 'get', id: randomUUID() })), { ok: true });
  const listed = (await ask(JSON.stringify({ op: 'list', query: { state: 'queued' } }))) as { ok: boolean; records: unknown[] };
  assert.equal(listed.records.length, 1);
  const refusals: [string, string][] = [
    ['not json', 'bad_request'],
    [JSON.stringify({ op: 'drop', id: handle.id }), 'bad_request'],
    [JSON.stringify({ op: 'get' }), 'bad_request'],
    [JSON.stringify({ op: 'list', query: { state: 'lost' } }), 'bad_request'],
    [JSON.stringify({ op: 'retry', id: randomUUID() }), 'not_found'],
    [JSON.stringify({ op: 'retry', id: handle.id }), 'conflict'],
  ];
  for (const [body, code] of refusals) {
    const reply = (await ask(body)) as { ok: boolean; error: { code: string; message: string } };
    assert.equal(reply.ok, false, body);
    assert.equal(reply.error.code, code, body);
    assert.ok(reply.error.message.length > 0);
  }
});

test('every option and the payload reach the keeper: through the submit\'s queued event, and through a task message\'s BCC copy', async (t) => {
  const { url, store, tasks } = await setUp(t);
  const options = {
    attempts: 3, backoff: { kind: 'fixed' as const, delayMs: 250, jitter: false }, timeoutMs: 30_000, priority: 7, delayMs: 1500,
    callbackUrl: 'https://hooks.example/warren?tenant=1',
  };
  const detailed = await tasks.submit(uniqueTaskName('detailed'), { deep: [1, { two: 2 }] }, options);
  await waitFor(async () => (await store.get(detailed.id)) !== undefined, 3000, 'the detailed queued record');
  const queued = await store.get(detailed.id);
  assert.deepEqual(queued?.options, options);
  assert.deepEqual(queued?.payload, { deep: [1, { two: 2 }] });
  assert.equal(queued?.state, 'queued');

  const plain = await tasks.submit(uniqueTaskName('plain'), null);
  await waitFor(async () => (await store.get(plain.id)) !== undefined, 3000, 'the plain queued record');
  const plainRecord = await store.get(plain.id);
  assert.deepEqual(plainRecord?.options, DEFAULT_TASK_OPTIONS);
  assert.equal(plainRecord?.run, 1);

  // Another submitter may send no queued event and put BCC on the task message instead (section 2): the
  // keeper reads its copy as the event. With the default options it carries none of their headers.
  const ch = await (await openClient(t, url)).confirmChannel();
  for (const [id, taskOptions, payload] of [[randomUUID(), options, { deep: [3] }], [randomUUID(), DEFAULT_TASK_OPTIONS, null]] as const) {
    const name = uniqueTaskName('bcc');
    await ch.assertQueue(taskQueueName(name), { durable: true });
    const message = taskMessage({ id, name, payloadJson: JSON.stringify(payload), options: taskOptions, run: 1, attempt: 1, enqueuedAt: 1_700_000_000_000 });
    const { headers, ...properties } = message.properties;
    // amqplib takes no bigint: the 64-bit header values go as numbers, which it encodes as integers too.
    const numbers = Object.fromEntries(Object.entries(headers ?? {}).map(([key, value]) => [key, typeof value === 'bigint' ? Number(value) : value]));
    ch.sendToQueue(taskQueueName(name), Buffer.from(message.body), { ...properties, timestamp: 1_700_000_000, headers: { ...numbers, BCC: [KEEPER_QUEUE] } });
    await ch.waitForConfirms();
    await waitFor(async () => (await store.get(id)) !== undefined, 3000, 'the record of the BCC copy');
    const record = await store.get(id);
    assert.deepEqual(record?.options, taskOptions);
    assert.deepEqual(record?.payload, payload);
    assert.equal(record?.createdAt, 1_700_000_000_000);
    assert.equal(record?.state, 'queued');
  }
});

test('malformed events are dropped; an event the store refused is requeued and recorded later', async (t) => {
  const { url, store, tasks } = await setUp(t);
  const ch = await (await openClient(t, url)).confirmChannel();
  const badOptions = '{"protocol":1,"kind":"queued","id":"q-1","name":"x","run":1,"attempt":1,"at":1,"payload":1,"options":"fast"}';
  for (const body of ['not json', '{"protocol":1,"kind":"exploded"}', '[]', badOptions]) {
    ch.publish(TASK_EVENTS_EXCHANGE, 'queued.x', Buffer.from(body), { deliveryMode: 2 });
  }
  // Task messages (as a submitter's BCC copy brings them) that do not follow the protocol are dropped too.
  const taskHeaders = { 'x-task-id': 'bad-1', 'x-task-name': 'x', 'x-task-attempt': 1, 'x-task-max-attempts': 1 };
  const badTaskMessages: [Record<string, unknown>, string][] = [
    [{ ...taskHeaders, 'x-task-name': 'no spaces allowed' }, '1'],
    [{ ...taskHeaders, 'x-task-max-attempts': 0 }, '1'],
    [{ ...taskHeaders, 'x-task-delay-ms': -5 }, '1'],
    [{ ...taskHeaders, 'x-task-protocol': 2 }, '1'],
    [taskHeaders, '{not json'],
  ];
  for (const [headers, body] of badTaskMessages) {
    ch.sendToQueue(KEEPER_QUEUE, Buffer.from(body), { deliveryMode: 2, contentType: 'application/json', headers });
  }
  await ch.waitForConfirms();
  await waitFor(async () => (await ch.checkQueue(KEEPER_QUEUE)).messageCount === 0, 3000, 'the malformed events acked');
  assert.equal(store.applied.length, 0, 'nothing malformed reached the store');

  store.failApplies = 1;
  const handle = await tasks.submit(uniqueTaskName('stubborn'), 'x');
  await waitFor(async () => (await store.get(handle.id)) !== undefined, 5000, 'the record after the retry');
  assert.deepEqual(store.applied.map((event) => event.kind), ['queued', 'queued'], 'the refused event came again');
});

test('retry of a dead task takes it out of the dead-letter queue and queues run 2, attempt 1', async (t) => {
  const { url, store, tasks, keeper } = await setUp(t);
  const name = uniqueTaskName('phoenix');
  const deadly = await fakeWorker(t, url, name, () => ({ dead: boom }));
  const first = await tasks.submit(name, 'first', { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
  const second = await tasks.submit(name, 'second');
  for (const handle of [first, second]) {
    await assert.rejects(handle.result({ timeoutMs: 5000 }), { name: 'TaskFailedError' });
  }
  await waitFor(() => deadly.acked() === 2, 3000, 'both dead tasks acknowledged');
  await deadly.close();
  await waitFor(async () => (await store.list({ state: 'dead' })).length === 2, 3000, 'both dead records');

  const retried = await tasks.retry(first.id);
  assert.equal(retried.state, 'queued');
  assert.equal(retried.run, 2);
  assert.equal(retried.attempts, 0);
  assert.equal(retried.payload, 'first');
  const ch = await (await openClient(t, url)).channel();
  assert.equal((await ch.checkQueue(taskQueueName(name))).messageCount, 1, 'run 2 waits in the work queue');
  const dead = await ch.get(deadLetterQueueName(name), { noAck: false });
  assert.ok(dead !== false);
  assert.equal(String(dead.properties.headers?.['x-task-id']), second.id, 'only the other dead task is left, requeued');
  assert.equal(JSON.parse(String(dead.properties.headers?.['x-task-error'])).message, 'boom');
  ch.nack(dead, false, true);

  const healer = await fakeWorker(t, url, name, (task) => ({ succeed: `reborn ${String(task.payload)}` }));
  assert.equal(await tasks.handle(first.id, name).result({ timeoutMs: 5000 }), 'reborn first', 'run 2 succeeds; the keeper tells');
  assert.equal(await first.result({ timeoutMs: 5000 }), 'reborn first', 'the submitting handle follows the retry too');
  const rerun = healer.seen[0];
  assert.ok(rerun !== undefined);
  assert.equal(rerun.id, first.id);
  assert.equal(rerun.headers['x-task-run'], 2);
  assert.equal(rerun.headers['x-task-attempt'], undefined, 'attempt 1: the header is left out (docs/task-protocol.md, section 2)');
  assert.equal(rerun.headers['traceparent'], '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'trace context kept');
  assert.equal(rerun.properties.replyTo, undefined, 'nobody waits on a reply queue for a retried run');

  // The in-process methods do what the requests do.
  const again = await keeper.retry(second.id);
  assert.equal(again.run, 2);
  await waitFor(async () => (await keeper.get(second.id))?.state === 'succeeded', 3000, 'the second task succeeded');
  assert.deepEqual(await drain(ch, deadLetterQueueName(name)), []);
  assert.equal((await keeper.list({ name, state: 'succeeded' })).length, 2);
  await assert.rejects(keeper.retry(second.id), (error: unknown) => error instanceof KeeperRequestError && error.code === 'conflict');
  await assert.rejects(tasks.retry(randomUUID()), (error: unknown) => error instanceof KeeperRequestError && error.code === 'not_found');
});

test('a handle made from an id alone (a task submitted elsewhere) gets its result from the keeper', async (t) => {
  const { url, tasks } = await setUp(t);
  const name = uniqueTaskName('elsewhere');
  const submitter = connectTasks({ url });
  t.after(() => submitter.close());
  const submitted = await submitter.submit(name, 3);
  await submitter.close();
  const handle = tasks.handle<number>(submitted.id);
  assert.equal(handle.name, undefined);
  await assert.rejects(handle.result({ timeoutMs: 200 }), { name: 'TaskResultTimeoutError' });
  await fakeWorker(t, url, name, (task) => ({ succeed: (task.payload as number) + 1 }));
  assert.equal(await handle.result({ timeoutMs: 5000 }), 4);
  assert.equal((await handle.status())?.state, 'succeeded');
});

test('finished tasks are deleted once past the retention period', async (t) => {
  const { url, store, tasks } = await setUp(t, { retentionMs: 100, retentionCheckIntervalMs: 50 });
  const name = uniqueTaskName('brief');
  await fakeWorker(t, url, name, () => ({ succeed: true }));
  const done = await tasks.submit(name, 1);
  await done.result({ timeoutMs: 5000 });
  const waiting = await tasks.submit(uniqueTaskName('unworked'), 2);
  await waitFor(async () => (await store.get(done.id))?.state === 'succeeded', 3000, 'the succeeded record');
  await waitFor(async () => (await store.get(done.id)) === undefined, 3000, 'the finished record deleted');
  assert.equal((await store.get(waiting.id))?.state, 'queued', 'unfinished tasks stay');
});
