/**
 * The consumer acknowledgement timeout, Warren only (RabbitMQ sets it node-wide with consumer_timeout,
 * which WARREN_TEST_URL cannot change, and checks it once a minute): a channel that holds a delivery
 * unacknowledged for longer than the limit is closed with 406 PRECONDITION_FAILED and RabbitMQ's text,
 * naming no method (class 0, method 0), and its unacknowledged messages are requeued, redelivered to
 * other consumers. No-ack consumers and channels that ack in time are left alone. The x-consumer-timeout
 * queue argument (RabbitMQ 3.12+, "Per-queue Delivery Timeouts Using an Optional Queue Argument")
 * overrides the node limit for deliveries from that queue.
 *
 * The reply text, the class/method ids, the requeue with redelivered=true and the basic.get case were
 * observed on RabbitMQ 3.10.8 with consumer_timeout = 1000.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Channel } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { channelClosed, collect, deleteAfter, isChannelOpen, openChannel, openClient, uniqueName, withTimeout } from '../helpers/amqp.js';
import { assertExactClose, channelNumber, marked, nextMessage, sendAll, settle } from '../helpers/consumers.js';

const external = (process.env['WARREN_TEST_URL'] ?? '') !== '';
const skip = external ? 'Warren only: the timeout is a node setting of the external broker' : false;

/** The node-wide limit the tests configure. */
const TIMEOUT_MS = 300;

let broker: TestBroker;

before(async () => {
  if (skip !== false) return;
  broker = await startTestBroker({ limits: { consumerTimeoutMs: TIMEOUT_MS } });
});

after(async () => {
  await broker?.close();
});

/** RabbitMQ's reply text for a channel whose oldest unacknowledged delivery timed out. */
function timeoutText(channel: number, timeoutMs: number): string {
  return (
    `PRECONDITION_FAILED - delivery acknowledgement on channel ${channel} timed out. ` +
    `Timeout value used: ${timeoutMs} ms. This timeout value can be configured, see consumers doc guide to learn more`
  );
}

/** Waits (a few times the timeout at most) for the server to close `ch` and checks the close. */
async function expectTimedOut(ch: Channel, timeoutMs: number): Promise<void> {
  const number = channelNumber(ch);
  const info = await withTimeout(channelClosed(ch), timeoutMs * 3 + 2000, `channel ${number} to be closed for the ack timeout`);
  assertExactClose(info, { replyCode: 406, replyText: timeoutText(number, timeoutMs), classId: 0, methodId: 0 });
}

/**
 * Declares a named queue with `args` on `ch`, deleted when test `t` ends. Not exclusive: the consumer
 * that times out uses a connection of its own.
 */
async function queueOn(t: TestContext, url: string, ch: Channel, args: Record<string, unknown> = {}): Promise<string> {
  const queue = uniqueName('ack-timeout');
  deleteAfter(t, url, { queues: [queue] });
  await ch.assertQueue(queue, { durable: false, arguments: args });
  return queue;
}

/** Opens a second connection for the consumer that will time out, so its close cannot touch `t`'s main channel. */
async function slowChannel(t: TestContext, url: string): Promise<{ ch: Channel; isConnectionOpen: () => boolean }> {
  const client = await openClient(t, url);
  // A first channel, so the slow one is not channel 1 and the reply text must carry the real number.
  await client.channel();
  const ch = await client.channel();
  return { ch, isConnectionOpen: () => client.isOpen };
}

describe('consumer acknowledgement timeout', { skip }, () => {
  test('a channel holding a delivery too long is closed 406; the message is redelivered to another consumer', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await queueOn(t, broker.url, ch);
    const slow = await slowChannel(t, broker.url);
    const held = await collect(slow.ch, queue);
    await sendAll(pub, queue, ['held']);
    await held.waitForCount(1);
    const other = await collect(ch, queue);
    await expectTimedOut(slow.ch, TIMEOUT_MS);
    const [redelivered] = await other.waitForCount(1);
    assert.ok(redelivered);
    assert.deepEqual(marked(other.messages), ['held*']);
    assert.ok(slow.isConnectionOpen(), 'only the channel is closed, not the connection');
    ch.ack(redelivered);
  });

  test('the oldest unacknowledged delivery counts: acking later ones does not keep the channel open', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await queueOn(t, broker.url, ch);
    const slow = await slowChannel(t, broker.url);
    const held = await collect(slow.ch, queue);
    await sendAll(pub, queue, ['old', 'new']);
    const [, newer] = await held.waitForCount(2);
    assert.ok(newer);
    slow.ch.ack(newer);
    await expectTimedOut(slow.ch, TIMEOUT_MS);
    assert.deepEqual(marked([await nextMessage(ch, queue)]), ['old*']);
    assert.equal(await ch.get(queue, { noAck: true }), false, 'the acknowledged message is gone');
  });

  test('an unacknowledged basic.get delivery times out too', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await queueOn(t, broker.url, ch);
    const slow = await slowChannel(t, broker.url);
    await sendAll(pub, queue, ['fetched']);
    assert.ok((await slow.ch.get(queue, { noAck: false })) !== false);
    await expectTimedOut(slow.ch, TIMEOUT_MS);
    assert.deepEqual(marked([await nextMessage(ch, queue)]), ['fetched*']);
  });

  test('a channel that acknowledges in time stays open', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await queueOn(t, broker.url, ch);
    const consumerChannel = await client.channel();
    const consumer = await collect(consumerChannel, queue);
    // Each delivery is acknowledged after a third of the timeout, for about four timeouts in all.
    for (let i = 0; i < 12; i += 1) {
      await sendAll(pub, queue, [`m${i}`]);
      const message = (await consumer.waitForCount(i + 1))[i];
      assert.ok(message);
      await settle(TIMEOUT_MS / 3);
      consumerChannel.ack(message);
    }
    await settle(TIMEOUT_MS);
    assert.ok(isChannelOpen(consumerChannel), 'the acknowledging channel is open');
    assert.equal(consumer.messages.length, 12);
  });

  test('no-ack consumers are not affected', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await queueOn(t, broker.url, ch);
    const consumerChannel = await client.channel();
    const consumer = await collect(consumerChannel, queue, { noAck: true });
    await sendAll(pub, queue, ['a', 'b']);
    await consumer.waitForCount(2);
    await settle(TIMEOUT_MS * 3);
    assert.ok(isChannelOpen(consumerChannel));
  });

  test('a queue x-consumer-timeout longer than the node limit overrides it', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await queueOn(t, broker.url, ch, { 'x-consumer-timeout': 60_000 });
    const consumerChannel = await client.channel();
    const consumer = await collect(consumerChannel, queue);
    await sendAll(pub, queue, ['patient']);
    const [message] = await consumer.waitForCount(1);
    assert.ok(message);
    await settle(TIMEOUT_MS * 4);
    assert.ok(isChannelOpen(consumerChannel), 'held for four node timeouts, within the queue timeout');
    consumerChannel.ack(message);
  });
});

describe('x-consumer-timeout with the default node limit', { skip }, () => {
  let defaultBroker: TestBroker;

  before(async () => {
    if (skip !== false) return;
    defaultBroker = await startTestBroker();
  });

  after(async () => {
    await defaultBroker?.close();
  });

  test('a queue x-consumer-timeout shorter than the node limit applies, and the text names it', async (t) => {
    const { client, ch } = await openChannel(t, defaultBroker.url);
    const pub = await client.confirmChannel();
    const queue = await queueOn(t, defaultBroker.url, ch, { 'x-consumer-timeout': 250 });
    const plain = await queueOn(t, defaultBroker.url, ch);
    const slow = await slowChannel(t, defaultBroker.url);
    const plainChannel = await client.channel();
    const plainConsumer = await collect(plainChannel, plain);
    await sendAll(pub, plain, ['untimed']);
    await plainConsumer.waitForCount(1);
    const held = await collect(slow.ch, queue);
    await sendAll(pub, queue, ['timed']);
    await held.waitForCount(1);
    await expectTimedOut(slow.ch, 250);
    assert.ok(isChannelOpen(plainChannel), 'deliveries from a queue without the argument keep the node limit');
    assert.deepEqual(marked([await nextMessage(ch, queue)]), ['timed*']);
  });
});
