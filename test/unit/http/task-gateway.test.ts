/**
 * The HTTP server and task gateway against a fake task layer (the integration test runs the real one):
 * authentication, validation, status codes, headers and error bodies.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Users } from '../../../src/broker/users.js';
import { GUEST_USER } from '../../../src/config/config.js';
import { buildHttpApp } from '../../../src/http/server.js';
import type { RetryOutcome, TaskGatewayBackend, TaskSubmitOptions } from '../../../src/http/task-backend.js';
import { DEFAULT_TASK_OPTIONS } from '../../../src/tasks/protocol.js';
import type { TaskQuery, TaskRecord } from '../../../src/tasks/store/result-store.js';
import type { TaskNameStats } from '../../../src/tasks/task-stats.js';
import { createLogger } from '../../../src/util/logger.js';

const GUEST = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

/** A task layer in memory that records what the gateway asked of it. */
class FakeBackend implements TaskGatewayBackend {
  readonly submitted: { name: string; payload: unknown; options: TaskSubmitOptions }[] = [];
  readonly queries: TaskQuery[] = [];
  readonly records = new Map<string, TaskRecord>();

  async submit(name: string, payload: unknown, options: TaskSubmitOptions): Promise<{ id: string }> {
    this.submitted.push({ name, payload, options });
    return { id: `task-${this.submitted.length}` };
  }
  async get(id: string): Promise<TaskRecord | undefined> {
    return this.records.get(id);
  }
  async list(query: TaskQuery): Promise<TaskRecord[]> {
    this.queries.push(query);
    return [...this.records.values()];
  }
  async retry(id: string): Promise<RetryOutcome> {
    const record = this.records.get(id);
    if (record === undefined) return { outcome: 'notFound' };
    return record.state === 'dead' || record.state === 'failed' ? { outcome: 'retried' } : { outcome: 'notRetryable', reason: `task ${id} is ${record.state}` };
  }
  stats(): Record<string, TaskNameStats> {
    return {};
  }
}

function record(id: string, fields: Partial<TaskRecord> = {}): TaskRecord {
  return { id, name: 'resize', state: 'queued', run: 1, attempts: 0, payload: { w: 1 }, options: DEFAULT_TASK_OPTIONS, createdAt: 1000, updatedAt: 2000, ...fields };
}

function newApp(backend: TaskGatewayBackend | undefined): FastifyInstance {
  const users = new Users([GUEST_USER, { username: 'nobody', password: 'pw', tags: [], permissions: {}, loopbackOnly: false }]);
  return buildHttpApp({ users, tasks: backend, bodySizeMaxBytes: 1024, logger: createLogger('silent') });
}

test('every /api route needs credentials: 401 with WWW-Authenticate and a JSON body without them', async () => {
  const app = newApp(new FakeBackend());
  for (const authorization of [undefined, `Basic ${Buffer.from('guest:wrong').toString('base64')}`, 'Bearer x', 'Basic !!!']) {
    for (const [method, url] of [['GET', '/api/tasks'], ['POST', '/api/tasks/resize'], ['GET', '/api/nowhere'], ['GET', '/api/tasks/openapi.json']] as const) {
      const headers = authorization === undefined ? {} : { authorization };
      const response = await app.inject(method === 'POST' ? { method, url, headers, payload: {} } : { method, url, headers });
      assert.equal(response.statusCode, 401, `${method} ${url} with ${String(authorization)}`);
      assert.equal(response.headers['www-authenticate'], 'Basic realm="Warren"');
      const body = response.json<{ error: string; reason: string }>();
      assert.equal(body.error, 'not_authorized');
      assert.ok(!response.body.includes('wrong') && !response.body.includes('guest'), 'the body does not repeat credentials');
    }
  }
  await app.close();
});

test('guest from a non-loopback address is refused like a wrong password', async () => {
  const app = newApp(new FakeBackend());
  const response = await app.inject({ method: 'GET', url: '/api/tasks', headers: { authorization: GUEST }, remoteAddress: '10.1.2.3' });
  assert.equal(response.statusCode, 401);
  await app.close();
});

test('a user without access to the vhost "/" gets 403', async () => {
  const app = newApp(new FakeBackend());
  const authorization = `Basic ${Buffer.from('nobody:pw').toString('base64')}`;
  const response = await app.inject({ method: 'POST', url: '/api/tasks/resize', headers: { authorization }, payload: {} });
  assert.equal(response.statusCode, 403);
  assert.equal(response.json<{ error: string }>().error, 'access_refused');
  await app.close();
});

test('POST submits with the payload and options given and answers 202 with Location and Retry-After', async () => {
  const backend = new FakeBackend();
  const app = newApp(backend);
  const options = { attempts: 3, timeoutMs: 500, delayMs: 2500, priority: 9, backoff: { kind: 'fixed', delayMs: 10, jitter: false } };
  const response = await app.inject({ method: 'POST', url: '/api/tasks/img.resize:v2', headers: { authorization: GUEST }, payload: { payload: [1, 'two'], options } });
  assert.equal(response.statusCode, 202);
  assert.deepEqual(response.json(), { id: 'task-1', state: 'queued' });
  assert.equal(response.headers['location'], '/api/tasks/task-1');
  assert.equal(response.headers['retry-after'], '3', 'a delayed task is not worth polling before its delay');
  assert.deepEqual(backend.submitted, [{ name: 'img.resize:v2', payload: [1, 'two'], options }]);
  const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
  const bare = await app.inject({ method: 'POST', url: '/api/tasks/resize', headers: { authorization: GUEST, traceparent }, payload: {} });
  assert.equal(bare.statusCode, 202);
  assert.equal(bare.headers['retry-after'], '1');
  assert.deepEqual(backend.submitted[1], { name: 'resize', payload: null, options: { traceparent } }, 'the trace context goes with the task');
  await app.close();
});

test('bad input is a 400 (or 413, 415) with a JSON { error, reason } body', async () => {
  const backend = new FakeBackend();
  const app = newApp(backend);
  const cases: { url?: string; payload: string; contentType?: string; status: number }[] = [
    { payload: '{"payload": ', status: 400 },
    { payload: '', status: 400 },
    { payload: '[1]', status: 400 },
    { payload: '{"payload": 1, "extra": 2}', status: 400 },
    { payload: '{"options": {"attempts": 0}}', status: 400 },
    { payload: '{"options": {"attempts": "3"}}', status: 400 },
    { payload: '{"options": {"priority": 10}}', status: 400 },
    { payload: '{"options": {"timeoutMs": -1}}', status: 400 },
    { payload: '{"options": {"delayMs": 1.5}}', status: 400 },
    { payload: '{"options": {"retries": 3}}', status: 400 },
    { payload: '{"options": {"backoff": {"kind": "linear"}}}', status: 400 },
    { url: '/api/tasks/bad%20name', payload: '{}', status: 400 },
    { url: `/api/tasks/${'x'.repeat(201)}`, payload: '{}', status: 400 },
    { url: `/api/tasks/${'x'.repeat(300)}`, payload: '{}', status: 414 },
    { url: '/api/tasks/%E0%A4%A', payload: '{}', status: 400 },
    { payload: JSON.stringify({ payload: 'x'.repeat(2000) }), status: 413 },
    { payload: 'hello', contentType: 'text/plain', status: 415 },
  ];
  for (const { url = '/api/tasks/resize', payload, contentType = 'application/json', status } of cases) {
    const response = await app.inject({ method: 'POST', url, headers: { authorization: GUEST, 'content-type': contentType }, payload });
    assert.equal(response.statusCode, status, `${url} ${payload.slice(0, 60)}: ${response.body}`);
    const body = response.json<{ error: string; reason: string }>();
    assert.equal(typeof body.error, 'string');
    assert.equal(typeof body.reason, 'string');
  }
  assert.equal(backend.submitted.length, 0, 'nothing invalid was submitted');
  await app.close();
});

test('GET reports a task with ISO timestamps, Retry-After while unfinished, and 404 JSON for an unknown one', async () => {
  const backend = new FakeBackend();
  backend.records.set('a', record('a', { state: 'running', attempts: 1, startedAt: 1500 }));
  backend.records.set('b', record('b', { state: 'succeeded', attempts: 1, startedAt: 1500, finishedAt: 1800, result: { ok: true } }));
  const app = newApp(backend);
  const running = await app.inject({ method: 'GET', url: '/api/tasks/a', headers: { authorization: GUEST } });
  assert.equal(running.statusCode, 200);
  assert.equal(running.headers['retry-after'], '1');
  assert.deepEqual(running.json(), {
    id: 'a', name: 'resize', state: 'running', run: 1, attempts: 1, maxAttempts: 1, options: DEFAULT_TASK_OPTIONS, payload: { w: 1 },
    createdAt: '1970-01-01T00:00:01.000Z', startedAt: '1970-01-01T00:00:01.500Z', updatedAt: '1970-01-01T00:00:02.000Z',
  });
  const done = await app.inject({ method: 'GET', url: '/api/tasks/b', headers: { authorization: GUEST } });
  assert.equal(done.headers['retry-after'], undefined);
  assert.deepEqual(done.json<{ result: unknown; finishedAt: string }>().result, { ok: true });
  const missing = await app.inject({ method: 'GET', url: '/api/tasks/nope', headers: { authorization: GUEST } });
  assert.equal(missing.statusCode, 404);
  assert.equal(missing.json<{ error: string }>().error, 'not_found');
  await app.close();
});

test('GET /api/tasks passes filters and paging, and refuses bad ones', async () => {
  const backend = new FakeBackend();
  backend.records.set('a', record('a'));
  const app = newApp(backend);
  const listed = await app.inject({ method: 'GET', url: '/api/tasks?name=resize&state=dead&limit=5&offset=10', headers: { authorization: GUEST } });
  assert.equal(listed.statusCode, 200);
  assert.equal(listed.json<unknown[]>().length, 1);
  await app.inject({ method: 'GET', url: '/api/tasks', headers: { authorization: GUEST } });
  assert.deepEqual(backend.queries, [{ name: 'resize', state: 'dead', limit: 5, offset: 10 }, { limit: 100, offset: 0 }]);
  for (const query of ['state=sleeping', 'limit=0', 'limit=1001', 'limit=x', 'offset=-1', 'name=a%20b', 'colour=red']) {
    const response = await app.inject({ method: 'GET', url: `/api/tasks?${query}`, headers: { authorization: GUEST } });
    assert.equal(response.statusCode, 400, query);
    assert.equal(response.json<{ error: string }>().error, 'bad_request');
  }
  await app.close();
});

test('retry: 202 for a dead or failed task, 404 unknown, 409 in any other state', async () => {
  const backend = new FakeBackend();
  backend.records.set('dead', record('dead', { state: 'dead' }));
  backend.records.set('failed', record('failed', { state: 'failed' }));
  backend.records.set('done', record('done', { state: 'succeeded' }));
  const app = newApp(backend);
  const retry = (id: string) => app.inject({ method: 'POST', url: `/api/tasks/${id}/retry`, headers: { authorization: GUEST } });
  for (const id of ['dead', 'failed']) {
    const response = await retry(id);
    assert.equal(response.statusCode, 202);
    assert.deepEqual(response.json(), { id, state: 'queued' });
    assert.equal(response.headers['location'], `/api/tasks/${id}`);
    assert.equal(response.headers['retry-after'], '1');
  }
  assert.equal((await retry('nope')).statusCode, 404);
  const conflict = await retry('done');
  assert.equal(conflict.statusCode, 409);
  assert.equal(conflict.json<{ error: string }>().error, 'conflict');
  await app.close();
});

test('unknown paths are 404 JSON; without a task layer the gateway answers 503', async () => {
  const app = newApp(undefined);
  const unknown = await app.inject({ method: 'GET', url: '/nowhere' });
  assert.equal(unknown.statusCode, 404);
  assert.equal(unknown.json<{ error: string }>().error, 'not_found');
  const unknownApi = await app.inject({ method: 'GET', url: '/api/nowhere', headers: { authorization: GUEST } });
  assert.equal(unknownApi.statusCode, 404);
  const disabled = await app.inject({ method: 'GET', url: '/api/tasks', headers: { authorization: GUEST } });
  assert.equal(disabled.statusCode, 503);
  assert.equal(disabled.json<{ error: string }>().error, 'unavailable');
  const document = await app.inject({ method: 'GET', url: '/api/tasks/openapi.json', headers: { authorization: GUEST } });
  assert.equal(document.statusCode, 200, 'the document is served even when the gateway is off');
  await app.close();
});
