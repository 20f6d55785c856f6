/**
 * Single active consumer (x-single-active-consumer) and consumer priorities (the x-priority argument
 * of basic.consume) as RabbitMQ 3.10 implements them for classic queues. Checked against RabbitMQ
 * 3.10.8 with WARREN_TEST_URL.
 *
 * RabbitMQ 3.10's classic queues have a known single-active-consumer bug (rabbitmq-server#5460):
 * when the active consumer is cancelled while it still holds unacknowledged deliveries, the next
 * consumer is not activated and the next publish crashes the queue. The cancel tests therefore cancel
 * a consumer that holds nothing, or requeue its deliveries before anything else is published.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Channel, ConfirmChannel } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  collect,
  deleteAfter,
  expectChannelClose,
  fault,
  methods,
  openChannel,
  openClient,
  replyCodes,
  uniqueName,
  type AmqpClient,
} from '../helpers/amqp.js';
import { assertExactClose, marked, sendAll, sendNumbered, settle } from '../helpers/consumers.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** A test's connection, a publishing confirm channel and a queue. */
interface Setup {
  client: AmqpClient;
  ch: Channel;
  pub: ConfirmChannel;
  queue: string;
}

/** Opens a connection and declares a named queue (deleted when the test ends) with `args`. */
async function setup(t: TestContext, args: Record<string, unknown> = {}): Promise<Setup> {
  const { client, ch } = await openChannel(t, broker.url);
  const pub = await client.confirmChannel();
  const queue = uniqueName('consumers');
  deleteAfter(t, broker.url, { queues: [queue] });
  await ch.assertQueue(queue, { durable: false, arguments: args });
  return { client, ch, pub, queue };
}

/** A channel with per-consumer prefetch `prefetch` (0: unlimited). */
async function channelWithPrefetch(client: AmqpClient, prefetch: number): Promise<Channel> {
  const ch = await client.channel();
  if (prefetch > 0) await ch.prefetch(prefetch);
  return ch;
}

const SAC = { 'x-single-active-consumer': true };

describe('x-single-active-consumer', () => {
  test('only the first registered consumer receives messages, even while its prefetch is full', async (t) => {
    const { client, ch, pub, queue } = await setup(t, SAC);
    const first = await collect(await channelWithPrefetch(client, 2), queue);
    const second = await collect(await channelWithPrefetch(client, 10), queue);
    const third = await collect(await channelWithPrefetch(client, 10), queue);
    await sendNumbered(pub, queue, 5);
    await first.waitForCount(2);
    await settle();
    assert.deepEqual(marked(first.messages), ['m0', 'm1']);
    assert.deepEqual(second.messages, []);
    assert.deepEqual(third.messages, []);
    // Waiting consumers count as consumers.
    assert.deepEqual(await ch.checkQueue(queue), { queue, messageCount: 3, consumerCount: 3 });
  });

  test('when the active consumer cancels, the next registered consumer gets what follows', async (t) => {
    const { client, pub, queue } = await setup(t, SAC);
    const firstChannel = await client.channel();
    const first = await collect(firstChannel, queue);
    const second = await collect(await client.channel(), queue);
    const third = await collect(await client.channel(), queue);
    await sendNumbered(pub, queue, 3, 'a');
    await first.waitForCount(3);
    for (const message of first.messages) firstChannel.ack(message);
    await firstChannel.cancel(first.consumerTag);
    await sendNumbered(pub, queue, 3, 'b');
    await second.waitForCount(3);
    await settle();
    assert.deepEqual(marked(first.messages), ['a0', 'a1', 'a2']);
    assert.deepEqual(marked(second.messages), ['b0', 'b1', 'b2']);
    assert.deepEqual(third.messages, []);
  });

  for (const closing of ['channel', 'connection'] as const) {
    test(`when the active consumer's ${closing} closes, the next consumer gets its unacked messages first, then the rest`, async (t) => {
      const { client, pub, queue } = await setup(t, SAC);
      const failing = await openClient(t, broker.url);
      const failingChannel = await channelWithPrefetch(failing, 3);
      const first = await collect(failingChannel, queue);
      const second = await collect(await client.channel(), queue);
      const third = await collect(await client.channel(), queue);
      await sendNumbered(pub, queue, 6);
      await first.waitForCount(3);
      const acked = first.messages[0];
      assert.ok(acked);
      failingChannel.ack(acked);
      await first.waitForCount(4);
      if (closing === 'channel') await failingChannel.close();
      else await failing.close();
      await second.waitForCount(5);
      await settle();
      assert.deepEqual(marked(first.messages), ['m0', 'm1', 'm2', 'm3']);
      assert.deepEqual(marked(second.messages), ['m1*', 'm2*', 'm3*', 'm4', 'm5']);
      assert.deepEqual(third.messages, []);
    });
  }

  test('the cancelled consumer can still settle its deliveries; what it requeues goes to the new active consumer', async (t) => {
    const { client, pub, queue } = await setup(t, SAC);
    const firstChannel = await client.channel();
    const first = await collect(firstChannel, queue);
    const second = await collect(await client.channel(), queue);
    await sendNumbered(pub, queue, 3);
    await first.waitForCount(3);
    await firstChannel.cancel(first.consumerTag);
    const [m0, m1, m2] = first.messages;
    assert.ok(m0 && m1 && m2);
    firstChannel.ack(m0);
    firstChannel.nack(m2, true, true);
    await second.waitForCount(2);
    await settle();
    assert.deepEqual(marked(second.messages), ['m1*', 'm2*']);
  });

  test('a consumer on x-single-active-consumer false round-robins as usual', async (t) => {
    const { client, pub, queue } = await setup(t, { 'x-single-active-consumer': false });
    const first = await collect(await client.channel(), queue, { noAck: true });
    const second = await collect(await client.channel(), queue, { noAck: true });
    await sendNumbered(pub, queue, 4);
    await first.waitForCount(2);
    await second.waitForCount(2);
    assert.equal(first.messages.length + second.messages.length, 4);
  });

  test('an exclusive basic.consume on a single-active-consumer queue is 403 ACCESS_REFUSED', async (t) => {
    const { ch, queue } = await setup(t, SAC);
    const info = await expectChannelClose(
      ch,
      () => ch.consume(queue, () => {}, { exclusive: true }),
      fault(replyCodes.accessRefused, methods.basicConsume),
    );
    assertExactClose(info, {
      replyCode: 403,
      replyText: `ACCESS_REFUSED - queue '${queue}' in vhost '/' in exclusive use`,
      classId: 60,
      methodId: 20,
    });
  });

  // amqplib sends a small integer as a signed byte ('b'); RabbitMQ names the type it refuses.
  for (const [label, value, type] of [
    ['1', 1, 'byte'],
    ["'true' (a string)", 'true', 'longstr'],
  ] as const) {
    test(`x-single-active-consumer ${label} is 406 PRECONDITION_FAILED (queue.declare)`, async (t) => {
      const { ch } = await openChannel(t, broker.url);
      const queue = uniqueName('sac');
      const info = await expectChannelClose(
        ch,
        () => ch.assertQueue(queue, { exclusive: true, arguments: { 'x-single-active-consumer': value } }),
        fault(replyCodes.preconditionFailed, methods.queueDeclare),
      );
      assertExactClose(info, {
        replyCode: 406,
        replyText: `PRECONDITION_FAILED - invalid arg 'x-single-active-consumer' for queue '${queue}' in vhost '/': {unacceptable_type,${type}}`,
        classId: 50,
        methodId: 10,
      });
    });
  }

  test('redeclaring without x-single-active-consumer is 406 inequivalent arg', async (t) => {
    const { ch, queue } = await setup(t, SAC);
    const info = await expectChannelClose(
      ch,
      () => ch.assertQueue(queue, { durable: false }),
      fault(replyCodes.preconditionFailed, methods.queueDeclare),
    );
    assertExactClose(info, {
      replyCode: 406,
      replyText: `PRECONDITION_FAILED - inequivalent arg 'x-single-active-consumer' for queue '${queue}' in vhost '/': received none but current is the value 'true' of type 'bool'`,
      classId: 50,
      methodId: 10,
    });
  });
});

describe('consumer priorities (x-priority)', () => {
  test('the higher-priority consumer gets messages while it has prefetch room; lower ones share the rest round-robin', async (t) => {
    const { client, pub, queue } = await setup(t);
    // Registration order is low, high, low: priority, not order, decides.
    const low = await collect(await channelWithPrefetch(client, 100), queue, { arguments: { 'x-priority': 1 } });
    const highChannel = await channelWithPrefetch(client, 2);
    const high = await collect(highChannel, queue, { arguments: { 'x-priority': 10 } });
    const lowToo = await collect(await channelWithPrefetch(client, 100), queue, { arguments: { 'x-priority': 1 } });
    await sendNumbered(pub, queue, 8);
    await high.waitForCount(2);
    await low.waitForCount(3);
    await lowToo.waitForCount(3);
    assert.deepEqual(marked(high.messages), ['m0', 'm1']);
    const shares = [marked(low.messages), marked(lowToo.messages)].sort((a, b) => a.join().localeCompare(b.join()));
    assert.deepEqual(shares, [
      ['m2', 'm4', 'm6'],
      ['m3', 'm5', 'm7'],
    ]);
    // Once the high-priority consumer has room again it is served first.
    highChannel.ackAll();
    // A synchronous round trip on the same channel, so the broker has the acks before the publishes.
    await highChannel.checkQueue(queue);
    await sendNumbered(pub, queue, 4, 'n');
    await high.waitForCount(4);
    await settle();
    assert.deepEqual(marked(high.messages), ['m0', 'm1', 'n0', 'n1']);
    assert.equal(low.messages.length + lowToo.messages.length, 8);
  });

  test('a high-priority consumer without a prefetch limit gets everything', async (t) => {
    const { client, pub, queue } = await setup(t);
    const low = await collect(await client.channel(), queue, { noAck: true });
    const high = await collect(await client.channel(), queue, { noAck: true, arguments: { 'x-priority': 5 } });
    await sendNumbered(pub, queue, 10);
    await high.waitForCount(10);
    await settle();
    assert.deepEqual(low.messages, []);
  });

  test('a negative x-priority ranks below the default 0', async (t) => {
    const { client, pub, queue } = await setup(t);
    const negative = await collect(await channelWithPrefetch(client, 100), queue, { arguments: { 'x-priority': -5 } });
    const normal = await collect(await channelWithPrefetch(client, 1), queue);
    await sendNumbered(pub, queue, 3);
    await normal.waitForCount(1);
    await negative.waitForCount(2);
    await settle();
    assert.deepEqual(marked(normal.messages), ['m0']);
    assert.deepEqual(marked(negative.messages), ['m1', 'm2']);
  });

  test('consumers of equal priority share round-robin', async (t) => {
    const { client, pub, queue } = await setup(t);
    const first = await collect(await client.channel(), queue, { noAck: true, arguments: { 'x-priority': 3 } });
    const second = await collect(await client.channel(), queue, { noAck: true, arguments: { 'x-priority': 3 } });
    const lower = await collect(await client.channel(), queue, { noAck: true, arguments: { 'x-priority': 2 } });
    await sendNumbered(pub, queue, 6);
    await first.waitForCount(3);
    await second.waitForCount(3);
    await settle();
    const shares = [marked(first.messages), marked(second.messages)].sort((a, b) => a.join().localeCompare(b.join()));
    assert.deepEqual(shares, [
      ['m0', 'm2', 'm4'],
      ['m1', 'm3', 'm5'],
    ]);
    assert.deepEqual(lower.messages, []);
  });

  test('messages requeued by a closed low-priority channel go to the high-priority consumer once it has room', async (t) => {
    const { client, pub, queue } = await setup(t);
    const highChannel = await channelWithPrefetch(client, 1);
    const high = await collect(highChannel, queue, { arguments: { 'x-priority': 10 } });
    const lowChannel = await channelWithPrefetch(client, 10);
    const low = await collect(lowChannel, queue);
    await sendAll(pub, queue, ['a', 'b', 'c']);
    await high.waitForCount(1);
    await low.waitForCount(2);
    await lowChannel.close();
    await settle();
    assert.deepEqual(marked(high.messages), ['a'], 'no room: the requeued messages wait');
    for (let count = 1; count <= 2; count += 1) {
      const last = high.messages[count - 1];
      assert.ok(last);
      highChannel.ack(last);
      await high.waitForCount(count + 1);
    }
    assert.deepEqual(marked(high.messages), ['a', 'b*', 'c*']);
  });

  // RabbitMQ checks x-priority as an integer and reports the refused type.
  for (const [label, value, type] of [
    ["'abc' (a string)", 'abc', 'longstr'],
    ['1.5 (a double)', 1.5, 'double'],
    ['true (a boolean)', true, 'bool'],
  ] as const) {
    test(`x-priority ${label} is 406 PRECONDITION_FAILED (basic.consume)`, async (t) => {
      const { ch, queue } = await setup(t);
      const info = await expectChannelClose(
        ch,
        () => ch.consume(queue, () => {}, { arguments: { 'x-priority': value } }),
        fault(replyCodes.preconditionFailed, methods.basicConsume),
      );
      assertExactClose(info, {
        replyCode: 406,
        replyText: `PRECONDITION_FAILED - invalid arg 'x-priority' for queue '${queue}' in vhost '/': "expected integer, got ${type}"`,
        classId: 60,
        methodId: 20,
      });
    });
  }
});
