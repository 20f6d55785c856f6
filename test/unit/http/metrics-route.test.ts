/**
 * The HTTP server's /metrics route and its pluggable authentication: /metrics serves the registry's
 * families without credentials (and is absent without a registry), a collector's failure is a 500, and
 * an asynchronous authenticator's verdicts (and its 503) reach /api answers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthenticationResult, User } from '../../../src/broker/users.js';
import type { Permission } from '../../../src/config/config.js';
import { HttpError } from '../../../src/http/errors.js';
import type { HttpAuthenticator } from '../../../src/http/http-authenticator.js';
import { buildHttpApp } from '../../../src/http/server.js';
import { MetricsRegistry } from '../../../src/metrics/registry.js';
import { createLogger } from '../../../src/util/logger.js';

/** Accepts 'ok:ok' after a tick, refuses everything else, and is unavailable for user 'down'. */
class AsyncAuthenticator implements HttpAuthenticator {
  async authenticate(username: string, password: string): Promise<AuthenticationResult> {
    await new Promise((resolve) => setImmediate(resolve));
    if (username === 'down') throw new HttpError(503, 'the broker could not check the credentials');
    if (username !== 'ok' || password !== 'ok') return { ok: false, reason: 'invalid credentials' };
    return { ok: true, user: { username, passwordHash: '', tags: [], permissions: new Map(), loopbackOnly: false } };
  }
  permission(_user: User, _vhost: string): Permission | undefined {
    return { configure: '.*', write: '.*', read: '.*' };
  }
}

const basic = (credentials: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(credentials).toString('base64')}` });

function newApp(metrics?: MetricsRegistry): ReturnType<typeof buildHttpApp> {
  return buildHttpApp({ users: new AsyncAuthenticator(), tasks: undefined, bodySizeMaxBytes: 1024, metrics, logger: createLogger('silent') });
}

test('/metrics answers the registry as Prometheus text, without credentials; HEAD too', async () => {
  const registry = new MetricsRegistry().register({ collect: () => [{ name: 'demo_up', help: 'Up.', type: 'gauge', samples: [{ suffix: '', labels: {}, value: 1 }] }] });
  const app = newApp(registry);
  const response = await app.inject({ method: 'GET', url: '/metrics' });
  assert.equal(response.statusCode, 200);
  assert.equal(response.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.equal(response.body, '# HELP demo_up Up.\n# TYPE demo_up gauge\ndemo_up 1\n');
  assert.equal((await app.inject({ method: 'HEAD', url: '/metrics' })).statusCode, 200);
});

test('without a registry there is no /metrics; a failing collector is a JSON 500', async () => {
  assert.equal((await newApp().inject({ method: 'GET', url: '/metrics' })).statusCode, 404);
  const broken = new MetricsRegistry().register({ collect: () => Promise.reject(new Error('boom')) });
  const response = await newApp(broken).inject({ method: 'GET', url: '/metrics' });
  assert.equal(response.statusCode, 500);
  assert.equal(JSON.parse(response.body).error, 'internal_error');
});

test('an asynchronous authenticator decides /api: 401 refused, 503 unavailable, accepted reaches the route', async () => {
  const app = newApp();
  assert.equal((await app.inject({ method: 'GET', url: '/api/tasks', headers: basic('ok:wrong') })).statusCode, 401);
  const down = await app.inject({ method: 'GET', url: '/api/tasks', headers: basic('down:x') });
  assert.equal(down.statusCode, 503);
  assert.equal(JSON.parse(down.body).error, 'unavailable');
  // Accepted: the gateway runs, and answers 503 itself because this app has no task layer.
  const accepted = await app.inject({ method: 'GET', url: '/api/tasks', headers: basic('ok:ok') });
  assert.equal(accepted.statusCode, 503);
  assert.match(JSON.parse(accepted.body).reason, /task gateway is disabled/);
});
