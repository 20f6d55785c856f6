/**
 * Message and queue expiry as RabbitMQ 3.10 does it: x-message-ttl per queue, the expiration
 * property per message (the shorter wins), TTL 0, expired messages dead-lettered and never handed
 * out by basic.get, requeued messages keeping their original expiry, ready counts dropping as
 * messages expire, x-expires deleting unused queues, and the 406 replies for invalid values.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  bodies,
  collect,
  delay,
  deleteAfter,
  expectChannelClose,
  fault,
  methods,
  openChannel,
  publishConfirmed,
  replyCodes,
  uniqueName,
  waitFor,
  type AmqpClient,
} from '../helpers/amqp.js';
import {
  assertDeath,
  assertStaysReady,
  deadLetterTarget,
  exclusiveQueueWith,
  getWithin,
  readyCount,
  waitForReady,
  xDeath,
} from '../helpers/features.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/**
 * True while `queue` exists. It asks by binding the queue (and unbinding it again) on a throwaway
 * channel: RabbitMQ counts a passive declare or a basic.get as a use that renews an x-expires lease,
 * but not a binding.
 */
async function queueExists(client: AmqpClient, queue: string): Promise<boolean> {
  const ch = await client.channel();
  try {
    await ch.bindQueue(queue, 'amq.fanout', 'warren-test.exists-probe');
    await ch.unbindQueue(queue, 'amq.fanout', 'warren-test.exists-probe');
    await ch.close();
    return true;
  } catch {
    return false;
  }
}

/** Waits until `queue` is gone and returns the milliseconds since `since`. */
async function waitForDeletion(client: AmqpClient, queue: string, since: number): Promise<number> {
  await waitFor(async () => !(await queueExists(client, queue)), 3000, `${queue} to be deleted`);
  return Date.now() - since;
}

describe('x-message-ttl', () => {
  test('messages expire after x-message-ttl: the ready count drops to zero, not before the TTL', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-message-ttl': 300 });
    const publishedAt = Date.now();
    await publishConfirmed(await client.confirmChannel(), ['a', 'b', 'c'].map((body) => ({ exchange: '', routingKey: queue, body })));
    assert.equal(await readyCount(ch, queue), 3);
    await waitForReady(ch, queue, 0);
    const elapsed = Date.now() - publishedAt;
    assert.ok(elapsed >= 280, `expired after ${elapsed} ms, before the 300 ms TTL`);
    assert.equal(await ch.get(queue), false);
  });

  test('expired messages are dead-lettered in their queue order with reason expired', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const queue = await exclusiveQueueWith(ch, { 'x-message-ttl': 100, 'x-dead-letter-exchange': target.exchange });
    for (const body of ['1', '2', '3']) ch.sendToQueue(queue, Buffer.from(body));
    await waitForReady(ch, target.queue, 3);
    const dead = await Promise.all([1, 2, 3].map(() => getWithin(ch, target.queue)));
    assert.deepEqual(bodies(dead), ['1', '2', '3']);
    for (const message of dead) {
      assertDeath(xDeath(message)[0], { count: 1, reason: 'expired', queue, exchange: '', routingKeys: [queue] });
    }
  });

  test('x-message-ttl 0 expires (and dead-letters) a message no consumer can take at once', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const queue = await exclusiveQueueWith(ch, { 'x-message-ttl': 0, 'x-dead-letter-exchange': target.exchange });
    await publishConfirmed(await client.confirmChannel(), [{ exchange: '', routingKey: queue, body: 'nobody home' }]);
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.content.toString(), 'nobody home');
    assertDeath(xDeath(dead)[0], { count: 1, reason: 'expired', queue, exchange: '', routingKeys: [queue] });
    assert.equal(await readyCount(ch, queue), 0);
    assert.equal(await ch.get(queue), false);
  });

  test('x-message-ttl 0 delivers to a waiting consumer, but not to one at its prefetch limit', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-message-ttl': 0 });
    const consumerChannel = await client.channel();
    await consumerChannel.prefetch(1);
    const consumer = await collect(consumerChannel, queue);
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'taken at once' }]);
    await consumer.waitForCount(1);
    // The consumer now holds one unacked delivery, so the next message cannot go out at once.
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'too late' }]);
    await waitForReady(ch, queue, 0);
    const [first] = consumer.messages;
    assert.ok(first);
    consumerChannel.ack(first);
    await delay(100);
    assert.deepEqual(bodies(consumer.messages), ['taken at once']);
  });

  test('basic.get never returns an expired message, even one behind a live message', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, {});
    ch.sendToQueue(queue, Buffer.from('alive'), { expiration: '10000' });
    ch.sendToQueue(queue, Buffer.from('expired'), { expiration: '50' });
    await delay(150);
    assert.equal((await getWithin(ch, queue)).content.toString(), 'alive');
    assert.equal(await ch.get(queue), false, 'the expired message behind it is not handed out');
  });
});

describe('per-message expiration', () => {
  test('a message expires after its expiration (milliseconds as a string); one without stays', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, {});
    await publishConfirmed(await client.confirmChannel(), [
      { exchange: '', routingKey: queue, body: 'short-lived', options: { expiration: '200' } },
      { exchange: '', routingKey: queue, body: 'forever' },
    ]);
    assert.equal(await readyCount(ch, queue), 2);
    await waitForReady(ch, queue, 1);
    const left = await getWithin(ch, queue);
    assert.equal(left.content.toString(), 'forever');
  });

  test('expiration "0" drops a message unless a consumer is waiting for it', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, {});
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'dropped', options: { expiration: '0' } }]);
    await waitForReady(ch, queue, 0);
    const consumer = await collect(ch, queue, { noAck: true });
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'delivered', options: { expiration: '0' } }]);
    await consumer.waitForCount(1);
    assert.deepEqual(bodies(consumer.messages), ['delivered']);
  });

  test('the shorter of x-message-ttl and expiration wins', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const shortMessage = await exclusiveQueueWith(ch, { 'x-message-ttl': 10_000 });
    const shortQueue = await exclusiveQueueWith(ch, { 'x-message-ttl': 150 });
    const bothLong = await exclusiveQueueWith(ch, { 'x-message-ttl': 10_000 });
    await publishConfirmed(await client.confirmChannel(), [
      { exchange: '', routingKey: shortMessage, body: 'x', options: { expiration: '150' } },
      { exchange: '', routingKey: shortQueue, body: 'x', options: { expiration: '10000' } },
      { exchange: '', routingKey: bothLong, body: 'x', options: { expiration: '10000' } },
    ]);
    await waitForReady(ch, shortMessage, 0);
    await waitForReady(ch, shortQueue, 0);
    assert.equal(await readyCount(ch, bothLong), 1);
  });

  test('a message requeued after its expiry is not delivered again but dead-lettered as expired', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const queue = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    ch.sendToQueue(queue, Buffer.from('held too long'), { expiration: '150' });
    const held = await getWithin(ch, queue, { noAck: false });
    await delay(300);
    ch.nack(held, false, true);
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.content.toString(), 'held too long');
    assertDeath(xDeath(dead)[0], { count: 1, reason: 'expired', queue, exchange: '', routingKeys: [queue], originalExpiration: '150' });
    assert.equal(await readyCount(ch, queue), 0);
    assert.equal(await ch.get(queue), false);
  });

  test('a requeue does not restart the expiry clock', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, {});
    const publishedAt = Date.now();
    ch.sendToQueue(queue, Buffer.from('x'), { expiration: '1000' });
    const held = await getWithin(ch, queue, { noAck: false });
    await delay(600);
    ch.nack(held, false, true);
    await waitForReady(ch, queue, 1);
    await waitForReady(ch, queue, 0);
    const elapsed = Date.now() - publishedAt;
    // A clock restarted by the requeue would keep the message until about 1600 ms.
    assert.ok(elapsed < 1400, `expired ${elapsed} ms after publishing, the expiration was 1000 ms`);
  });

  test('expiration is parsed like RabbitMQ does: leading zeros, a plus sign and up to 315360000000 ms are accepted', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, {});
    await publishConfirmed(await client.confirmChannel(), [
      { exchange: '', routingKey: queue, body: 'zeros', options: { expiration: '0060000' } },
      { exchange: '', routingKey: queue, body: 'plus', options: { expiration: '+60000' } },
      { exchange: '', routingKey: queue, body: 'ten years', options: { expiration: '315360000000' } },
    ]);
    assert.equal(await readyCount(ch, queue), 3);
  });

  for (const [expiration, detail] of [
    ['abc', 'no_integer'],
    ['', 'no_integer'],
    [' 5', 'no_integer'],
    ['-1', '{value_negative,-1}'],
    ['1.5', '{leftover_string,".5"}'],
    ['12abc', '{leftover_string,"abc"}'],
    ['315360000001', '{value_too_large,315360000001}'],
  ] as const) {
    test(`expiration ${JSON.stringify(expiration)} closes the channel: 406 "invalid expiration ... ${detail}"`, async (t) => {
      const { ch } = await openChannel(t, broker.url);
      const queue = await exclusiveQueueWith(ch, {});
      const info = await expectChannelClose(
        ch,
        () => ch.sendToQueue(queue, Buffer.from('x'), { expiration }),
        fault(replyCodes.preconditionFailed, methods.basicPublish),
      );
      assert.equal(info.replyText, `PRECONDITION_FAILED - invalid expiration '${expiration}': ${detail}`);
    });
  }
});

describe('x-expires', () => {
  test('an unused queue is deleted once x-expires has passed', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = uniqueName('expires');
    deleteAfter(t, broker.url, { queues: [queue] });
    const declaredAt = Date.now();
    await ch.assertQueue(queue, { arguments: { 'x-expires': 300 } });
    assert.ok(await queueExists(client, queue));
    const elapsed = await waitForDeletion(client, queue, declaredAt);
    assert.ok(elapsed >= 280, `deleted after ${elapsed} ms, before x-expires (300 ms)`);
  });

  test('a queue with a consumer is not deleted; once the consumer is cancelled it is', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = uniqueName('expires');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { arguments: { 'x-expires': 200 } });
    const consumer = await collect(ch, queue);
    await delay(600);
    assert.ok(await queueExists(client, queue), 'a consumer keeps the queue in use');
    await ch.cancel(consumer.consumerTag);
    await waitForDeletion(client, queue, Date.now());
  });

  test('a redeclare renews the lease', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = uniqueName('expires');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { arguments: { 'x-expires': 500 } });
    await delay(300);
    await ch.assertQueue(queue, { arguments: { 'x-expires': 500 } });
    const redeclaredAt = Date.now();
    await delay(350);
    assert.ok(await queueExists(client, queue), 'still there 650 ms after the first declare');
    const elapsed = await waitForDeletion(client, queue, redeclaredAt);
    assert.ok(elapsed >= 450, `deleted ${elapsed} ms after the redeclare`);
  });

  test('messages do not keep a queue alive, and an expired queue does not dead-letter them', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const queue = uniqueName('expires');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { arguments: { 'x-expires': 200, 'x-dead-letter-exchange': target.exchange } });
    await publishConfirmed(await client.confirmChannel(), [{ exchange: '', routingKey: queue, body: 'abandoned' }]);
    await waitForDeletion(client, queue, Date.now());
    await assertStaysReady(ch, target.queue, 0, 200);
  });
});

describe('invalid TTL and expiry arguments', () => {
  for (const [argument, value, detail] of [
    ['x-message-ttl', -1, '{value_negative,-1}'],
    ['x-message-ttl', 'soon', '"expected integer, got longstr"'],
    ['x-message-ttl', 1.5, '"expected integer, got double"'],
    ['x-message-ttl', 315360000001, '{value_too_large,315360000001}'],
    ['x-expires', 0, '{value_zero,0}'],
    ['x-expires', -5, '{value_negative,-5}'],
    ['x-expires', 'soon', '"expected integer, got longstr"'],
    ['x-expires', 315360000001, '{value_too_large,315360000001}'],
  ] as const) {
    test(`${argument} = ${JSON.stringify(value)} closes the channel: 406 "... ${detail}"`, async (t) => {
      const { ch } = await openChannel(t, broker.url);
      const queue = uniqueName('invalid');
      const info = await expectChannelClose(
        ch,
        () => ch.assertQueue(queue, { exclusive: true, arguments: { [argument]: value } }),
        fault(replyCodes.preconditionFailed, methods.queueDeclare),
      );
      assert.equal(info.replyText, `PRECONDITION_FAILED - invalid arg '${argument}' for queue '${queue}' in vhost '/': ${detail}`);
    });
  }
});
