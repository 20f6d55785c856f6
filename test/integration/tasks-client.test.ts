/**
 * Issue 5, the task client (src/tasks/client.ts) on an in-process Warren: what submit publishes, on the
 * wire, delayed submission through a wait queue, and result() settling from a protocol-following
 * worker's reply (no keeper runs in these tests, so every result here came by reply), or timing out.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openClient, waitFor } from '../helpers/amqp.js';
import { startFakeWorker } from '../helpers/fake-task-worker.js';
import { headerFieldTypes, startTasksBroker, uniqueTaskName } from '../helpers/tasks.js';
import { connectTasks, type TasksClient } from '../../src/tasks/client.js';
import { KEEPER_QUEUE, TASK_EVENTS_EXCHANGE, taskQueueName, waitQueueName } from '../../src/tasks/protocol.js';
import { KeeperRequestError, TaskFailedError, TaskResultTimeoutError, TaskValidationError } from '../../src/tasks/task-errors.js';

function tasksClient(t: { after: (fn: () => Promise<void>) => void }, url: string, keeperTimeoutMs?: number): TasksClient {
  const client = connectTasks(keeperTimeoutMs === undefined ? { url } : { url, keeperTimeoutMs });
  t.after(() => client.close());
  return client;
}

test('submit publishes the run\'s queued event, then one persistent task message the protocol describes to its work queue', async (t) => {
  const broker = await startTasksBroker(t);
  const tasks = tasksClient(t, broker.url);
  const name = uniqueTaskName('resize');
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const before = Date.now();
  const handle = await tasks.submit(name, { width: 640, tags: ['a'] }, {
    attempts: 3,
    priority: 5,
    timeoutMs: 30_000,
    backoff: { kind: 'fixed', delayMs: 250 },
    traceparent,
  });
  assert.equal(handle.name, name);
  assert.match(handle.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v7');

  const amqp = await openClient(t, broker.url);
  const ch = await amqp.channel();
  const queuedMessage = await ch.get(KEEPER_QUEUE, { noAck: true });
  assert.ok(queuedMessage !== false, 'the queued event waits in the keeper queue');
  assert.equal(queuedMessage.fields.exchange, TASK_EVENTS_EXCHANGE);
  assert.equal(queuedMessage.fields.routingKey, `queued.${name}`, 'an event alone, not a batch');
  assert.equal(queuedMessage.properties.deliveryMode, 2);
  assert.equal(queuedMessage.properties.contentType, 'application/json');
  assert.equal(await ch.get(KEEPER_QUEUE, { noAck: true }), false, 'one event per submit');
  const queuedEvent = JSON.parse(queuedMessage.content.toString()) as { enqueuedAt: number };
  const { enqueuedAt } = queuedEvent;
  assert.ok(enqueuedAt >= before && enqueuedAt <= Date.now());
  assert.deepEqual(queuedEvent, {
    protocol: 1, kind: 'queued', id: handle.id, name, run: 1, attempt: 1, at: enqueuedAt,
    payload: { width: 640, tags: ['a'] },
    options: { attempts: 3, backoff: { kind: 'fixed', delayMs: 250, jitter: true }, timeoutMs: 30_000, priority: 5, delayMs: 0 },
    enqueuedAt,
  });

  const task = await ch.get(taskQueueName(name), { noAck: true });
  assert.ok(task !== false, 'the task message waits in the work queue');
  assert.deepEqual(JSON.parse(task.content.toString()), { width: 640, tags: ['a'] }, 'the body is the payload as JSON');
  const { properties } = task;
  assert.equal(properties.contentType, 'application/json');
  assert.equal(properties.deliveryMode, 2);
  assert.equal(properties.priority, 5);
  assert.ok(typeof properties.replyTo === 'string' && properties.replyTo !== '', 'reply_to names the client reply queue');
  // The properties that would only repeat the headers (task id, name, submission time) are left out.
  assert.equal(properties.messageId, undefined);
  assert.equal(properties.correlationId, undefined);
  assert.equal(properties.type, undefined);
  assert.equal(properties.timestamp, undefined);
  // Headers holding what their absence stands for (protocol 1, attempt 1, jitter on, run 1) are left out.
  assert.deepEqual(properties.headers, {
    'x-task-id': handle.id,
    'x-task-name': name,
    'x-task-max-attempts': 3,
    'x-task-timeout-ms': 30_000,
    'x-task-enqueued-at': enqueuedAt,
    'x-task-backoff': 'fixed',
    'x-task-backoff-delay-ms': 250,
    traceparent,
  });
  const header = amqp.receivedHeaders().at(-1);
  assert.ok(header !== undefined);
  assert.deepEqual(headerFieldTypes(header.payload), {
    'x-task-id': 'S',
    'x-task-name': 'S',
    'x-task-max-attempts': 'I',
    'x-task-timeout-ms': 'l',
    'x-task-enqueued-at': 'l',
    'x-task-backoff': 'S',
    'x-task-backoff-delay-ms': 'l',
    traceparent: 'S',
  });

  // Every other option away from its default is written; with the defaults only the required headers go out.
  await tasks.submit(name, null, { attempts: 2, backoff: { kind: 'exponential', delayMs: 1000, jitter: false } });
  await tasks.submit(name, null);
  const headersOf = async (): Promise<Record<string, unknown>> => {
    const message = await ch.get(taskQueueName(name), { noAck: true });
    assert.ok(message !== false);
    const { 'x-task-id': id, 'x-task-enqueued-at': at, ...rest } = message.properties.headers ?? {};
    assert.ok(typeof id === 'string' && typeof at === 'number', 'the task id and the submit time are always there');
    return rest;
  };
  const required = { 'x-task-name': name };
  assert.deepEqual(await headersOf(), { ...required, 'x-task-max-attempts': 2, 'x-task-backoff-jitter': false });
  assert.deepEqual(await headersOf(), required);
});

test('a delayed task waits in the wait queue of its delay and reaches the work queue after it', async (t) => {
  const broker = await startTasksBroker(t);
  const tasks = tasksClient(t, broker.url);
  const name = uniqueTaskName('later');
  const submittedAt = Date.now();
  await tasks.submit(name, 'later', { delayMs: 400 });
  const ch = await (await openClient(t, broker.url)).channel();
  assert.equal((await ch.checkQueue(waitQueueName(name, 400))).messageCount, 1);
  assert.equal((await ch.checkQueue(taskQueueName(name))).messageCount, 0);
  let arrivedAt = 0;
  await ch.consume(taskQueueName(name), (message) => {
    if (message !== null) arrivedAt = Date.now();
  }, { noAck: true });
  await waitFor(() => arrivedAt > 0, 3000, 'the delayed task in the work queue');
  assert.ok(arrivedAt - submittedAt >= 390, `arrived after ${arrivedAt - submittedAt} ms, expected about 400`);
});

test('result() resolves from the reply a protocol-following worker sends', async (t) => {
  const broker = await startTasksBroker(t);
  const tasks = tasksClient(t, broker.url);
  const name = uniqueTaskName('double');
  const worker = await startFakeWorker(broker.url, name, (task) => ({ succeed: { doubled: (task.payload as { n: number }).n * 2 } }));
  t.after(() => worker.close());
  const handle = await tasks.submit<{ n: number }, { doubled: number }>(name, { n: 21 });
  const result: { doubled: number } = await handle.result({ timeoutMs: 5000 });
  assert.deepEqual(result, { doubled: 42 });
  assert.deepEqual(await handle.result(), { doubled: 42 }, 'a second result() call gets the kept reply');
  // Many at once: each reply settles its own handle, and so many waiting results draw no listener-leak warning.
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.name);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const numbers = Array.from({ length: 25 }, (_, index) => index + 1);
  const handles = await Promise.all(numbers.map((n) => tasks.submit<{ n: number }, { doubled: number }>(name, { n })));
  const results = await Promise.all(handles.map((h) => h.result({ timeoutMs: 5000 })));
  assert.deepEqual(results.map((r) => r.doubled), numbers.map((n) => n * 2));
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(warnings.filter((name) => name === 'MaxListenersExceededWarning'), []);
});

test('result() rejects with TaskFailedError for a failed or dead task, carrying the state and the error', async (t) => {
  const broker = await startTasksBroker(t);
  const tasks = tasksClient(t, broker.url);
  const name = uniqueTaskName('doomed');
  const worker = await startFakeWorker(broker.url, name, (task) =>
    task.payload === 'fail'
      ? { fail: { name: 'NonRetryableError', message: 'bad input', retryable: false } }
      : { dead: { name: 'Error', message: 'still broken', retryable: true } },
  );
  t.after(() => worker.close());
  const failed = await tasks.submit(name, 'fail');
  await assert.rejects(failed.result({ timeoutMs: 5000 }), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.id, failed.id);
    assert.equal(error.state, 'failed');
    assert.deepEqual(error.error, { name: 'NonRetryableError', message: 'bad input', retryable: false });
    return true;
  });
  const dead = await tasks.submit(name, 'dead');
  await assert.rejects(dead.result({ timeoutMs: 5000 }), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.state, 'dead');
    assert.equal(error.error.message, 'still broken');
    return true;
  });
});

test('result({ timeoutMs }) rejects with TaskResultTimeoutError when no outcome comes in time', async (t) => {
  const broker = await startTasksBroker(t);
  const tasks = tasksClient(t, broker.url);
  const handle = await tasks.submit(uniqueTaskName('nobody'), null);
  const started = Date.now();
  await assert.rejects(handle.result({ timeoutMs: 150 }), (error: unknown) => {
    assert.ok(error instanceof TaskResultTimeoutError);
    assert.equal(error.id, handle.id);
    assert.equal(error.timeoutMs, 150);
    return true;
  });
  assert.ok(Date.now() - started < 1000);
});

test('submit refuses bad task names and options with TaskValidationError', async (t) => {
  const broker = await startTasksBroker(t);
  const tasks = tasksClient(t, broker.url);
  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['empty name', () => tasks.submit('', 1), /invalid task name/],
    ['name with a space', () => tasks.submit('a b', 1), /invalid task name/],
    ['attempts 0', () => tasks.submit('ok', 1, { attempts: 0 }), /attempts must be an integer from 1/],
    ['fractional attempts', () => tasks.submit('ok', 1, { attempts: 1.5 }), /attempts/],
    ['priority 10', () => tasks.submit('ok', 1, { priority: 10 }), /priority must be an integer from 0 to 9/],
    ['negative delay', () => tasks.submit('ok', 1, { delayMs: -1 }), /delayMs must be an integer from 0/],
    ['negative timeout', () => tasks.submit('ok', 1, { timeoutMs: -5 }), /timeoutMs/],
    ['unknown backoff', () => tasks.submit('ok', 1, { backoff: { kind: 'linear' as 'fixed' } }), /backoff.kind/],
    ['negative backoff delay', () => tasks.submit('ok', 1, { backoff: { delayMs: -1 } }), /backoff.delayMs/],
    ['payload without JSON', () => tasks.submit('ok', () => 1), /JSON/],
  ];
  for (const [what, submit, message] of cases) {
    await assert.rejects(submit(), (error: unknown) => error instanceof TaskValidationError && message.test(error.message), what);
  }
  const handle = await tasks.submit('ok', undefined);
  assert.equal(handle.name, 'ok', 'an undefined payload is sent as null');
});

test('get() without a running keeper fails with KeeperRequestError unavailable after keeperTimeoutMs', async (t) => {
  const broker = await startTasksBroker(t);
  const tasks = tasksClient(t, broker.url, 200);
  await assert.rejects(tasks.get('00000000-0000-4000-8000-000000000000'), (error: unknown) => {
    assert.ok(error instanceof KeeperRequestError);
    assert.equal(error.code, 'unavailable');
    return true;
  });
});

test('close() ends pending result() calls and refuses further calls', async (t) => {
  const broker = await startTasksBroker(t);
  const tasks = connectTasks({ url: broker.url });
  const handle = await tasks.submit(uniqueTaskName('abandoned'), 1);
  const pending = assert.rejects(handle.result(), /closed/);
  await tasks.close();
  await pending;
  await assert.rejects(tasks.submit('any', 1), /closed/);
  await assert.rejects(handle.result(), /closed/);
});
