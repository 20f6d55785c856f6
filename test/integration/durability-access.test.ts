/**
 * Issue 3 restart test for access definitions: vhosts, users (passwords stored only as hashes) and
 * permissions created through the broker API survive a graceful restart, and so do the durable queues,
 * exchanges, bindings and persistent messages of a runtime-created vhost; deleted users and vhosts stay
 * deleted.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import amqplib from 'amqplib';
import type { Permission } from '../../src/config/config.js';
import { startWarren, type WarrenNode } from '../../src/main.js';

const inProcessOnly = { skip: process.env['WARREN_TEST_URL'] ? 'restarts an in-process broker' : false };
const ALL: Permission = { configure: '.*', write: '.*', read: '.*' };

async function start(dataDir: string): Promise<WarrenNode> {
  return startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
}

function url(node: WarrenNode, username: string, password: string, vhost: string): string {
  return `amqp://${username}:${password}@127.0.0.1:${node.amqpPort}/${encodeURIComponent(vhost)}`;
}

/** The vhosts owning the queue directories in the data directory. */
async function queueDirectoryVhosts(dataDir: string): Promise<string[]> {
  const names = await readdir(join(dataDir, 'queues')).catch(() => []);
  const vhosts: string[] = [];
  for (const name of names.filter((entry) => !entry.includes('.deleted'))) {
    const owner = JSON.parse(await readFile(join(dataDir, 'queues', name, 'QUEUE'), 'utf8')) as { vhost: string };
    vhosts.push(owner.vhost);
  }
  return vhosts.sort();
}

/** Sets up v1 (alice, a durable queue with a message), a deleted user and a deleted vhost, then stops. */
async function firstRun(dataDir: string): Promise<void> {
  const node = await start(dataDir);
  try {
    const { broker } = node;
    broker.addVhost('v1');
    broker.putUser({ username: 'alice', password: 'secret', tags: ['management'] });
    broker.setPermission('alice', 'v1', ALL);
    broker.setPermission('guest', 'v1', ALL); // a configured user changed at runtime
    broker.putUser({ username: 'dave', password: 'dave-pw', tags: [] }); // no permission on v1
    broker.setPermission('dave', '/', ALL);
    broker.putUser({ username: 'carol', password: 'carol-pw', tags: [] });
    broker.setPermission('carol', 'v1', ALL);
    assert.equal(broker.deleteUser('carol'), true);

    const connection = await amqplib.connect(url(node, 'alice', 'secret', 'v1'));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('orders', { durable: true });
    await channel.assertExchange('events', 'topic', { durable: true });
    await channel.bindQueue('orders', 'events', 'order.#');
    channel.publish('', 'orders', Buffer.from('persistent order'), { deliveryMode: 2 });
    await channel.waitForConfirms();
    await connection.close();

    broker.addVhost('v2');
    broker.setPermission('alice', 'v2', ALL);
    const other = await amqplib.connect(url(node, 'alice', 'secret', 'v2'));
    const otherChannel = await other.createConfirmChannel();
    await otherChannel.assertQueue('doomed', { durable: true });
    otherChannel.publish('', 'doomed', Buffer.from('gone with its vhost'), { deliveryMode: 2 });
    await otherChannel.waitForConfirms();
    await other.close();
    assert.deepEqual(await queueDirectoryVhosts(dataDir), ['v1', 'v2']);
    assert.equal(broker.deleteVhost('v2'), true);
  } finally {
    await node.close();
  }
  const log = await readFile(join(dataDir, 'definitions.log'));
  assert.equal(log.includes('secret'), false, 'no plaintext password on disk');
}

test('vhosts, users and permissions survive a restart with the durable contents of the vhost', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-access-'));
  try {
    await firstRun(dataDir);
    const node = await start(dataDir);
    try {
      const connection = await amqplib.connect(url(node, 'alice', 'secret', 'v1'));
      const channel = await connection.createConfirmChannel();
      const message = await channel.get('orders', { noAck: true });
      assert.ok(message !== false, 'the persistent message came back');
      assert.equal(message.content.toString(), 'persistent order');
      // The durable exchange and its binding came back too.
      channel.publish('events', 'order.created', Buffer.from('after restart'), { deliveryMode: 2 });
      await channel.waitForConfirms();
      const routed = await channel.get('orders', { noAck: true });
      assert.ok(routed !== false && routed.content.toString() === 'after restart');
      await connection.close();

      const guest = await amqplib.connect(url(node, 'guest', 'guest', 'v1'));
      await guest.close();
      const guestRoot = await amqplib.connect(url(node, 'guest', 'guest', '/'));
      await guestRoot.close();
      assert.deepEqual(node.broker.users.get('alice')?.tags, ['management']);

      await assert.rejects(amqplib.connect(url(node, 'alice', 'wrong', 'v1')), /403|ACCESS.REFUSED/);
      await assert.rejects(amqplib.connect(url(node, 'carol', 'carol-pw', 'v1')), /403|ACCESS.REFUSED/, 'a deleted user stays deleted');
      await assert.rejects(amqplib.connect(url(node, 'dave', 'dave-pw', 'v1')), /Expected ConnectionOpenOk|530|NOT.ALLOWED/, 'no permission on v1');
      const dave = await amqplib.connect(url(node, 'dave', 'dave-pw', '/'));
      await dave.close();
      await assert.rejects(amqplib.connect(url(node, 'alice', 'secret', 'v2')), /Expected ConnectionOpenOk|530|NOT.ALLOWED/, 'a deleted vhost stays deleted');
      assert.equal(node.broker.vhosts.has('v2'), false);
      assert.deepEqual(await queueDirectoryVhosts(dataDir), ['v1'], 'the deleted vhost left no queue files');
    } finally {
      await node.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
