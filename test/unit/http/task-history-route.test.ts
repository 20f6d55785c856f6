/**
 * GET /api/tasks/{id}/history against a fake task layer: the events with ISO times and no protocol
 * marker, 404 for an unknown task, 503 on a backend that keeps no history, and credentials required.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { Users } from '../../../src/broker/users.js';
import { GUEST_USER } from '../../../src/config/config.js';
import { buildHttpApp } from '../../../src/http/server.js';
import type { TaskGatewayBackend } from '../../../src/http/task-backend.js';
import { DEFAULT_TASK_OPTIONS, TASK_PROTOCOL_VERSION, type TaskEvent } from '../../../src/tasks/protocol.js';
import type { TaskRecord } from '../../../src/tasks/store/result-store.js';
import { createLogger } from '../../../src/util/logger.js';

const GUEST = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
const TASK: TaskRecord = { id: 't1', name: 'resize', state: 'queued', run: 1, attempts: 1, payload: null, options: DEFAULT_TASK_OPTIONS, createdAt: 1000, updatedAt: 3000 };
const EVENTS: TaskEvent[] = [
  { protocol: TASK_PROTOCOL_VERSION, kind: 'queued', id: 't1', name: 'resize', run: 1, attempt: 1, at: 1000, enqueuedAt: 1000, payload: null },
  { protocol: TASK_PROTOCOL_VERSION, kind: 'started', id: 't1', name: 'resize', run: 1, attempt: 1, at: 2000, worker: 'host:1' },
  { protocol: TASK_PROTOCOL_VERSION, kind: 'retrying', id: 't1', name: 'resize', run: 1, attempt: 1, at: 3000, retryAt: 4000, error: { name: 'Error', message: 'boom', retryable: true } },
];

function backend(withHistory: boolean): TaskGatewayBackend {
  return {
    submit: async () => ({ id: 't2' }),
    get: async (id) => (id === TASK.id ? TASK : undefined),
    list: async () => [TASK],
    retry: async () => ({ outcome: 'notFound' }),
    stats: () => ({}),
    ...(withHistory ? { history: async (id: string) => (id === TASK.id ? EVENTS : []) } : {}),
  };
}

function newApp(tasks: TaskGatewayBackend): FastifyInstance {
  return buildHttpApp({ users: new Users([GUEST_USER]), tasks, bodySizeMaxBytes: 1024, logger: createLogger('silent') });
}

test('the history lists the events oldest first with ISO times', async () => {
  const app = newApp(backend(true));
  const response = await app.inject({ method: 'GET', url: '/api/tasks/t1/history', headers: { authorization: GUEST } });
  assert.equal(response.statusCode, 200);
  const entries = response.json() as Record<string, unknown>[];
  assert.deepEqual(entries.map((entry) => entry['kind']), ['queued', 'started', 'retrying']);
  assert.equal(entries[0]?.['at'], '1970-01-01T00:00:01.000Z');
  assert.equal(entries[0]?.['enqueuedAt'], '1970-01-01T00:00:01.000Z');
  assert.equal(entries[0]?.['protocol'], undefined);
  assert.equal(entries[1]?.['worker'], 'host:1');
  assert.equal(entries[2]?.['retryAt'], '1970-01-01T00:00:04.000Z');
  assert.deepEqual(entries[2]?.['error'], { name: 'Error', message: 'boom', retryable: true });
  await app.close();
});

test('an unknown task is a 404, a backend without histories a 503, no credentials a 401', async () => {
  const app = newApp(backend(true));
  assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/nope/history', headers: { authorization: GUEST } })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/api/tasks/t1/history' })).statusCode, 401);
  await app.close();
  const without = newApp(backend(false));
  const unavailable = await without.inject({ method: 'GET', url: '/api/tasks/t1/history', headers: { authorization: GUEST } });
  assert.equal(unavailable.statusCode, 503);
  assert.equal((unavailable.json() as { error: string }).error, 'unavailable');
  await without.close();
});
