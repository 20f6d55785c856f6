/**
 * Issue 3 disk limit: with less free space than the configured limit, publishing connections are
 * blocked with connection.blocked "low on disk"; connections that only consume keep working.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker } from '../helpers/broker.js';

test('below the disk free limit publishers are blocked and consumers keep working', { skip: process.env['WARREN_TEST_URL'] ? 'Warren setting' : false }, async () => {
  // No file system has a petabyte free: the alarm is on from the start.
  const broker = await startTestBroker({ limits: { diskFreeLimitBytes: 1e15 } });
  try {
    const publisherConnection = await amqplib.connect(broker.url);
    const reasons: string[] = [];
    publisherConnection.on('blocked', (reason: string) => reasons.push(reason));
    const publisher = await publisherConnection.createChannel();
    await publisher.assertQueue('disk-full', { autoDelete: false });
    publisher.sendToQueue('disk-full', Buffer.from('first'));
    const deadline = Date.now() + 5000;
    while (reasons.length === 0) {
      assert.ok(Date.now() < deadline, 'the publisher was told it is blocked');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(reasons, ['low on disk']);

    const consumerConnection = await amqplib.connect(broker.url);
    const consumer = await consumerConnection.createChannel();
    const message = await consumer.get('disk-full', { noAck: true });
    assert.ok(message !== false && message.content.toString() === 'first', 'the consumer still drains');
    await consumer.deleteQueue('disk-full');
    await consumerConnection.close();
    // The blocked connection is not read any more; closing the broker ends it.
    publisherConnection.on('error', () => {});
    void publisherConnection.close().catch(() => {});
  } finally {
    await broker.close();
  }
});
