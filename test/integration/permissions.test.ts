/**
 * Per-user configure/write/read permissions (RabbitMQ's access control), checked on every AMQP
 * operation with amqplib and on the management API's equivalents: a refusal closes the channel with
 * 403 ACCESS_REFUSED and RabbitMQ's text, the connection and other channels keep working, and a
 * permission change applies to open connections at once.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqplib, { type Channel, type ChannelModel } from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const options = { skip: process.env['WARREN_TEST_URL'] ? 'needs the in-process node' : false, timeout: 20_000 };
const LIMITED = { configure: '^own\\.', write: '^(own\\.|amq\\.default$)', read: '^own\\.' };

let node: WarrenNode;
let dataDir: string;
let connection: ChannelModel;

before(async () => {
  if (options.skip !== false) return;
  dataDir = await mkdtemp(join(tmpdir(), 'warren-permissions-'));
  node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  node.broker.putUser({ username: 'limited', password: 'pw', tags: ['management'] });
  node.broker.setPermission('limited', '/', LIMITED);
  const guest = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
  const channel = await guest.createChannel();
  await channel.assertQueue('others.q');
  await guest.close();
  connection = await amqplib.connect(`amqp://limited:pw@127.0.0.1:${node.amqpPort}`);
  connection.on('error', () => {});
});

after(async () => {
  if (options.skip !== false) return;
  await connection.close().catch(() => {});
  await node.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** Runs `operation` on a fresh channel and returns the message of the error that closed it. */
async function refusal(operation: (channel: Channel) => Promise<unknown>): Promise<string> {
  const channel = await connection.createChannel();
  let closedWith: Error | undefined;
  channel.on('error', (error: Error) => (closedWith = error));
  const closed = new Promise<void>((resolve) => channel.on('close', () => resolve()));
  const error = await operation(channel).then(() => undefined, (caught: Error) => caught);
  await closed;
  const reason = closedWith ?? error;
  assert.ok(reason !== undefined, 'the operation was refused');
  return reason.message;
}

const refusedText = (resource: string, name: string): RegExp =>
  new RegExp(`403 \\(ACCESS-REFUSED\\) with message "ACCESS_REFUSED - access to ${resource} '${name.replaceAll('.', '\\.')}' in vhost '/' refused for user 'limited'"`);

test('configure: declaring and deleting need a matching configure pattern', options, async () => {
  const channel = await connection.createChannel();
  await channel.assertQueue('own.q');
  await channel.assertExchange('own.x', 'topic');
  await channel.close();
  assert.match(await refusal((ch) => ch.assertQueue('not-mine.q')), refusedText('queue', 'not-mine.q'));
  assert.match(await refusal((ch) => ch.assertExchange('not-mine.x', 'direct')), refusedText('exchange', 'not-mine.x'));
  assert.match(await refusal((ch) => ch.deleteQueue('others.q')), refusedText('queue', 'others.q'));
  // A server-named queue is checked under its generated amq.gen-* name.
  assert.match(await refusal((ch) => ch.assertQueue('')), /access to queue 'amq\.gen-[^']+' in vhost '\/' refused/);
  // Passive declares need no permission.
  const passive = await connection.createChannel();
  assert.equal((await passive.checkQueue('others.q')).queue, 'others.q');
  await passive.close();
  // A dead-letter exchange needs write on it.
  assert.match(await refusal((ch) => ch.assertQueue('own.dlq', { deadLetterExchange: 'amq.fanout' })), refusedText('exchange', 'amq.fanout'));
});

test('write and read: publish, bind, consume, get and purge', options, async () => {
  const channel = await connection.createConfirmChannel();
  channel.sendToQueue('own.q', Buffer.from('via amq.default'));
  await channel.waitForConfirms();
  await channel.close();
  assert.match(await refusal(async (ch) => {
    ch.publish('amq.topic', 'k', Buffer.from('x'));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await ch.checkQueue('own.q');
  }), refusedText('exchange', 'amq.topic'));
  assert.match(await refusal((ch) => ch.bindQueue('own.q', 'amq.direct', 'k')), refusedText('exchange', 'amq.direct'));
  assert.match(await refusal((ch) => ch.bindQueue('others.q', 'own.x', 'k')), refusedText('queue', 'others.q'));
  assert.match(await refusal((ch) => ch.consume('others.q', () => {})), refusedText('queue', 'others.q'));
  assert.match(await refusal((ch) => ch.get('others.q')), refusedText('queue', 'others.q'));
  assert.match(await refusal((ch) => ch.purgeQueue('others.q')), refusedText('queue', 'others.q'));
  const allowed = await connection.createChannel();
  await allowed.bindQueue('own.q', 'own.x', 'k');
  const got = await allowed.get('own.q', { noAck: true });
  assert.equal(got === false ? undefined : got.content.toString(), 'via amq.default');
  await allowed.close();
});

test('a permission change applies to an open connection at once', options, async () => {
  const channel = await connection.createChannel();
  await channel.checkQueue('others.q');
  node.broker.setPermission('limited', '/', { ...LIMITED, read: '.*' });
  await channel.get('others.q');
  await channel.close();
  node.broker.setPermission('limited', '/', LIMITED);
  assert.match(await refusal((ch) => ch.get('others.q')), refusedText('queue', 'others.q'));
});

test('the management API checks the same permissions', options, async () => {
  const authorization = `Basic ${Buffer.from('limited:pw').toString('base64')}`;
  const call = (method: string, path: string, body?: unknown): Promise<Response> => fetch(`http://127.0.0.1:${node.httpPort}${path}`, {
    method, headers: { authorization, 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  assert.equal((await call('PUT', '/api/queues/%2F/own.http', {})).status, 201);
  const refused = await call('PUT', '/api/queues/%2F/other.http', {});
  assert.equal(refused.status, 403, await refused.clone().text());
  assert.equal((await call('DELETE', '/api/queues/%2F/others.q/contents')).status, 403);
  assert.equal((await call('POST', '/api/queues/%2F/others.q/get', { count: 1, ackmode: 'ack_requeue_true', encoding: 'auto' })).status, 403);
  const published = await call('POST', '/api/exchanges/%2F/amq.topic/publish', { routing_key: 'k', payload: 'x', payload_encoding: 'string', properties: {} });
  assert.equal(published.status, 403);
  assert.equal((await call('POST', '/api/exchanges/%2F/amq.default/publish', { routing_key: 'own.http', payload: 'x', payload_encoding: 'string', properties: {} })).status, 200);
});
