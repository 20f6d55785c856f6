/**
 * Poison-message protection, Warren only: every redelivery of a message carries an x-delivery-count
 * header with the number of times it was returned to the queue (nack or reject with requeue, or the
 * channel closing), and a queue with x-delivery-limit N dead-letters (reason "delivery_limit") or drops
 * a message returned more than N times. This follows RabbitMQ's quorum queues ("Poison Message
 * Handling" in the quorum queue guide: the header "is included with any redelivered message"; "when a
 * message has been returned more times than the limit the message will be dropped or dead-lettered").
 *
 * RabbitMQ's classic queues have neither (3.10 refuses x-delivery-limit on them), so these tests skip
 * against WARREN_TEST_URL. The expected values were taken from a RabbitMQ 3.10.8 quorum queue: the
 * first consumer delivery has no header, the header is a signed 64-bit integer ('l'), a channel close
 * counts as a return, and the dead-lettered message carries x-death but no x-delivery-count.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Channel, ConsumeMessage } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { collect, deleteAfter, openChannel, openClient, uniqueName, waitFor, type AmqpClient } from '../helpers/amqp.js';
import { headerWireTypes } from '../helpers/features.js';
import { marked, nextMessage, sendAll, settle } from '../helpers/consumers.js';

const external = (process.env['WARREN_TEST_URL'] ?? '') !== '';
const skip = external ? 'Warren only: RabbitMQ classic queues have no x-delivery-count or x-delivery-limit' : false;

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** The x-delivery-count header of a delivery (undefined when absent). */
function deliveryCount(message: { properties: { headers?: Record<string, unknown> | undefined } }): unknown {
  return message.properties.headers?.['x-delivery-count'];
}

/** Declares a named queue (deleted when the test ends) with `args`. */
async function declareQueue(t: TestContext, ch: Channel, args: Record<string, unknown>): Promise<string> {
  const queue = uniqueName('poison');
  deleteAfter(t, broker.url, { queues: [queue] });
  await ch.assertQueue(queue, { durable: false, arguments: args });
  return queue;
}

/** A fanout dead-letter exchange (deleted when the test ends) with an exclusive queue bound to it. */
async function deadLetterQueue(t: TestContext, ch: Channel): Promise<{ exchange: string; queue: string }> {
  const exchange = uniqueName('dlx');
  deleteAfter(t, broker.url, { exchanges: [exchange] });
  await ch.assertExchange(exchange, 'fanout', { durable: false });
  const queue = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(queue, exchange, '');
  return { exchange, queue };
}

/** A consumer on its own channel that returns every delivery with nack(requeue=true) and records it. */
async function returningConsumer(client: AmqpClient, queue: string): Promise<ConsumeMessage[]> {
  const ch = await client.channel();
  const seen: ConsumeMessage[] = [];
  await ch.consume(queue, (message) => {
    if (message === null) return;
    seen.push(message);
    ch.nack(message, false, true);
  });
  return seen;
}

describe('x-delivery-count', { skip }, () => {
  test('the first delivery has none; nack, reject and a channel close each add one', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await declareQueue(t, ch, {});
    await sendAll(pub, queue, [{ body: 'retry-me', options: { headers: { mine: 'kept' } } }]);
    const consumerClient = await openClient(t, broker.url);
    const first = await consumerClient.channel();
    const deliveries = await collect(first, queue);
    await deliveries.waitForCount(1);
    first.nack(deliveries.messages[0] as ConsumeMessage, false, true);
    await deliveries.waitForCount(2);
    first.reject(deliveries.messages[1] as ConsumeMessage, true);
    await deliveries.waitForCount(3);
    await first.close();
    const second = await consumerClient.channel();
    const after = await collect(second, queue);
    await after.waitForCount(1);
    const all = [...deliveries.messages, ...after.messages];
    assert.deepEqual(
      all.map((message) => [message.fields.redelivered, deliveryCount(message), message.properties.headers?.['mine']]),
      [
        [false, undefined, 'kept'],
        [true, 1, 'kept'],
        [true, 2, 'kept'],
        [true, 3, 'kept'],
      ],
    );
    // The count is a signed 64-bit integer on the wire, as RabbitMQ sends it.
    const headerFrames = consumerClient.receivedHeaders();
    const last = headerFrames[headerFrames.length - 1];
    assert.ok(last);
    assert.equal(headerWireTypes(last)['x-delivery-count'], 'l');
  });

  test('a message returned after basic.get carries the count when it is fetched again', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await declareQueue(t, ch, {});
    await sendAll(pub, queue, ['fetched']);
    const fetched = await ch.get(queue, { noAck: false });
    assert.ok(fetched !== false);
    ch.nack(fetched, false, true);
    const again = await ch.get(queue, { noAck: false });
    assert.ok(again !== false);
    assert.deepEqual([again.fields.redelivered, deliveryCount(again)], [true, 1]);
    ch.ack(again);
  });

  test('each message keeps its own count; acknowledged messages are unaffected', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await declareQueue(t, ch, {});
    const consumerChannel = await client.channel();
    const seen: ConsumeMessage[] = [];
    await consumerChannel.consume(queue, (message) => {
      if (message === null) return;
      seen.push(message);
      const body = message.content.toString();
      const returns = seen.filter((other) => other.content.toString() === 'bad').length;
      if (body === 'bad' && returns < 3) consumerChannel.nack(message, false, true);
      else consumerChannel.ack(message);
    });
    await sendAll(pub, queue, ['bad', 'good']);
    await waitFor(() => seen.length === 4, 3000, 'four deliveries');
    const byBody = (body: string): unknown[] => seen.filter((message) => message.content.toString() === body).map(deliveryCount);
    assert.deepEqual(byBody('bad'), [undefined, 1, 2]);
    assert.deepEqual(byBody('good'), [undefined]);
  });
});

describe('x-delivery-limit', { skip }, () => {
  test('a message returned more than the limit is dead-lettered with reason delivery_limit', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const dlx = await deadLetterQueue(t, ch);
    const queue = await declareQueue(t, ch, { 'x-delivery-limit': 2, 'x-dead-letter-exchange': dlx.exchange });
    await sendAll(pub, queue, [{ body: 'poison', options: { headers: { mine: 'kept' } } }]);
    const seen = await returningConsumer(client, queue);
    const dead = await nextMessage(ch, dlx.queue);
    await settle();
    assert.deepEqual(seen.map(deliveryCount), [undefined, 1, 2], 'delivered 1 + limit times');
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
    assert.equal(dead.content.toString(), 'poison');
    assert.deepEqual([dead.fields.exchange, dead.fields.routingKey], [dlx.exchange, queue]);
    const headers = { ...dead.properties.headers };
    const deaths = headers['x-death'] as unknown as Record<string, unknown>[];
    assert.ok(Array.isArray(deaths) && deaths.length === 1, `one x-death entry: ${JSON.stringify(deaths)}`);
    const { time, ...death } = deaths[0] as Record<string, unknown>;
    assert.equal((time as { '!'?: string })['!'], 'timestamp');
    assert.deepEqual(death, { count: 1, reason: 'delivery_limit', queue, exchange: '', 'routing-keys': [queue] });
    delete headers['x-death'];
    assert.deepEqual(headers, {
      mine: 'kept',
      'x-first-death-exchange': '',
      'x-first-death-queue': queue,
      'x-first-death-reason': 'delivery_limit',
    });
  });

  test('x-delivery-limit 0 dead-letters on the first return', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const dlx = await deadLetterQueue(t, ch);
    const queue = await declareQueue(t, ch, { 'x-delivery-limit': 0, 'x-dead-letter-exchange': dlx.exchange });
    await sendAll(pub, queue, ['once']);
    const seen = await returningConsumer(client, queue);
    const dead = await nextMessage(ch, dlx.queue);
    await settle();
    assert.deepEqual(marked(seen), ['once']);
    assert.equal((dead.properties.headers?.['x-death'] as { reason: string }[])[0]?.reason, 'delivery_limit');
  });

  test('without a dead-letter exchange the message is dropped', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await declareQueue(t, ch, { 'x-delivery-limit': 1 });
    await sendAll(pub, queue, ['dropped', 'kept']);
    const consumerChannel = await client.channel();
    const seen: ConsumeMessage[] = [];
    await consumerChannel.consume(queue, (message) => {
      if (message === null) return;
      seen.push(message);
      if (message.content.toString() === 'dropped') consumerChannel.nack(message, false, true);
    });
    await waitFor(() => seen.length === 3, 3000, 'three deliveries');
    await settle();
    assert.deepEqual(marked(seen).sort(), ['dropped', 'dropped*', 'kept']);
    assert.equal(seen.length, 3, 'the dropped message is not delivered again');
    await consumerChannel.close();
    const rest = await nextMessage(ch, queue);
    assert.equal(rest.content.toString(), 'kept', 'the unacked "kept" is back in the queue');
    assert.equal(await ch.get(queue, { noAck: true }), false, 'and nothing else');
  });

  test('closing the channel counts as a return', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const dlx = await deadLetterQueue(t, ch);
    const queue = await declareQueue(t, ch, { 'x-delivery-limit': 1, 'x-dead-letter-exchange': dlx.exchange });
    await sendAll(pub, queue, ['crashes-consumers']);
    const counts: unknown[] = [];
    for (let i = 0; i < 2; i += 1) {
      const consumerChannel = await client.channel();
      const consumer = await collect(consumerChannel, queue);
      const [message] = await consumer.waitForCount(1);
      assert.ok(message);
      counts.push(deliveryCount(message));
      await consumerChannel.close();
    }
    const dead = await nextMessage(ch, dlx.queue);
    assert.deepEqual(counts, [undefined, 1]);
    assert.equal((dead.properties.headers?.['x-death'] as { reason: string }[])[0]?.reason, 'delivery_limit');
  });

  test('a reject without requeue dead-letters as rejected, below the limit', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const dlx = await deadLetterQueue(t, ch);
    const queue = await declareQueue(t, ch, { 'x-delivery-limit': 5, 'x-dead-letter-exchange': dlx.exchange });
    await sendAll(pub, queue, ['rejected']);
    const first = await ch.get(queue, { noAck: false });
    assert.ok(first !== false);
    ch.nack(first, false, true);
    const second = await ch.get(queue, { noAck: false });
    assert.ok(second !== false);
    ch.reject(second, false);
    const dead = await nextMessage(ch, dlx.queue);
    assert.equal((dead.properties.headers?.['x-death'] as { reason: string }[])[0]?.reason, 'rejected');
  });
});
