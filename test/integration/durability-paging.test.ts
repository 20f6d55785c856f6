/**
 * Issue 3 memory bound: a queue keeps only a window of message bodies in memory; messages beyond it
 * (persistent or transient, in durable and non-durable queues) are read back from disk as consumers
 * reach them, intact and in order. Paging a transient message out does not make it survive a restart.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { startWarren } from '../../src/main.js';

test('a deep durable backlog keeps only a window of bodies in memory and delivers every message intact', { skip: process.env['WARREN_TEST_URL'] ? 'inspects an in-process broker' : false }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-paging-'));
  const node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', limits: { queueMemoryWindowMessages: 10 } });
  try {
    const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
    const channel = await connection.createConfirmChannel();
    await channel.assertQueue('deep', { durable: true });
    const bodyBytes = 10 * 1024;
    const total = 200;
    const expected: string[] = [];
    for (let i = 0; i < total; i++) {
      // Every tenth message is transient: past the window it pages out too, in its place.
      const persistent = i % 10 !== 0;
      const body = `${i}:${String.fromCharCode(97 + (i % 26)).repeat(bodyBytes)}`;
      expected.push(body);
      channel.sendToQueue('deep', Buffer.from(body), { persistent });
    }
    await channel.waitForConfirms();
    const held = node.broker.alarms.heldBytes;
    // The 10 windowed messages at most, against 200 published.
    assert.ok(held <= 10 * (bodyBytes + 8), `held ${held} bytes of bodies in memory`);

    const received: string[] = [];
    await channel.prefetch(20);
    await new Promise<void>((resolve) => {
      void channel.consume('deep', (message) => {
        if (message === null) return;
        received.push(message.content.toString());
        channel.ack(message);
        if (received.length === total) resolve();
      });
    });
    assert.deepEqual(received, expected);
    await channel.deleteQueue('deep');
    await connection.close();
  } finally {
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('after a restart only the window of recovered bodies is loaded; the rest is read when reached', { skip: process.env['WARREN_TEST_URL'] ? 'inspects an in-process broker' : false }, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-paging-restart-'));
  const settings = { amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' as const, limits: { queueMemoryWindowMessages: 10 } };
  const bodyBytes = 10 * 1024;
  const total = 100;
  const expected = Array.from({ length: total }, (_, i) => `${i}:${'z'.repeat(bodyBytes)}`);
  const first = await startWarren(settings);
  const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${first.amqpPort}`);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('deep-restart', { durable: true });
  for (const body of expected) channel.sendToQueue('deep-restart', Buffer.from(body), { persistent: true });
  await channel.waitForConfirms();
  await connection.close();
  await first.close();

  const second = await startWarren(settings);
  try {
    assert.ok(second.broker.alarms.heldBytes <= 10 * (bodyBytes + 8), `held ${second.broker.alarms.heldBytes} bytes after recovery`);
    const again = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${second.amqpPort}`);
    const reader = await again.createChannel();
    const received: string[] = [];
    for (;;) {
      const message = await reader.get('deep-restart', { noAck: true });
      if (message === false) break;
      received.push(message.content.toString());
    }
    assert.deepEqual(received, expected);
    await again.close();
  } finally {
    await second.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

const inProcessOnly = { skip: process.env['WARREN_TEST_URL'] ? 'inspects an in-process broker' : false };

test('a non-durable queue pages its backlog out to the data directory and delivers it in order', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-paging-transient-'));
  const node = await startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', limits: { queueMemoryWindowMessages: 10 } });
  try {
    const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
    const channel = await connection.createConfirmChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    const bodyBytes = 4 * 1024;
    const expected = Array.from({ length: 300 }, (_, i) => `${i}:${'t'.repeat(bodyBytes)}`);
    expected.forEach((body, i) => channel.sendToQueue(queue, Buffer.from(body), { persistent: i % 2 === 0 }));
    await channel.waitForConfirms();
    assert.ok(node.broker.alarms.heldBytes <= 10 * (bodyBytes + 8), `held ${node.broker.alarms.heldBytes} bytes of bodies in memory`);
    assert.equal((await readdir(join(dataDir, 'transient'))).length, 1, 'one paging store for the one queue');
    const received: string[] = [];
    for (;;) {
      const message = await channel.get(queue, { noAck: true });
      if (message === false) break;
      received.push(message.content.toString());
    }
    assert.deepEqual(received, expected);
    await channel.deleteQueue(queue);
    assert.deepEqual(await readdir(join(dataDir, 'transient')), [], 'deleting the queue removes its paged-out files');
    await connection.close();
  } finally {
    await node.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('transient messages paged out of a durable queue are gone after a restart; persistent ones come back in order', inProcessOnly, async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'warren-paging-mixed-restart-'));
  const settings = { amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent' as const, limits: { queueMemoryWindowMessages: 5 } };
  const bodies = Array.from({ length: 60 }, (_, i) => ({ body: `message ${i}`, persistent: i % 3 !== 1 }));
  const first = await startWarren(settings);
  const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${first.amqpPort}`);
  const channel = await connection.createConfirmChannel();
  await channel.assertQueue('mixed', { durable: true });
  for (const { body, persistent } of bodies) channel.sendToQueue('mixed', Buffer.from(body), { persistent });
  await channel.waitForConfirms();
  await connection.close();
  await first.close();

  const second = await startWarren(settings);
  try {
    const again = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${second.amqpPort}`);
    const reader = await again.createChannel();
    const received: string[] = [];
    for (;;) {
      const message = await reader.get('mixed', { noAck: true });
      if (message === false) break;
      received.push(message.content.toString());
    }
    assert.deepEqual(received, bodies.filter((m) => m.persistent).map((m) => m.body));
    await again.close();
  } finally {
    await second.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
