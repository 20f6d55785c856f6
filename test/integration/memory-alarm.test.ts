/**
 * Issue 3 memory watermark test: with a tiny watermark, publishers receive connection.blocked,
 * consumers keep draining, publishers are unblocked, and nothing is lost.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker({ limits: { memoryHighWatermarkBytes: 1024 * 1024 } });
});

after(async () => {
  await broker.close();
});

test('past the memory watermark publishers are blocked until consumers drain, and nothing is lost', { skip: process.env['WARREN_TEST_URL'] ? 'Warren setting' : false }, async () => {
  const total = 100;
  const body = Buffer.alloc(64 * 1024, 1);
  const publisherConnection = await amqplib.connect(broker.url);
  const events: string[] = [];
  publisherConnection.on('blocked', (reason: string) => events.push(`blocked: ${reason}`));
  publisherConnection.on('unblocked', () => events.push('unblocked'));
  const publisher = await publisherConnection.createConfirmChannel();
  await publisher.assertQueue('watermark', { autoDelete: false });
  for (let i = 0; i < total; i++) publisher.sendToQueue('watermark', Buffer.concat([Buffer.from(`${i}:`), body]));

  // 100 messages of 64 KiB are 6.4 MiB: the 1 MiB watermark blocks the publisher long before the end.
  const deadline = Date.now() + 5000;
  while (!events.includes('blocked: low on memory')) {
    assert.ok(Date.now() < deadline, 'the publisher was told it is blocked');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const consumerConnection = await amqplib.connect(broker.url);
  const consumer = await consumerConnection.createChannel();
  const received: number[] = [];
  await consumer.prefetch(5);
  await consumer.consume('watermark', (message) => {
    if (message === null) return;
    received.push(Number(message.content.toString('utf8', 0, 8).split(':')[0]));
    consumer.ack(message);
  });
  await publisher.waitForConfirms();
  const drainedBy = Date.now() + 10_000;
  while (received.length < total) {
    assert.ok(Date.now() < drainedBy, `every message arrived (${received.length} of ${total})`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(received, Array.from({ length: total }, (_, i) => i), 'nothing lost, order kept');
  assert.ok(events.includes('unblocked'), `the publisher was unblocked: ${events.join(', ')}`);
  await consumer.deleteQueue('watermark');
  await consumerConnection.close();
  await publisherConnection.close();
});
