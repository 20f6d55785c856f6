/**
 * basic.get, basic.ack, basic.nack, basic.reject and basic.recover as RabbitMQ implements them:
 * message counts, multiple and requeue flags, requeue into the original position with the
 * redelivered flag, unacked messages returning when a channel or connection closes, and the
 * precondition failures for unknown delivery tags.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Channel, ConfirmChannel, Message } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  bodies,
  collect,
  delay,
  drain,
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
  deleteAfter,
} from '../helpers/amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** Publishes "m0".."m(count-1)" to `queue` and waits for the confirms. */
async function fill(pub: ConfirmChannel, queue: string, count: number): Promise<void> {
  await publishConfirmed(
    pub,
    Array.from({ length: count }, (_, i) => ({ exchange: '', routingKey: queue, body: `m${i}` })),
  );
}

/** A queue filled with `count` messages, plus the channels to use it. */
async function filledQueue(
  t: Parameters<typeof openChannel>[0],
  count: number,
): Promise<{ ch: Channel; pub: ConfirmChannel; queue: string; client: Awaited<ReturnType<typeof openChannel>>['client'] }> {
  const { client, ch } = await openChannel(t, broker.url);
  const pub = await client.confirmChannel();
  const queue = await exclusiveQueue(ch);
  await fill(pub, queue, count);
  return { client, ch, pub, queue };
}

/** basic.get (with ack) `count` times. */
async function getMany(ch: Channel, queue: string, count: number): Promise<Message[]> {
  const out: Message[] = [];
  for (let i = 0; i < count; i += 1) {
    const message = await ch.get(queue);
    assert.ok(message, `message ${i}`);
    out.push(message);
  }
  return out;
}

/** Drains `queue` (no-ack) returning bodies marked "*" when redelivered. */
async function drainMarked(ch: Channel, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const message = await ch.get(queue, { noAck: true });
    if (message === false) return out;
    out.push(message.content.toString() + (message.fields.redelivered ? '*' : ''));
  }
}

/** A message object carrying only a delivery tag, to ack tags the client never received. */
function tag(deliveryTag: number): Message {
  return { fields: { deliveryTag } } as unknown as Message;
}

/** Waits until `queue` has `count` ready messages. */
async function waitReady(ch: Channel, queue: string, count: number): Promise<void> {
  await waitFor(async () => (await ch.checkQueue(queue)).messageCount === count, 3000, `${count} ready messages`);
}

describe('basic.get', () => {
  test('get-ok carries the number of messages left after this one; an empty queue answers get-empty', async (t) => {
    const { ch, queue } = await filledQueue(t, 3);
    const counts: number[] = [];
    for (let i = 0; i < 3; i += 1) {
      const message = await ch.get(queue, { noAck: true });
      assert.ok(message);
      assert.equal(message.content.toString(), `m${i}`);
      assert.equal(message.fields.redelivered, false);
      assert.equal(message.fields.exchange, '');
      assert.equal(message.fields.routingKey, queue);
      counts.push(message.fields.messageCount);
    }
    assert.deepEqual(counts, [2, 1, 0]);
    assert.equal(await ch.get(queue), false);
  });

  test('a get with ack leaves the message unacked until acked; acking removes it', async (t) => {
    const { ch, queue } = await filledQueue(t, 2);
    const [first] = await getMany(ch, queue, 2);
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
    ch.ack(first as Message);
    await ch.recover();
    assert.deepEqual(await drainMarked(ch, queue), ['m1*']);
  });

  test('a get from a missing queue is 404 (basic.get)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(ch, () => ch.get(uniqueName('missing')), fault(replyCodes.notFound, methods.basicGet, 'NOT_FOUND'));
  });
});

describe('basic.ack', () => {
  test('ack with multiple acks every outstanding tag up to and including it', async (t) => {
    const { ch, queue } = await filledQueue(t, 4);
    const messages = await getMany(ch, queue, 4);
    ch.ack(messages[2] as Message, true);
    await ch.recover();
    assert.deepEqual(await drainMarked(ch, queue), ['m3*']);
  });

  test('ack tag 0 with multiple acks everything outstanding, and is OK with nothing outstanding', async (t) => {
    const { ch, queue } = await filledQueue(t, 3);
    ch.ack(tag(0), true);
    await getMany(ch, queue, 2);
    ch.ack(tag(0), true);
    await ch.recover();
    assert.deepEqual(await drainMarked(ch, queue), ['m2']);
  });

  test('acks cover deliveries from basic.get and from consumers on the same channel alike', async (t) => {
    const { ch, pub, queue } = await filledQueue(t, 2);
    await getMany(ch, queue, 2);
    const consumer = await collect(ch, queue);
    await fill(pub, queue, 2);
    await consumer.waitForCount(2);
    ch.ack(consumer.messages[1] as Message, true);
    await ch.recover();
    assert.deepEqual(await drainMarked(ch, queue), []);
  });

  test('an unknown delivery tag is 406 PRECONDITION_FAILED (basic.ack)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const info = await expectChannelClose(
      ch,
      () => ch.ack(tag(42)),
      fault(replyCodes.preconditionFailed, methods.basicAck, 'PRECONDITION_FAILED'),
    );
    assert.match(info.replyText, /unknown delivery tag 42/);
  });

  test('multiple=true with a tag that is not outstanding is 406, even when lower tags are', async (t) => {
    const { ch, queue } = await filledQueue(t, 3);
    const messages = await getMany(ch, queue, 3);
    ch.ack(messages[1] as Message);
    await expectChannelClose(
      ch,
      () => ch.ack(messages[1] as Message, true),
      fault(replyCodes.preconditionFailed, methods.basicAck, 'PRECONDITION_FAILED'),
    );
  });

  test('multiple=true with a tag above every delivery is 406', async (t) => {
    const { ch, queue } = await filledQueue(t, 2);
    await getMany(ch, queue, 2);
    await expectChannelClose(ch, () => ch.ack(tag(10), true), fault(replyCodes.preconditionFailed, methods.basicAck));
  });

  test('tag 0 without multiple is 406', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(ch, () => ch.ack(tag(0)), fault(replyCodes.preconditionFailed, methods.basicAck));
  });

  test('acking the same tag twice is 406', async (t) => {
    const { ch, queue } = await filledQueue(t, 1);
    const [message] = await getMany(ch, queue, 1);
    ch.ack(message as Message);
    await expectChannelClose(
      ch,
      () => ch.ack(message as Message),
      fault(replyCodes.preconditionFailed, methods.basicAck, 'PRECONDITION_FAILED'),
    );
  });

  test('acking a no-ack delivery is 406', async (t) => {
    const { ch, queue } = await filledQueue(t, 1);
    const message = await ch.get(queue, { noAck: true });
    assert.ok(message);
    await expectChannelClose(ch, () => ch.ack(message), fault(replyCodes.preconditionFailed, methods.basicAck));
  });

  test('a tag from another channel is unknown on this one (406), and the other channel is unaffected', async (t) => {
    const { client, ch, queue } = await filledQueue(t, 1);
    const [message] = await getMany(ch, queue, 1);
    const other = await client.channel();
    await other.assertQueue(uniqueName('q'), { exclusive: true });
    await expectChannelClose(other, () => other.ack(message as Message), fault(replyCodes.preconditionFailed, methods.basicAck));
    ch.ack(message as Message);
    await ch.checkQueue(queue);
  });

  test('nack and reject with an unknown tag are 406 with their own method ids', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.nack(tag(7)),
      fault(replyCodes.preconditionFailed, methods.basicNack, 'PRECONDITION_FAILED'),
    );
    const { ch: ch2 } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch2,
      () => ch2.reject(tag(7)),
      fault(replyCodes.preconditionFailed, methods.basicReject, 'PRECONDITION_FAILED'),
    );
  });
});

describe('requeue', () => {
  test('requeued messages go back to their original position, marked redelivered', async (t) => {
    const { ch, queue } = await filledQueue(t, 5);
    const messages = await getMany(ch, queue, 3);
    ch.reject(messages[1] as Message, true);
    ch.reject(messages[0] as Message, true);
    await waitReady(ch, queue, 4);
    assert.deepEqual(await drainMarked(ch, queue), ['m0*', 'm1*', 'm3', 'm4']);
    ch.ack(messages[2] as Message);
  });

  test('requeueing a later message then an earlier one still restores publish order', async (t) => {
    const { ch, queue } = await filledQueue(t, 5);
    const messages = await getMany(ch, queue, 4);
    ch.reject(messages[3] as Message, true);
    ch.reject(messages[1] as Message, true);
    await waitReady(ch, queue, 3);
    assert.deepEqual(await drainMarked(ch, queue), ['m1*', 'm3*', 'm4']);
  });

  test('nack with multiple and requeue puts them all back in order', async (t) => {
    const { ch, queue } = await filledQueue(t, 5);
    const messages = await getMany(ch, queue, 3);
    ch.nack(messages[2] as Message, true, true);
    await waitReady(ch, queue, 5);
    assert.deepEqual(await drainMarked(ch, queue), ['m0*', 'm1*', 'm2*', 'm3', 'm4']);
  });

  test('nack and reject without requeue drop the message (no dead-letter exchange)', async (t) => {
    const { ch, queue } = await filledQueue(t, 4);
    const messages = await getMany(ch, queue, 3);
    ch.reject(messages[0] as Message, false);
    ch.nack(messages[2] as Message, true, false);
    await ch.recover();
    assert.deepEqual(await drainMarked(ch, queue), ['m3']);
  });

  test('a requeued message is redelivered to a consumer with redelivered=true and a new delivery tag', async (t) => {
    const { ch, queue } = await filledQueue(t, 1);
    const consumer = await collect(ch, queue);
    const [first] = await consumer.waitForCount(1);
    assert.ok(first);
    assert.equal(first.fields.redelivered, false);
    ch.nack(first, false, true);
    await consumer.waitForCount(2);
    const second = consumer.messages[1];
    assert.ok(second);
    assert.equal(second.content.toString(), 'm0');
    assert.equal(second.fields.redelivered, true);
    assert.equal(second.fields.deliveryTag, 2);
    ch.ack(second);
  });
});

describe('basic.recover', () => {
  test('recover (requeue=true) requeues every unacked message of the channel; they come back redelivered', async (t) => {
    const { ch, queue } = await filledQueue(t, 3);
    await getMany(ch, queue, 2);
    await ch.recover();
    const out: string[] = [];
    for (;;) {
      const message = await ch.get(queue, { noAck: true });
      if (message === false) break;
      out.push(`${message.content.toString()}${message.fields.redelivered ? '*' : ''}@${message.fields.deliveryTag}`);
    }
    // New deliveries get new tags: the old tags 1 and 2 are gone.
    assert.deepEqual(out, ['m0*@3', 'm1*@4', 'm2@5']);
  });

  test('recover with requeue=false is a connection error 540 NOT_IMPLEMENTED (basic.recover)', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    await expectConnectionClose(
      client,
      () => rawRpc(ch, methods.basicRecover, { requeue: false }, [60, 111]),
      fault(replyCodes.notImplemented, methods.basicRecover, 'NOT_IMPLEMENTED'),
    );
  });
});

describe('unacked messages when consumers, channels and connections go', () => {
  test('return to the queue, in order and redelivered, when their channel closes', async (t) => {
    const { client, ch, queue } = await filledQueue(t, 4);
    const consumerChannel = await client.channel();
    const consumer = await collect(consumerChannel, queue);
    await consumer.waitForCount(4);
    consumerChannel.ack(consumer.messages[1] as Message);
    await consumerChannel.close();
    await waitReady(ch, queue, 3);
    assert.deepEqual(await drainMarked(ch, queue), ['m0*', 'm2*', 'm3*']);
  });

  test('return to the queue when their connection closes', async (t) => {
    const { ch, queue } = await filledQueue(t, 3);
    const consumerClient = await openClient(t, broker.url);
    const consumerChannel = await consumerClient.channel();
    // An exclusive queue belongs to the first connection, so use a shared one here.
    const shared = uniqueName('q');
    deleteAfter(t, broker.url, { queues: [shared] });
    await consumerChannel.assertQueue(shared, { durable: false });
    const pub = await consumerClient.confirmChannel();
    await fill(pub, shared, 3);
    await getMany(consumerChannel, shared, 2);
    await consumerClient.close();
    await waitReady(ch, shared, 3);
    assert.deepEqual(await drainMarked(ch, shared), ['m0*', 'm1*', 'm2']);
    assert.equal((await drain(ch, queue)).length, 3);
  });

  test('stay unacked when their consumer is cancelled, and can still be acked', async (t) => {
    const { ch, queue } = await filledQueue(t, 2);
    await ch.prefetch(10);
    const consumer = await collect(ch, queue);
    await consumer.waitForCount(2);
    await ch.cancel(consumer.consumerTag);
    await delay(50);
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
    ch.ack(consumer.messages[0] as Message);
    ch.nack(consumer.messages[1] as Message, false, true);
    await waitReady(ch, queue, 1);
    assert.deepEqual(bodies(consumer.messages), ['m0', 'm1']);
    assert.deepEqual(await drainMarked(ch, queue), ['m1*']);
  });

  test('go to another consumer with redelivered=true when the first consumer\'s channel closes', async (t) => {
    const { client, ch, queue } = await filledQueue(t, 2);
    const first = await client.channel();
    await first.prefetch(10);
    const firstConsumer = await collect(first, queue);
    await firstConsumer.waitForCount(2);
    const second = await collect(ch, queue);
    await first.close();
    await second.waitForCount(2);
    assert.deepEqual(
      second.messages.map((m) => [m.content.toString(), m.fields.redelivered]),
      [
        ['m0', true],
        ['m1', true],
      ],
    );
  });
});
