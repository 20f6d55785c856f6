/**
 * Issue 3 restart test: durable definitions and persistent messages survive a graceful restart on the
 * same data directory; transient ones do not; order within a queue is kept.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';

const inProcessOnly = { skip: process.env['WARREN_TEST_URL'] ? 'restarts an in-process broker' : false };

async function start(dataDir: string): Promise<WarrenNode> {
  return startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' });
}

function url(node: WarrenNode): string {
  return `amqp://guest:guest@127.0.0.1:${node.amqpPort}`;
}

async function drain(channel: amqplib.Channel, queue: string): Promise<{ body: string; redelivered: boolean }[]> {
  const messages: { body: string; redelivered: boolean }[] = [];
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message === false) return messages;
    messages.push({ body: message.content.toString(), redelivered: message.fields.redelivered });
  }
}

test('durable definitions and persistent messages survive a restart; transient ones do not', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-restart-'));
  try {
    const first = await start(dataDir);
    const connection = await amqplib.connect(url(first));
    const channel = await connection.createConfirmChannel();
    await channel.assertExchange('durable-x', 'direct', { durable: true });
    await channel.assertExchange('transient-x', 'fanout', { durable: false });
    await channel.assertQueue('durable-q', { durable: true });
    await channel.assertQueue('transient-q', { durable: false });
    await channel.assertQueue('exclusive-q', { exclusive: true, durable: true });
    await channel.bindQueue('durable-q', 'durable-x', 'k');
    await channel.bindQueue('transient-q', 'durable-x', 'k');
    await channel.bindQueue('durable-q', 'transient-x', '');
    for (let i = 1; i <= 6; i++) {
      channel.publish('durable-x', 'k', Buffer.from(`persistent-${i}`), { deliveryMode: 2 });
      channel.publish('durable-x', 'k', Buffer.from(`transient-${i}`), { deliveryMode: 1 });
    }
    await channel.waitForConfirms();
    // The first persistent message is consumed and acknowledged: it must not come back.
    const first1 = await channel.get('durable-q');
    assert.ok(first1 !== false && first1.content.toString() === 'persistent-1');
    channel.ack(first1);
    // The second is delivered and left unacknowledged when the broker stops.
    const second = await channel.get('durable-q');
    assert.ok(second !== false && second.content.toString() === 'transient-1');
    await first.close();

    const restarted = await start(dataDir);
    try {
      const again = await amqplib.connect(url(restarted));
      const check = await again.createChannel();
      await check.checkExchange('durable-x');
      await check.checkQueue('durable-q');
      for (const [kind, name] of [['exchange', 'transient-x'], ['queue', 'transient-q'], ['queue', 'exclusive-q']] as const) {
        const probe = await again.createChannel();
        probe.on('error', () => {});
        const lookup = kind === 'exchange' ? probe.checkExchange(name) : probe.checkQueue(name);
        await assert.rejects(lookup, (error: Error & { code?: number }) => error.code === 404, `${kind} ${name} is gone`);
      }
      const bodies = (await drain(check, 'durable-q')).map((message) => message.body);
      assert.deepEqual(bodies, ['persistent-2', 'persistent-3', 'persistent-4', 'persistent-5', 'persistent-6']);
      // The durable binding came back: a new persistent publish reaches the durable queue.
      const publisher = await again.createConfirmChannel();
      publisher.publish('durable-x', 'k', Buffer.from('after-restart'), { deliveryMode: 2 });
      await publisher.waitForConfirms();
      assert.deepEqual((await drain(check, 'durable-q')).map((message) => message.body), ['after-restart']);
      await again.close();
    } finally {
      await restarted.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('a second broker on the same data directory refuses to start', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-lock-'));
  const first = await start(dataDir);
  try {
    await assert.rejects(start(dataDir), /lock|in use/i);
  } finally {
    await first.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('messages delivered but unacknowledged when the broker stopped come back redelivered', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-redelivered-'));
  try {
    const first = await start(dataDir);
    const connection = await amqplib.connect(url(first));
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('work', { durable: true });
    for (const body of ['a', 'b', 'c']) channel.sendToQueue('work', Buffer.from(body), { persistent: true });
    await channel.waitForConfirms();
    const delivered = await channel.get('work');
    assert.ok(delivered !== false && delivered.content.toString() === 'a');
    await first.close();

    const restarted = await start(dataDir);
    try {
      const again = await amqplib.connect(url(restarted));
      const check = await again.createChannel();
      assert.deepEqual(await drain(check, 'work'), [
        { body: 'a', redelivered: true },
        { body: 'b', redelivered: false },
        { body: 'c', redelivered: false },
      ]);
      await again.close();
    } finally {
      await restarted.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
