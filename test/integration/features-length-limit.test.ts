/**
 * Queue length limits as RabbitMQ 3.10 does them: x-max-length and x-max-length-bytes with
 * x-overflow drop-head (the oldest go, dead-lettered as maxlen), reject-publish (the newest is
 * refused: basic.nack under confirms, silently dropped without) and reject-publish-dlx (refused and
 * dead-lettered); only ready messages count; invalid values are 406 with RabbitMQ's text.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ConfirmChannel } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  bodies,
  drain,
  expectChannelClose,
  fault,
  isChannelOpen,
  methodKey,
  methods,
  openChannel,
  publishConfirmed,
  replyCodes,
  uniqueName,
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

/** Publishes each body to `queue` on a confirm channel and returns the broker's answer to each, in order. */
async function publishEach(ch: ConfirmChannel, queue: string, messages: readonly string[]): Promise<('ack' | 'nack')[]> {
  const outcomes = messages.map(
    (body) =>
      new Promise<'ack' | 'nack'>((resolve) => {
        ch.sendToQueue(queue, Buffer.from(body), {}, (err) => resolve(err === null || err === undefined ? 'ack' : 'nack'));
      }),
  );
  return Promise.all(outcomes);
}

/** How many basic.ack and basic.nack methods `client` has received so far. */
function confirmsReceived(client: AmqpClient): { acks: number; nacks: number } {
  const methodFrames = client.received.frames.filter((frame) => frame.type === 1 && frame.payload.length >= 4);
  const count = (method: number): number => methodFrames.filter((frame) => frame.payload.readUInt32BE(0) === method).length;
  return { acks: count(methodKey(methods.basicAck)), nacks: count(methodKey(methods.basicNack)) };
}

describe('x-overflow drop-head (the default)', () => {
  test('x-max-length keeps the newest messages and drops the oldest', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length': 2 });
    const outcomes = await publishEach(await client.confirmChannel(), queue, ['1', '2', '3', '4']);
    assert.deepEqual(outcomes, ['ack', 'ack', 'ack', 'ack'], 'drop-head accepts every publish');
    assert.equal(await readyCount(ch, queue), 2);
    assert.deepEqual(await drain(ch, queue), ['3', '4']);
  });

  test('the dropped messages are dead-lettered oldest first with reason maxlen', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length': 2, 'x-dead-letter-exchange': target.exchange });
    await publishConfirmed(await client.confirmChannel(), ['1', '2', '3', '4'].map((body) => ({ exchange: '', routingKey: queue, body })));
    await waitForReady(ch, target.queue, 2);
    const dead = [await getWithin(ch, target.queue), await getWithin(ch, target.queue)];
    assert.deepEqual(bodies(dead), ['1', '2']);
    for (const message of dead) {
      assertDeath(xDeath(message)[0], { count: 1, reason: 'maxlen', queue, exchange: '', routingKeys: [queue] });
    }
    assert.deepEqual(await drain(ch, queue), ['3', '4']);
  });

  test('x-max-length-bytes counts body bytes and drops from the head until the rest fits', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length-bytes': 10 });
    await publishConfirmed(await client.confirmChannel(), ['aaaa', 'bbbb', 'cccc', 'dd'].map((body) => ({ exchange: '', routingKey: queue, body })));
    assert.deepEqual(await drain(ch, queue), ['bbbb', 'cccc', 'dd']);
  });

  test('x-max-length 0, or a body larger than x-max-length-bytes, keeps nothing', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const none = await exclusiveQueueWith(ch, { 'x-max-length': 0 });
    const small = await exclusiveQueueWith(ch, { 'x-max-length-bytes': 3 });
    await publishConfirmed(await client.confirmChannel(), [
      { exchange: '', routingKey: none, body: 'x' },
      { exchange: '', routingKey: small, body: 'too long' },
    ]);
    assert.equal(await readyCount(ch, none), 0);
    assert.equal(await readyCount(ch, small), 0);
  });

  test('only ready messages count: an unacked delivery leaves room, and its requeue pushes out the head', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length': 1 });
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'a' }]);
    const held = await getWithin(ch, queue, { noAck: false });
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'b' }]);
    assert.equal(await readyCount(ch, queue), 1, 'the unacked message does not count');
    // The requeued message goes back to the head, the queue is over its limit, and the head is dropped.
    ch.nack(held, false, true);
    await assertStaysReady(ch, queue, 1, 100);
    assert.deepEqual(await drain(ch, queue), ['b']);
  });
});

describe('x-overflow reject-publish', () => {
  test('with confirms, publishes over the limit are nacked (basic.nack), the others acked, and nothing is dead-lettered', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length': 2, 'x-overflow': 'reject-publish', 'x-dead-letter-exchange': target.exchange });
    const pub = await client.confirmChannel();
    const outcomes = await publishEach(pub, queue, ['1', '2', '3', '4']);
    assert.deepEqual(outcomes, ['ack', 'ack', 'nack', 'nack']);
    const confirms = confirmsReceived(client);
    assert.ok(confirms.nacks >= 1, `basic.nack frames arrived (${JSON.stringify(confirms)})`);
    assert.ok(isChannelOpen(pub), 'a refused publish is not a channel error');
    assert.deepEqual(await drain(ch, queue), ['1', '2']);
    await assertStaysReady(ch, target.queue, 0, 100);
  });

  test('without confirms, publishes over the limit are dropped silently', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length': 2, 'x-overflow': 'reject-publish' });
    const pub = await client.channel();
    for (const body of ['1', '2', '3', '4']) pub.sendToQueue(queue, Buffer.from(body));
    // A round trip on the publishing channel: its publishes were handled, and it is still open.
    await pub.checkQueue(queue);
    assert.ok(isChannelOpen(pub));
    assert.deepEqual(await drain(ch, queue), ['1', '2']);
  });

  test('with x-max-length-bytes, a publish that would not fit is nacked while a smaller later one is acked', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length-bytes': 10, 'x-overflow': 'reject-publish' });
    const outcomes = await publishEach(await client.confirmChannel(), queue, ['aaaa', 'bbbb', 'cccc', 'dd', 'e']);
    assert.deepEqual(outcomes, ['ack', 'ack', 'nack', 'ack', 'nack']);
    assert.deepEqual(await drain(ch, queue), ['aaaa', 'bbbb', 'dd']);
  });

  test('consuming makes room again; unacked deliveries do not count and a requeue over the limit is kept', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length': 1, 'x-overflow': 'reject-publish' });
    const pub = await client.confirmChannel();
    assert.deepEqual(await publishEach(pub, queue, ['a', 'b']), ['ack', 'nack']);
    const held = await getWithin(ch, queue, { noAck: false });
    assert.deepEqual(await publishEach(pub, queue, ['c', 'd']), ['ack', 'nack']);
    ch.nack(held, false, true);
    await waitForReady(ch, queue, 2);
    assert.deepEqual(await drain(ch, queue), ['a', 'c']);
  });
});

describe('x-overflow reject-publish-dlx', () => {
  test('a publish over the limit is nacked and dead-lettered with reason maxlen', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const queue = await exclusiveQueueWith(ch, { 'x-max-length': 1, 'x-overflow': 'reject-publish-dlx', 'x-dead-letter-exchange': target.exchange });
    const outcomes = await publishEach(await client.confirmChannel(), queue, ['kept', 'refused']);
    assert.deepEqual(outcomes, ['ack', 'nack']);
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.content.toString(), 'refused');
    assertDeath(xDeath(dead)[0], { count: 1, reason: 'maxlen', queue, exchange: '', routingKeys: [queue] });
    assert.deepEqual(await drain(ch, queue), ['kept']);
  });
});

describe('invalid length-limit arguments', () => {
  for (const [argument, value, detail] of [
    ['x-max-length', -1, '{value_negative,-1}'],
    ['x-max-length', 'ten', '"expected integer, got longstr"'],
    ['x-max-length', 1.5, '"expected integer, got double"'],
    ['x-max-length-bytes', -1, '{value_negative,-1}'],
    ['x-max-length-bytes', 'ten', '"expected integer, got longstr"'],
    ['x-overflow', 'bogus', 'invalid_overflow'],
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
