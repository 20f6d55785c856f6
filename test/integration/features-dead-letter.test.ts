/**
 * Dead-lettering as RabbitMQ 3.10 does it: x-dead-letter-exchange and x-dead-letter-routing-key on
 * basic.reject and basic.nack without requeue, on expiry and on length overflow; the x-death and
 * x-first-death-* headers exactly as a client sees them (values and wire types); merging of a
 * repeated (queue, reason); routing with the original keys (CC and BCC); a missing dead-letter
 * exchange; cycle detection; and what a dead-lettered message keeps of its properties.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import { AMQPClient, type AMQPMessage } from '@cloudamqp/amqp-client';
import type { Channel } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { bodies, collect, delay, deleteAfter, openChannel, openClient, uniqueName, waitFor } from '../helpers/amqp.js';
import {
  assertDeath,
  assertFirstDeath,
  assertStaysReady,
  deadLetterTarget,
  exclusiveQueueWith,
  getWithin,
  headerWireTypes,
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

/** Declares a fanout exchange deleted when test `t` ends. */
async function fanout(t: TestContext, ch: Channel): Promise<string> {
  const exchange = uniqueName('fanout');
  deleteAfter(t, broker.url, { exchanges: [exchange] });
  await ch.assertExchange(exchange, 'fanout', { durable: false });
  return exchange;
}

/** Takes the message waiting on `queue` (unacked) and rejects it without requeue. */
async function rejectNext(ch: Channel, queue: string): Promise<void> {
  ch.reject(await getWithin(ch, queue, { noAck: false }), false);
}

describe('dead-lettering on basic.reject and basic.nack', () => {
  test('reject with requeue=true requeues; with requeue=false the message goes to the dead-letter exchange with its routing key', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch, { type: 'direct', bindingKey: 'orders.created' });
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    await ch.bindQueue(source, 'amq.direct', 'orders.created');
    ch.publish('amq.direct', 'orders.created', Buffer.from('poison'));
    ch.reject(await getWithin(ch, source, { noAck: false }), true);
    const again = await getWithin(ch, source, { noAck: false });
    assert.equal(again.fields.redelivered, true);
    assert.equal(await readyCount(ch, target.queue), 0, 'a requeue does not dead-letter');
    ch.reject(again, false);
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.content.toString(), 'poison');
    assert.equal(dead.fields.exchange, target.exchange);
    assert.equal(dead.fields.routingKey, 'orders.created');
    assert.equal(dead.fields.redelivered, false, 'a dead-lettered message is a new message in its new queue');
    assert.equal(await readyCount(ch, source), 0);
  });

  test('nack with multiple=true and requeue=false dead-letters every delivery up to the tag, in order', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    const consumerChannel = await client.channel();
    const consumer = await collect(consumerChannel, source);
    for (const body of ['m1', 'm2', 'm3', 'm4']) ch.sendToQueue(source, Buffer.from(body));
    const [, , third, fourth] = await consumer.waitForCount(4);
    assert.ok(third && fourth);
    consumerChannel.nack(third, true, false);
    await waitForReady(ch, target.queue, 3);
    consumerChannel.nack(fourth, false, false);
    await waitForReady(ch, target.queue, 4);
    const dead = await Promise.all([1, 2, 3, 4].map(() => getWithin(ch, target.queue)));
    assert.deepEqual(bodies(dead), ['m1', 'm2', 'm3', 'm4']);
    for (const message of dead) {
      assertDeath(xDeath(message)[0], { count: 1, reason: 'rejected', queue: source, exchange: '', routingKeys: [source] });
    }
  });

  test('x-dead-letter-routing-key replaces the routing key; x-death keeps the published keys and the CC header is removed', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch, { type: 'direct', bindingKey: 'dead.letters' });
    const byOriginalKey = await exclusiveQueueWith(ch, {});
    await ch.bindQueue(byOriginalKey, target.exchange, 'k');
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange, 'x-dead-letter-routing-key': 'dead.letters' });
    await ch.bindQueue(source, 'amq.direct', 'k');
    ch.publish('amq.direct', 'k', Buffer.from('rerouted'), { headers: { CC: ['k.cc'], other: 'kept' } });
    await rejectNext(ch, source);
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.fields.routingKey, 'dead.letters');
    assert.equal(dead.properties.headers?.['CC'], undefined, 'RabbitMQ deletes CC when it replaces the routing key');
    assert.equal(dead.properties.headers?.['other'], 'kept');
    assertDeath(xDeath(dead)[0], { count: 1, reason: 'rejected', queue: source, exchange: 'amq.direct', routingKeys: ['k', 'k.cc'] });
    assert.equal(await readyCount(ch, byOriginalKey), 0, 'nothing is routed with the original key');
  });

  test('without x-dead-letter-routing-key the message is routed with all its original keys, CC and BCC ones included', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch, { type: 'direct', bindingKey: 'k' });
    const byCc = await exclusiveQueueWith(ch, {});
    const byBcc = await exclusiveQueueWith(ch, {});
    await ch.bindQueue(byCc, target.exchange, 'k.cc');
    await ch.bindQueue(byBcc, target.exchange, 'k.bcc');
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    await ch.bindQueue(source, 'amq.direct', 'k');
    ch.publish('amq.direct', 'k', Buffer.from('copied'), { headers: { CC: ['k.cc'], BCC: ['k.bcc'] } });
    await rejectNext(ch, source);
    for (const queue of [target.queue, byCc, byBcc]) {
      const dead = await getWithin(ch, queue);
      assert.equal(dead.content.toString(), 'copied');
      assert.equal(dead.fields.routingKey, 'k');
      assert.deepEqual(dead.properties.headers?.['CC'], ['k.cc'], 'CC stays');
      assert.equal(dead.properties.headers?.['BCC'], undefined, 'BCC never reaches a consumer');
      // The docs: routing-keys holds the published keys "including CC keys but excluding BCC ones".
      assertDeath(xDeath(dead)[0], { count: 1, reason: 'rejected', queue: source, exchange: 'amq.direct', routingKeys: ['k', 'k.cc'] });
      assert.equal(await readyCount(ch, queue), 0, 'exactly one copy per queue');
    }
  });

  test('the default exchange as dead-letter exchange with a routing key delivers to the queue of that name', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const retry = await exclusiveQueueWith(ch, {});
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': retry });
    ch.sendToQueue(source, Buffer.from('retry me'));
    await rejectNext(ch, source);
    const dead = await getWithin(ch, retry);
    assert.equal(dead.content.toString(), 'retry me');
    assert.equal(dead.fields.exchange, '');
    assert.equal(dead.fields.routingKey, retry);
  });

  test('a dead-letter exchange that does not exist drops the message silently', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': uniqueName('missing') });
    ch.sendToQueue(source, Buffer.from('lost'));
    const rejecting = await client.channel();
    await rejectNext(rejecting, source);
    await rejecting.close();
    // Had the reject failed or left the message unacked, closing the channel would have requeued it.
    assert.equal(await readyCount(ch, source), 0);
    assert.equal(await ch.get(source), false);
  });

  test('purge, delete and the requeue of a closed channel do not dead-letter', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    ch.sendToQueue(source, Buffer.from('a'));
    ch.sendToQueue(source, Buffer.from('b'));
    const holder = await client.channel();
    await getWithin(holder, source, { noAck: false });
    await holder.close();
    await waitForReady(ch, source, 2);
    await ch.purgeQueue(source);
    ch.sendToQueue(source, Buffer.from('c'));
    await waitForReady(ch, source, 1);
    await ch.deleteQueue(source);
    await assertStaysReady(ch, target.queue, 0, 200);
  });
});

describe('the x-death header', () => {
  test('the first dead-lettering writes one x-death table and the x-first-death-* headers, with RabbitMQ\'s field types', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    const target = await deadLetterTarget(t, broker.url, ch);
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    await ch.bindQueue(source, 'amq.topic', 'audit.#');
    ch.publish('amq.topic', 'audit.login', Buffer.from('x'), { headers: { app: 'kept' } });
    await rejectNext(ch, source);
    const dead = await getWithin(ch, target.queue);
    const deaths = xDeath(dead);
    assert.equal(deaths.length, 1);
    assertDeath(deaths[0], { count: 1, reason: 'rejected', queue: source, exchange: 'amq.topic', routingKeys: ['audit.login'] });
    assertFirstDeath(dead, { reason: 'rejected', queue: source, exchange: 'amq.topic' });
    assert.equal(dead.properties.headers?.['app'], 'kept');
    const header = client.receivedHeaders().at(-1);
    assert.ok(header, 'the content header of the dead-lettered message');
    assert.deepEqual(headerWireTypes(header), {
      app: 'S',
      'x-death': [{ count: 'l', reason: 'S', queue: 'S', time: 'T', exchange: 'S', 'routing-keys': ['S'] }],
      'x-first-death-exchange': 'S',
      'x-first-death-queue': 'S',
      'x-first-death-reason': 'S',
    });
  });

  test('a per-message expiration is recorded as original-expiration and removed from the message', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    const target = await deadLetterTarget(t, broker.url, ch);
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    ch.sendToQueue(source, Buffer.from('x'), { expiration: '60000' });
    await rejectNext(ch, source);
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.properties.expiration, undefined, 'the expiration property is removed');
    assertDeath(xDeath(dead)[0], {
      count: 1,
      reason: 'rejected',
      queue: source,
      exchange: '',
      routingKeys: [source],
      originalExpiration: '60000',
    });
    const header = client.receivedHeaders().at(-1);
    assert.ok(header);
    assert.deepEqual((headerWireTypes(header)['x-death'] as Record<string, unknown>[])[0]?.['original-expiration'], 'S');
  });

  test('a dead-lettered message keeps its body, delivery mode and other properties', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    const properties = {
      contentType: 'application/json',
      contentEncoding: 'identity',
      deliveryMode: 2,
      priority: 7,
      correlationId: 'corr-1',
      replyTo: 'replies',
      messageId: 'msg-1',
      timestamp: 1700000000,
      type: 'order',
      userId: 'guest',
      appId: 'shop',
    };
    ch.sendToQueue(source, Buffer.from('{"id":1}'), { ...properties, expiration: '60000', headers: { tenant: 'a', attempt: 3 } });
    await rejectNext(ch, source);
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.content.toString(), '{"id":1}');
    const { headers, ...kept } = dead.properties;
    const defined = Object.fromEntries(Object.entries(kept).filter(([, value]) => value !== undefined));
    assert.deepEqual(defined, properties);
    assert.equal(headers?.['tenant'], 'a');
    assert.equal(headers?.['attempt'], 3);
  });

  test('dying again in the same queue for the same reason increments that entry\'s count and moves it to the front; its time is kept', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const a = uniqueName('ping');
    const b = uniqueName('pong');
    await ch.assertQueue(a, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': b } });
    await ch.assertQueue(b, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': a } });
    ch.sendToQueue(a, Buffer.from('ping-pong'), { expiration: '100000' });
    await rejectNext(ch, a);
    const first = await getWithin(ch, b, { noAck: false });
    const firstTime = xDeath(first)[0]?.['time'];
    ch.reject(first, false);
    // Past a second boundary, so a rewritten time would differ from the first one.
    await delay(1100);
    await rejectNext(ch, a);
    const third = await getWithin(ch, b);
    const deaths = xDeath(third);
    assert.equal(deaths.length, 2, JSON.stringify(deaths));
    assertDeath(deaths[0], { count: 2, reason: 'rejected', queue: a, exchange: '', routingKeys: [a], originalExpiration: '100000' });
    assertDeath(deaths[1], { count: 1, reason: 'rejected', queue: b, exchange: '', routingKeys: [b] });
    assert.deepEqual(deaths[0]?.['time'], firstTime, 'the merged entry keeps the time of its first death');
    assertFirstDeath(third, { reason: 'rejected', queue: a, exchange: '' });
  });

  test('@cloudamqp/amqp-client sees x-death too: an array of tables, count a number, time a Date', async (t) => {
    const exchange = uniqueName('dlx');
    deleteAfter(t, broker.url, { exchanges: [exchange] });
    const connection = await new AMQPClient(broker.url).connect();
    t.after(() => connection.close());
    const ch = await connection.channel();
    await ch.exchangeDeclare(exchange, 'fanout', { durable: false });
    const { name: deadQueue } = await ch.queueDeclare('', { exclusive: true });
    await ch.queueBind(deadQueue, exchange, '');
    const { name: source } = await ch.queueDeclare('', { exclusive: true }, { 'x-dead-letter-exchange': exchange });
    await ch.basicPublish('', source, 'x');
    const getWithinCloudamqp = async (queue: string, noAck: boolean): Promise<AMQPMessage> => {
      let message: AMQPMessage | null = null;
      await waitFor(async () => (message = await ch.basicGet(queue, { noAck })) !== null, 3000, `a message on ${queue}`);
      assert.ok(message);
      return message;
    };
    await (await getWithinCloudamqp(source, false)).reject(false);
    const dead = await getWithinCloudamqp(deadQueue, true);
    const deaths = dead.properties.headers?.['x-death'];
    assert.ok(Array.isArray(deaths) && deaths.length === 1, JSON.stringify(deaths));
    const death = deaths[0] as Record<string, unknown>;
    assert.equal(death['count'], 1);
    assert.equal(death['reason'], 'rejected');
    assert.equal(death['queue'], source);
    assert.equal(death['exchange'], '');
    assert.deepEqual(death['routing-keys'], [source]);
    assert.ok(death['time'] instanceof Date, `time should be a Date, got ${String(death['time'])}`);
    assert.ok(Math.abs(death['time'].getTime() - Date.now()) < 60_000, 'time is about now');
    assert.equal(dead.properties.headers?.['x-first-death-reason'], 'rejected');
  });
});

describe('cycle detection', () => {
  test('a message that expires back into its own queue is dropped there but still reaches the other queues', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const loop = await fanout(t, ch);
    const cycling = await exclusiveQueueWith(ch, { 'x-message-ttl': 50, 'x-dead-letter-exchange': loop });
    const witness = await exclusiveQueueWith(ch, {});
    await ch.bindQueue(cycling, loop, '');
    await ch.bindQueue(witness, loop, '');
    ch.sendToQueue(cycling, Buffer.from('cycle'));
    const copy = await getWithin(ch, witness);
    assertDeath(xDeath(copy)[0], { count: 1, reason: 'expired', queue: cycling, exchange: '', routingKeys: [cycling] });
    // Without cycle detection the message would keep coming back every 50 ms.
    await assertStaysReady(ch, cycling, 0, 300);
    assert.equal(await readyCount(ch, witness), 0, 'the witness got exactly one copy');
  });

  test('an expiry cycle through two queues is dropped when it comes back to the first', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const toSecond = await fanout(t, ch);
    const toFirst = await fanout(t, ch);
    const first = await exclusiveQueueWith(ch, { 'x-message-ttl': 50, 'x-dead-letter-exchange': toSecond });
    const second = await exclusiveQueueWith(ch, { 'x-message-ttl': 50, 'x-dead-letter-exchange': toFirst });
    const witness = await exclusiveQueueWith(ch, {});
    await ch.bindQueue(second, toSecond, '');
    await ch.bindQueue(first, toFirst, '');
    await ch.bindQueue(witness, toFirst, '');
    ch.sendToQueue(first, Buffer.from('round trip'));
    const copy = await getWithin(ch, witness);
    const deaths = xDeath(copy);
    assert.equal(deaths.length, 2, 'newest first: the second queue, then the first');
    assertDeath(deaths[0], { count: 1, reason: 'expired', queue: second, exchange: toSecond, routingKeys: [first] });
    assertDeath(deaths[1], { count: 1, reason: 'expired', queue: first, exchange: '', routingKeys: [first] });
    await assertStaysReady(ch, first, 0, 300);
    assert.equal(await readyCount(ch, second), 0);
    assert.equal(await readyCount(ch, witness), 0, 'the witness got exactly one copy');
  });

  test('a cycle that includes a rejection is not dropped: reject, expire, and the message is back with both entries', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const work = uniqueName('work');
    const wait = uniqueName('wait');
    await ch.assertQueue(work, { exclusive: true, arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': wait } });
    await ch.assertQueue(wait, {
      exclusive: true,
      arguments: { 'x-message-ttl': 50, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': work },
    });
    ch.sendToQueue(work, Buffer.from('retry'));
    for (const count of [1, 2]) {
      await rejectNext(ch, work);
      const back = await getWithin(ch, work, { noAck: false });
      const deaths = xDeath(back);
      assert.equal(deaths.length, 2, JSON.stringify(deaths));
      assertDeath(deaths[0], { count, reason: 'expired', queue: wait, exchange: '', routingKeys: [wait] });
      assertDeath(deaths[1], { count, reason: 'rejected', queue: work, exchange: '', routingKeys: [work] });
      assertFirstDeath(back, { reason: 'rejected', queue: work, exchange: '' });
      ch.nack(back, false, true);
    }
  });

  test('a message rejected back into its own queue returns with one entry whose count grows', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': '' });
    ch.sendToQueue(queue, Buffer.from('boomerang'));
    for (const count of [1, 2, 3]) {
      await rejectNext(ch, queue);
      const back = await getWithin(ch, queue, { noAck: false });
      const deaths = xDeath(back);
      assert.equal(deaths.length, 1, JSON.stringify(deaths));
      assertDeath(deaths[0], { count, reason: 'rejected', queue, exchange: '', routingKeys: [queue] });
      ch.nack(back, false, true);
    }
  });
});

describe('dead-lettering on expiry and on overflow', () => {
  test('a message expired by x-message-ttl is dead-lettered with reason expired and no original-expiration', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const source = await exclusiveQueueWith(ch, { 'x-message-ttl': 50, 'x-dead-letter-exchange': target.exchange });
    ch.sendToQueue(source, Buffer.from('stale'));
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.content.toString(), 'stale');
    assertDeath(xDeath(dead)[0], { count: 1, reason: 'expired', queue: source, exchange: '', routingKeys: [source] });
    assertFirstDeath(dead, { reason: 'expired', queue: source, exchange: '' });
  });

  test('a message expired by its own expiration is dead-lettered with original-expiration and without the property', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const source = await exclusiveQueueWith(ch, { 'x-dead-letter-exchange': target.exchange });
    ch.sendToQueue(source, Buffer.from('stale'), { expiration: '50', persistent: true });
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.properties.expiration, undefined);
    assert.equal(dead.properties.deliveryMode, 2);
    assertDeath(xDeath(dead)[0], {
      count: 1,
      reason: 'expired',
      queue: source,
      exchange: '',
      routingKeys: [source],
      originalExpiration: '50',
    });
  });

  test('a message dropped from the head by x-max-length is dead-lettered with reason maxlen', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const target = await deadLetterTarget(t, broker.url, ch);
    const source = await exclusiveQueueWith(ch, { 'x-max-length': 1, 'x-dead-letter-exchange': target.exchange });
    ch.sendToQueue(source, Buffer.from('old'));
    ch.sendToQueue(source, Buffer.from('new'));
    const dead = await getWithin(ch, target.queue);
    assert.equal(dead.content.toString(), 'old');
    assertDeath(xDeath(dead)[0], { count: 1, reason: 'maxlen', queue: source, exchange: '', routingKeys: [source] });
    assertFirstDeath(dead, { reason: 'maxlen', queue: source, exchange: '' });
    assert.equal((await getWithin(ch, source)).content.toString(), 'new');
  });
});
