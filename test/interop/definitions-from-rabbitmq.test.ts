/**
 * Issue 7's definitions acceptance: a definitions file exported by a real RabbitMQ (Debian's
 * rabbitmq-server with its management plugin, private node) - a vhost, a user with its password hash,
 * permissions, exchanges, a queue with arguments, a binding and a policy - imports into Warren; the
 * imported user logs in over AMQP with its original password; Warren's re-export is equivalent.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { skip, startTestRabbitmq, type TestRabbitmq } from '../helpers/rabbitmq.js';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : skip, timeout: 90_000 };
const GUEST = `Basic ${Buffer.from('guest:guest').toString('base64')}`;

type Json = Record<string, unknown>;

let rabbitmq: TestRabbitmq | undefined;
let warren: WarrenNode | undefined;
let dataDir: string;

async function call(base: string, method: string, path: string, body?: unknown): Promise<Response> {
  const response = await fetch(`${base}${path}`, {
    method, headers: { authorization: GUEST, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.clone().text()}`);
  return response;
}

before(async () => {
  if (options.skip !== false) return;
  rabbitmq = await startTestRabbitmq({ management: true });
  dataDir = await mkdtemp(join(tmpdir(), 'warren-definitions-rabbitmq-'));
  warren = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
});

after(async () => {
  await warren?.close();
  await rabbitmq?.stop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

/** The items of a section that belong to the test's vhost or user, as sorted JSON texts. */
function mine(definitions: Json, section: string, keys: readonly string[]): string[] {
  const items = (definitions[section] as Json[]).filter((item) => item['vhost'] === 'shop' || item['name'] === 'clerk' || item['name'] === 'shop');
  return items.map((item) => JSON.stringify(Object.fromEntries(keys.map((key) => [key, item[key]])))).sort();
}

test('a definitions file exported by RabbitMQ imports into Warren; the user logs in with its password; re-export is equivalent', options, async () => {
  const rabbit = rabbitmq?.httpUrl;
  assert.ok(rabbit !== undefined && warren !== undefined);
  // RabbitMQ's management plugin may answer a moment after AMQP does.
  for (let tries = 0; tries < 60; tries++) {
    if ((await fetch(`${rabbit}/api/overview`, { headers: { authorization: GUEST } }).catch(() => undefined))?.ok === true) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await call(rabbit, 'PUT', '/api/vhosts/shop', {});
  await call(rabbit, 'PUT', '/api/users/clerk', { password: 'orig-pw', tags: 'monitoring' });
  await call(rabbit, 'PUT', '/api/permissions/shop/clerk', { configure: '^orders', write: '.*', read: '.*' });
  await call(rabbit, 'PUT', '/api/exchanges/shop/orders', { type: 'topic', durable: true, arguments: { 'alternate-exchange': 'orders.unrouted' } });
  await call(rabbit, 'PUT', '/api/exchanges/shop/orders.unrouted', { type: 'fanout', durable: true });
  await call(rabbit, 'PUT', '/api/queues/shop/orders.new', { durable: true, arguments: { 'x-message-ttl': 60000, 'x-max-length': 1000, 'x-dead-letter-exchange': 'orders.unrouted' } });
  await call(rabbit, 'POST', '/api/bindings/shop/e/orders/q/orders.new', { routing_key: 'order.*', arguments: {} });
  await call(rabbit, 'PUT', '/api/policies/shop/limits', { pattern: '^orders\\.', definition: { 'max-length-bytes': 1048576 }, priority: 1, 'apply-to': 'queues' });
  const exported = (await (await call(rabbit, 'GET', '/api/definitions')).json()) as Json;
  assert.equal(exported['product_name'], 'RabbitMQ');

  const base = `http://127.0.0.1:${warren.httpPort}`;
  assert.equal((await call(base, 'POST', '/api/definitions', exported)).status, 204);

  const connection = await amqplib.connect(`amqp://clerk:orig-pw@127.0.0.1:${warren.amqpPort}/shop`);
  const channel = await connection.createChannel();
  assert.equal((await channel.checkQueue('orders.new')).queue, 'orders.new');
  await connection.close();
  await assert.rejects(amqplib.connect(`amqp://clerk:wrong@127.0.0.1:${warren.amqpPort}/shop`));
  const queue = (await (await call(base, 'GET', '/api/queues/shop/orders.new')).json()) as Json;
  assert.equal(queue['policy'], 'limits', 'the imported policy applies');

  const reexported = (await (await call(base, 'GET', '/api/definitions')).json()) as Json;
  const sections: [string, string[]][] = [
    ['users', ['name', 'password_hash', 'hashing_algorithm', 'tags', 'limits']],
    ['vhosts', ['name']],
    ['permissions', ['user', 'vhost', 'configure', 'write', 'read']],
    ['policies', ['vhost', 'name', 'pattern', 'apply-to', 'definition', 'priority']],
    ['queues', ['name', 'vhost', 'durable', 'auto_delete', 'arguments']],
    ['exchanges', ['name', 'vhost', 'type', 'durable', 'auto_delete', 'internal', 'arguments']],
    ['bindings', ['source', 'vhost', 'destination', 'destination_type', 'routing_key', 'arguments']],
  ];
  for (const [section, keys] of sections) {
    const original = mine(exported, section, keys);
    assert.ok(original.length > 0, `RabbitMQ exported some ${section}`);
    assert.deepEqual(mine(reexported, section, keys), original, `${section} re-exported as RabbitMQ exported them`);
  }
});
