/**
 * The HTTP task gateway on a real in-process node (startWarren on ephemeral ports, temp data dir, the
 * in-process result keeper with its SQLite store) and a real worker: submit over HTTP, poll until the
 * worker's result is stored, list, retry a dead task, and the error answers.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { startKeeper } from '../../src/tasks/keeper.js';
import { SqliteResultStore } from '../../src/tasks/store/sqlite-store.js';
import { createWorker, type Worker } from '../../src/tasks/worker.js';
import { waitFor } from '../helpers/amqp.js';
import type { TaskView } from '../../src/http/task-view.js';

const skipExternal = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 30_000 };
const GUEST = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

let node: WarrenNode;
let dataDir: string;
let worker: Worker;
let workerStarted: Promise<void> | undefined;
let base: string;
/** The 'flaky' handler fails until this is true. */
let flakyHealthy = false;

before(async () => {
  if (skipExternal.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-http-tasks-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  base = `http://127.0.0.1:${node.httpPort}`;
  worker = createWorker({ url: `amqp://guest:guest@127.0.0.1:${node.amqpPort}`, concurrency: 4, shutdownTimeoutMs: 1000 });
  worker.handle<{ n: number }, number>('square', ({ n }) => n * n);
  worker.handle<{ ms: number }, number>('sleepy', async ({ ms }) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  });
  worker.handle('flaky', () => {
    if (!flakyHealthy) throw new Error('not yet');
    return 'recovered';
  });
});

after(async () => {
  if (skipExternal.skip !== false) return;
  await worker.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** Starts the worker once (the first test checks that tasks wait for it). */
function startWorker(): Promise<void> {
  workerStarted ??= worker.start();
  return workerStarted;
}

/** A task as GET /api/tasks/{id} reports it. */
type TaskBody = TaskView;

function post(path: string, body: string | object, headers: Record<string, string> = GUEST): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function get(path: string, headers: Record<string, string> = GUEST): Promise<Response> {
  return fetch(`${base}${path}`, { headers });
}

/** Submits a task and checks the 202 answer; returns the task id and its Location. */
async function submit(name: string, body: object): Promise<{ id: string; location: string }> {
  const response = await post(`/api/tasks/${name}`, body);
  assert.equal(response.status, 202);
  const accepted = (await response.json()) as { id: string; state: string };
  assert.equal(accepted.state, 'queued');
  const location = response.headers.get('location');
  assert.equal(location, `/api/tasks/${accepted.id}`);
  assert.match(response.headers.get('retry-after') ?? '', /^[1-9][0-9]*$/);
  return { id: accepted.id, location };
}

/** Polls GET `location` until the task is in one of `states`. */
async function pollUntil(location: string, states: string[], timeoutMs = 10_000): Promise<TaskBody> {
  const deadline = Date.now() + timeoutMs;
  let last: TaskBody | undefined;
  while (Date.now() < deadline) {
    const response = await get(location);
    if (response.status === 200) {
      last = (await response.json()) as TaskBody;
      if (states.includes(last.state)) return last;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.fail(`task at ${location} did not reach ${states.join('/')}; last seen ${JSON.stringify(last)}`);
}

async function assertJsonError(response: Response, status: number, error: string): Promise<void> {
  assert.equal(response.status, status);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  const body = (await response.json()) as { error: string; reason: string };
  assert.equal(body.error, error);
  assert.equal(typeof body.reason, 'string');
}

test('the node reports its HTTP port and the internal task user is not listed', skipExternal, () => {
  assert.ok(node.httpPort > 0 && node.httpPort !== 15672);
  assert.deepEqual(node.broker.users.list().map((user) => user.username), ['guest']);
});

test('without or with wrong credentials every /api route answers 401 with WWW-Authenticate', skipExternal, async () => {
  const wrong = { authorization: `Basic ${Buffer.from('guest:nope').toString('base64')}` };
  for (const headers of [{}, wrong]) {
    for (const response of [await get('/api/tasks', headers), await post('/api/tasks/square', {}, headers), await get('/api/tasks/openapi.json', headers)]) {
      assert.equal(response.headers.get('www-authenticate'), 'Basic realm="Warren"');
      const text = await response.clone().text();
      assert.ok(!text.includes('nope'), 'the body does not repeat the credentials');
      await assertJsonError(response, 401, 'not_authorized');
    }
  }
});

test('a user who may not write to the default exchange reads tasks but may not submit, cancel, retry or schedule (403)', skipExternal, async () => {
  const put = (path: string, body: unknown): Promise<Response> =>
    fetch(`${base}${path}`, { method: 'PUT', headers: { ...GUEST, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  assert.equal((await put('/api/users/reader', { password: 'reader-secret', tags: '' })).status, 201);
  try {
    assert.equal((await put('/api/permissions/%2F/reader', { configure: '', write: '', read: '.*' })).status, 201);
    const reader = { authorization: `Basic ${Buffer.from('reader:reader-secret').toString('base64')}` };
    assert.equal((await get('/api/tasks', reader)).status, 200);
    await assertJsonError(await post('/api/tasks/square', { payload: { n: 2 } }, reader), 403, 'access_refused');
    await assertJsonError(await post('/api/tasks/some-id/retry', {}, reader), 403, 'access_refused');
    const cancel = await fetch(`${base}/api/tasks/some-id`, { method: 'DELETE', headers: reader });
    await assertJsonError(cancel, 403, 'access_refused');
    const schedule = await fetch(`${base}/api/tasks/schedules/nightly`, {
      method: 'PUT', headers: { ...reader, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'square', cron: '0 3 * * *' }),
    });
    await assertJsonError(schedule, 403, 'access_refused');
    assert.equal((await get('/api/tasks/schedules', reader)).status, 200, 'reading schedules needs no write access');
  } finally {
    await fetch(`${base}/api/users/reader`, { method: 'DELETE', headers: GUEST });
  }
});

test('POST answers 202; GET reports the task queued, then succeeded with the worker\'s result', skipExternal, async () => {
  const { id, location } = await submit('square', { payload: { n: 7 }, options: { attempts: 2, priority: 3 } });
  const queued = await get(location);
  assert.equal(queued.status, 200);
  assert.equal(queued.headers.get('retry-after'), '1');
  const queuedBody = (await queued.json()) as TaskBody;
  assert.equal(queuedBody.state, 'queued', 'no worker has started yet');
  assert.equal(queuedBody.id, id);
  assert.equal(queuedBody.name, 'square');
  await startWorker();
  const done = await pollUntil(location, ['succeeded', 'failed', 'dead']);
  assert.equal(done.state, 'succeeded');
  assert.equal(done.result, 49);
  assert.equal(done.attempts, 1);
  assert.equal(done.run, 1);
  for (const field of ['createdAt', 'startedAt', 'finishedAt', 'updatedAt'] as const) {
    assert.match(done[field] ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, `${field} is an ISO timestamp`);
  }
  assert.ok(Date.parse(done.finishedAt ?? '') >= Date.parse(done.startedAt ?? ''));
});

test('GET ?wait=N long-polls: it answers as soon as the task finishes, or with its state when N runs out', skipExternal, async () => {
  await startWorker();
  const { location } = await submit('square', { payload: { n: 12 }, options: { delayMs: 300 } });
  const started = Date.now();
  const waited = await get(`${location}?wait=5`);
  const tookMs = Date.now() - started;
  assert.equal(waited.status, 200);
  const body = (await waited.json()) as TaskBody;
  assert.equal(body.state, 'succeeded', 'answered once the delayed task had run');
  assert.equal(body.result, 144);
  assert.ok(tookMs >= 250 && tookMs < 4000, `answered after ${tookMs} ms`);
  // A task nobody handles stays queued: the long poll answers when its wait runs out.
  const { location: unhandled } = await submit('nobody-handles-this', { payload: null });
  const before = Date.now();
  const timedOut = (await (await get(`${unhandled}?wait=1`)).json()) as TaskBody;
  assert.equal(timedOut.state, 'queued');
  assert.ok(Date.now() - before >= 700, 'it waited for most of the second');
  await assertJsonError(await get(`${unhandled}?wait=61`), 400, 'bad_request');
  await assertJsonError(await get(`${unhandled}?wait=soon`), 400, 'bad_request');
});

test('GET /api/tasks/stats reports per task name throughput, response time, and the wait/processing split', skipExternal, async () => {
  await startWorker();
  const submitted = await Promise.all([1, 2, 3, 4].map(() => submit('sleepy', { payload: { ms: 120 } })));
  for (const { location } of submitted) assert.equal((await pollUntil(location, ['succeeded'])).result, 120);
  await waitFor(async () => {
    const stats = (await (await get('/api/tasks/stats')).json()) as Record<string, { sinceStart: { finished: number } }>;
    return stats['sleepy']?.sinceStart.finished === 4;
  }, 3000, 'the four finished tasks counted');
  const response = await get('/api/tasks/stats');
  assert.equal(response.status, 200);
  type Latency = { mean: number; p50: number; p90: number; p99: number };
  type Period = { finished: number; succeeded: number; throughputPerSecond: number; responseMs: Latency; waitMs: Latency; processingMs: Latency };
  const sleepy = ((await response.json()) as Record<string, { sinceStart: Period; windows: Record<string, Period> }>)['sleepy'];
  assert.ok(sleepy !== undefined);
  const { sinceStart } = sleepy;
  assert.equal(sinceStart.succeeded, 4);
  assert.ok(sinceStart.processingMs.p50 >= 115 && sinceStart.processingMs.p99 < 1000, `processing ${JSON.stringify(sinceStart.processingMs)}`);
  assert.ok(sinceStart.waitMs.p50 >= 0 && sinceStart.waitMs.p99 < 1000, `wait ${JSON.stringify(sinceStart.waitMs)}`);
  assert.ok(sinceStart.responseMs.mean >= sinceStart.processingMs.mean, 'response time covers waiting and processing');
  assert.ok(sinceStart.throughputPerSecond > 0);
  assert.equal(sleepy.windows['60s']?.finished, 4);
  assert.equal((await get('/api/tasks/stats', {})).status, 401);
});

test('GET /api/tasks lists by name and state', skipExternal, async () => {
  await startWorker();
  const { id, location } = await submit('square', { payload: { n: 3 } });
  await pollUntil(location, ['succeeded']);
  // The listing comes from the keeper's store; having polled the task to succeeded, it is recorded there.
  const listed = async (query: string): Promise<TaskBody[]> => {
    const response = await get(`/api/tasks?${query}`);
    assert.equal(response.status, 200);
    return (await response.json()) as TaskBody[];
  };
  const succeeded = await listed('name=square&state=succeeded');
  assert.ok(succeeded.some((task) => task.id === id));
  assert.ok(succeeded.every((task) => task.name === 'square' && task.state === 'succeeded'));
  assert.equal((await listed('name=square&state=queued')).some((task) => task.id === id), false);
  assert.equal((await listed('name=flaky')).some((task) => task.id === id), false);
  assert.equal((await listed('name=square&limit=1')).length, 1);
});

test('a dead task is retried with POST .../retry and runs again; other states are 409, unknown ids 404', skipExternal, async () => {
  await startWorker();
  const { id, location } = await submit('flaky', { payload: null, options: { attempts: 1 } });
  const dead = await pollUntil(location, ['dead', 'failed', 'succeeded']);
  assert.equal(dead.state, 'dead');
  assert.equal(dead.error?.message, 'not yet');
  const { location: squareLocation } = await submit('square', { payload: { n: 2 } });
  const succeeded = await pollUntil(squareLocation, ['succeeded']);
  await assertJsonError(await post(`/api/tasks/${succeeded.id}/retry`, '{}'), 409, 'conflict');
  await assertJsonError(await post('/api/tasks/no-such-task/retry', '{}'), 404, 'not_found');
  flakyHealthy = true;
  const retried = await post(`/api/tasks/${id}/retry`, '{}');
  assert.equal(retried.status, 202);
  assert.deepEqual(await retried.json(), { id, state: 'queued' });
  assert.equal(retried.headers.get('location'), location);
  assert.ok(retried.headers.get('retry-after') !== null);
  const recovered = await pollUntil(location, ['succeeded']);
  assert.equal(recovered.result, 'recovered');
  assert.equal(recovered.run, 2, 'the retry is a new run');
});

test('bad JSON, bad options and bad names are 400 with a JSON error', skipExternal, async () => {
  await assertJsonError(await post('/api/tasks/square', '{"payload": '), 400, 'bad_request');
  await assertJsonError(await post('/api/tasks/square', { options: { attempts: 0 } }), 400, 'bad_request');
  await assertJsonError(await post('/api/tasks/square', { options: { priority: 99 } }), 400, 'bad_request');
  await assertJsonError(await post('/api/tasks/square', { options: { timeoutMs: 'soon' } }), 400, 'bad_request');
  await assertJsonError(await post('/api/tasks/square', { options: { backoff: { kind: 'linear' } } }), 400, 'bad_request');
  await assertJsonError(await post('/api/tasks/square', { payload: 1, unexpected: true }), 400, 'bad_request');
  await assertJsonError(await post('/api/tasks/bad%20name', {}), 400, 'bad_request');
  await assertJsonError(await get('/api/tasks?state=sleeping'), 400, 'bad_request');
  await assertJsonError(await post('/api/tasks/square', { payload: 'x'.repeat(21 * 1024 * 1024) }), 413, 'payload_too_large');
});

test('unknown tasks and unknown paths are 404 with a JSON error', skipExternal, async () => {
  await assertJsonError(await get('/api/tasks/0b8a4e4e-0000-4000-8000-000000000000'), 404, 'not_found');
  await assertJsonError(await get('/api/no/such/path'), 404, 'not_found');
  await assertJsonError(await get('/no-such-page'), 404, 'not_found');
});

test('the OpenAPI 3.1 document describes the task routes', skipExternal, async () => {
  const response = await get('/api/tasks/openapi.json');
  assert.equal(response.status, 200);
  const document = (await response.json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.equal(document.openapi, '3.1.0');
  assert.ok(document.paths['/api/tasks/{name}']?.['post'] !== undefined);
  assert.ok(document.paths['/api/tasks/{id}']?.['get'] !== undefined);
  assert.ok(document.paths['/api/tasks']?.['get'] !== undefined);
  assert.ok(document.paths['/api/tasks/{id}/retry']?.['post'] !== undefined);
});

test('with the in-process keeper off, the gateway reads through a keeper running elsewhere', skipExternal, async () => {
  const otherDataDir = await mkdtemp(join(tmpdir(), 'warren-http-remote-keeper-'));
  const other = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir: otherDataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  const url = `amqp://guest:guest@127.0.0.1:${other.amqpPort}`;
  const store = new SqliteResultStore(':memory:');
  const keeper = await startKeeper({ url, store });
  const otherWorker = createWorker({ url, concurrency: 1, shutdownTimeoutMs: 1000 }).handle('echo', (payload) => payload);
  try {
    await otherWorker.start();
    const response = await fetch(`http://127.0.0.1:${other.httpPort}/api/tasks/echo`, {
      method: 'POST', headers: { ...GUEST, 'content-type': 'application/json' }, body: JSON.stringify({ payload: 'hello' }),
    });
    assert.equal(response.status, 202);
    const location = response.headers.get('location') ?? '';
    const deadline = Date.now() + 10_000;
    let task: TaskBody | undefined;
    while (task?.state !== 'succeeded' && Date.now() < deadline) {
      const polled = await fetch(`http://127.0.0.1:${other.httpPort}${location}`, { headers: GUEST });
      if (polled.status === 200) task = (await polled.json()) as TaskBody;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(task?.result, 'hello');
    assert.equal((await store.get(task.id))?.state, 'succeeded', 'the record came from the other keeper\'s store');
  } finally {
    await otherWorker.close();
    await keeper.close();
    await store.close();
    await other.close();
    await rm(otherDataDir, { recursive: true, force: true });
  }
});
