/**
 * Policies through the management API change live queues and exchanges (dead-lettering, TTL, length
 * limits, alternate exchange), merge with x-arguments as RabbitMQ's do, follow priority, stop applying
 * when deleted, and survive a restart. Driven with fetch and amqplib on an in-process node.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { waitFor } from '../helpers/amqp.js';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 30_000 };

let node: WarrenNode;
let dataDir: string;
let connection: ChannelModel;
let channel: Channel;

async function start(): Promise<void> {
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  channel = await connection.createChannel();
}

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`http://127.0.0.1:${node.httpPort}${path}`, {
    method, headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function ready(queue: string): Promise<number> {
  return (await channel.checkQueue(queue)).messageCount;
}

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-policies-'));
  await start();
});

after(async () => {
  if (options.skip !== false) return;
  await connection.close().catch(() => {});
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('a dead-letter policy makes a live queue dead-letter its rejected messages', options, async () => {
  await channel.assertQueue('pol.work');
  await channel.assertQueue('pol.dead');
  channel.sendToQueue('pol.work', Buffer.from('before'));
  const first = await channel.get('pol.work');
  assert.ok(first !== false);
  channel.nack(first, false, false);
  assert.equal(await ready('pol.dead'), 0, 'no DLX yet: the rejected message is dropped');

  const put = await api('PUT', '/api/policies/%2F/dlx', { pattern: '^pol\\.work$', 'apply-to': 'queues', definition: { 'dead-letter-exchange': '', 'dead-letter-routing-key': 'pol.dead' } });
  assert.equal(put.status, 201);
  channel.sendToQueue('pol.work', Buffer.from('after'));
  const second = await channel.get('pol.work');
  assert.ok(second !== false);
  channel.nack(second, false, false);
  await waitFor(async () => (await ready('pol.dead')) === 1);
  const queue = (await api('GET', '/api/queues/%2F/pol.work')).json as Record<string, unknown>;
  assert.equal(queue['policy'], 'dlx');
  assert.deepEqual(queue['effective_policy_definition'], { 'dead-letter-exchange': '', 'dead-letter-routing-key': 'pol.dead' });
});

test('a max-length policy trims a live queue at once; with x-max-length the lower limit wins', options, async () => {
  await channel.assertQueue('len.a');
  await channel.assertQueue('len.b', { arguments: { 'x-max-length': 2 } });
  for (let i = 0; i < 10; i++) {
    channel.sendToQueue('len.a', Buffer.from(`a${i}`));
    channel.sendToQueue('len.b', Buffer.from(`b${i}`));
  }
  await waitFor(async () => (await ready('len.a')) === 10);
  assert.equal((await api('PUT', '/api/policies/%2F/len', { pattern: '^len\\.', definition: { 'max-length': 5 } })).status, 201);
  assert.equal(await ready('len.a'), 5);
  assert.equal(await ready('len.b'), 2);
  const head = await channel.get('len.a', { noAck: true });
  assert.equal(head === false ? undefined : head.content.toString(), 'a5', 'drop-head dropped the oldest');

  // A higher-priority policy takes over; deleting it brings the other back; deleting both lifts the limit.
  assert.equal((await api('PUT', '/api/policies/%2F/len-strict', { pattern: '^len\\.a$', priority: 10, definition: { 'max-length': 1 } })).status, 201);
  assert.equal(await ready('len.a'), 1);
  assert.equal(((await api('GET', '/api/queues/%2F/len.a')).json as Record<string, unknown>)['policy'], 'len-strict');
  assert.equal((await api('DELETE', '/api/policies/%2F/len-strict')).status, 204);
  assert.equal(((await api('GET', '/api/queues/%2F/len.a')).json as Record<string, unknown>)['policy'], 'len');
  assert.equal((await api('DELETE', '/api/policies/%2F/len')).status, 204);
  for (let i = 0; i < 5; i++) channel.sendToQueue('len.a', Buffer.from('more'));
  await waitFor(async () => (await ready('len.a')) === 6);
});

test('a message-ttl policy expires messages published after it applies', options, async () => {
  await channel.assertQueue('ttl.q');
  assert.equal((await api('PUT', '/api/policies/%2F/ttl', { pattern: '^ttl\\.', 'apply-to': 'queues', definition: { 'message-ttl': 50 } })).status, 201);
  channel.sendToQueue('ttl.q', Buffer.from('short-lived'));
  await waitFor(async () => (await ready('ttl.q')) === 1);
  await new Promise((resolve) => setTimeout(resolve, 150));
  assert.equal(await channel.get('ttl.q'), false, 'expired by the policy TTL');
});

test('an alternate-exchange policy applies to exchanges only', options, async () => {
  await channel.assertExchange('ae.main', 'direct', { durable: false });
  await channel.assertExchange('ae.catch', 'fanout', { durable: false });
  await channel.assertQueue('ae.caught');
  await channel.bindQueue('ae.caught', 'ae.catch', '');
  assert.equal((await api('PUT', '/api/policies/%2F/ae', { pattern: '^ae\\.main$', 'apply-to': 'exchanges', definition: { 'alternate-exchange': 'ae.catch' } })).status, 201);
  channel.publish('ae.main', 'no-binding', Buffer.from('unroutable'));
  await waitFor(async () => (await ready('ae.caught')) === 1);
  assert.equal(((await api('GET', '/api/exchanges/%2F/ae.main')).json as Record<string, unknown>)['policy'], 'ae');
});

test('bad policies are refused with 400', options, async () => {
  assert.equal((await api('PUT', '/api/policies/%2F/bad', { pattern: '(', definition: { 'max-length': 1 } })).status, 400);
  assert.equal((await api('PUT', '/api/policies/%2F/bad', { pattern: '.*', definition: { 'max-length': -1 } })).status, 400);
  assert.equal((await api('PUT', '/api/policies/%2F/bad', { pattern: '.*', definition: { 'no-such-setting': 1 } })).status, 400);
  assert.equal((await api('PUT', '/api/policies/%2F/bad', { pattern: '.*', 'apply-to': 'everything', definition: { 'max-length': 1 } })).status, 400);
  assert.equal((await api('PUT', '/api/policies/nope/bad', { pattern: '.*', definition: { 'max-length': 1 } })).status, 404);
  assert.equal((await api('GET', '/api/policies/%2F/bad')).status, 404);
});

test('policies survive a restart and apply to the restored queues', options, async () => {
  await channel.assertQueue('keep.q', { durable: true });
  assert.equal((await api('PUT', '/api/policies/%2F/keep', { pattern: '^keep\\.', priority: 2, 'apply-to': 'queues', definition: { 'max-length': 2 } })).status, 201);
  await connection.close();
  await node.close();
  await start();
  const policy = (await api('GET', '/api/policies/%2F/keep')).json;
  assert.deepEqual(policy, { vhost: '/', name: 'keep', pattern: '^keep\\.', 'apply-to': 'queues', definition: { 'max-length': 2 }, priority: 2 });
  for (let i = 0; i < 5; i++) channel.sendToQueue('keep.q', Buffer.from(`k${i}`), { persistent: true });
  await waitFor(async () => ((await api('GET', '/api/queues/%2F/keep.q')).json as Record<string, unknown>)['messages'] === 2);
  assert.equal(await ready('keep.q'), 2);
});
