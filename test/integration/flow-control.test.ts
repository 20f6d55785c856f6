/**
 * Flow control, both directions (in-process Warren: the thresholds are Warren settings).
 * - A consumer whose socket stops reading is not buffered for without bound: the broker keeps the
 *   messages in the queue and resumes when the socket drains.
 * - A publisher to a queue whose consumers have fallen behind is paused (its socket is not read)
 *   until the backlog shrinks, so memory stays bounded, as RabbitMQ's credit flow does.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { RawAmqpClient, Writer } from '../helpers/raw-amqp.js';

const inProcessOnly = { skip: process.env['WARREN_TEST_URL'] ? 'thresholds are Warren settings' : false };
let broker: TestBroker;

afterEach(async () => {
  await broker.close();
});

async function messageCount(queue: string): Promise<number> {
  const connection = await amqplib.connect(broker.url);
  try {
    const channel = await connection.createChannel();
    return (await channel.checkQueue(queue)).messageCount;
  } finally {
    await connection.close();
  }
}

/** Acks unless the channel has closed meanwhile (the test may already be tearing down). */
function ackQuietly(channel: amqplib.Channel, message: amqplib.Message): void {
  try {
    channel.ack(message);
  } catch {
    // The channel closed while the ack was pending: nothing left to acknowledge.
  }
}

async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('a consumer that stops reading its socket is not buffered for without bound', inProcessOnly, async () => {
  // The backlog limit is set high so that publisher flow control stays out of this test.
  broker = await startTestBroker({ limits: { socketBufferHighWaterBytes: 256 * 1024, queueBacklogHighWaterMessages: 1_000_000 } });
  const total = 50_000;
  const setup = await amqplib.connect(broker.url);
  const channel = await setup.createConfirmChannel();
  await channel.assertQueue('slow-reader', { autoDelete: false });

  const consumer = await RawAmqpClient.open(broker.port);
  await consumer.openChannel(1);
  // basic.consume queue='slow-reader', tag='', no-local=false, no-ack=true, exclusive=false, nowait=false, {}.
  consumer.sendMethod(1, 60, 20, new Writer().short(0).shortstr('slow-reader').shortstr('').bits(false, true, false, false).table({}).toBuffer());
  await consumer.expectMethod(60, 21);
  consumer.socket.removeAllListeners('data');
  consumer.socket.pause();

  const body = Buffer.alloc(1024, 7);
  for (let i = 0; i < total; i++) channel.sendToQueue('slow-reader', body);
  await channel.waitForConfirms();

  // 50 MiB were published; the socket and kernel buffers hold a few MiB at most, the rest stays queued.
  const held = await messageCount('slow-reader');
  assert.ok(held > total / 2, `expected most messages to stay in the queue, ${held} of ${total} did`);

  let received = 0;
  consumer.socket.on('data', (chunk: Buffer) => (received += chunk.length));
  consumer.socket.resume();
  await eventually(async () => (await messageCount('slow-reader')) === 0, 'the queue to drain once the consumer reads again');
  assert.ok(received > 0);
  consumer.destroy();
  await channel.deleteQueue('slow-reader');
  await setup.close();
});

test('a publisher to a queue whose consumer is behind is paused while the consumer catches up', inProcessOnly, async () => {
  // A catch-up window of ten minutes lets even this slow consumer count as catching up.
  broker = await startTestBroker({ limits: { queueBacklogHighWaterMessages: 100, flowControlCatchUpMs: 600_000 } });
  const total = 20_000;
  const consumerConnection = await amqplib.connect(broker.url);
  const consumerChannel = await consumerConnection.createChannel();
  await consumerChannel.assertQueue('behind', { autoDelete: false });
  await consumerChannel.prefetch(1);
  // A slow consumer: it keeps making progress, one message every 20 ms.
  const { consumerTag } = await consumerChannel.consume('behind', (message) => {
    if (message !== null) setTimeout(() => ackQuietly(consumerChannel, message), 20);
  });

  const publisherConnection = await amqplib.connect(broker.url);
  const publisher = await publisherConnection.createChannel();
  for (let i = 0; i < total; i++) publisher.sendToQueue('behind', Buffer.from('x'));
  await new Promise((resolve) => setTimeout(resolve, 600));
  const whilePaused = await messageCount('behind');
  assert.ok(whilePaused < total / 4, `expected the publisher to be paused near the high-water mark, queue holds ${whilePaused}`);

  // Without consumers the queue is a buffer again and the publisher is released.
  await consumerChannel.cancel(consumerTag);
  await eventually(async () => (await messageCount('behind')) >= total - 100, 'the remaining publishes to arrive once released');
  await consumerChannel.deleteQueue('behind');
  await publisherConnection.close();
  await consumerConnection.close();
});

test('consumers that stop making progress do not hold their publishers paused', inProcessOnly, async () => {
  broker = await startTestBroker({ limits: { queueBacklogHighWaterMessages: 100, flowControlBusyUtilization: 0 } });
  const total = 20_000;
  const consumerConnection = await amqplib.connect(broker.url);
  const consumerChannel = await consumerConnection.createChannel();
  await consumerChannel.assertQueue('stuck', { autoDelete: false });
  await consumerChannel.prefetch(1);
  // The consumer takes one message and never acknowledges it: attached, but no progress.
  await consumerChannel.consume('stuck', () => {});

  const publisherConnection = await amqplib.connect(broker.url);
  const publisher = await publisherConnection.createChannel();
  for (let i = 0; i < total; i++) publisher.sendToQueue('stuck', Buffer.from('x'));
  await eventually(async () => (await messageCount('stuck')) === total - 1, 'every publish to reach the queue with the consumer still attached');
  await consumerChannel.deleteQueue('stuck');
  await publisherConnection.close();
  await consumerConnection.close();
});

test('a consumer that requeues everything it gets does not hold its publishers paused', inProcessOnly, async () => {
  broker = await startTestBroker({ limits: { queueBacklogHighWaterMessages: 100, flowControlBusyUtilization: 0 } });
  const total = 5_000;
  const consumerConnection = await amqplib.connect(broker.url);
  const consumerChannel = await consumerConnection.createChannel();
  await consumerChannel.assertQueue('requeue-loop', { autoDelete: false });
  await consumerChannel.prefetch(10);
  // Deliveries keep happening, but nothing ever leaves the queue.
  await consumerChannel.consume('requeue-loop', (message) => {
    if (message !== null) {
      try {
        consumerChannel.nack(message, false, true);
      } catch {
        // Closed during teardown.
      }
    }
  });
  const publisherConnection = await amqplib.connect(broker.url);
  const publisher = await publisherConnection.createConfirmChannel();
  for (let i = 0; i < total; i++) publisher.sendToQueue('requeue-loop', Buffer.from('x'));
  await publisher.waitForConfirms();
  await consumerConnection.close();
  assert.equal(await messageCount('requeue-loop'), total);
  await publisher.deleteQueue('requeue-loop');
  await publisherConnection.close();
});

test('a consumer too slow to catch up soon does not hold its publishers paused', inProcessOnly, async () => {
  broker = await startTestBroker({ limits: { queueBacklogHighWaterMessages: 100 } });
  const total = 20_000;
  const consumerConnection = await amqplib.connect(broker.url);
  const consumerChannel = await consumerConnection.createChannel();
  await consumerChannel.assertQueue('slow-work', { autoDelete: false });
  await consumerChannel.prefetch(1);
  // 50 messages a second: a backlog of thousands would take minutes to work off.
  await consumerChannel.consume('slow-work', (message) => {
    if (message !== null) setTimeout(() => ackQuietly(consumerChannel, message), 20);
  });
  const publisherConnection = await amqplib.connect(broker.url);
  const publisher = await publisherConnection.createConfirmChannel();
  for (let i = 0; i < total; i++) publisher.sendToQueue('slow-work', Buffer.from('x'));
  await publisher.waitForConfirms();
  assert.ok((await messageCount('slow-work')) > total - 1000, 'the backlog built up while the consumer worked slowly');
  await consumerConnection.close();
  await publisher.deleteQueue('slow-work');
  await publisherConnection.close();
});

test('a node that is not busy never pauses publishers, however deep the backlog', inProcessOnly, async () => {
  // Utilization above 1 can never be reached: the node never counts as busy.
  broker = await startTestBroker({ limits: { queueBacklogHighWaterMessages: 100, flowControlBusyUtilization: 2 } });
  const total = 20_000;
  const consumerConnection = await amqplib.connect(broker.url);
  const consumerChannel = await consumerConnection.createChannel();
  await consumerChannel.assertQueue('work', { autoDelete: false });
  await consumerChannel.prefetch(1);
  await consumerChannel.consume('work', (message) => {
    if (message !== null) setTimeout(() => ackQuietly(consumerChannel, message), 20);
  });
  const publisherConnection = await amqplib.connect(broker.url);
  const publisher = await publisherConnection.createConfirmChannel();
  for (let i = 0; i < total; i++) publisher.sendToQueue('work', Buffer.from('x'));
  await publisher.waitForConfirms();
  assert.ok((await messageCount('work')) > total - 1000, 'the backlog built up while the consumer worked slowly');
  await consumerChannel.deleteQueue('work');
  await publisherConnection.close();
  await consumerConnection.close();
});
