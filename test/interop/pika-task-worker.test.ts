/**
 * A Python task worker written from docs/task-protocol.md alone (test/interop/pika/task_worker.py,
 * pika and the standard library) runs tasks the TypeScript SDK submits to an in-process Warren, and
 * the SDK gets their results: a sum, a success after two retries through wait queues, a non-retryable
 * failure, a task whose attempts run out, an attempt that times out, and messages no worker can run.
 * A result keeper records the Python worker's events too. In CI a missing python3 or pika fails the
 * suite; elsewhere it is skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { waitFor } from '../helpers/amqp.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { MemoryResultStore } from '../helpers/memory-result-store.js';
import { assertSucceeded, runPython, skip, unavailable, type RunResult } from '../helpers/python.js';
import { TaskProbe } from '../helpers/task-probe.js';
import { TaskFailedError, connectTasks, startKeeper, type Keeper, type TaskEvent, type TaskHandle, type TasksClient } from '../../src/tasks/index.js';

let broker: TestBroker;
let keeper: Keeper;
let client: TasksClient;
const probes = new Map<string, TaskProbe>();

before(async () => {
  if (skip !== false) return;
  broker = await startTestBroker();
  keeper = await startKeeper({ url: broker.url, store: new MemoryResultStore() });
  client = connectTasks({ url: broker.url });
  for (const name of ['py-add', 'py-flaky', 'py-fatal', 'py-slow']) probes.set(name, await TaskProbe.open(broker.url, name));
});

after(async () => {
  await client?.close();
  for (const probe of probes.values()) await probe.close();
  await keeper?.close();
  await broker?.close();
});

/** What the worker printed for one settled delivery. */
interface Settled {
  id: string | null;
  name: string;
  attempt: number | null;
  outcome: string;
}

/** Starts the Python worker on `names`; it exits once `tasks` tasks have ended. */
function pythonWorker(tasks: number, ...names: string[]): Promise<RunResult> {
  return runPython('task_worker.py', [broker.host, String(broker.port), String(tasks), '15', ...names], 20_000);
}

/** The task's result; fails at once, with the worker's output, when the worker exits with an error first. */
function resultOf<R>(handle: TaskHandle<R>, worker: Promise<RunResult>): Promise<R> {
  const crashed = worker.then((run) => {
    if (run.code === 0) return new Promise<never>(() => {});
    throw new Error(`the Python worker exited with ${run.code}:\n${run.stderr}`);
  });
  return Promise.race([handle.result({ timeoutMs: 10_000 }), crashed]);
}

/** Whether queue `name` exists (a passive declare on a throwaway connection). */
async function queueExists(name: string): Promise<boolean> {
  const connection = await amqplib.connect(broker.url);
  connection.on('error', () => {});
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => {});
    return await channel.checkQueue(name).then(() => true, () => false);
  } finally {
    await connection.close();
  }
}

/** The worker's exit checked, and its report of each delivery. */
function settledBy(run: RunResult): Settled[] {
  assertSucceeded(run);
  return run.stdout.trim().split('\n').map((line) => JSON.parse(line) as Settled);
}

function probe(name: string): TaskProbe {
  const found = probes.get(name);
  assert.ok(found !== undefined, `a probe on ${name}`);
  return found;
}

/** The task's events of `kind`, by attempt. */
function eventsOf(name: string, id: string, kind: TaskEvent['kind']): TaskEvent[] {
  return probe(name).eventsOf(id).filter((event) => event.kind === kind).sort((a, b) => a.attempt - b.attempt);
}

/** Waits until the keeper's record of `id` is in `state`, and returns it. */
async function keptRecord(id: string, state: string): Promise<Awaited<ReturnType<Keeper['get']>>> {
  await waitFor(async () => (await keeper.get(id))?.state === state, 5000, `record of ${id} in state ${state}`);
  return keeper.get(id);
}

describe('a pika task worker', { timeout: 30_000 }, () => {
  test('python3 with pika is available', { skip }, () => {
    assert.equal(unavailable, undefined, unavailable);
  });

  test('py-add: the SDK awaits the sum the Python worker computed', { skip }, async () => {
    const worker = pythonWorker(1, 'py-add');
    const handle = await client.submit('py-add', { a: 2, b: 40 });
    assert.equal(await resultOf(handle, worker), 42);
    assert.deepEqual(settledBy(await worker), [{ id: handle.id, name: 'py-add', attempt: 1, outcome: 'succeeded' }]);
    await probe('py-add').waitForEvent(handle.id, 'succeeded');
    // The SDK's submit publishes the queued event; the Python worker announces every start.
    assert.deepEqual(probe('py-add').kindsOf(handle.id), ['queued', 'started', 'succeeded']);
    assert.match(String(eventsOf('py-add', handle.id, 'started')[0]?.worker), /^.+:\d+:[0-9a-f]{6}$/);
    const record = await keptRecord(handle.id, 'succeeded');
    assert.equal(record?.result, 42);
    assert.equal(record?.attempts, 1);
  });

  test('py-flaky: two retries through rounded wait queues, then success on attempt 3', { skip }, async () => {
    const worker = pythonWorker(1, 'py-flaky');
    // 125 ms rounds half up to 130 ms (Python's round() would give 120), then 250 ms.
    const backoff = { kind: 'exponential', delayMs: 125, jitter: false } as const;
    const handle = await client.submit('py-flaky', { job: 7 }, { attempts: 3, backoff });
    assert.deepEqual(await resultOf(handle, worker), { attempt: 3, echo: { job: 7 } });
    const settled = settledBy(await worker);
    assert.deepEqual(settled.map((s) => [s.attempt, s.outcome]), [[1, 'retrying'], [2, 'retrying'], [3, 'succeeded']]);
    await probe('py-flaky').waitForEvent(handle.id, 'succeeded');
    const retrying = eventsOf('py-flaky', handle.id, 'retrying');
    const started = eventsOf('py-flaky', handle.id, 'started');
    assert.deepEqual(retrying.map((event) => (event.retryAt ?? 0) - event.at), [130, 250]);
    assert.deepEqual(retrying.map((event) => [event.error?.name, event.error?.retryable]), [['RuntimeError', true], ['RuntimeError', true]]);
    for (const [index, event] of retrying.entries()) {
      const next = started[index + 1];
      assert.ok(next !== undefined && next.at >= (event.retryAt ?? 0) - 2, `attempt ${index + 2} started after its backoff`);
    }
    assert.ok(await queueExists('warren.task.py-flaky.wait.130'), 'the retry waited in the wait queue of 130 ms');
    assert.ok(await queueExists('warren.task.py-flaky.wait.250'), 'the retry waited in the wait queue of 250 ms');
    const record = await keptRecord(handle.id, 'succeeded');
    assert.equal(record?.attempts, 3);
  });

  test('py-fatal: a non-retryable error fails the task at once', { skip }, async () => {
    const worker = pythonWorker(1, 'py-fatal');
    const handle = await client.submit('py-fatal', { order: 9 }, { attempts: 5 });
    const failure = await resultOf(handle, worker).then(
      () => assert.fail('py-fatal must not succeed'),
      (error: unknown) => error,
    );
    assert.ok(failure instanceof TaskFailedError, String(failure));
    assert.equal(failure.state, 'failed');
    assert.equal(failure.error.name, 'NonRetryableError');
    assert.equal(failure.error.retryable, false);
    assert.equal(failure.error.message, 'cannot process {"order": 9}');
    assert.deepEqual(settledBy(await worker).map((s) => s.outcome), ['failed']);
    await keptRecord(handle.id, 'failed');
    await probe('py-fatal').waitForEvent(handle.id, 'failed');
    assert.deepEqual(probe('py-fatal').kindsOf(handle.id), ['queued', 'started', 'failed']);
    assert.equal((await probe('py-fatal').drainDeadLetters()).length, 0, 'a failed task is not dead-lettered');
  });

  test('py-flaky with 2 attempts goes dead: a copy with x-task-error in the dead-letter queue', { skip }, async () => {
    const worker = pythonWorker(1, 'py-flaky');
    const handle = await client.submit('py-flaky', { job: 8 }, { attempts: 2, backoff: { kind: 'fixed', delayMs: 20 } });
    await assert.rejects(resultOf(handle, worker), (error: unknown) => {
      return error instanceof TaskFailedError && error.state === 'dead' && error.error.name === 'RuntimeError' && error.error.retryable;
    });
    assert.deepEqual(settledBy(await worker).map((s) => s.outcome), ['retrying', 'dead']);
    const [dead, ...others] = await probe('py-flaky').drainDeadLetters();
    assert.ok(dead !== undefined && others.length === 0, 'one dead letter');
    const headers = dead.properties.headers ?? {};
    assert.equal(dead.bodyString(), '{"job":8}');
    assert.equal(String(headers['x-task-id']), handle.id);
    assert.equal(dead.properties.deliveryMode, 2);
    assert.equal(Number(headers['x-task-attempt']), 2);
    assert.equal(headers['x-death'], undefined, 'dead-lettering headers dropped');
    assert.deepEqual(JSON.parse(String(headers['x-task-error'])), failureOf(await keptRecord(handle.id, 'dead')));
  });

  test('py-slow: an attempt past x-task-timeout-ms fails with TimeoutError', { skip }, async () => {
    const worker = pythonWorker(1, 'py-slow');
    const handle = await client.submit('py-slow', { ms: 5000 }, { timeoutMs: 100 });
    await assert.rejects(resultOf(handle, worker), (error: unknown) => {
      return error instanceof TaskFailedError && error.state === 'dead' && error.error.name === 'TimeoutError' && error.error.retryable;
    });
    assert.deepEqual(settledBy(await worker).map((s) => s.outcome), ['dead']);
  });

  test('poison and unparsable messages go to the dead-letter queue', { skip }, async () => {
    const worker = pythonWorker(2, 'py-add');
    await probe('py-add').publishRaw('{"a":1,"b":2}', { 'x-task-name': 'py-add', 'x-task-attempt': 1 });
    const id = await probe('py-add').submit(null, { body: 'not json' });
    assert.deepEqual(settledBy(await worker).map((s) => [s.id, s.outcome]), [[null, 'poison'], [id, 'dead']]);
    const reply = await probe('py-add').waitForReply(id);
    assert.equal(reply.state, 'dead');
    await probe('py-add').waitForEvent(id, 'dead');
    assert.deepEqual(probe('py-add').kindsOf(id), ['dead'], 'no started event for a body that does not parse');
    const errors = (await probe('py-add').drainDeadLetters()).map((message) => {
      const error = JSON.parse(String(message.properties.headers?.['x-task-error'])) as { name: string; retryable: boolean };
      return [error.name, error.retryable];
    });
    assert.deepEqual(errors, [['MalformedTaskError', false], ['MalformedTaskError', false]]);
  });
});

/** The error a keeper record holds. */
function failureOf(record: Awaited<ReturnType<Keeper['get']>>): unknown {
  assert.ok(record?.error !== undefined, 'the record has an error');
  return record.error;
}
