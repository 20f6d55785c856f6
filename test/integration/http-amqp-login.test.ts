/**
 * The standalone keeper's HTTP authentication (AmqpLoginAuthenticator) against a real in-process Warren,
 * through a TCP proxy that counts the logins reaching the broker: right and wrong passwords, vhost
 * access (530 -> a user without access, 403 at the gateway), the empty-password trap, loopback-only
 * users, caching of accepted and refused checks, one login for concurrent identical requests, the
 * concurrency limit, and an unreachable broker (503, never cached).
 */
import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { GUEST_USER } from '../../src/config/config.js';
import { AmqpLoginAuthenticator } from '../../src/http/amqp-login-authenticator.js';
import { HttpError } from '../../src/http/errors.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

const skipExternal = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node and its users' : false, timeout: 30_000 };
const ALL = { configure: '.*', write: '.*', read: '.*' };

/** A TCP proxy to the broker that counts connections, and can hold each new one back (a slow broker). */
class CountingProxy {
  connections = 0;
  /** How long each new connection waits before it is passed on. */
  delayMs = 0;
  private readonly sockets = new Set<Socket>();
  private readonly server: Server;

  constructor(targetPort: number) {
    this.server = createServer((client) => {
      this.connections++;
      this.sockets.add(client);
      client.on('error', () => {});
      client.pause();
      setTimeout(() => {
        const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
        this.sockets.add(upstream);
        upstream.on('error', () => {});
        upstream.on('close', () => this.sockets.delete(upstream));
        client.pipe(upstream).pipe(client);
        client.resume();
        client.on('close', () => upstream.destroy());
        upstream.on('close', () => client.destroy());
      }, this.delayMs);
      client.on('close', () => this.sockets.delete(client));
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let broker: TestBroker;
let proxy: CountingProxy;
let proxyUrl: string;

before(async () => {
  if (skipExternal.skip !== false) return;
  broker = await startTestBroker({
    users: [
      GUEST_USER,
      { username: 'alice', password: 'wonder land:@/%41', tags: [], permissions: { '/': ALL }, loopbackOnly: false },
      ...['u1', 'u2', 'u3', 'u4', 'u5', 'u6'].map((username) => ({ username, password: 'pw', tags: [], permissions: { '/': ALL }, loopbackOnly: false })),
      { username: 'outsider', password: 'pw', tags: [], permissions: {}, loopbackOnly: false },
    ],
  });
  proxy = new CountingProxy(broker.port);
  proxyUrl = `amqp://keeper:unused@127.0.0.1:${await proxy.listen()}/`;
});

after(async () => {
  if (skipExternal.skip !== false) return;
  await proxy.close();
  await broker.close();
});

test('right password accepted with vhost access; wrong one refused; special characters survive', skipExternal, async () => {
  const auth = new AmqpLoginAuthenticator({ brokerUrl: proxyUrl });
  const accepted = await auth.authenticate('alice', 'wonder land:@/%41', '10.0.0.7');
  assert.ok(accepted.ok);
  assert.equal(accepted.user.username, 'alice');
  assert.ok(auth.permission(accepted.user, '/') !== undefined);
  const refused = await auth.authenticate('alice', 'wonder land:@/A', '10.0.0.7');
  assert.equal(refused.ok, false, 'a %41 in the password is not decoded into A');
});

test('a user the broker keeps out of the vhost (530) logs in but has no access: the gateway answers 403', skipExternal, async () => {
  const auth = new AmqpLoginAuthenticator({ brokerUrl: proxyUrl });
  const outsider = await auth.authenticate('outsider', 'pw', '127.0.0.1');
  assert.ok(outsider.ok);
  assert.equal(auth.permission(outsider.user, '/'), undefined);
});

test('an empty username or password is refused without asking the broker (the client would use guest)', skipExternal, async () => {
  const auth = new AmqpLoginAuthenticator({ brokerUrl: proxyUrl });
  const before = proxy.connections;
  assert.equal((await auth.authenticate('guest', '', '127.0.0.1')).ok, false);
  assert.equal((await auth.authenticate('', 'guest', '127.0.0.1')).ok, false);
  assert.equal(proxy.connections, before);
});

test('guest is accepted from loopback HTTP clients only (RabbitMQ\'s loopback_users)', skipExternal, async () => {
  const auth = new AmqpLoginAuthenticator({ brokerUrl: proxyUrl });
  assert.ok((await auth.authenticate('guest', 'guest', '127.0.0.1')).ok);
  assert.ok((await auth.authenticate('guest', 'guest', '::ffff:127.0.0.1')).ok);
  const remote = await auth.authenticate('guest', 'guest', '192.0.2.10');
  assert.equal(remote.ok, false);
  assert.match(remote.ok ? '' : remote.reason, /only connect via localhost/);
});

test('concurrent identical checks share one login; an accepted one is cached; a refused one only briefly', skipExternal, async () => {
  const auth = new AmqpLoginAuthenticator({ brokerUrl: proxyUrl, acceptedTtlMs: 60_000, refusedTtlMs: 300 });
  const before = proxy.connections;
  const results = await Promise.all(Array.from({ length: 20 }, () => auth.authenticate('alice', 'wonder land:@/%41', '127.0.0.1')));
  assert.ok(results.every((result) => result.ok));
  assert.equal(proxy.connections - before, 1, 'twenty requests, one login');
  await auth.authenticate('alice', 'wonder land:@/%41', '127.0.0.1');
  assert.equal(proxy.connections - before, 1, 'cached');

  assert.equal((await auth.authenticate('alice', 'nope', '127.0.0.1')).ok, false);
  assert.equal((await auth.authenticate('alice', 'nope', '127.0.0.1')).ok, false);
  assert.equal(proxy.connections - before, 2, 'a refusal is remembered for a moment');
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.equal((await auth.authenticate('alice', 'nope', '127.0.0.1')).ok, false);
  assert.equal(proxy.connections - before, 3, 'and asked again after it');
});

test('at most concurrencyMax logins run at once; beyond waitingMax a check is a 503', skipExternal, async () => {
  const auth = new AmqpLoginAuthenticator({ brokerUrl: proxyUrl, concurrencyMax: 2, waitingMax: 3 });
  proxy.delayMs = 150;
  try {
    const began = Date.now();
    const results = await Promise.all(['u1', 'u2', 'u3', 'u4', 'u5'].map((username) => auth.authenticate(username, 'pw', '127.0.0.1')));
    assert.ok(results.every((result) => result.ok));
    // Five logins, two at a time, each held back 150 ms by the broker: at least three rounds.
    assert.ok(Date.now() - began >= 3 * 150 - 10, `five logins took ${Date.now() - began} ms: more than two ran at once`);
    const crowded = new AmqpLoginAuthenticator({ brokerUrl: proxyUrl, concurrencyMax: 1, waitingMax: 1 });
    const outcomes = await Promise.allSettled(['u1', 'u2', 'u6'].map((username) => crowded.authenticate(username, 'pw', '127.0.0.1')));
    const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
    assert.equal(rejected.length, 1);
    assert.ok(rejected[0]?.status === 'rejected' && rejected[0].reason instanceof HttpError && rejected[0].reason.statusCode === 503);
  } finally {
    proxy.delayMs = 0;
  }
});

test('an unreachable broker is a 503, and is not remembered', skipExternal, async () => {
  const closed = createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const address = closed.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise((resolve) => closed.close(resolve));
  const auth = new AmqpLoginAuthenticator({ brokerUrl: `amqp://k:k@127.0.0.1:${port}/`, timeoutMs: 2000 });
  for (let attempt = 0; attempt < 2; attempt++) {
    await assert.rejects(auth.authenticate('alice', 'x', '127.0.0.1'), (error: unknown) => error instanceof HttpError && error.statusCode === 503);
  }
});
