/**
 * TTL'd messages survive a broker restart: persistent messages in a durable queue with x-message-ttl
 * or a per-message expiration are still there after a graceful restart and still expire afterwards
 * (dead-lettered to the queue's dead-letter exchange). After a restart the TTL counts from the restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren } from '../../src/main.js';
import { waitFor } from '../helpers/amqp.js';

test('messages with a queue TTL or an expiration survive a restart and expire after it', { skip: process.env['WARREN_TEST_URL'] ? 'restarts its own broker' : false }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-ttl-restart-'));
  const settings = { amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' as const };
  const first = await startWarren(settings);
  const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${first.amqpPort}`);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('ttl-expired', { durable: true });
  await channel.assertQueue('ttl-queue', { durable: true, arguments: { 'x-message-ttl': 1500, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ttl-expired' } });
  await channel.assertQueue('ttl-message', { durable: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': 'ttl-expired' } });
  channel.sendToQueue('ttl-queue', Buffer.from('queue ttl'), { persistent: true });
  channel.sendToQueue('ttl-message', Buffer.from('message ttl'), { persistent: true, expiration: '1500' });
  channel.sendToQueue('ttl-message', Buffer.from('no ttl'), { persistent: true });
  await channel.waitForConfirms();
  await connection.close();
  await first.close();

  const second = await startWarren(settings);
  try {
    const again = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${second.amqpPort}`);
    const reader = await again.createChannel();
    assert.equal((await reader.checkQueue('ttl-queue')).messageCount, 1, 'the queue-TTL message survived the restart');
    assert.equal((await reader.checkQueue('ttl-message')).messageCount, 2, 'the expiring message survived the restart');
    await waitFor(async () => (await reader.checkQueue('ttl-expired')).messageCount === 2, 5000, 'both TTL messages to expire');
    const expired: string[] = [];
    for (let message = await reader.get('ttl-expired', { noAck: true }); message !== false; message = await reader.get('ttl-expired', { noAck: true })) {
      expired.push(message.content.toString());
      assert.equal((message.properties.headers?.['x-death'] as { reason: string }[])[0]?.reason, 'expired');
    }
    assert.deepEqual(expired.sort(), ['message ttl', 'queue ttl']);
    const kept = await reader.get('ttl-message', { noAck: true });
    assert.ok(kept !== false && kept.content.toString() === 'no ttl', 'a message without TTL stays');
    await again.close();
  } finally {
    await second.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
