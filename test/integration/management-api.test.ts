/**
 * RabbitMQ's management HTTP API on an in-process node, driven by fetch and amqplib: the field names
 * RabbitMQ's clients read, the verbs that change things (and that the change is real over AMQP), list
 * parameters, tag-based access, definitions export and import, health checks, closing a connection.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { waitFor } from '../helpers/amqp.js';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 30_000 };

let node: WarrenNode;
let dataDir: string;
let base: string;
let amqpUrl: string;

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function api(method: string, path: string, body?: unknown, authorization = basic('guest', 'guest')): Promise<{ status: number; json: unknown; headers: Headers }> {
  const response = await fetch(`${base}${path}`, {
    method, headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text), headers: response.headers };
}

type Json = Record<string, unknown>;

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-management-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  base = `http://127.0.0.1:${node.httpPort}`;
  amqpUrl = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
});

after(async () => {
  if (options.skip !== false) return;
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('overview, whoami and nodes answer with RabbitMQ field names', options, async () => {
  const overview = (await api('GET', '/api/overview')).json as Json;
  for (const field of ['management_version', 'rabbitmq_version', 'node', 'cluster_name', 'listeners', 'object_totals', 'queue_totals', 'exchange_types']) {
    assert.ok(field in overview, `overview has ${field}`);
  }
  const listeners = overview['listeners'] as Json[];
  assert.ok(listeners.some((listener) => listener['protocol'] === 'amqp' && listener['port'] === node.amqpPort));
  assert.deepEqual((await api('GET', '/api/whoami')).json, { name: 'guest', tags: ['administrator'] });
  const nodes = (await api('GET', '/api/nodes')).json as Json[];
  assert.equal(nodes[0]?.['name'], overview['node']);
  assert.equal(nodes[0]?.['running'], true);
});

test('overview message_stats count publishes, confirms, deliveries, acks, gets and redeliveries', options, async () => {
  const stats = async (): Promise<Record<string, number>> => {
    const overview = (await api('GET', '/api/overview')).json as Json;
    return overview['message_stats'] as Record<string, number>;
  };
  const before = await stats();
  assert.equal(typeof (before['publish_details'] as unknown as { rate: unknown }).rate, 'number');
  const connection = await amqplib.connect(amqpUrl);
  try {
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('mgmt.stats', { durable: false });
    for (let i = 0; i < 3; i++) channel.sendToQueue('mgmt.stats', Buffer.from(`s${i}`));
    channel.publish('amq.direct', 'nowhere', Buffer.from('dropped'));
    await channel.waitForConfirms();
    const consumed: amqplib.ConsumeMessage[] = [];
    await channel.consume('mgmt.stats', (message) => message !== null && consumed.push(message));
    await waitFor(() => consumed.length === 3);
    channel.nack(consumed[0] as amqplib.ConsumeMessage, false, true);
    await waitFor(() => consumed.length === 4);
    for (const message of consumed.slice(1)) channel.ack(message);
    await waitFor(async () => (await stats())['ack'] === (before['ack'] ?? 0) + 3);
  } finally {
    await connection.close();
  }
  const after = await stats();
  const delta = (name: string): number => (after[name] ?? 0) - (before[name] ?? 0);
  assert.deepEqual(
    { publish: delta('publish'), confirm: delta('confirm'), deliver: delta('deliver'), ack: delta('ack'), redeliver: delta('redeliver'), drop: delta('drop_unroutable'), deliverGet: delta('deliver_get') },
    { publish: 4, confirm: 4, deliver: 4, ack: 3, redeliver: 1, drop: 1, deliverGet: 4 },
  );
});

test('a queue declared over HTTP is usable over AMQP, and its counts follow ready and unacked messages', options, async () => {
  assert.equal((await api('PUT', '/api/queues/%2F/mgmt.q1', { durable: true, arguments: { 'x-max-length': 100 } })).status, 201);
  assert.equal((await api('PUT', '/api/queues/%2F/mgmt.q1', { durable: true, arguments: { 'x-max-length': 100 } })).status, 204);
  const inequivalent = await api('PUT', '/api/queues/%2F/mgmt.q1', { durable: false });
  assert.equal(inequivalent.status, 400);
  assert.match(String((inequivalent.json as Json)['reason']), /inequivalent arg 'durable'/);

  const connection = await amqplib.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    const declared = await channel.checkQueue('mgmt.q1');
    assert.equal(declared.queue, 'mgmt.q1');
    for (let i = 0; i < 3; i++) channel.sendToQueue('mgmt.q1', Buffer.from(`m${i}`));
    await channel.prefetch(1);
    await channel.consume('mgmt.q1', () => {}, { noAck: false });
    await waitFor(async () => ((await api('GET', '/api/queues/%2F/mgmt.q1')).json as Json)['messages_unacknowledged'] === 1);
    const queue = (await api('GET', '/api/queues/%2F/mgmt.q1')).json as Json;
    assert.equal(queue['messages_ready'], 2);
    assert.equal(queue['messages'], 3);
    assert.equal(queue['consumers'], 1);
    assert.deepEqual(queue['arguments'], { 'x-max-length': 100 });
    for (const field of ['name', 'vhost', 'durable', 'auto_delete', 'exclusive', 'node', 'state', 'type']) assert.ok(field in queue, field);

    const consumers = (await api('GET', '/api/consumers/%2F')).json as Json[];
    const consumer = consumers.find((item) => (item['queue'] as Json)['name'] === 'mgmt.q1');
    assert.equal(consumer?.['ack_required'], true);
    const channels = (await api('GET', '/api/channels')).json as Json[];
    assert.ok(channels.some((item) => item['messages_unacknowledged'] === 1 && item['consumer_count'] === 1));
  } finally {
    await connection.close();
  }
  await waitFor(async () => ((await api('GET', '/api/queues/%2F/mgmt.q1')).json as Json)['messages_ready'] === 3);
  assert.equal((await api('DELETE', '/api/queues/%2F/mgmt.q1/contents')).status, 204);
  assert.equal(((await api('GET', '/api/queues/%2F/mgmt.q1')).json as Json)['messages'], 0);
  assert.equal((await api('DELETE', '/api/queues/%2F/mgmt.q1')).status, 204);
  assert.equal((await api('GET', '/api/queues/%2F/mgmt.q1')).status, 404);
});

test('publish through an exchange and get with each ackmode', options, async () => {
  await api('PUT', '/api/queues/%2F/mgmt.get', { durable: false });
  await api('PUT', '/api/exchanges/%2F/mgmt.topic', { type: 'topic', durable: false });
  const bound = await api('POST', '/api/bindings/%2F/e/mgmt.topic/q/mgmt.get', { routing_key: 'orders.*', arguments: {} });
  assert.equal(bound.status, 201);
  assert.equal(bound.headers.get('location'), 'orders.*');
  const properties = { delivery_mode: 2, content_type: 'text/plain', headers: { tenant: 'a' } };
  assert.deepEqual((await api('POST', '/api/exchanges/%2F/mgmt.topic/publish', { routing_key: 'orders.new', payload: 'first', payload_encoding: 'string', properties })).json, { routed: true });
  assert.deepEqual((await api('POST', '/api/exchanges/%2F/mgmt.topic/publish', { routing_key: 'nowhere', payload: 'x', payload_encoding: 'string', properties: {} })).json, { routed: false });
  await api('POST', '/api/exchanges/%2F/amq.default/publish', { routing_key: 'mgmt.get', payload: Buffer.from([0xff, 0x00]).toString('base64'), payload_encoding: 'base64', properties: {} });

  const peek = (await api('POST', '/api/queues/%2F/mgmt.get/get', { count: 5, ackmode: 'ack_requeue_true', encoding: 'auto' })).json as Json[];
  assert.equal(peek.length, 2);
  assert.deepEqual(
    { payload: peek[0]?.['payload'], encoding: peek[0]?.['payload_encoding'], key: peek[0]?.['routing_key'], properties: peek[0]?.['properties'] },
    { payload: 'first', encoding: 'string', key: 'orders.new', properties },
  );
  assert.deepEqual({ payload: peek[1]?.['payload'], encoding: peek[1]?.['payload_encoding'] }, { payload: '/wA=', encoding: 'base64' });
  const again = (await api('POST', '/api/queues/%2F/mgmt.get/get', { count: 1, ackmode: 'ack_requeue_false', encoding: 'auto' })).json as Json[];
  assert.equal(again[0]?.['redelivered'], true, 'requeued by the first get');
  assert.equal(again[0]?.['message_count'], 1);
  assert.equal(((await api('GET', '/api/queues/%2F/mgmt.get')).json as Json)['messages'], 1);
  assert.equal((await api('POST', '/api/queues/%2F/mgmt.get/get', { count: 1, ackmode: 'sideways' })).status, 400);
});

test('bindings: list, show by properties key, delete', options, async () => {
  await api('PUT', '/api/queues/%2F/mgmt.b', { durable: false });
  await api('PUT', '/api/exchanges/%2F/mgmt.direct', { type: 'direct', durable: false });
  await api('PUT', '/api/exchanges/%2F/mgmt.fan', { type: 'fanout', durable: false });
  await api('POST', '/api/bindings/%2F/e/mgmt.direct/q/mgmt.b', { routing_key: 'k', arguments: { 'x-match': 'all' } });
  await api('POST', '/api/bindings/%2F/e/mgmt.direct/e/mgmt.fan', { routing_key: 'e2e' });
  const all = (await api('GET', '/api/bindings/%2F')).json as Json[];
  assert.ok(all.some((binding) => binding['source'] === '' && binding['destination'] === 'mgmt.b' && binding['routing_key'] === 'mgmt.b'), 'default binding listed');
  const queueBinding = all.find((binding) => binding['source'] === 'mgmt.direct' && binding['destination'] === 'mgmt.b') as Json;
  assert.equal(queueBinding['destination_type'], 'queue');
  const key = encodeURIComponent(String(queueBinding['properties_key']));
  assert.equal((await api('GET', `/api/bindings/%2F/e/mgmt.direct/q/mgmt.b/${key}`)).status, 200);
  const source = (await api('GET', '/api/exchanges/%2F/mgmt.direct/bindings/source')).json as Json[];
  assert.deepEqual(source.map((binding) => binding['destination']).sort(), ['mgmt.b', 'mgmt.fan']);
  assert.equal((await api('DELETE', `/api/bindings/%2F/e/mgmt.direct/q/mgmt.b/${key}`)).status, 204);
  assert.equal((await api('GET', `/api/bindings/%2F/e/mgmt.direct/q/mgmt.b/${key}`)).status, 404);
  assert.equal((await api('DELETE', '/api/exchanges/%2F/mgmt.direct?if-unused=true')).status, 400, 'still bound to mgmt.fan');
  assert.equal((await api('DELETE', '/api/exchanges/%2F/mgmt.fan')).status, 204);
});

test('list parameters: pagination, name filter, regex, sort and columns', options, async () => {
  for (const name of ['page.a', 'page.b', 'page.c', 'other.x']) await api('PUT', `/api/queues/%2F/${name}`, { durable: false });
  const paged = (await api('GET', '/api/queues/%2F?page=2&page_size=2&name=PAGE&sort=name&sort_reverse=true&columns=name,vhost')).json as Json;
  assert.equal(paged['filtered_count'], 3);
  assert.equal(paged['page_count'], 2);
  assert.deepEqual(paged['items'], [{ name: 'page.a', vhost: '/' }]);
  const regex = (await api('GET', '/api/queues?page=1&name=%5Eother%5C.&use_regex=true')).json as Json;
  assert.deepEqual((regex['items'] as Json[]).map((item) => item['name']), ['other.x']);
  assert.equal((await api('GET', '/api/queues?page=1&page_size=501')).status, 400);
  assert.equal((await api('GET', '/api/queues?page=1&name=(&use_regex=true')).status, 400);
});

test('vhosts, users and permissions; tags decide who may do what', options, async () => {
  assert.equal((await api('PUT', '/api/vhosts/mgmt-vh')).status, 201);
  assert.equal((await api('PUT', '/api/users/ops', { password: 's3cret', tags: 'management' })).status, 201);
  assert.equal((await api('PUT', '/api/users/plain', { password: 'plain', tags: '' })).status, 201);
  assert.equal((await api('PUT', '/api/permissions/mgmt-vh/ops', { configure: '.*', write: '.*', read: '.*' })).status, 201);
  assert.deepEqual((await api('GET', '/api/permissions/mgmt-vh/ops')).json, { user: 'ops', vhost: 'mgmt-vh', configure: '.*', write: '.*', read: '.*' });
  const user = (await api('GET', '/api/users/ops')).json as Json;
  assert.equal(user['hashing_algorithm'], 'rabbit_password_hashing_sha256');
  assert.deepEqual(user['tags'], ['management']);

  const ops = basic('ops', 's3cret');
  const seen = (await api('GET', '/api/vhosts', undefined, ops)).json as Json[];
  assert.deepEqual(seen.map((vhost) => vhost['name']), ['mgmt-vh'], 'a management user sees only its vhosts');
  assert.equal((await api('GET', '/api/users', undefined, ops)).status, 401, 'not an administrator');
  assert.equal((await api('PUT', '/api/queues/%2F/ops.q', {}, ops)).status, 401, 'no permission on /');
  assert.equal((await api('PUT', '/api/queues/mgmt-vh/ops.q', {}, ops)).status, 201);
  assert.equal((await api('GET', '/api/overview', undefined, basic('plain', 'plain'))).status, 401, 'no management tag');
  assert.equal((await api('GET', '/api/overview', undefined, basic('ops', 'wrong'))).status, 401);

  const connection = await amqplib.connect(`amqp://ops:s3cret@127.0.0.1:${node.amqpPort}/mgmt-vh`);
  await connection.close();
  assert.equal((await api('DELETE', '/api/users/ops')).status, 204);
  await assert.rejects(amqplib.connect(`amqp://ops:s3cret@127.0.0.1:${node.amqpPort}/mgmt-vh`));
  assert.equal((await api('DELETE', '/api/vhosts/mgmt-vh')).status, 204);
  assert.equal((await api('GET', '/api/vhosts/mgmt-vh')).status, 404);
});

test('definitions export and import round-trip, with a password hash that still logs in', options, async () => {
  await api('PUT', '/api/vhosts/defs-src');
  await api('PUT', '/api/users/defs-user', { password: 'pw-123', tags: ['monitoring'] });
  await api('PUT', '/api/permissions/defs-src/defs-user', { configure: '^defs', write: '.*', read: '.*' });
  await api('PUT', '/api/exchanges/defs-src/defs.x', { type: 'headers', durable: true, arguments: { 'alternate-exchange': 'defs.ae' } });
  await api('PUT', '/api/queues/defs-src/defs.q', { durable: true, arguments: { 'x-message-ttl': 60000, 'x-dead-letter-exchange': 'defs.dlx' } });
  await api('POST', '/api/bindings/defs-src/e/defs.x/q/defs.q', { routing_key: '', arguments: { 'x-match': 'any', kind: 'a' } });
  await api('PUT', '/api/policies/defs-src/defs-limit', { pattern: '^defs\\.', 'apply-to': 'queues', priority: 3, definition: { 'max-length': 5 } });
  const exported = (await api('GET', '/api/definitions')).json as Json;
  const mine = (key: string): Json[] => (exported[key] as Json[]).filter((item) => item['vhost'] === 'defs-src' || item['name'] === 'defs-src' || item['name'] === 'defs-user' || item['user'] === 'defs-user');

  // Import into a second node: everything arrives, and the user logs in with its original password.
  const otherDir = await mkdtemp(join(tmpdir(), 'warren-management-import-'));
  const other = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir: otherDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  try {
    const file = {
      vhosts: mine('vhosts'), users: mine('users'), permissions: mine('permissions'), exchanges: mine('exchanges'),
      queues: mine('queues'), bindings: mine('bindings'), policies: mine('policies'),
    };
    assert.equal(file.policies.length, 1);
    const imported = await fetch(`http://127.0.0.1:${other.httpPort}/api/definitions`, {
      method: 'POST', headers: { authorization: basic('guest', 'guest'), 'content-type': 'application/json' }, body: JSON.stringify(file),
    });
    assert.equal(imported.status, 204);
    const connection = await amqplib.connect(`amqp://defs-user:pw-123@127.0.0.1:${other.amqpPort}/defs-src`);
    const channel = await connection.createChannel();
    assert.equal((await channel.checkQueue('defs.q')).queue, 'defs.q');
    await connection.close();
    const reexported = (await (await fetch(`http://127.0.0.1:${other.httpPort}/api/definitions`, { headers: { authorization: basic('guest', 'guest') } })).json()) as Json;
    for (const key of ['exchanges', 'queues', 'bindings', 'permissions', 'policies']) {
      const again = (reexported[key] as Json[]).filter((item) => item['vhost'] === 'defs-src');
      assert.deepEqual(again, file[key as keyof typeof file], `${key} re-export equals the import`);
    }
    const user = (reexported['users'] as Json[]).find((item) => item['name'] === 'defs-user');
    assert.deepEqual(user, (file.users)[0]);
    const refused = await fetch(`http://127.0.0.1:${other.httpPort}/api/definitions`, {
      method: 'POST', headers: { authorization: basic('guest', 'guest'), 'content-type': 'application/json' },
      body: JSON.stringify({ parameters: [{ vhost: '/', component: 'shovel', name: 's', value: {} }] }),
    });
    assert.equal(refused.status, 400, 'runtime parameters are not supported and are refused, not dropped');
  } finally {
    await other.close();
    await rm(otherDir, { recursive: true, force: true });
  }
});

test('connections: listed with client properties, closed by DELETE with 320 and the given reason', options, async () => {
  const connection = await amqplib.connect(amqpUrl, { clientProperties: { connection_name: 'mgmt-test' } });
  connection.on('error', () => {});
  const closed = new Promise<Error>((resolve) => connection.on('close', resolve));
  const listed = (await api('GET', '/api/connections')).json as Json[];
  const mine = listed.find((item) => (item['client_properties'] as Json)['connection_name'] === 'mgmt-test') as Json;
  assert.equal(mine['user'], 'guest');
  assert.equal(mine['protocol'], 'AMQP 0-9-1');
  const name = encodeURIComponent(String(mine['name']));
  assert.equal((await api('GET', `/api/connections/${name}`)).status, 200);
  const response = await fetch(`${base}/api/connections/${name}`, { method: 'DELETE', headers: { authorization: basic('guest', 'guest'), 'x-reason': 'maintenance' } });
  assert.equal(response.status, 204);
  const error = await closed;
  assert.match(error.message, /320/);
  assert.match(error.message, /maintenance/);
});

test('health checks and aliveness test', options, async () => {
  assert.deepEqual((await api('GET', '/api/health/checks/alarms')).json, { status: 'ok' });
  assert.equal((await api('GET', `/api/health/checks/port-listener/${node.amqpPort}`)).status, 200);
  assert.equal((await api('GET', '/api/health/checks/port-listener/1')).status, 503);
  assert.deepEqual((await api('GET', '/api/health/checks/virtual-hosts')).json, { status: 'ok' });
  assert.deepEqual((await api('GET', '/api/aliveness-test/%2F')).json, { status: 'ok' });
  assert.equal((await api('GET', '/api/aliveness-test/nope')).status, 404);
});

test('unknown paths and bad bodies get JSON errors', options, async () => {
  const missing = await api('GET', '/api/no-such-thing');
  assert.equal(missing.status, 404);
  assert.ok(typeof (missing.json as Json)['reason'] === 'string');
  assert.equal((await api('PUT', '/api/exchanges/%2F/bad.x', { durable: true })).status, 400, 'type is required');
  assert.equal((await api('PUT', '/api/exchanges/%2F/bad.x', { type: 'nonsense' })).status, 400);
  assert.equal((await api('PUT', '/api/queues/%2F/bad.q', { arguments: { 'x-max-length': 'many' } })).status, 400);
  assert.equal((await api('GET', '/api/queues/no-such-vhost')).status, 404);
});
