/**
 * Issue 5's acceptance, end to end on one in-process node (startWarren with its own result keeper and
 * SQLite store, and the HTTP task gateway): the SDK submits, the real worker runs, `handle.result()`
 * and HTTP polling return the same stored result; retries wait out their backoff (the keeper's history
 * shows it); exhausted tasks land in the dead-letter queue and a retry (HTTP or SDK) brings them back;
 * a timeout aborts the handler through its signal; a `warren worker` process killed with SIGKILL
 * mid-task has its task finished by a second one; and a broker restart loses neither a submitted task
 * nor a stored result.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { waitFor } from '../helpers/amqp.js';
import { attemptStarts } from '../helpers/tasks.js';
import { startWarren, type WarrenNode } from '../../src/main.js';
import type { TaskView } from '../../src/http/task-view.js';
import {
  SqliteResultStore,
  TaskFailedError,
  TaskHeader,
  connectTasks,
  createWorker,
  deadLetterQueueName,
  type TaskError,
  type TaskEvent,
  type TaskEventKind,
  type TasksClient,
  type Worker,
} from '../../src/tasks/index.js';

const inProcess = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node, its keeper and gateway' : false, timeout: 30_000 };
const GUEST = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
/** Exported by test/fixtures/tasks-worker-module.ts; no in-process worker handles it. */
const FIXTURE_MODULE = 'test/fixtures/tasks-worker-module.ts';

/** One node, its keeper's store (read for task histories), an SDK client and an in-process worker. */
interface Node {
  node: WarrenNode;
  amqpUrl: string;
  httpBase: string;
}

let dataDir: string;
let shared: Node;
let history: SqliteResultStore;
let client: TasksClient;
let worker: Worker;
const children: ChildProcess[] = [];

/** Handler calls per task id, over every task name of the in-process worker. */
const calls = new Map<string, number>();
/** Tasks the 'e2e.dlq.*' handlers let succeed. */
const healed = new Set<string>();
/** What the 'e2e.timeout' handler saw when its signal aborted. */
const aborts = new Map<string, { attempt: number; aborted: boolean; reasonName: string; afterMs: number }>();

function countCall(id: string): number {
  const count = (calls.get(id) ?? 0) + 1;
  calls.set(id, count);
  return count;
}

async function startNode(dir: string): Promise<Node> {
  const node = await startWarren({
    amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir: dir, logLevel: 'silent', tasks: { keeperEnabled: true },
  });
  return { node, amqpUrl: `amqp://guest:guest@127.0.0.1:${node.amqpPort}`, httpBase: `http://127.0.0.1:${node.httpPort}` };
}

function dlqHandler(payload: unknown, ctx: { id: string }): unknown {
  countCall(ctx.id);
  if (!healed.has(ctx.id)) throw new Error(`broken ${ctx.id}`);
  return { healed: payload };
}

before(async () => {
  if (inProcess.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-tasks-e2e-'));
  shared = await startNode(dataDir);
  // A second handle on the keeper's SQLite file (WAL): only its history is read, the keeper writes.
  history = new SqliteResultStore(join(dataDir, 'tasks.sqlite'));
  client = connectTasks({ url: shared.amqpUrl });
  worker = createWorker({ url: shared.amqpUrl, concurrency: 4, shutdownTimeoutMs: 1000 });
  worker.handle<{ n: number }, number>('e2e.square', ({ n }, ctx) => {
    countCall(ctx.id);
    return n * n;
  });
  worker.handle('e2e.flaky', (payload, ctx) => {
    countCall(ctx.id);
    if (ctx.attempt < 3) throw new Error(`attempt ${ctx.attempt} fails`);
    return { payload, attempt: ctx.attempt };
  });
  worker.handle('e2e.dlq.http', dlqHandler);
  worker.handle('e2e.dlq.sdk', dlqHandler);
  worker.handle('e2e.timeout', (_payload, ctx) => {
    countCall(ctx.id);
    if (ctx.attempt > 1) return 'in time';
    const began = Date.now();
    // Work that would take 5 s, unless the signal ends it.
    return new Promise((_resolve, reject) => {
      const work = setTimeout(() => reject(new Error('the signal never aborted')), 5000);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(work);
        const reason = ctx.signal.reason as Error;
        aborts.set(ctx.id, { attempt: ctx.attempt, aborted: ctx.signal.aborted, reasonName: reason.name, afterMs: Date.now() - began });
        reject(reason);
      }, { once: true });
    });
  });
  await worker.start();
});

after(async () => {
  if (inProcess.skip !== false) return;
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await worker.close();
  await client.close();
  await history.close();
  await shared.node.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** A task as GET /api/tasks/{id} reports it. */
type TaskBody = TaskView;

function httpGet(base: string, path: string): Promise<Response> {
  return fetch(`${base}${path}`, { headers: GUEST });
}

function httpPost(base: string, path: string, body: object): Promise<Response> {
  return fetch(`${base}${path}`, { method: 'POST', headers: { ...GUEST, 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

/** Polls GET /api/tasks/{id} until the task is in one of `states`; fails with the last answer seen. */
async function pollTask(base: string, id: string, states: string[], timeoutMs = 10_000): Promise<TaskBody> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    const response = await httpGet(base, `/api/tasks/${id}`);
    last = `${response.status} ${await response.clone().text()}`;
    if (response.status === 200) {
      const body = (await response.json()) as TaskBody;
      if (states.includes(body.state)) return body;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`task ${id} did not reach ${states.join('/')} within ${timeoutMs} ms; last answer: ${last}`);
}

/** The keeper's history of a task once it holds an event of `kind` (its events, oldest first). */
async function historyWith(id: string, kind: TaskEventKind, run = 1): Promise<TaskEvent[]> {
  let events: TaskEvent[] = [];
  await waitFor(async () => {
    events = await history.history(id);
    return events.some((event) => event.kind === kind && event.run === run);
  }, 5000, `a ${kind} event of ${id} (run ${run}) in the keeper's history`);
  return events;
}

/** The events of one kind and run, by attempt (first one of each attempt). */
function byAttempt(events: TaskEvent[], kind: TaskEventKind, run = 1): TaskEvent[] {
  const found = new Map<number, TaskEvent>();
  for (const event of events) if (event.kind === kind && event.run === run && !found.has(event.attempt)) found.set(event.attempt, event);
  return [...found.keys()].sort((a, b) => a - b).map((attempt) => found.get(attempt) as TaskEvent);
}

/** Gets the one message of a dead-letter queue with plain amqplib, requeues it, and reports what it held. */
async function peekDeadLetter(queue: string): Promise<{ taskId: unknown; error: TaskError; body: unknown; messageCount: number }> {
  const connection = await amqplib.connect(shared.amqpUrl);
  try {
    const channel = await connection.createChannel();
    const message = await channel.get(queue, { noAck: false });
    assert.ok(message !== false, `a message in ${queue}`);
    const headers = message.properties.headers ?? {};
    const errorHeader: unknown = headers[TaskHeader.error];
    const errorText = Buffer.isBuffer(errorHeader) ? errorHeader.toString('utf8') : errorHeader;
    assert.equal(typeof errorText, 'string', `${TaskHeader.error} is a string header`);
    channel.nack(message, false, true);
    // Answered after the broker handled the nack: the requeued message counts again.
    const { messageCount } = await channel.checkQueue(queue);
    await channel.close();
    return {
      taskId: headers[TaskHeader.id],
      error: JSON.parse(errorText as string) as TaskError,
      body: JSON.parse(message.content.toString('utf8')),
      messageCount,
    };
  } finally {
    await connection.close();
  }
}

async function deadLetterCount(queue: string): Promise<number> {
  const connection = await amqplib.connect(shared.amqpUrl);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

test('submit -> worker -> handle.result() and HTTP polling return the same stored result', inProcess, async () => {
  const handle = await client.submit<{ n: number }, number>('e2e.square', { n: 12 });
  assert.equal(await handle.result({ timeoutMs: 5000 }), 144);
  const polled = await pollTask(shared.httpBase, handle.id, ['succeeded', 'failed', 'dead']);
  assert.equal(polled.state, 'succeeded');
  assert.equal(polled.id, handle.id);
  assert.equal(polled.name, 'e2e.square');
  assert.equal(polled.result, 144);
  assert.equal(polled.attempts, 1);
  assert.ok(polled.startedAt !== undefined && polled.finishedAt !== undefined, 'start and finish are recorded');
  assert.ok(Date.parse(polled.createdAt) <= Date.parse(polled.startedAt) && Date.parse(polled.startedAt) <= Date.parse(polled.finishedAt));
  const record = await client.get(handle.id);
  assert.equal(record?.state, 'succeeded');
  assert.equal(record?.result, 144);
  assert.equal(calls.get(handle.id), 1, 'the handler ran once');
});

test('retries wait out their backoff: fixed, and exponential without jitter, as the keeper\'s history shows', inProcess, async () => {
  const cases = [
    { backoff: { kind: 'fixed', delayMs: 200, jitter: false }, delays: [200, 200] },
    { backoff: { kind: 'exponential', delayMs: 200, jitter: false }, delays: [200, 400] },
  ] as const;
  const handles = await Promise.all(cases.map(({ backoff }) => client.submit('e2e.flaky', backoff.kind, { attempts: 3, backoff })));
  const results = await Promise.all(handles.map((handle) => handle.result({ timeoutMs: 8000 })));
  for (const [index, { backoff, delays }] of cases.entries()) {
    const handle = handles[index];
    assert.ok(handle !== undefined);
    assert.deepEqual(results[index], { payload: backoff.kind, attempt: 3 });
    assert.equal(calls.get(handle.id), 3, `${backoff.kind}: two failed attempts, then the one that succeeded`);
    const events = await historyWith(handle.id, 'succeeded');
    const starts = attemptStarts(events);
    const retries = byAttempt(events, 'retrying');
    assert.deepEqual(starts.map((event) => event.attempt), [1, 2, 3]);
    assert.deepEqual(retries.map((event) => event.attempt), [1, 2]);
    assert.deepEqual(retries.map((event) => (event.retryAt ?? 0) - event.at), delays, `${backoff.kind}: the delays the worker chose`);
    for (const [retry, delayMs] of delays.entries()) {
      const [before, next, waited] = [starts[retry], starts[retry + 1], retries[retry]];
      assert.ok(before !== undefined && next !== undefined && waited !== undefined);
      assert.ok(next.at - before.at >= delayMs, `${backoff.kind}: attempt ${retry + 2} started ${next.at - before.at} ms after attempt ${retry + 1}, less than ${delayMs}`);
      assert.ok(next.at >= (waited.retryAt ?? Infinity), `${backoff.kind}: attempt ${retry + 2} started before its retryAt`);
      assert.equal(waited.error?.message, `attempt ${retry + 1} fails`);
    }
    const polled = await pollTask(shared.httpBase, handle.id, ['succeeded']);
    assert.equal(polled.attempts, 3);
    assert.equal(Date.parse(polled.startedAt ?? ''), starts[2]?.at, 'the record\'s startedAt is the last attempt\'s start');
    assert.ok(Date.parse(polled.createdAt) <= (starts[0]?.at ?? 0));
  }
});

test('an exhausted task lands in the dead-letter queue; POST /api/tasks/{id}/retry brings it back', inProcess, async () => {
  const name = 'e2e.dlq.http';
  const handle = await client.submit(name, { job: 'http' }, { attempts: 2, backoff: { kind: 'fixed', delayMs: 50, jitter: false } });
  await assert.rejects(handle.result({ timeoutMs: 5000 }), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.state, 'dead');
    assert.equal(error.error.message, `broken ${handle.id}`);
    return true;
  });
  const dead = await pollTask(shared.httpBase, handle.id, ['dead', 'failed', 'succeeded']);
  assert.equal(dead.state, 'dead');
  assert.equal(dead.attempts, 2);
  assert.equal(dead.error?.message, `broken ${handle.id}`);

  const letter = await peekDeadLetter(deadLetterQueueName(name));
  assert.equal(letter.messageCount, 1);
  assert.equal(String(letter.taskId), handle.id);
  assert.deepEqual(letter.body, { job: 'http' });
  assert.equal(letter.error.message, `broken ${handle.id}`);
  assert.equal(letter.error.retryable, true);

  healed.add(handle.id);
  const retried = await httpPost(shared.httpBase, `/api/tasks/${handle.id}/retry`, {});
  assert.equal(retried.status, 202);
  assert.deepEqual(await retried.json(), { id: handle.id, state: 'queued' });
  const recovered = await pollTask(shared.httpBase, handle.id, ['succeeded']);
  assert.deepEqual(recovered.result, { healed: { job: 'http' } });
  assert.equal(recovered.run, 2);
  assert.equal(recovered.attempts, 1);
  assert.equal(calls.get(handle.id), 3, 'two dead attempts, then the retried run');
  assert.equal(await deadLetterCount(deadLetterQueueName(name)), 0, 'the retry took the message out of the dead-letter queue');
});

test('an exhausted task is dead in the keeper and client.retry() brings it back; the same handle gets the new result', inProcess, async () => {
  const name = 'e2e.dlq.sdk';
  const handle = await client.submit(name, { job: 'sdk' }, { attempts: 2, backoff: { kind: 'fixed', delayMs: 50, jitter: false } });
  await assert.rejects(handle.result({ timeoutMs: 5000 }), (error: unknown) => error instanceof TaskFailedError && error.state === 'dead');
  await waitFor(async () => (await client.get(handle.id))?.state === 'dead', 5000, 'the keeper to record the task dead');
  const letter = await peekDeadLetter(deadLetterQueueName(name));
  assert.equal(letter.messageCount, 1);
  assert.equal(String(letter.taskId), handle.id);
  assert.equal(letter.error.message, `broken ${handle.id}`);

  healed.add(handle.id);
  const record = await client.retry(handle.id);
  assert.equal(record.run, 2, 'the retry is a new run');
  // The record is read once the new run's queued event is applied; a worker may have started it already.
  assert.ok(['queued', 'running', 'succeeded'].includes(record.state), `retried record is ${record.state}`);
  assert.deepEqual(await handle.result({ timeoutMs: 5000 }), { healed: { job: 'sdk' } });
  const polled = await pollTask(shared.httpBase, handle.id, ['succeeded']);
  assert.equal(polled.run, 2);
  assert.deepEqual(polled.result, { healed: { job: 'sdk' } });
  assert.equal(calls.get(handle.id), 3);
  assert.equal(await deadLetterCount(deadLetterQueueName(name)), 0);
});

test('a timeout aborts the handler through ctx.signal and the attempt counts as failed', inProcess, async () => {
  const timeoutMs = 150;
  const retried = await client.submit('e2e.timeout', 'retried', { attempts: 2, timeoutMs, backoff: { kind: 'fixed', delayMs: 0, jitter: false } });
  const exhausted = await client.submit('e2e.timeout', 'exhausted', { attempts: 1, timeoutMs });

  assert.equal(await retried.result({ timeoutMs: 5000 }), 'in time', 'the attempt after the timed-out one ran');
  await assert.rejects(exhausted.result({ timeoutMs: 5000 }), (error: unknown) => {
    assert.ok(error instanceof TaskFailedError);
    assert.equal(error.state, 'dead', 'a timeout is a retryable failure: with no attempt left the task is dead');
    assert.equal(error.error.name, 'TimeoutError');
    return true;
  });
  for (const handle of [retried, exhausted]) {
    const seen = aborts.get(handle.id);
    assert.ok(seen !== undefined, 'the handler saw its signal abort');
    assert.equal(seen.attempt, 1);
    assert.equal(seen.aborted, true);
    assert.equal(seen.reasonName, 'TimeoutError');
    assert.ok(seen.afterMs >= timeoutMs - 5 && seen.afterMs < 4000, `aborted after ${seen.afterMs} ms`);
  }
  const events = await historyWith(retried.id, 'succeeded');
  const failedAttempt = byAttempt(events, 'retrying')[0];
  assert.equal(failedAttempt?.attempt, 1);
  assert.equal(failedAttempt?.error?.name, 'TimeoutError');
  assert.equal((await pollTask(shared.httpBase, retried.id, ['succeeded'])).attempts, 2);
  const dead = await pollTask(shared.httpBase, exhausted.id, ['dead', 'failed', 'succeeded']);
  assert.equal(dead.state, 'dead');
  assert.equal(dead.error?.name, 'TimeoutError');
  assert.equal(calls.get(exhausted.id), 1);
});

/** A `warren worker` child process running the fixture module. */
interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output: () => string;
}

async function spawnWorker(amqpUrl: string, slowMs: number): Promise<WorkerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'worker', FIXTURE_MODULE, '--url', amqpUrl], {
    env: { ...process.env, FIXTURE_SLOW_MS: String(slowMs) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  await waitFor(() => output.includes('worker started') || child.exitCode !== null, 15_000, 'warren worker to start');
  assert.equal(child.exitCode, null, `warren worker exited early:\n${output}`);
  return { child, exited, output: () => output };
}

test('a worker process killed with SIGKILL mid-task has the task finished by a second worker', inProcess, async () => {
  const doomed = await spawnWorker(shared.amqpUrl, 60_000);
  const handle = await client.submit<null, { pid: number }>('slow', null);
  const running = await pollTask(shared.httpBase, handle.id, ['running', 'succeeded', 'failed', 'dead']);
  assert.equal(running.state, 'running', 'the first worker took the task');
  doomed.child.kill('SIGKILL');
  assert.equal((await doomed.exited).signal, 'SIGKILL');

  const rescuer = await spawnWorker(shared.amqpUrl, 0);
  assert.deepEqual(await handle.result({ timeoutMs: 10_000 }), { pid: rescuer.child.pid });
  const finished = await pollTask(shared.httpBase, handle.id, ['succeeded', 'failed', 'dead']);
  assert.equal(finished.state, 'succeeded');
  assert.deepEqual(finished.result, { pid: rescuer.child.pid });
  assert.equal(finished.attempts, 1, 'a redelivery after a crash is the same attempt');
  const workers = attemptStarts(await historyWith(handle.id, 'succeeded')).map((start) => start.worker ?? '');
  assert.equal(workers.length, 2);
  assert.match(workers[0] ?? '', new RegExp(`:${doomed.child.pid}:`));
  assert.match(workers[1] ?? '', new RegExp(`:${rescuer.child.pid}:`));

  rescuer.child.kill('SIGTERM');
  assert.equal((await rescuer.exited).code, 0, rescuer.output());
});

test('a broker restart loses no submitted task and no stored result', inProcess, async () => {
  const restartDir = await mkdtemp(join(tmpdir(), 'warren-tasks-e2e-restart-'));
  // Run newest first, whatever the test reached; every step is safe to repeat.
  const cleanup: (() => Promise<unknown>)[] = [() => rm(restartDir, { recursive: true, force: true })];
  try {
    await restartScenario(restartDir, cleanup);
  } finally {
    for (const step of cleanup.reverse()) await step().catch(() => undefined);
  }
});

/** Completes tasks and leaves others waiting, restarts the node on the same data dir, and checks nothing was lost. */
async function restartScenario(restartDir: string, cleanup: (() => Promise<unknown>)[]): Promise<void> {
  const runs = new Map<string, number>();
  const doubler = (payload: unknown, ctx: { id: string }): number => {
    runs.set(ctx.id, (runs.get(ctx.id) ?? 0) + 1);
    return (payload as number) * 2;
  };

  const first = await startNode(restartDir);
  cleanup.push(() => first.node.close());
  const earlier = connectTasks({ url: first.amqpUrl });
  cleanup.push(() => earlier.close());
  const doneWorker = createWorker({ url: first.amqpUrl, concurrency: 2, shutdownTimeoutMs: 1000 }).handle('e2e.restart.done', doubler);
  cleanup.push(() => doneWorker.close());
  await doneWorker.start();
  const done = await Promise.all([1, 2, 3].map((n) => earlier.submit<number, number>('e2e.restart.done', n)));
  assert.deepEqual(await Promise.all(done.map((handle) => handle.result({ timeoutMs: 5000 }))), [2, 4, 6]);
  for (const handle of done) await pollTask(first.httpBase, handle.id, ['succeeded']);
  await doneWorker.close();

  // No worker handles this name yet: the tasks wait in their queues, a delayed one in its wait queue.
  const pending = new Map<string, number>();
  for (const n of [10, 11]) pending.set((await earlier.submit('e2e.restart.pending', n)).id, n);
  pending.set((await earlier.submit('e2e.restart.pending', 12, { delayMs: 300 })).id, 12);
  const overHttp = await httpPost(first.httpBase, '/api/tasks/e2e.restart.pending', { payload: 13 });
  assert.equal(overHttp.status, 202);
  pending.set(((await overHttp.json()) as { id: string }).id, 13);
  await earlier.close();
  await first.node.close();

  const second = await startNode(restartDir);
  cleanup.push(() => second.node.close());
  // Stored before the restart, and returned before any worker runs again.
  for (const [index, handle] of done.entries()) {
    const response = await httpGet(second.httpBase, `/api/tasks/${handle.id}`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as TaskBody;
    assert.equal(body.state, 'succeeded');
    assert.equal(body.result, (index + 1) * 2);
  }
  const later = connectTasks({ url: second.amqpUrl });
  cleanup.push(() => later.close());
  const pendingWorker = createWorker({ url: second.amqpUrl, concurrency: 4, shutdownTimeoutMs: 1000 }).handle('e2e.restart.pending', doubler);
  cleanup.push(() => pendingWorker.close());
  await pendingWorker.start();

  const ids = [...pending.keys()];
  const results = await Promise.all(ids.map((id) => later.handle<number>(id).result({ timeoutMs: 10_000 })));
  assert.deepEqual(results, ids.map((id) => (pending.get(id) ?? 0) * 2));
  for (const id of ids) {
    const polled = await pollTask(second.httpBase, id, ['succeeded']);
    assert.equal(polled.result, (pending.get(id) ?? 0) * 2);
    assert.equal(runs.get(id), 1, `task ${id} ran once`);
  }
  for (const handle of done) assert.equal(runs.get(handle.id), 1, 'finished tasks did not run again');
}
