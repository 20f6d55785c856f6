/**
 * The task worker against an in-process Warren: raw task messages published as docs/task-protocol.md
 * describes them, and the worker's events, replies, retries, dead letters, timeouts, concurrency and
 * shutdown observed over AMQP.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { delay, uniqueName, waitFor } from '../helpers/amqp.js';
import { TaskProbe } from '../helpers/task-probe.js';
import { TaskHeader, taskQueueName, type TaskError } from '../../src/tasks/protocol.js';
import { LOST_DELIVERIES_MAX, STARTED_EVENT_DELAY_MS } from '../../src/tasks/worker-attempt.js';
import amqplib from 'amqplib';
import { NonRetryableError, TaskTimeoutError, WorkerShutdownError, createWorker, type TaskContext, type Worker, type WorkerOptions } from '../../src/tasks/worker.js';

let broker: TestBroker;
const opened: { close(): Promise<void> }[] = [];

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  for (const resource of opened.reverse()) await resource.close().catch(() => undefined);
  await broker.close();
});

/** A probe on a fresh task name. */
async function openProbe(url = broker.url): Promise<TaskProbe> {
  const probe = await TaskProbe.open(url, uniqueName('task').replaceAll('warren-test.', 'wt-'));
  opened.push(probe);
  return probe;
}

/** A started worker with one handler; a lost connection fails the test. */
async function startWorker(
  name: string,
  handler: (payload: never, ctx: TaskContext) => unknown,
  options: Partial<WorkerOptions> = {},
): Promise<Worker> {
  const worker = createWorker({ url: broker.url, concurrency: 1, ...options });
  worker.handle(name, handler);
  worker.on('error', (error) => assert.fail(`worker error: ${error.message}`));
  await worker.start();
  opened.push(worker);
  return worker;
}

test('a task runs once: a succeeded event carrying its start (a quick handler sends no started event), a reply to reply_to, the delivery acked', async () => {
  const probe = await openProbe();
  let seen: TaskContext | undefined;
  const worker = await startWorker(probe.name, (payload: { n: number }, ctx) => {
    seen = ctx;
    return { doubled: payload.n * 2 };
  });
  const id = await probe.submit({ n: 21 }, { maxAttempts: 3, headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' } });
  const reply = await probe.waitForReply(id);
  assert.deepEqual(reply, { protocol: 1, id, name: probe.name, state: 'succeeded', attempt: 1, result: { doubled: 42 } });
  await probe.waitForEvent(id, 'succeeded');
  assert.deepEqual(probe.kindsOf(id), ['succeeded']);
  const [succeeded] = probe.eventsOf(id);
  assert.equal(succeeded?.worker, worker.workerId);
  assert.deepEqual(succeeded?.result, { doubled: 42 });
  assert.ok(succeeded?.startedAt !== undefined && succeeded.at >= succeeded.startedAt && succeeded.at - succeeded.startedAt < STARTED_EVENT_DELAY_MS);
  assert.equal(seen?.id, id);
  assert.equal(seen?.name, probe.name);
  assert.equal(seen?.attempt, 1);
  assert.equal(seen?.maxAttempts, 3);
  assert.ok(seen !== undefined && Math.abs(seen.enqueuedAt - Date.now()) < 5000);
  assert.equal(seen?.headers['traceparent'], '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
  assert.equal(seen?.signal.aborted, false);
  // Acked: closing the worker leaves nothing to requeue.
  await worker.close();
  assert.equal((await probe.workQueue()).messageCount, 0);
});

test('fixed backoff: failed attempts come back after the delay, retrying events carry retryAt', async () => {
  const probe = await openProbe();
  const starts: number[] = [];
  await startWorker(probe.name, (_payload, ctx) => {
    starts.push(Date.now());
    if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} fails`);
    return 'third time lucky';
  });
  const id = await probe.submit(null, { maxAttempts: 3, backoff: { kind: 'fixed', delayMs: 300, jitter: false } });
  assert.equal((await probe.waitForReply(id)).result, 'third time lucky');
  assert.deepEqual(probe.kindsOf(id), ['retrying', 'retrying', 'succeeded']);
  assertGaps(starts, [300, 300]);
  assertGaps(probe.eventsOf(id).map((event) => event.startedAt ?? 0), [300, 300]);
  for (const retrying of probe.eventsOf(id).filter((event) => event.kind === 'retrying')) {
    assert.equal(retrying.retryAt !== undefined && retrying.retryAt - retrying.at, 300);
    assert.equal(retrying.error?.message, `attempt ${retrying.attempt} fails`);
    assert.equal(retrying.error?.retryable, true);
  }
  assert.deepEqual(probe.eventsOf(id).map((event) => event.attempt), [1, 2, 3]);
});

test('a handler that runs a while sends a started event (at its start) before its outcome; reporting progress sends it at once', async () => {
  const probe = await openProbe();
  const worker = await startWorker(probe.name, async (payload: { ms: number; progress: boolean }, ctx) => {
    if (payload.progress) ctx.progress(10);
    await delay(payload.ms);
    return 'done';
  });
  const slow = await probe.submit({ ms: STARTED_EVENT_DELAY_MS * 3, progress: false });
  const started = await probe.waitForEvent(slow, 'started');
  assert.equal(started.worker, worker.workerId);
  await probe.waitForReply(slow);
  await probe.waitForEvent(slow, 'succeeded');
  assert.deepEqual(probe.kindsOf(slow), ['started', 'succeeded']);
  const succeeded = probe.eventsOf(slow)[1];
  assert.equal(succeeded?.startedAt, started.at, 'both carry the same start');
  assert.ok(succeeded !== undefined && succeeded.at - started.at >= STARTED_EVENT_DELAY_MS * 3 - 5);

  const reporting = await probe.submit({ ms: 0, progress: true });
  await probe.waitForReply(reporting);
  await probe.waitForEvent(reporting, 'succeeded');
  assert.deepEqual(probe.kindsOf(reporting), ['started', 'progress', 'succeeded'], 'progress made the start known first');
});

test('exponential backoff doubles the delay between attempts', async () => {
  const probe = await openProbe();
  const starts: number[] = [];
  await startWorker(probe.name, (_payload, ctx) => {
    starts.push(Date.now());
    if (ctx.attempt < 4) throw new Error('not yet');
    return 'done';
  });
  const id = await probe.submit(null, { maxAttempts: 4, backoff: { kind: 'exponential', delayMs: 100, jitter: false } });
  await probe.waitForReply(id);
  assertGaps(starts, [100, 200, 400]);
  const retryDelays = probe.eventsOf(id).filter((event) => event.kind === 'retrying').map((event) => (event.retryAt ?? 0) - event.at);
  assert.deepEqual(retryDelays, [100, 200, 400]);
});

test('exhausted attempts: the message goes to the dead-letter queue with x-task-error, a dead event and reply', async () => {
  const probe = await openProbe();
  let calls = 0;
  await startWorker(probe.name, () => {
    calls += 1;
    throw new TypeError('always broken');
  });
  const id = await probe.submit({ keep: 'me' }, { maxAttempts: 2, backoff: { kind: 'fixed', delayMs: 20, jitter: false } });
  const reply = await probe.waitForReply(id);
  assert.equal(reply.state, 'dead');
  assert.equal(reply.attempt, 2);
  assert.equal(reply.error?.name, 'TypeError');
  assert.deepEqual(probe.kindsOf(id), ['retrying', 'dead']);
  assert.equal(calls, 2);
  const [dead, ...others] = await probe.drainDeadLetters();
  assert.equal(others.length, 0);
  assert.ok(dead !== undefined);
  assert.deepEqual(JSON.parse(dead.bodyString() ?? ''), { keep: 'me' });
  const headers = dead.properties.headers ?? {};
  assert.equal(headers[TaskHeader.id], id);
  assert.equal(headers[TaskHeader.attempt], 2);
  assert.equal(headers['x-death'], undefined, 'the broker\'s dead-lettering records are not carried along');
  const error = JSON.parse(String(headers[TaskHeader.error])) as TaskError;
  assert.equal(error.message, 'always broken');
  assert.equal(error.retryable, true);
  assert.equal(dead.properties.deliveryMode, 2);
});

test('NonRetryableError fails the task at once: failed event and reply, no retry, nothing dead-lettered', async () => {
  const probe = await openProbe();
  let calls = 0;
  await startWorker(probe.name, () => {
    calls += 1;
    throw new NonRetryableError('bad input');
  });
  const id = await probe.submit(null, { maxAttempts: 5 });
  const reply = await probe.waitForReply(id);
  assert.equal(reply.state, 'failed');
  assert.deepEqual(reply.error && { name: reply.error.name, message: reply.error.message, retryable: reply.error.retryable }, {
    name: 'NonRetryableError', message: 'bad input', retryable: false,
  });
  await probe.waitForEvent(id, 'failed');
  assert.deepEqual(probe.kindsOf(id), ['failed']);
  assert.equal(calls, 1);
  assert.equal((await probe.drainDeadLetters()).length, 0);
});

test('a timeout aborts ctx.signal and counts as a failed, retryable attempt', async () => {
  const probe = await openProbe();
  const reasons: unknown[] = [];
  await startWorker(probe.name, (_payload, ctx) => new Promise((_resolve, reject) => {
    ctx.signal.addEventListener('abort', () => {
      reasons.push(ctx.signal.reason);
      reject(ctx.signal.reason as Error);
    });
  }));
  const id = await probe.submit(null, { maxAttempts: 2, timeoutMs: 100, backoff: { kind: 'fixed', delayMs: 10, jitter: false } });
  const reply = await probe.waitForReply(id);
  assert.equal(reply.state, 'dead');
  assert.equal(reply.error?.name, 'TimeoutError');
  assert.deepEqual(probe.kindsOf(id), ['started', 'retrying', 'started', 'dead']);
  assert.equal(probe.eventsOf(id)[1]?.error?.name, 'TimeoutError');
  assert.equal(reasons.length, 2);
  assert.ok(reasons.every((reason) => reason instanceof TaskTimeoutError));
  const [started, retrying] = probe.eventsOf(id);
  assert.ok(started !== undefined && retrying !== undefined && retrying.at - started.at >= 95);
});

test('a handler that ignores its signal past the timeout does not keep the task: it ends dead', async () => {
  const probe = await openProbe();
  await startWorker(probe.name, () => new Promise(() => {}), { concurrency: 2 });
  const id = await probe.submit(null, { timeoutMs: 50 });
  assert.equal((await probe.waitForReply(id)).state, 'dead');
});

for (const nameCount of [1, 2]) {
  test(`concurrency bounds the handlers running at once, over ${nameCount} task name(s)`, async () => {
    const probes = await Promise.all(Array.from({ length: nameCount }, () => openProbe()));
    let running = 0;
    let most = 0;
    const handler = async (): Promise<void> => {
      running += 1;
      most = Math.max(most, running);
      await delay(30);
      running -= 1;
    };
    const worker = createWorker({ url: broker.url, concurrency: 3 });
    for (const probe of probes) worker.handle(probe.name, handler);
    opened.push(worker);
    await worker.start();
    const submitted = await Promise.all(probes.flatMap((probe) => Array.from({ length: 8 }, async () => ({ probe, id: await probe.submit(null) }))));
    await Promise.all(submitted.map(({ probe, id }) => probe.waitForReply(id, 10_000)));
    assert.equal(most, 3);
  });
}

test('close() lets running handlers finish within the deadline and requeues the ones that do not', async () => {
  const probe = await openProbe();
  let shutdownReason: unknown;
  const worker = await startWorker(probe.name, async (payload: { ms: number }, ctx) => {
    if (payload.ms === 0) {
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve));
      shutdownReason = ctx.signal.reason;
      return 'aborted';
    }
    await delay(payload.ms);
    return 'finished';
  }, { concurrency: 2, shutdownTimeoutMs: 400 });
  const quick = await probe.submit({ ms: 150 });
  const stuck = await probe.submit({ ms: 0 });
  await probe.waitForEvent(quick, 'started');
  await probe.waitForEvent(stuck, 'started');
  const closing = Date.now();
  await worker.close();
  const took = Date.now() - closing;
  assert.ok(took >= 380 && took < 2000, `close took ${took} ms`);
  assert.equal((await probe.waitForReply(quick)).result, 'finished');
  assert.ok(shutdownReason instanceof WorkerShutdownError);
  assert.deepEqual(probe.kindsOf(stuck), ['started'], 'the requeued attempt records no outcome');
  await waitFor(async () => (await probe.workQueue()).messageCount === 1, 2000, 'the requeued task');
  // Another worker picks the requeued task up.
  await startWorker(probe.name, () => 'second worker');
  assert.equal((await probe.waitForReply(stuck)).result, 'second worker');
});

test('close() gives prefetched deliveries whose handler never started straight back to the queue', async () => {
  const probe = await openProbe();
  const ran: number[] = [];
  const worker = await startWorker(probe.name, async (payload: { n: number }) => {
    ran.push(payload.n);
    await delay(300);
    return payload.n;
  }, { concurrency: 1, shutdownTimeoutMs: 5000 });
  const first = await probe.submit({ n: 1 });
  await probe.submit({ n: 2 });
  await probe.submit({ n: 3 });
  await probe.waitForEvent(first, 'started');
  await worker.close();
  assert.deepEqual(ran, [1], 'only the running handler finished; the prefetched ones did not run');
  assert.equal((await probe.waitForReply(first)).result, 1);
  await waitFor(async () => (await probe.workQueue()).messageCount === 2, 2000, 'the two prefetched tasks back in the queue');
});

test('a task that came back to its queue too often without an outcome is dead, not tried again', { skip: process.env['WARREN_TEST_URL'] ? 'x-delivery-count is added by Warren (and quorum queues)' : false }, async () => {
  const probe = await openProbe();
  const id = await probe.submit('crashes its workers');
  // Stand-ins for workers that died holding the task: each takes it and gives it back without an outcome.
  const connection = await amqplib.connect(broker.url);
  const channel = await connection.createChannel();
  for (let returned = 0; returned < LOST_DELIVERIES_MAX; returned++) {
    const message = await channel.get(taskQueueName(probe.name), { noAck: false });
    assert.ok(message !== false, 'the task is back in its queue');
    channel.nack(message, false, true);
  }
  await connection.close();
  let ran = false;
  await startWorker(probe.name, () => {
    ran = true;
    return 'never';
  });
  const reply = await probe.waitForReply(id);
  assert.equal(reply.state, 'dead');
  assert.equal(reply.error?.name, 'WorkerLostError');
  assert.equal(ran, false, 'the handler did not run again');
  assert.equal((await probe.drainDeadLetters()).length, 1);
});

test('close() with nothing running returns promptly and stops consuming', async () => {
  const probe = await openProbe();
  const worker = await startWorker(probe.name, () => 'ok', { shutdownTimeoutMs: 5000 });
  assert.equal((await probe.workQueue()).consumerCount, 1);
  const closing = Date.now();
  await worker.close();
  assert.ok(Date.now() - closing < 1000);
  assert.equal((await probe.workQueue()).consumerCount, 0);
  await probe.submit(null);
  await delay(100);
  assert.equal((await probe.workQueue()).messageCount, 1);
});

test('poison messages go to the dead-letter queue with an error and the worker carries on', async () => {
  const probe = await openProbe();
  const worker = await startWorker(probe.name, (payload: string) => payload.toUpperCase());
  const settled: string[] = [];
  worker.on('settled', (delivery) => settled.push(delivery.outcome));
  await probe.publishRaw('{"not":"a task"}', {});
  const badJson = await probe.submit(null, { body: '{oops' });
  const wrongName = await probe.submit(null, { headers: { [TaskHeader.name]: 'someone.else' } });
  const badAttempt = await probe.submit(null, { headers: { [TaskHeader.attempt]: 0 } });
  const fine = await probe.submit('still working');
  assert.equal((await probe.waitForReply(fine)).result, 'STILL WORKING');
  // A task whose headers are readable but whose body is not is dead: the submitter hears of it.
  const badJsonReply = await probe.waitForReply(badJson);
  assert.equal(badJsonReply.state, 'dead');
  assert.equal(badJsonReply.error?.name, 'MalformedTaskError');
  assert.deepEqual(probe.kindsOf(badJson), ['dead']);
  // The worker prefetches past its concurrency, so deliveries settle concurrently: compare as a set.
  await waitFor(() => settled.length === 5, 3000, 'five settled deliveries');
  assert.deepEqual([...settled].sort(), ['dead', 'poison', 'poison', 'poison', 'succeeded']);
  const deadLetters = await probe.drainDeadLetters();
  assert.equal(deadLetters.length, 4);
  const errors = deadLetters.map((message) => (JSON.parse(String(message.properties.headers?.[TaskHeader.error])) as TaskError).message);
  for (const expected of [/x-task-id/, /not JSON/, /x-task-name/, /x-task-attempt/]) {
    assert.equal(errors.filter((error) => expected.test(error)).length, 1, `one dead letter for ${String(expected)}: ${errors.join(' | ')}`);
  }
  assert.ok(deadLetters.some((message) => message.bodyString() === '{oops'), 'the unparsable body is kept as it was');
  assert.equal(probe.eventsOf(wrongName).length + probe.eventsOf(badAttempt).length, 0);
});

test('a result JSON cannot carry fails the task without retries', async () => {
  const probe = await openProbe();
  await startWorker(probe.name, () => ({ big: 1n }));
  const id = await probe.submit(null, { maxAttempts: 3 });
  const reply = await probe.waitForReply(id);
  assert.equal(reply.state, 'failed');
  assert.match(reply.error?.message ?? '', /not JSON-encodable/);
});

test('the worker consumes only the queues of the names it handles', async () => {
  const handled = await openProbe();
  const unhandled = await openProbe();
  await startWorker(handled.name, () => 'mine');
  const other = await unhandled.submit(null);
  const mine = await handled.submit(null);
  await handled.waitForReply(mine);
  await delay(50);
  assert.deepEqual(await unhandled.workQueue(), { name: `warren.task.${unhandled.name}`, messageCount: 1, consumerCount: 0 });
  assert.equal(unhandled.eventsOf(other).length, 0);
});

test('a lost connection is reported as an error and closes the worker', { skip: process.env['WARREN_TEST_URL'] ? 'stops its own broker' : false }, async () => {
  const own = await startTestBroker();
  try {
    const probe = await TaskProbe.open(own.url, uniqueName('lost').replaceAll('warren-test.', 'wt-'));
    const worker = createWorker({ url: own.url, concurrency: 1 });
    let aborted: unknown;
    worker.handle(probe.name, (_payload, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve((aborted = ctx.signal.reason)))));
    const failed = new Promise<Error>((resolve) => worker.on('error', resolve));
    const closed = new Promise<void>((resolve) => worker.on('close', resolve));
    await worker.start();
    const id = await probe.submit(null);
    await probe.waitForEvent(id, 'started');
    await own.close();
    const error = await failed;
    assert.match(error.message, /closed|lost|forced/i);
    await closed;
    assert.ok(aborted instanceof Error, 'the running handler is aborted');
    await worker.close();
  } finally {
    await own.close();
  }
});

test('handle() and start() refuse what cannot work', async () => {
  const worker = createWorker({ url: broker.url, concurrency: 1 });
  assert.throws(() => worker.handle('has space', () => undefined), /invalid task name/);
  await assert.rejects(worker.start(), /no handlers/);
  assert.throws(() => createWorker({ url: broker.url, concurrency: 0 }), /concurrency/);
});

/** Each gap between consecutive start times is at least the expected delay, and not far above it. */
function assertGaps(starts: number[], expectedMs: number[]): void {
  const gaps = starts.slice(1).map((start, index) => start - (starts[index] ?? 0));
  assert.equal(gaps.length, expectedMs.length, `gaps ${gaps.join(', ')}`);
  gaps.forEach((gap, index) => {
    const expected = expectedMs[index] ?? 0;
    assert.ok(gap >= expected - 5 && gap < expected + 500, `gap ${index + 1} was ${gap} ms, expected about ${expected} ms`);
  });
}
