/**
 * Issue 6's scale-out acceptance: the task layer (SDK, worker, result keeper) runs unchanged on
 * Debian's RabbitMQ without plugins, with PostgreSQL as the result store. One private RabbitMQ node
 * and one private PostgreSQL serve the whole file; both are started here and stopped afterwards.
 * Two keepers share them: one in this process, and `warren keeper` as a child process, whose HTTP
 * gateway authenticates against RabbitMQ's own users. They compete for the events and write the same
 * PostgreSQL store, so every check below also checks that several keepers on one store agree.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { waitFor } from '../helpers/amqp.js';
import { basicAuth, spawnKeeper, type KeeperProcess } from '../helpers/keeper-process.js';
import { parseSamples, sampleValue } from '../helpers/prometheus-text.js';
import { promtoolCheckMetrics, skip as promtoolSkip } from '../helpers/promtool.js';
import { skip as postgresSkip } from '../helpers/postgres.js';
import { startRabbitmqAndPostgres } from '../helpers/rabbitmq-and-postgres.js';
import { skip as rabbitmqSkip, type TestRabbitmq } from '../helpers/rabbitmq.js';
import { attemptStarts } from '../helpers/tasks.js';
import type { TaskView } from '../../src/http/task-view.js';
import {
  NonRetryableError,
  PostgresResultStore,
  TaskFailedError,
  connectTasks,
  createWorker,
  deadLetterQueueName,
  startKeeper,
  taskQueueName,
  type Keeper,
  type TaskEvent,
  type TaskEventKind,
  type TasksClient,
} from '../../src/tasks/index.js';

const options = { skip: rabbitmqSkip || postgresSkip, timeout: 20_000 };

let url: string;
let rabbitmq: TestRabbitmq;
let store: PostgresResultStore;
let client: TasksClient;
let keeper: Keeper;
/** `warren keeper`, the second keeper, on the same RabbitMQ and PostgreSQL. */
let standalone: KeeperProcess;
const ALICE = basicAuth('alice', 'rabbit-pw');
/** Stops what `before` started, newest first, however far it got. */
const cleanup: (() => Promise<unknown>)[] = [];

/** Handler calls per task id. */
const calls = new Map<string, number>();
/** Tasks the 'rmq.dlq' handler lets succeed. */
const healed = new Set<string>();
/** What the 'rmq.timeout' handler saw when its signal aborted. */
const aborts = new Map<string, { reasonName: string; afterMs: number }>();

function countCall(id: string): number {
  const count = (calls.get(id) ?? 0) + 1;
  calls.set(id, count);
  return count;
}

before(async () => {
  if (options.skip !== false) return;
  // Both servers start at once: RabbitMQ's few seconds of boot dominate the file's run time.
  const started = await startRabbitmqAndPostgres(cleanup);
  const { postgres } = started;
  rabbitmq = started.rabbitmq;
  url = rabbitmq.url;
  store = await PostgresResultStore.open(postgres.url);
  cleanup.push(() => store.close());
  keeper = await startKeeper({ url, store });
  cleanup.push(() => keeper.close());
  rabbitmq.addUser('alice', 'rabbit-pw');
  rabbitmq.addUser('outsider', 'pw', { vhostAccess: false });
  standalone = await spawnKeeper(['--amqp', url, '--store', postgres.url]);
  cleanup.push(async () => {
    standalone.child.kill('SIGKILL');
    await standalone.exited;
  });
  client = connectTasks({ url });
  cleanup.push(() => client.close());
  const worker = createWorker({ url, concurrency: 8, shutdownTimeoutMs: 1000 });
  cleanup.push(() => worker.close());
  worker.handle<number, number>('rmq.square', (n, ctx) => (countCall(ctx.id), n * n));
  worker.handle<number, number>('rmq.metered', (n) => n + 1);
  worker.handle('rmq.flaky', (payload, ctx) => {
    if (countCall(ctx.id) < 3) throw new Error(`attempt ${ctx.attempt} fails`);
    return { payload, attempt: ctx.attempt };
  });
  worker.handle('rmq.dlq', (payload, ctx) => {
    countCall(ctx.id);
    if (!healed.has(ctx.id)) throw new Error(`broken ${ctx.id}`);
    return { healed: payload };
  });
  worker.handle('rmq.refuse', (_payload, ctx) => {
    countCall(ctx.id);
    throw new NonRetryableError('bad input');
  });
  worker.handle('rmq.timeout', (_payload, ctx) => {
    countCall(ctx.id);
    const began = Date.now();
    return new Promise((_resolve, reject) => {
      const work = setTimeout(() => reject(new Error('the signal never aborted')), 5000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(work);
        const reason = ctx.signal.reason as Error;
        aborts.set(ctx.id, { reasonName: reason.name, afterMs: Date.now() - began });
        reject(reason);
      }, { once: true });
    });
  });
  await worker.start();
});

after(async () => {
  for (const step of cleanup.reverse()) await step().catch(() => undefined);
});

/**
 * The keeper's PostgreSQL history of a task once it holds every event in `expected` ('kind' or
 * 'kind:attempt', run 1). The keeper applies events concurrently and PostgreSQL orders them by a
 * compare-and-set, so a 'started' that lost the race to its outcome is recorded just after it.
 */
async function historyWith(id: string, expected: string[]): Promise<TaskEvent[]> {
  let events: TaskEvent[] = [];
  await waitFor(async () => {
    events = await store.history(id);
    const seen = new Set(events.filter((event) => event.run === 1).flatMap((event) => [event.kind, `${event.kind}:${event.attempt}`]));
    return expected.every((each) => seen.has(each));
  }, 5000, `events ${expected.join(', ')} of ${id} in PostgreSQL`);
  return events;
}

/** The first event of `kind` of each attempt of run 1, by attempt. */
function byAttempt(events: TaskEvent[], kind: TaskEventKind): TaskEvent[] {
  return events.filter((event, index) => event.kind === kind && event.run === 1
    && events.findIndex((other) => other.kind === kind && other.run === 1 && other.attempt === event.attempt) === index);
}

/** Messages ready in a queue, asked of RabbitMQ with plain amqplib. */
async function messageCount(queue: string): Promise<number> {
  const connection = await amqplib.connect(url);
  try {
    return (await (await connection.createChannel()).checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

test('submit -> worker -> handle.result(); the keeper stores the succeeded record in PostgreSQL', options, async () => {
  const handle = await client.submit<number, number>('rmq.square', 12);
  assert.equal(await handle.result({ timeoutMs: 5000 }), 144);
  await waitFor(async () => (await store.get(handle.id))?.state === 'succeeded', 5000, 'the succeeded record');
  const record = await store.get(handle.id);
  assert.equal(record?.result, 144);
  assert.equal(record?.attempts, 1);
  // A quick handler sends no 'started' event: its outcome carries the start.
  const events = await historyWith(handle.id, ['queued', 'succeeded']);
  assert.deepEqual(events.map((event) => event.kind).sort(), ['queued', 'succeeded']);
  assert.equal(attemptStarts(events).length, 1, 'the succeeded event carries the start');
  const stored = await store.get(handle.id);
  assert.ok(stored?.startedAt !== undefined && stored.finishedAt !== undefined && stored.startedAt <= stored.finishedAt);
  assert.equal((await client.get(handle.id))?.state, 'succeeded', 'the SDK reads the same record through the keeper');
});

test('retries wait out an exponential backoff in RabbitMQ TTL wait queues', options, async () => {
  const delays = [200, 400];
  const handle = await client.submit('rmq.flaky', 'x', { attempts: 3, backoff: { kind: 'exponential', delayMs: 200, jitter: false } });
  assert.deepEqual(await handle.result({ timeoutMs: 8000 }), { payload: 'x', attempt: 3 });
  const events = await historyWith(handle.id, ['retrying:1', 'retrying:2', 'succeeded']);
  const starts = attemptStarts(events);
  assert.deepEqual(starts.map((event) => event.attempt), [1, 2, 3]);
  assert.deepEqual(byAttempt(events, 'retrying').map((event) => (event.retryAt ?? 0) - event.at), delays);
  for (const [retry, delayMs] of delays.entries()) {
    const waitedMs = (starts[retry + 1]?.at ?? 0) - (starts[retry]?.at ?? Infinity);
    assert.ok(waitedMs >= delayMs, `attempt ${retry + 2} started ${waitedMs} ms after attempt ${retry + 1}, less than ${delayMs}`);
  }
});

test('an exhausted task is dead and in its dead-letter queue; client.retry() brings it back (run 2)', options, async () => {
  const handle = await client.submit('rmq.dlq', { job: 1 }, { attempts: 2, backoff: { kind: 'fixed', delayMs: 50, jitter: false } });
  await assert.rejects(handle.result({ timeoutMs: 5000 }), (error: unknown) => error instanceof TaskFailedError && error.state === 'dead');
  await waitFor(async () => (await store.get(handle.id))?.state === 'dead', 5000, 'the dead record');
  assert.equal(await messageCount(deadLetterQueueName('rmq.dlq')), 1);

  healed.add(handle.id);
  assert.equal((await client.retry(handle.id)).run, 2);
  assert.deepEqual(await handle.result({ timeoutMs: 5000 }), { healed: { job: 1 } });
  await waitFor(async () => (await store.get(handle.id))?.state === 'succeeded', 5000, 'the succeeded record of run 2');
  assert.equal((await store.get(handle.id))?.run, 2);
  assert.equal(calls.get(handle.id), 3, 'two dead attempts, then the retried run');
  assert.equal(await messageCount(deadLetterQueueName('rmq.dlq')), 0, 'the retry took the message out of the dead-letter queue');
});

test('a timeout aborts ctx.signal; with no attempt left the task is dead', options, async () => {
  const handle = await client.submit('rmq.timeout', null, { attempts: 1, timeoutMs: 150 });
  await assert.rejects(handle.result({ timeoutMs: 5000 }), (error: unknown) =>
    error instanceof TaskFailedError && error.state === 'dead' && error.error.name === 'TimeoutError');
  const seen = aborts.get(handle.id);
  assert.equal(seen?.reasonName, 'TimeoutError');
  assert.ok(seen.afterMs >= 145 && seen.afterMs < 4000, `aborted after ${seen.afterMs} ms`);
});

test('a delayed submission (delayMs) runs after its delay', options, async () => {
  const delayMs = 500;
  const handle = await client.submit<number, number>('rmq.square', 3, { delayMs });
  assert.equal(await handle.result({ timeoutMs: 5000 }), 9);
  const events = await historyWith(handle.id, ['queued', 'succeeded']);
  const [queued, started] = [events.find((event) => event.kind === 'queued'), attemptStarts(events)[0]];
  assert.ok(queued !== undefined && started !== undefined);
  assert.ok(started.at - queued.at >= delayMs, `started ${started.at - queued.at} ms after submission, less than ${delayMs}`);
  assert.equal(queued.options?.delayMs, delayMs, 'the keeper read the delay from the task message');
});

test('a NonRetryableError fails the task at once, without retries or a dead letter', options, async () => {
  const handle = await client.submit('rmq.refuse', null, { attempts: 3 });
  await assert.rejects(handle.result({ timeoutMs: 5000 }), (error: unknown) =>
    error instanceof TaskFailedError && error.state === 'failed' && error.error.message === 'bad input');
  await waitFor(async () => (await store.get(handle.id))?.state === 'failed', 5000, 'the failed record');
  assert.equal(calls.get(handle.id), 1);
  assert.equal(await messageCount(deadLetterQueueName('rmq.refuse')), 0);
});

/** Submits over the standalone keeper's HTTP gateway; returns the task id. */
async function submitOverHttp(name: string, body: object): Promise<string> {
  const response = await fetch(`${standalone.base}/api/tasks/${name}`, {
    method: 'POST', headers: { ...ALICE, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(response.status, 202, await response.clone().text());
  return ((await response.json()) as { id: string }).id;
}

/** Long-polls the standalone keeper until the task is in `state` (it may report a state another keeper wrote). */
async function pollOverHttp(id: string, state: string): Promise<TaskView> {
  let task: TaskView | undefined;
  for (let poll = 0; poll < 20 && task?.state !== state; poll++) {
    const response = await fetch(`${standalone.base}/api/tasks/${id}?wait=5`, { headers: ALICE });
    assert.equal(response.status, 200);
    task = (await response.json()) as TaskView;
  }
  assert.equal(task?.state, state);
  return task;
}

test('short tasks grow a worker\'s prefetch window on RabbitMQ: one consumer left, with the new prefetch; each task ran once', options, async () => {
  const name = 'rmq.window';
  const runs = new Map<string, number>();
  let settled = 0;
  const worker = createWorker({ url, concurrency: 1, shutdownTimeoutMs: 1000 });
  worker.handle(name, (_payload, ctx) => {
    runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
    return null;
  });
  worker.on('settled', () => settled++);
  await worker.start();
  try {
    await Promise.all(Array.from({ length: 1000 }, () => client.submit(name, null, { reply: false })));
    await waitFor(() => settled === 1000, 15_000, '1000 tasks settled');
    assert.equal(runs.size, 1000);
    assert.ok([...runs.values()].every((count) => count === 1), 'every task ran exactly once');
    assert.ok(worker.prefetchCount > 4, `the window grew (it is ${worker.prefetchCount})`);
    // A move asked for during the last one may still be under way (two consumers for a moment): once
    // the moves are done, one consumer with the worker's prefetch.
    const consumers = (): string => JSON.stringify(rabbitmq.consumerPrefetchCounts(taskQueueName(name)));
    await waitFor(() => consumers() === JSON.stringify([worker.prefetchCount]), 10_000, 'one consumer, with the prefetch of the worker');
  } finally {
    await worker.close();
  }
});

test('warren keeper: a task submitted over its HTTP gateway is long-polled to its result, with a RabbitMQ user', options, async () => {
  const id = await submitOverHttp('rmq.square', { payload: 7 });
  const task = await pollOverHttp(id, 'succeeded');
  assert.equal(task.result, 49);
  assert.equal((await store.get(id))?.result, 49, 'the shared PostgreSQL store holds it');
});

test('warren keeper: RabbitMQ decides logins: 401 without or with a wrong password, 403 without vhost access', options, async () => {
  const tasks = `${standalone.base}/api/tasks`;
  assert.equal((await fetch(tasks)).status, 401);
  assert.equal((await fetch(tasks, { headers: basicAuth('alice', 'wrong') })).status, 401);
  assert.equal((await fetch(tasks, { headers: basicAuth('nobody', 'rabbit-pw') })).status, 401);
  assert.equal((await fetch(tasks, { headers: basicAuth('outsider', 'pw') })).status, 403);
  assert.equal((await fetch(tasks, { headers: ALICE })).status, 200);
});

test('warren keeper: a dead task is retried over HTTP (run 2), whichever keeper recorded it', options, async () => {
  const id = await submitOverHttp('rmq.dlq', { payload: 'http', options: { attempts: 1 } });
  await pollOverHttp(id, 'dead');
  healed.add(id);
  const retried = await fetch(`${standalone.base}/api/tasks/${id}/retry`, { method: 'POST', headers: ALICE });
  assert.equal(retried.status, 202);
  const task = await pollOverHttp(id, 'succeeded');
  assert.deepEqual([task.run, task.result], [2, { healed: 'http' }]);
});

test('two keepers: their warren_task_finished_total add up to the tasks finished; /metrics passes promtool', { ...options, skip: options.skip || promtoolSkip }, async () => {
  const count = 12;
  const handles = await Promise.all(Array.from({ length: count }, (_, n) => client.submit<number, number>('rmq.metered', n)));
  assert.deepEqual(await Promise.all(handles.map((handle) => handle.result({ timeoutMs: 5000 }))), Array.from({ length: count }, (_, n) => n + 1));
  let text = '';
  const counted = async (): Promise<number> => {
    text = await (await fetch(`${standalone.base}/metrics`)).text();
    const standaloneCount = sampleValue(parseSamples(text), 'warren_task_finished_total', { task: 'rmq.metered', state: 'succeeded' }) ?? 0;
    return standaloneCount + (keeper.metrics().get('rmq.metered')?.finishedByState['succeeded'] ?? 0);
  };
  await waitFor(async () => (await counted()) === count, 5000, 'both keepers to count every task');
  const checked = promtoolCheckMetrics(text);
  assert.equal(checked.status, 0, checked.output);
});

test('warren keeper stops on SIGTERM with exit 0; the other keeper goes on recording', options, async () => {
  standalone.child.kill('SIGTERM');
  assert.equal(await standalone.exited, 0, standalone.output());
  const handle = await client.submit<number, number>('rmq.square', 5);
  assert.equal(await handle.result({ timeoutMs: 5000 }), 25);
  await waitFor(async () => (await store.get(handle.id))?.state === 'succeeded', 5000, 'the record, from the remaining keeper');
});
