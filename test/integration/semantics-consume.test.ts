/**
 * basic.consume, basic.cancel and basic.qos as RabbitMQ implements them: consumer tags, exclusive
 * consumers, server-sent basic.cancel, round-robin dispatch, per-consumer and per-channel prefetch,
 * no-ack consumers, delivery fields, and every error path with its reply code.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Channel, ConfirmChannel } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  bodies,
  collect,
  delay,
  deleteAfter,
  exclusiveQueue,
  expectChannelClose,
  expectConnectionClose,
  fault,
  methods,
  openChannel,
  openClient,
  publishConfirmed,
  rawRpc,
  replyCodes,
  uniqueName,
  waitFor,
} from '../helpers/amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** Publishes `count` messages "m0".."m(count-1)" to `queue` and waits for their confirms. */
async function fill(pub: ConfirmChannel, queue: string, count: number, prefix = 'm'): Promise<void> {
  await publishConfirmed(
    pub,
    Array.from({ length: count }, (_, i) => ({ exchange: '', routingKey: queue, body: `${prefix}${i}` })),
  );
}

/** Gives the broker time to push deliveries it should not push (used only to prove an absence). */
async function settle(): Promise<void> {
  await delay(100);
}

/** Number of messages on `queue` still ready (not delivered). */
async function ready(ch: Channel, queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount;
}

describe('consumer tags', () => {
  test('the server generates "amq.ctag-..." tags; a client tag is echoed back', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const generated = await ch.consume(queue, () => {});
    assert.match(generated.consumerTag, /^amq\.ctag-/);
    const chosen = await ch.consume(queue, () => {}, { consumerTag: 'my-tag' });
    assert.equal(chosen.consumerTag, 'my-tag');
  });

  test('reusing a consumer tag on the same channel is a connection error 530 NOT_ALLOWED (basic.consume)', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    const queue = await exclusiveQueue(ch);
    await ch.consume(queue, () => {}, { consumerTag: 'dup' });
    await expectConnectionClose(
      client,
      () => ch.consume(queue, () => {}, { consumerTag: 'dup' }),
      fault(replyCodes.notAllowed, methods.basicConsume, 'NOT_ALLOWED'),
    );
  });

  test('the same consumer tag on two channels is allowed', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const other = await client.channel();
    await ch.consume(queue, () => {}, { consumerTag: 'shared-tag' });
    await other.consume(queue, () => {}, { consumerTag: 'shared-tag' });
    assert.equal((await ch.checkQueue(queue)).consumerCount, 2);
  });

  test('a tag may be reused after basic.cancel', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    await ch.consume(queue, () => {}, { consumerTag: 'again' });
    await ch.cancel('again');
    await ch.consume(queue, () => {}, { consumerTag: 'again' });
  });
});

describe('basic.consume errors', () => {
  test('consuming from a missing queue is 404 (basic.consume)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.consume(uniqueName('missing'), () => {}),
      fault(replyCodes.notFound, methods.basicConsume, 'NOT_FOUND'),
    );
  });

  test('a second consumer on a queue with an exclusive consumer is 403 ACCESS_REFUSED', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    await ch.consume(queue, () => {}, { exclusive: true });
    const other = await client.channel();
    await expectChannelClose(
      other,
      () => other.consume(queue, () => {}),
      fault(replyCodes.accessRefused, methods.basicConsume, 'ACCESS_REFUSED'),
    );
  });

  test('an exclusive consume on a queue that already has consumers is 403 ACCESS_REFUSED', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    await ch.consume(queue, () => {});
    const other = await client.channel();
    await expectChannelClose(
      other,
      () => other.consume(queue, () => {}, { exclusive: true }),
      fault(replyCodes.accessRefused, methods.basicConsume, 'ACCESS_REFUSED'),
    );
  });

  test('after the exclusive consumer cancels, others may consume', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const { consumerTag } = await ch.consume(queue, () => {}, { exclusive: true });
    await ch.cancel(consumerTag);
    await ch.consume(queue, () => {});
  });
});

describe('basic.cancel', () => {
  test('stops deliveries to that consumer; cancelling an unknown tag is OK and echoes the tag', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    const consumer = await collect(ch, queue, { noAck: true });
    await fill(pub, queue, 1, 'before');
    await consumer.waitForCount(1);
    const ok = await ch.cancel(consumer.consumerTag);
    assert.equal(ok.consumerTag, consumer.consumerTag);
    await fill(pub, queue, 1, 'after');
    assert.equal(await ready(ch, queue), 1);
    assert.deepEqual(bodies(consumer.messages), ['before0']);
    const unknown = await ch.cancel('never-existed');
    assert.equal(unknown.consumerTag, 'never-existed');
  });

  test('the server sends basic.cancel to consumers of a queue deleted by another connection', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = uniqueName('q');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: false });
    const cancels: { consumerTag: string; nowait: boolean }[] = [];
    ch.on('cancel', (fields: { consumerTag: string; nowait: boolean }) => cancels.push(fields));
    const first = await collect(ch, queue);
    const second = await collect(ch, queue);
    const { ch: other } = await openChannel(t, broker.url);
    await other.deleteQueue(queue);
    await waitFor(() => first.cancelledByServer && second.cancelledByServer, 3000, 'basic.cancel for both consumers');
    // RabbitMQ sends basic.cancel with nowait=true, so clients must not answer with cancel-ok.
    assert.deepEqual(
      cancels.map((fields) => [fields.consumerTag, fields.nowait]).sort(),
      [
        [first.consumerTag, true],
        [second.consumerTag, true],
      ].sort(),
    );
    // The channel stays open.
    await ch.assertQueue(queue, { durable: false });
  });
});

describe('dispatch', () => {
  test('deliveries carry the consumer tag, per-channel delivery tags from 1, exchange and routing key', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    const consumer = await collect(ch, queue);
    await fill(pub, queue, 3);
    const messages = await consumer.waitForCount(3);
    assert.deepEqual(
      messages.map((m) => [m.fields.deliveryTag, m.fields.consumerTag, m.fields.exchange, m.fields.routingKey, m.fields.redelivered]),
      [1, 2, 3].map((tag) => [tag, consumer.consumerTag, '', queue, false]),
    );
    // basic.get on the same channel continues the same delivery tag sequence.
    await fill(pub, queue, 1, 'x');
    await consumer.waitForCount(4);
    assert.equal(consumer.messages[3]?.fields.deliveryTag, 4);
    // A different channel has its own sequence.
    const other = await client.channel();
    const otherQueue = await exclusiveQueue(other);
    await fill(pub, otherQueue, 1);
    const got = await other.get(otherQueue);
    assert.ok(got);
    assert.equal(got.fields.deliveryTag, 1);
  });

  test('messages are dispatched round-robin across consumers', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    const other = await client.channel();
    const a = await collect(ch, queue, { noAck: true });
    const b = await collect(other, queue, { noAck: true });
    const c = await collect(other, queue, { noAck: true });
    await fill(pub, queue, 9);
    await waitFor(() => a.messages.length + b.messages.length + c.messages.length === 9);
    assert.deepEqual(bodies(a.messages), ['m0', 'm3', 'm6']);
    assert.deepEqual(bodies(b.messages), ['m1', 'm4', 'm7']);
    assert.deepEqual(bodies(c.messages), ['m2', 'm5', 'm8']);
  });

  test('messages already waiting are delivered in order to a new consumer', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await fill(pub, queue, 20);
    const consumer = await collect(ch, queue, { noAck: true });
    await consumer.waitForCount(20);
    assert.deepEqual(bodies(consumer.messages), Array.from({ length: 20 }, (_, i) => `m${i}`));
  });

  test('no-ack deliveries are gone once sent: closing the channel does not requeue them', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    const consumerChannel = await client.channel();
    const consumer = await collect(consumerChannel, queue, { noAck: true });
    await fill(pub, queue, 3);
    await consumer.waitForCount(3);
    await consumerChannel.close();
    assert.equal(await ready(ch, queue), 0);
  });
});

describe('basic.qos', () => {
  test('prefetch per consumer (global=false): each consumer gets at most N unacked; an ack frees one slot', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await ch.prefetch(2, false);
    const a = await collect(ch, queue);
    const b = await collect(ch, queue);
    await fill(pub, queue, 10);
    await waitFor(() => a.messages.length === 2 && b.messages.length === 2);
    await settle();
    assert.equal(a.messages.length + b.messages.length, 4);
    assert.equal(await ready(ch, queue), 6);
    const first = a.messages[0];
    assert.ok(first);
    ch.ack(first);
    await waitFor(() => a.messages.length === 3);
    await settle();
    assert.equal(b.messages.length, 2);
    assert.equal(await ready(ch, queue), 5);
  });

  test('prefetch 1: the next message comes only after the previous is acked', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await ch.prefetch(1);
    const consumer = await collect(ch, queue);
    await fill(pub, queue, 3);
    for (let i = 0; i < 3; i += 1) {
      await consumer.waitForCount(i + 1);
      await settle();
      assert.equal(consumer.messages.length, i + 1);
      const message = consumer.messages[i];
      assert.ok(message);
      assert.equal(message.content.toString(), `m${i}`);
      ch.ack(message);
    }
  });

  test('prefetch per channel (global=true) is shared by all consumers on the channel', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await ch.prefetch(3, true);
    const a = await collect(ch, queue);
    const b = await collect(ch, queue);
    await fill(pub, queue, 10);
    await waitFor(() => a.messages.length + b.messages.length === 3);
    await settle();
    assert.equal(a.messages.length + b.messages.length, 3);
    ch.ackAll();
    await waitFor(() => a.messages.length + b.messages.length === 6);
    await settle();
    assert.equal(a.messages.length + b.messages.length, 6);
  });

  test('per-consumer then per-channel: both limits apply together', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await ch.prefetch(2, false);
    await ch.prefetch(3, true);
    const a = await collect(ch, queue);
    const b = await collect(ch, queue);
    await fill(pub, queue, 10);
    await waitFor(() => a.messages.length + b.messages.length === 3);
    await settle();
    assert.ok(a.messages.length <= 2 && b.messages.length <= 2, `${a.messages.length} and ${b.messages.length}`);
    assert.equal(a.messages.length + b.messages.length, 3);
  });

  test('per-channel then per-consumer: a global=false basic.qos removes the channel-wide limit', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await ch.prefetch(3, true);
    await ch.prefetch(2, false);
    const a = await collect(ch, queue);
    const b = await collect(ch, queue);
    await fill(pub, queue, 10);
    await waitFor(() => a.messages.length === 2 && b.messages.length === 2);
    await settle();
    assert.equal(a.messages.length + b.messages.length, 4);
  });

  test('a per-consumer prefetch applies to consumers started after basic.qos, not to earlier ones', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    const early = await collect(ch, queue);
    await ch.prefetch(1);
    await fill(pub, queue, 5);
    await early.waitForCount(5);

    const queue2 = await exclusiveQueue(ch);
    const late = await collect(ch, queue2);
    await fill(pub, queue2, 5);
    await late.waitForCount(1);
    await settle();
    assert.equal(late.messages.length, 1);
  });

  test('prefetch 0 means unlimited', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await ch.prefetch(0);
    const consumer = await collect(ch, queue);
    await fill(pub, queue, 50);
    await consumer.waitForCount(50);
  });

  test('prefetch does not limit no-ack consumers or basic.get', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await ch.prefetch(1);
    await ch.prefetch(1, true);
    await fill(pub, queue, 3);
    assert.ok(await ch.get(queue));
    assert.ok(await ch.get(queue));
    const consumer = await collect(ch, queue, { noAck: true });
    await fill(pub, queue, 5, 'n');
    await consumer.waitForCount(6);
  });

  test('prefetch-size other than 0 is a connection error 540 NOT_IMPLEMENTED (basic.qos)', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    await expectConnectionClose(
      client,
      () => rawRpc(ch, methods.basicQos, { prefetchSize: 1000, prefetchCount: 10, global: false }, [60, 11]),
      fault(replyCodes.notImplemented, methods.basicQos, 'NOT_IMPLEMENTED'),
    );
  });
});
