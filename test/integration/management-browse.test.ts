/**
 * Browsing messages without consuming them (issue 7), on an in-process node driven by fetch and
 * amqplib: ready messages (properties, payload preview, paging, paged-out ones read back from disk),
 * unacknowledged ones with their holder, delayed ones; deleting and requeueing one message by id;
 * moving messages to another queue; restarts keep deletions and moves; permissions and bad input.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { waitFor } from '../helpers/amqp.js';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 60_000 };
/** A small memory window, so that a few dozen messages make a queue page out. */
const WINDOW = 10;

let node: WarrenNode;
let dataDir: string;
let base: string;
let amqpUrl: string;

type Json = Record<string, unknown>;
type Page = { items: Json[]; offset: number; limit: number; total: number };

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function api(method: string, path: string, body?: unknown, authorization = basic('guest', 'guest')): Promise<{ status: number; json: unknown }> {
  const response = await fetch(`${base}${path}`, {
    method, headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, json: text === '' ? undefined : JSON.parse(text) };
}

async function browse(queue: string, query = ''): Promise<Page> {
  const { status, json } = await api('GET', `/api/queues/%2F/${encodeURIComponent(queue)}/messages${query}`);
  assert.equal(status, 200, JSON.stringify(json));
  return json as Page;
}

async function counts(queue: string): Promise<{ ready: number; unacked: number }> {
  const json = (await api('GET', `/api/queues/%2F/${encodeURIComponent(queue)}`)).json as Json;
  return { ready: json['messages_ready'] as number, unacked: json['messages_unacknowledged'] as number };
}

async function start(): Promise<void> {
  node = await startWarren({
    amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false },
    limits: { queueMemoryWindowMessages: WINDOW },
  });
  base = `http://127.0.0.1:${node.httpPort}`;
  amqpUrl = `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
}

/** Takes every ready message of a queue (acknowledging them) and returns their bodies in order. */
async function drain(queue: string, expected: number): Promise<string[]> {
  const connection = await amqplib.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    const bodies: string[] = [];
    await channel.consume(queue, (message) => {
      if (message === null) return;
      bodies.push(message.content.toString());
      channel.ack(message);
    });
    await waitFor(() => bodies.length >= expected);
    // A message that should not be there would arrive right behind the expected ones.
    await new Promise((resolve) => setTimeout(resolve, 50));
    return bodies;
  } finally {
    await connection.close();
  }
}

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-browse-'));
  await start();
});

after(async () => {
  if (options.skip !== false) return;
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

test('ready messages are browsed with properties and a payload preview, page by page, without consuming any', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('browse.ready', { durable: false });
  for (let i = 0; i < 5; i++) {
    channel.sendToQueue('browse.ready', Buffer.from(`message ${i}`), {
      contentType: 'text/plain', messageId: `m${i}`, headers: { 'x-index': i }, priority: 1,
    });
  }
  channel.sendToQueue('browse.ready', Buffer.from([0xff, 0x00, 0xfe]));
  await channel.waitForConfirms();
  await connection.close();

  const all = await browse('browse.ready');
  assert.equal(all.total, 6);
  assert.equal(all.offset, 0);
  assert.equal(all.limit, 50);
  assert.equal(all.items.length, 6);
  const first = all.items[0] as Json;
  assert.equal(first['state'], 'ready');
  assert.equal(first['exchange'], '');
  assert.equal(first['routing_key'], 'browse.ready');
  assert.deepEqual(first['properties'], { content_type: 'text/plain', message_id: 'm0', priority: 1, headers: { 'x-index': 0 } });
  assert.equal(first['payload'], 'message 0');
  assert.equal(first['payload_encoding'], 'string');
  assert.equal(first['payload_bytes'], 9);
  assert.equal(first['redelivered'], false);
  assert.equal(first['delivery_count'], 0);
  assert.equal(first['paged_out'], false);
  const binary = all.items[5] as Json;
  assert.equal(binary['payload_encoding'], 'base64');
  assert.equal(binary['payload'], Buffer.from([0xff, 0x00, 0xfe]).toString('base64'));
  // Ids are distinct, and a page picks up where the offset says.
  assert.equal(new Set(all.items.map((item) => item['id'])).size, 6);
  const middle = await browse('browse.ready', '?offset=1&limit=2');
  assert.deepEqual(middle.items.map((item) => item['payload']), ['message 1', 'message 2']);
  assert.deepEqual([middle.offset, middle.limit, middle.total], [1, 2, 6]);
  assert.deepEqual((await browse('browse.ready', '?offset=6')).items, []);
  const cut = await browse('browse.ready', '?limit=1&truncate=3');
  assert.deepEqual([cut.items[0]?.['payload'], cut.items[0]?.['payload_bytes'], cut.items[0]?.['payload_truncated']], ['mes', 9, true]);

  // Nothing was consumed: the counts stand and a consumer still gets every message, in order.
  assert.deepEqual(await counts('browse.ready'), { ready: 6, unacked: 0 });
  const bodies = await drain('browse.ready', 6);
  assert.deepEqual(bodies.slice(0, 5), ['message 0', 'message 1', 'message 2', 'message 3', 'message 4']);
  assert.equal(bodies.length, 6);
});

test('unacked messages show their connection, channel, consumer tag and how long they have been held', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createChannel();
  await channel.assertQueue('browse.unacked', { durable: false });
  for (let i = 0; i < 4; i++) channel.sendToQueue('browse.unacked', Buffer.from(`u${i}`));
  const got = await channel.get('browse.unacked');
  assert.ok(got !== false);
  await channel.prefetch(2);
  const delivered: amqplib.ConsumeMessage[] = [];
  const { consumerTag } = await channel.consume('browse.unacked', (message) => message !== null && delivered.push(message));
  await waitFor(() => delivered.length === 2);
  const ready = await browse('browse.unacked');
  assert.deepEqual(ready.items.map((item) => item['payload']), ['u3']);

  const held = await browse('browse.unacked', '?state=unacked');
  assert.equal(held.total, 3);
  assert.deepEqual(held.items.map((item) => item['payload']), ['u0', 'u1', 'u2']);
  const connections = (await api('GET', '/api/connections')).json as Json[];
  const name = held.items[0]?.['connection'];
  assert.ok(connections.some((one) => one['name'] === name), 'the connection is named as /api/connections names it');
  for (const item of held.items) {
    assert.equal(item['state'], 'unacked');
    assert.equal(item['connection'], name);
    assert.equal(item['channel'], 1);
    assert.equal(typeof item['held_ms'], 'number');
  }
  assert.equal('consumer_tag' in (held.items[0] as Json), false, 'basic.get has no consumer tag');
  assert.equal(held.items[1]?.['consumer_tag'], consumerTag);
  assert.equal(held.items[2]?.['consumer_tag'], consumerTag);
  await new Promise((resolve) => setTimeout(resolve, 60));
  const later = await browse('browse.unacked', '?state=unacked&offset=1&limit=1');
  assert.deepEqual([later.total, later.items.length], [3, 1]);
  assert.ok((later.items[0]?.['held_ms'] as number) >= (held.items[1]?.['held_ms'] as number) + 50, 'held_ms grows');
  assert.deepEqual(await counts('browse.unacked'), { ready: 1, unacked: 3 });
  await connection.close();
});

test('a backlog beyond the memory window is browsed with bodies read back from disk', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('browse.deep', { durable: true });
  const total = WINDOW * 3;
  for (let i = 0; i < total; i++) channel.sendToQueue('browse.deep', Buffer.from(`deep ${i}`), { persistent: true, messageId: `d${i}` });
  await channel.waitForConfirms();
  await connection.close();
  const tail = await browse('browse.deep', `?offset=${total - 5}&limit=10`);
  assert.equal(tail.total, total);
  assert.deepEqual(tail.items.map((item) => item['payload']), [25, 26, 27, 28, 29].map((i) => `deep ${i}`));
  assert.ok(tail.items.every((item) => item['paged_out'] === true));
  assert.deepEqual(tail.items[0]?.['properties'], { delivery_mode: 2, message_id: 'd25', headers: {} });
  const head = await browse('browse.deep', '?limit=500');
  assert.equal(head.items.length, total);
  assert.equal(head.items.filter((item) => item['paged_out'] === false).length, WINDOW);
  assert.deepEqual(head.items.map((item) => item['payload']), Array.from({ length: total }, (_, i) => `deep ${i}`));
  assert.deepEqual(await counts('browse.deep'), { ready: total, unacked: 0 });
});

test('deleting one ready message by id: in memory or paged out, it is never delivered, even after a restart', options, async () => {
  const all = await browse('browse.deep', '?limit=500');
  const resident = all.items[3] as Json;
  const pagedOut = all.items[22] as Json;
  assert.equal(pagedOut['paged_out'], true);
  assert.equal((await api('DELETE', `/api/queues/%2F/browse.deep/messages/${resident['id'] as string}`)).status, 204);
  assert.equal((await api('DELETE', `/api/queues/%2F/browse.deep/messages/${pagedOut['id'] as string}`)).status, 204);
  // Gone: a second delete, an id that never was, and ids that are not numbers are 404s.
  assert.equal((await api('DELETE', `/api/queues/%2F/browse.deep/messages/${resident['id'] as string}`)).status, 404);
  assert.equal((await api('DELETE', '/api/queues/%2F/browse.deep/messages/999999')).status, 404);
  assert.equal((await api('DELETE', '/api/queues/%2F/browse.deep/messages/abc')).status, 404);
  assert.equal((await api('DELETE', '/api/queues/%2F/browse.deep/messages/-1')).status, 404);
  assert.equal((await api('DELETE', '/api/queues/%2F/browse.deep/messages/1e3')).status, 404);
  assert.deepEqual(await counts('browse.deep'), { ready: 28, unacked: 0 });
  const left = await browse('browse.deep', '?limit=500');
  assert.equal(left.total, 28);
  assert.ok(!left.items.some((item) => item['id'] === resident['id'] || item['id'] === pagedOut['id']));

  await node.close();
  await start();
  const expected = Array.from({ length: 30 }, (_, i) => `deep ${i}`).filter((body) => body !== 'deep 3' && body !== 'deep 22');
  assert.deepEqual(await drain('browse.deep', 28), expected);
});

test('requeueing an unacked message makes it ready again, redelivered; the late ack of its tag is ignored', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createChannel();
  let closed = false;
  channel.on('close', () => {
    closed = true;
  });
  channel.on('error', () => {});
  await channel.assertQueue('browse.requeue', { durable: false });
  channel.sendToQueue('browse.requeue', Buffer.from('first'));
  channel.sendToQueue('browse.requeue', Buffer.from('second'));
  const got = await channel.get('browse.requeue');
  assert.ok(got !== false);
  const held = await browse('browse.requeue', '?state=unacked');
  const id = held.items[0]?.['id'] as string;
  assert.equal((await api('POST', `/api/queues/%2F/browse.requeue/messages/${id}/requeue`)).status, 204);
  assert.equal((await api('POST', `/api/queues/%2F/browse.requeue/messages/${id}/requeue`)).status, 404);
  assert.equal((await api('POST', '/api/queues/%2F/browse.requeue/messages/x/requeue')).status, 404);
  // A ready message is not unacked: requeue refuses it.
  const second = (await browse('browse.requeue')).items[1] as Json;
  assert.equal((await api('POST', `/api/queues/%2F/browse.requeue/messages/${second['id'] as string}/requeue`)).status, 404);
  assert.deepEqual(await counts('browse.requeue'), { ready: 2, unacked: 0 });
  const ready = await browse('browse.requeue');
  assert.deepEqual(ready.items.map((item) => [item['id'], item['payload'], item['redelivered'], item['delivery_count']]), [
    [id, 'first', true, 1], [second['id'], 'second', false, 0],
  ]);
  // The client acknowledges the delivery the broker took back: ignored, the channel stays open.
  channel.ack(got);
  await channel.checkQueue('browse.requeue');
  assert.equal(closed, false);
  const again = await channel.get('browse.requeue', { noAck: true });
  assert.ok(again !== false);
  assert.equal(again.content.toString(), 'first');
  assert.equal(again.fields.redelivered, true);
  await connection.close();
});

test('requeueing a consumer\'s delivery frees its prefetch slot and returns the message to the queue', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createChannel();
  await channel.assertQueue('browse.requeue-consumer', { durable: false });
  channel.sendToQueue('browse.requeue-consumer', Buffer.from('stuck'));
  await channel.prefetch(1);
  const delivered: amqplib.ConsumeMessage[] = [];
  const { consumerTag } = await channel.consume('browse.requeue-consumer', (message) => message !== null && delivered.push(message));
  await waitFor(() => delivered.length === 1);
  await channel.cancel(consumerTag);
  const id = (await browse('browse.requeue-consumer', '?state=unacked')).items[0]?.['id'] as string;
  assert.equal((await api('POST', `/api/queues/%2F/browse.requeue-consumer/messages/${id}/requeue`)).status, 204);
  assert.deepEqual(await counts('browse.requeue-consumer'), { ready: 1, unacked: 0 });
  // A multiple ack up to the taken-back tag is accepted too.
  channel.ackAll();
  await channel.checkQueue('browse.requeue-consumer');
  await connection.close();
  assert.deepEqual(await drain('browse.requeue-consumer', 1), ['stuck']);
});

test('priority queues browse highest priority first; a returned message can be deleted too', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('browse.priority', { durable: false, arguments: { 'x-max-priority': 5 } });
  channel.sendToQueue('browse.priority', Buffer.from('low'), { priority: 0 });
  channel.sendToQueue('browse.priority', Buffer.from('high'), { priority: 5 });
  channel.sendToQueue('browse.priority', Buffer.from('high2'), { priority: 5 });
  await channel.waitForConfirms();
  const got = await channel.get('browse.priority');
  assert.ok(got !== false && got.content.toString() === 'high');
  const id = (await browse('browse.priority', '?state=unacked')).items[0]?.['id'] as string;
  assert.equal((await api('POST', `/api/queues/%2F/browse.priority/messages/${id}/requeue`)).status, 204);
  const ready = await browse('browse.priority');
  assert.deepEqual(ready.items.map((item) => item['payload']), ['high', 'high2', 'low']);
  assert.deepEqual((await browse('browse.priority', '?offset=2')).items.map((item) => item['payload']), ['low']);
  assert.equal((await api('DELETE', `/api/queues/%2F/browse.priority/messages/${id}`)).status, 204);
  assert.equal((await api('DELETE', `/api/queues/%2F/browse.priority/messages/${ready.items[2]?.['id'] as string}`)).status, 204);
  assert.deepEqual(await counts('browse.priority'), { ready: 1, unacked: 0 });
  await connection.close();
  assert.deepEqual(await drain('browse.priority', 1), ['high2']);
});

test('moving ready messages keeps order and properties; a restart keeps them where they were moved', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('browse.dlq', { durable: true });
  await channel.assertQueue('browse.work', { durable: true });
  for (let i = 0; i < 25; i++) channel.sendToQueue('browse.dlq', Buffer.from(`job ${i}`), { persistent: true, headers: { attempt: i } });
  channel.sendToQueue('browse.work', Buffer.from('already there'), { persistent: true });
  await channel.waitForConfirms();
  await connection.close();

  const first = await api('POST', '/api/queues/%2F/browse.dlq/move', { destination: 'browse.work', count: 5 });
  assert.deepEqual([first.status, first.json], [200, { moved: 5 }]);
  assert.deepEqual(await counts('browse.dlq'), { ready: 20, unacked: 0 });
  const work = await browse('browse.work');
  assert.deepEqual(work.items.map((item) => item['payload']), ['already there', 'job 0', 'job 1', 'job 2', 'job 3', 'job 4']);
  assert.deepEqual(work.items[1]?.['properties'], { delivery_mode: 2, headers: { attempt: 0 } });
  const rest = await api('POST', '/api/queues/%2F/browse.dlq/move', { destination: 'browse.work' });
  assert.deepEqual(rest.json, { moved: 20 });
  assert.deepEqual(await counts('browse.dlq'), { ready: 0, unacked: 0 });
  assert.deepEqual((await api('POST', '/api/queues/%2F/browse.dlq/move', { destination: 'browse.work' })).json, { moved: 0 });

  await node.close();
  await start();
  assert.deepEqual(await counts('browse.dlq'), { ready: 0, unacked: 0 });
  const expected = ['already there', ...Array.from({ length: 25 }, (_, i) => `job ${i}`)];
  assert.deepEqual(await drain('browse.work', 26), expected);
});

test('a move stops at the first message the destination refuses (x-overflow reject-publish)', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('browse.from', { durable: false });
  await channel.assertQueue('browse.small', { durable: false, arguments: { 'x-max-length': 2, 'x-overflow': 'reject-publish' } });
  for (let i = 0; i < 4; i++) channel.sendToQueue('browse.from', Buffer.from(`f${i}`));
  await channel.waitForConfirms();
  await connection.close();
  assert.deepEqual((await api('POST', '/api/queues/%2F/browse.from/move', { destination: 'browse.small', count: '4' })).json, { moved: 2 });
  assert.deepEqual((await browse('browse.from')).items.map((item) => [item['payload'], item['redelivered']]), [['f2', false], ['f3', false]]);
  assert.deepEqual((await browse('browse.small')).items.map((item) => item['payload']), ['f0', 'f1']);
});

test('delayed messages are browsed on their exchange, and on the queues they would reach', options, async () => {
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createChannel();
  await channel.assertExchange('browse.delayed', 'x-delayed-message', { durable: false, arguments: { 'x-delayed-type': 'direct' } });
  await channel.assertQueue('browse.later', { durable: false });
  await channel.bindQueue('browse.later', 'browse.delayed', 'later');
  channel.publish('browse.delayed', 'later', Buffer.from('in a minute'), { headers: { 'x-delay': 60_000 } });
  channel.publish('browse.delayed', 'later', Buffer.from('in ten minutes'), { headers: { 'x-delay': 600_000 } });
  channel.publish('browse.delayed', 'elsewhere', Buffer.from('not for it'), { headers: { 'x-delay': 30_000 } });
  await waitFor(async () => ((await api('GET', '/api/exchanges/%2F/browse.delayed/messages')).json as Page).total === 3);
  const onExchange = (await api('GET', '/api/exchanges/%2F/browse.delayed/messages')).json as Page;
  assert.deepEqual(onExchange.items.map((item) => item['payload']), ['not for it', 'in a minute', 'in ten minutes']);
  const due = onExchange.items[1] as Json;
  assert.equal(due['state'], 'delayed');
  assert.ok(Math.abs((due['due_at'] as number) - (Date.now() + 60_000)) < 5_000);
  assert.ok((due['due_in_ms'] as number) > 50_000);
  const onQueue = await browse('browse.later', '?state=delayed');
  assert.deepEqual(onQueue.items.map((item) => item['payload']), ['in a minute', 'in ten minutes']);
  assert.equal((await api('GET', '/api/exchanges/%2F/browse.delayed/messages?state=ready')).status, 400);
  assert.equal((await api('GET', '/api/exchanges/%2F/amq.direct/messages')).json !== undefined, true);
  await channel.deleteExchange('browse.delayed');
  await channel.deleteQueue('browse.later');
  await connection.close();
});

test('permissions: browsing needs read on the queue; a move also needs write on the destination', options, async () => {
  assert.equal((await api('PUT', '/api/users/browser', { password: 'pw', tags: 'management' })).status, 201);
  assert.equal((await api('PUT', '/api/permissions/%2F/browser', { configure: '', write: '^browse\\.mine', read: '^browse\\.(mine|theirs)' })).status, 201);
  const connection = await amqplib.connect(amqpUrl);
  const channel = await connection.createConfirmChannel();
  for (const queue of ['browse.mine', 'browse.theirs', 'browse.secret']) {
    await channel.assertQueue(queue, { durable: false });
    channel.sendToQueue(queue, Buffer.from(queue));
  }
  await channel.waitForConfirms();
  await connection.close();
  assert.equal((await browse('browse.secret')).total, 1);
  const as = basic('browser', 'pw');
  assert.equal((await api('GET', '/api/queues/%2F/browse.mine/messages', undefined, as)).status, 200);
  assert.equal((await api('GET', '/api/queues/%2F/browse.secret/messages', undefined, as)).status, 403);
  assert.equal((await api('GET', '/api/queues/%2F/browse.secret/messages?state=unacked', undefined, as)).status, 403);
  const secretId = (await browse('browse.secret')).items[0]?.['id'] as string;
  assert.equal((await api('DELETE', `/api/queues/%2F/browse.secret/messages/${secretId}`, undefined, as)).status, 403);
  assert.equal((await api('POST', `/api/queues/%2F/browse.secret/messages/${secretId}/requeue`, undefined, as)).status, 403);
  assert.equal((await api('POST', '/api/queues/%2F/browse.mine/move', { destination: 'browse.theirs' }, as)).status, 403);
  assert.equal((await api('POST', '/api/queues/%2F/browse.secret/move', { destination: 'browse.mine' }, as)).status, 403);
  assert.deepEqual((await api('POST', '/api/queues/%2F/browse.theirs/move', { destination: 'browse.mine' }, as)).json, { moved: 1 });
  assert.equal((await api('GET', '/api/queues/%2F/browse.mine/messages', undefined, basic('browser', 'wrong'))).status, 401);
  assert.equal((await browse('browse.secret')).total, 1);
});

test('not found and bad input: 404 for missing vhosts, queues and exchanges, 400 for bad parameters', options, async () => {
  assert.equal((await api('GET', '/api/queues/nowhere/q/messages')).status, 404);
  assert.equal((await api('GET', '/api/queues/%2F/browse.none/messages')).status, 404);
  assert.equal((await api('GET', '/api/exchanges/%2F/browse.none/messages')).status, 404);
  assert.equal((await api('DELETE', '/api/queues/%2F/browse.none/messages/1')).status, 404);
  assert.equal((await api('POST', '/api/queues/%2F/browse.none/move', { destination: 'browse.mine' })).status, 404);
  assert.equal((await api('POST', '/api/queues/%2F/browse.mine/move', { destination: 'browse.none' })).status, 404);
  for (const query of ['?state=gone', '?limit=0', '?limit=501', '?limit=x', '?offset=-1', '?offset=1.5', '?truncate=999999']) {
    const { status, json } = await api('GET', `/api/queues/%2F/browse.mine/messages${query}`);
    assert.equal(status, 400, query);
    assert.equal((json as Json)['error'], 'bad_request');
  }
  for (const body of [{}, { destination: '' }, { destination: 7 }, { destination: 'browse.theirs', count: 0 }, { destination: 'browse.theirs', count: -2 }, { destination: 'browse.theirs', count: 'many' }, { destination: 'browse.mine' }]) {
    assert.equal((await api('POST', '/api/queues/%2F/browse.mine/move', body)).status, 400, JSON.stringify(body));
  }
});
