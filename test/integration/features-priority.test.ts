/**
 * Priority queues (x-max-priority) as RabbitMQ 3.10 implements them: higher `priority` first, FIFO
 * within a priority, priorities above the maximum counted as the maximum, no priority counted as 0,
 * requeued messages back in their priority's place, and the 406 texts for invalid or inequivalent
 * x-max-priority values. Checked against RabbitMQ 3.10.8 with WARREN_TEST_URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Channel } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  collect,
  deleteAfter,
  drain,
  expectChannelClose,
  fault,
  methods,
  openChannel,
  replyCodes,
  uniqueName,
} from '../helpers/amqp.js';
import { assertExactClose, marked, sendAll, settle, type Outgoing } from '../helpers/consumers.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** Declares an exclusive server-named queue with x-max-priority `max`. */
async function priorityQueue(ch: Channel, max: number): Promise<string> {
  return (await ch.assertQueue('', { exclusive: true, arguments: { 'x-max-priority': max } })).queue;
}

/** A message with a priority (or none when `priority` is undefined). */
function withPriority(body: string, priority: number | undefined): Outgoing {
  return priority === undefined ? body : { body, options: { priority } };
}

describe('delivery order', () => {
  test('basic.get returns higher priorities first and keeps publish order within a priority', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 5);
    await sendAll(pub, queue, [
      withPriority('p1-a', 1),
      withPriority('p3-a', 3),
      withPriority('p5-a', 5),
      withPriority('p1-b', 1),
      withPriority('p3-b', 3),
      withPriority('p5-b', 5),
      withPriority('p2-a', 2),
    ]);
    assert.deepEqual(await drain(ch, queue), ['p5-a', 'p5-b', 'p3-a', 'p3-b', 'p2-a', 'p1-a', 'p1-b']);
  });

  test('priorities above x-max-priority count as the maximum; the property is delivered unchanged', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 5);
    await sendAll(pub, queue, [
      withPriority('p4', 4),
      withPriority('p9', 9),
      withPriority('p5', 5),
      withPriority('p200', 200),
      withPriority('p6', 6),
    ]);
    const got: { body: string; priority: number | undefined }[] = [];
    for (;;) {
      const message = await ch.get(queue, { noAck: true });
      if (message === false) break;
      got.push({ body: message.content.toString(), priority: message.properties.priority as number | undefined });
    }
    assert.deepEqual(got, [
      { body: 'p9', priority: 9 },
      { body: 'p5', priority: 5 },
      { body: 'p200', priority: 200 },
      { body: 'p6', priority: 6 },
      { body: 'p4', priority: 4 },
    ]);
  });

  test('a message without a priority counts as priority 0', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 3);
    await sendAll(pub, queue, [
      withPriority('none-a', undefined),
      withPriority('zero', 0),
      withPriority('one', 1),
      withPriority('none-b', undefined),
    ]);
    assert.deepEqual(await drain(ch, queue), ['one', 'none-a', 'zero', 'none-b']);
  });

  test('a consumer that starts after the publishes receives the backlog in priority order', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 10);
    await sendAll(pub, queue, [
      withPriority('low', 1),
      withPriority('none', undefined),
      withPriority('high', 10),
      withPriority('mid', 5),
      withPriority('high-2', 10),
    ]);
    const consumer = await collect(ch, queue, { noAck: true });
    await consumer.waitForCount(5);
    assert.deepEqual(marked(consumer.messages), ['high', 'high-2', 'mid', 'low', 'none']);
  });

  test('a consumer held back by prefetch gets the highest priority waiting when it acks', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 5);
    await ch.prefetch(1);
    const consumer = await collect(ch, queue);
    await sendAll(pub, queue, [withPriority('first', 1)]);
    await consumer.waitForCount(1);
    await sendAll(pub, queue, [withPriority('low', 1), withPriority('mid', 3), withPriority('high', 5)]);
    for (let count = 1; count <= 3; count += 1) {
      const last = consumer.messages[count - 1];
      assert.ok(last);
      ch.ack(last);
      await consumer.waitForCount(count + 1);
    }
    assert.deepEqual(marked(consumer.messages), ['first', 'high', 'mid', 'low']);
  });

  test('x-max-priority 0 is accepted; every message then has the same priority (FIFO)', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 0);
    await sendAll(pub, queue, [withPriority('a', 0), withPriority('b', 3), withPriority('c', undefined)]);
    assert.deepEqual(await drain(ch, queue), ['a', 'b', 'c']);
  });

  test('a queue without x-max-priority ignores the priority property', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = (await ch.assertQueue('', { exclusive: true })).queue;
    await sendAll(pub, queue, [withPriority('a', 0), withPriority('b', 9), withPriority('c', undefined)]);
    assert.deepEqual(await drain(ch, queue), ['a', 'b', 'c']);
  });
});

describe('requeued messages', () => {
  test('a requeued message goes back ahead of the messages of its priority published after it', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 5);
    await sendAll(pub, queue, [withPriority('low', 1), withPriority('mid', 2)]);
    const held = await ch.get(queue, { noAck: false });
    assert.ok(held !== false);
    assert.equal(held.content.toString(), 'mid');
    await sendAll(pub, queue, [withPriority('high', 4), withPriority('mid-later', 2)]);
    ch.nack(held, false, true);
    const got = [];
    for (;;) {
      const message = await ch.get(queue, { noAck: true });
      if (message === false) break;
      got.push(message);
    }
    assert.deepEqual(marked(got), ['high', 'mid*', 'mid-later', 'low']);
  });

  test('messages requeued together return to their own priorities', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 5);
    await sendAll(pub, queue, [withPriority('low', 1), withPriority('high', 4), withPriority('mid', 2)]);
    for (let i = 0; i < 3; i += 1) assert.ok((await ch.get(queue, { noAck: false })) !== false);
    await sendAll(pub, queue, [withPriority('high-later', 4), withPriority('none', undefined)]);
    ch.nackAll(true);
    const got = [];
    for (;;) {
      const message = await ch.get(queue, { noAck: true });
      if (message === false) break;
      got.push(message);
    }
    assert.deepEqual(marked(got), ['high*', 'high-later', 'mid*', 'low*', 'none']);
  });

  test('the unacked messages of a closed channel go to the next consumer in priority order', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await priorityQueue(ch, 5);
    await sendAll(pub, queue, [withPriority('low', 1), withPriority('high', 5), withPriority('mid', 3)]);
    const first = await client.channel();
    await first.prefetch(3);
    const held = await collect(first, queue);
    await held.waitForCount(3);
    await sendAll(pub, queue, [withPriority('mid-later', 3)]);
    await first.close();
    const next = await collect(ch, queue, { noAck: true });
    await next.waitForCount(4);
    await settle();
    assert.deepEqual(marked(next.messages), ['high*', 'mid*', 'mid-later', 'low*']);
  });
});

describe('x-max-priority validation', () => {
  // RabbitMQ checks x-max-priority as a non-negative integer of at most 255; the reply text names
  // the queue and ends with the Erlang term of the failed check.
  for (const [label, value, detail] of [
    ['256', 256, '{max_value_exceeded,256}'],
    ['-1', -1, '{value_negative,-1}'],
    ['1.5 (a double)', 1.5, '"expected integer, got double"'],
    ["'5' (a string)", '5', '"expected integer, got longstr"'],
  ] as const) {
    test(`x-max-priority ${label} is 406 PRECONDITION_FAILED (queue.declare)`, async (t) => {
      const { ch } = await openChannel(t, broker.url);
      const queue = uniqueName('prio');
      const info = await expectChannelClose(
        ch,
        () => ch.assertQueue(queue, { exclusive: true, arguments: { 'x-max-priority': value } }),
        fault(replyCodes.preconditionFailed, methods.queueDeclare),
      );
      assertExactClose(info, {
        replyCode: 406,
        replyText: `PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '${queue}' in vhost '/': ${detail}`,
        classId: 50,
        methodId: 10,
      });
    });
  }

  test('x-max-priority 255 is accepted', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await priorityQueue(ch, 255);
  });

  test('redeclaring with another x-max-priority is 406 inequivalent arg', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = uniqueName('prio');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: false, arguments: { 'x-max-priority': 5 } });
    await ch.assertQueue(queue, { durable: false, arguments: { 'x-max-priority': 5 } });
    const info = await expectChannelClose(
      ch,
      () => ch.assertQueue(queue, { durable: false, arguments: { 'x-max-priority': 6 } }),
      fault(replyCodes.preconditionFailed, methods.queueDeclare),
    );
    assertExactClose(info, {
      replyCode: 406,
      replyText: `PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue '${queue}' in vhost '/': received '6' but current is '5'`,
      classId: 50,
      methodId: 10,
    });
    const other = await client.channel();
    const withoutArgument = await expectChannelClose(
      other,
      () => other.assertQueue(queue, { durable: false }),
      fault(replyCodes.preconditionFailed, methods.queueDeclare),
    );
    // amqplib sends a small integer as a signed byte ('b'), and RabbitMQ names that type.
    assertExactClose(withoutArgument, {
      replyCode: 406,
      replyText: `PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue '${queue}' in vhost '/': received none but current is the value '5' of type 'byte'`,
      classId: 50,
      methodId: 10,
    });
  });
});
