/**
 * Issue 6 over HTTP, on a real in-process node (its own keeper and SQLite store) and a real worker: the
 * Idempotency-Key header (a replay answers 200 with the existing task and Idempotent-Replayed: true),
 * runAt in the submit options, and the schedule routes PUT/GET/DELETE /api/tasks/schedules[/{id}].
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { createWorker, type Worker } from '../../src/tasks/worker.js';
import type { TaskView } from '../../src/http/task-view.js';
import type { ScheduleView } from '../../src/http/schedule-routes.js';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 30_000 };
const GUEST = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };

let node: WarrenNode;
let dataDir: string;
let worker: Worker;
let base: string;

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-http-issue6-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
  base = `http://127.0.0.1:${node.httpPort}`;
  worker = createWorker({ url: `amqp://guest:guest@127.0.0.1:${node.amqpPort}`, concurrency: 4, shutdownTimeoutMs: 1000 });
  worker.handle<{ n: number }, number>('http-idem-square', ({ n }) => n * n);
  await worker.start();
});

after(async () => {
  if (options.skip !== false) return;
  await worker.close();
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method,
    headers: { ...GUEST, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function finished(id: string): Promise<TaskView> {
  const response = await send('GET', `/api/tasks/${id}?wait=10`);
  assert.equal(response.status, 200);
  return (await response.json()) as TaskView;
}

test('a repeated Idempotency-Key answers 200 with the existing task and Idempotent-Replayed: true', options, async () => {
  const first = await send('POST', '/api/tasks/http-idem-square', { payload: { n: 7 } }, { 'idempotency-key': 'invoice-42' });
  assert.equal(first.status, 202);
  assert.equal(first.headers.get('idempotent-replayed'), null);
  const { id } = (await first.json()) as { id: string };
  assert.equal((await finished(id)).result, 49);
  const again = await send('POST', '/api/tasks/http-idem-square', { payload: { n: 7 } }, { 'idempotency-key': 'invoice-42' });
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('idempotent-replayed'), 'true');
  assert.equal(again.headers.get('location'), `/api/tasks/${id}`);
  assert.deepEqual(await again.json(), { id, state: 'succeeded', replayed: true });
  const listed = (await (await send('GET', '/api/tasks?name=http-idem-square')).json()) as TaskView[];
  assert.equal(listed.filter((task) => task.id === id).length, 1);
  assert.equal(listed.length, 1, 'no second task');
});

test('an empty or too long Idempotency-Key is a 400', options, async () => {
  for (const key of ['', ' ', 'k'.repeat(256)]) {
    const response = await send('POST', '/api/tasks/http-idem-square', { payload: { n: 1 } }, { 'idempotency-key': key });
    assert.equal(response.status, 400, JSON.stringify(key));
    assert.match(((await response.json()) as { reason: string }).reason, /Idempotency-Key/);
  }
});

test('runAt over HTTP delays the task; with delayMs, or unreadable, it is a 400', options, async () => {
  const runAt = new Date(Date.now() + 600).toISOString();
  const response = await send('POST', '/api/tasks/http-idem-square', { payload: { n: 3 }, options: { runAt } });
  assert.equal(response.status, 202);
  const { id } = (await response.json()) as { id: string };
  const task = await finished(id);
  assert.equal(task.result, 9);
  assert.ok(task.startedAt !== undefined && Date.parse(task.startedAt) >= Date.parse(runAt) - 10, `started ${task.startedAt}, runAt ${runAt}`);
  assert.ok(task.options.delayMs > 0);
  const both = await send('POST', '/api/tasks/http-idem-square', { options: { runAt: Date.now() + 100, delayMs: 100 } });
  assert.equal(both.status, 400);
  assert.equal((await send('POST', '/api/tasks/http-idem-square', { options: { runAt: 'soon' } })).status, 400);
});

test('schedules: PUT creates and replaces, GET lists and reads, DELETE removes; bad definitions are 400', options, async () => {
  const put = await send('PUT', '/api/tasks/schedules/nightly-report', { name: 'http-idem-square', cron: '0 3 * * *', tz: 'Europe/Berlin', payload: { n: 2 }, options: { attempts: 3 } });
  assert.equal(put.status, 200);
  const created = (await put.json()) as ScheduleView;
  assert.equal(created.id, 'nightly-report');
  assert.equal(created.tz, 'Europe/Berlin');
  assert.equal(created.options.attempts, 3);
  assert.ok(created.nextRunAt !== undefined);
  // 03:00 in Berlin is 02:00 UTC in winter and 01:00 UTC in summer.
  assert.match(created.nextRunAt, /T0[12]:00:00\.000Z$/);

  const replaced = (await (await send('PUT', '/api/tasks/schedules/nightly-report', { name: 'http-idem-square', cron: '*/10 * * * *' })).json()) as ScheduleView;
  assert.equal(replaced.cron, '*/10 * * * *');
  assert.equal(replaced.tz, 'UTC');
  assert.equal(replaced.createdAt, created.createdAt, 'replacing keeps createdAt');
  assert.deepEqual(((await (await send('GET', '/api/tasks/schedules')).json()) as ScheduleView[]).map((s) => s.id), ['nightly-report']);
  assert.equal(((await (await send('GET', '/api/tasks/schedules/nightly-report')).json()) as ScheduleView).cron, '*/10 * * * *');

  for (const body of [{ name: 'http-idem-square', cron: 'every day' }, { name: 'http-idem-square', cron: '* * * * *', tz: 'Nowhere/Town' }, { name: 'bad name!', cron: '* * * * *' }, { cron: '* * * * *' }]) {
    assert.equal((await send('PUT', '/api/tasks/schedules/other', body)).status, 400, JSON.stringify(body));
  }
  assert.equal((await send('DELETE', '/api/tasks/schedules/nightly-report')).status, 204);
  assert.equal((await send('DELETE', '/api/tasks/schedules/nightly-report')).status, 404);
  assert.equal((await send('GET', '/api/tasks/schedules/nightly-report')).status, 404);
  assert.deepEqual(await (await send('GET', '/api/tasks/schedules')).json(), []);
});

test('the OpenAPI document describes the schedule routes and the Idempotency-Key header', options, async () => {
  const document = (await (await send('GET', '/api/tasks/openapi.json')).json()) as { paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: Record<string, unknown> }>> };
  assert.deepEqual(Object.keys(document.paths['/api/tasks/schedules/{id}'] ?? {}).sort(), ['delete', 'get', 'put']);
  assert.ok(document.paths['/api/tasks/schedules']?.['get']);
  const submit = document.paths['/api/tasks/{name}']?.['post'];
  assert.ok(submit?.parameters?.some((parameter) => parameter.name === 'Idempotency-Key'));
  assert.ok(submit?.responses['200']);
});
