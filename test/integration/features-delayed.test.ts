/**
 * The x-delayed-message exchange type, as RabbitMQ's rabbitmq_delayed_message_exchange plugin has it:
 * routing like its x-delayed-type, a positive x-delay header (ms) holding a message back until it is
 * due (in due order, with x-delay negated on delivery), absent, zero or negative delays routed at
 * once, the plugin's errors for a bad x-delayed-type, publisher confirms, a deleted exchange dropping
 * what it held, and persistent delayed messages surviving a restart. Warren only: the RabbitMQ the
 * suite compares against has no plugin, so every test is skipped when WARREN_TEST_URL is set.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import amqplib, { type Channel, type ConsumeMessage } from 'amqplib';
import { startWarren, type WarrenNode } from '../../src/main.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  bodies,
  collect,
  delay,
  deleteAfter,
  drain,
  expectChannelClose,
  expectConnectionClose,
  fault,
  methods,
  openChannel,
  openClient,
  replyCodes,
  uniqueName,
  waitFor,
} from '../helpers/amqp.js';

const warrenOnly = process.env['WARREN_TEST_URL'] ? 'the RabbitMQ under comparison has no delayed message plugin' : false;
/** Timers fire no earlier than asked; a little slack covers clock rounding between client and broker. */
const JITTER_MS = 5;

let broker: TestBroker;

before(async () => {
  if (!warrenOnly) broker = await startTestBroker();
});

after(async () => {
  if (!warrenOnly) await broker.close();
});

/** Declares a delayed exchange routing like `routingType` (deleted when `t` ends) and an exclusive queue bound to it. */
async function delayedExchangeWithQueue(
  t: TestContext,
  ch: Channel,
  options: { routingType?: string; bindingKey?: string; durable?: boolean } = {},
): Promise<{ exchange: string; queue: string }> {
  const exchange = uniqueName('delayed');
  deleteAfter(t, broker.url, { exchanges: [exchange] });
  await ch.assertExchange(exchange, 'x-delayed-message', {
    durable: options.durable ?? false,
    arguments: { 'x-delayed-type': options.routingType ?? 'direct' },
  });
  const { queue } = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(queue, exchange, options.bindingKey ?? 'k');
  return { exchange, queue };
}

function headerOf(message: ConsumeMessage, name: string): unknown {
  return message.properties.headers?.[name];
}

describe('holding messages back', { skip: warrenOnly }, () => {
  test('messages with x-delay 300, 100 and 0 arrive in due order, none before its delay, with x-delay negated', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const { exchange, queue } = await delayedExchangeWithQueue(t, ch);
    const arrivedAfterMs = new Map<string, number>();
    const start = Date.now();
    const consumer = await collect(ch, queue, { noAck: true });
    ch.publish(exchange, 'k', Buffer.from('300'), { headers: { 'x-delay': 300 } });
    ch.publish(exchange, 'k', Buffer.from('100'), { headers: { 'x-delay': 100 } });
    ch.publish(exchange, 'k', Buffer.from('0'), { headers: { 'x-delay': 0 } });
    await waitFor(() => {
      for (const message of consumer.messages) {
        const body = message.content.toString();
        if (!arrivedAfterMs.has(body)) arrivedAfterMs.set(body, Date.now() - start);
      }
      return consumer.messages.length === 3;
    }, 3000, 'three deliveries');
    assert.deepEqual(bodies(consumer.messages), ['0', '100', '300']);
    assert.ok((arrivedAfterMs.get('100') ?? 0) >= 100 - JITTER_MS, `100 ms message arrived after ${arrivedAfterMs.get('100')} ms`);
    assert.ok((arrivedAfterMs.get('300') ?? 0) >= 300 - JITTER_MS, `300 ms message arrived after ${arrivedAfterMs.get('300')} ms`);
    // The plugin rewrites x-delay to minus the delay on release; a message routed at once keeps its header.
    assert.deepEqual(consumer.messages.map((message) => headerOf(message, 'x-delay')), [0, -100, -300]);
  });

  test('no x-delay, a negative one or one that is not a number routes at once', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const { exchange, queue } = await delayedExchangeWithQueue(t, ch);
    ch.publish(exchange, 'k', Buffer.from('none'));
    ch.publish(exchange, 'k', Buffer.from('negative'), { headers: { 'x-delay': -500 } });
    ch.publish(exchange, 'k', Buffer.from('text'), { headers: { 'x-delay': 'soon' } });
    ch.publish(exchange, 'k', Buffer.from('string-number'), { headers: { 'x-delay': '150' } });
    const consumer = await collect(ch, queue, { noAck: true });
    await consumer.waitForCount(3, 1000);
    assert.deepEqual(bodies(consumer.messages), ['none', 'negative', 'text'], 'a numeric string is a delay, as in the plugin');
    await consumer.waitForCount(4, 1000);
    assert.equal(consumer.messages[3]?.content.toString(), 'string-number');
  });

  test('x-delayed-type topic: bindings and routing follow topic rules after the delay', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const { exchange, queue } = await delayedExchangeWithQueue(t, ch, { routingType: 'topic', bindingKey: 'orders.*' });
    ch.publish(exchange, 'orders.created', Buffer.from('match'), { headers: { 'x-delay': 80 } });
    ch.publish(exchange, 'invoices.created', Buffer.from('no-match'), { headers: { 'x-delay': 40 } });
    ch.publish(exchange, 'orders.created.late', Buffer.from('too-deep'), { headers: { 'x-delay': 40 } });
    await delay(30);
    assert.deepEqual(await drain(ch, queue), [], 'nothing before the delay');
    await delay(200);
    assert.deepEqual(await drain(ch, queue), ['match']);
  });

  test('mandatory does not return a held message (the plugin cannot know its route yet); it is delivered later', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const { exchange, queue } = await delayedExchangeWithQueue(t, ch);
    const pub = await client.confirmChannel();
    const returned: string[] = [];
    pub.on('return', (message: ConsumeMessage) => returned.push(message.content.toString()));
    pub.publish(exchange, 'k', Buffer.from('held'), { mandatory: true, headers: { 'x-delay': 50 } });
    pub.publish(exchange, 'nowhere', Buffer.from('held-unroutable'), { mandatory: true, headers: { 'x-delay': 50 } });
    pub.publish(exchange, 'nowhere', Buffer.from('now-unroutable'), { mandatory: true });
    await pub.waitForConfirms();
    await delay(150);
    assert.deepEqual(returned, ['now-unroutable'], 'only the message routed at once is returned');
    assert.deepEqual(await drain(ch, queue), ['held']);
  });

  test('a confirm for a persistent message held by a durable delayed exchange arrives before the message', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const exchange = uniqueName('delayed-durable');
    const queue = uniqueName('delayed-durable-q');
    deleteAfter(t, broker.url, { exchanges: [exchange], queues: [queue] });
    await ch.assertExchange(exchange, 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'fanout' } });
    await ch.assertQueue(queue, { durable: true });
    await ch.bindQueue(queue, exchange, '');
    const pub = await client.confirmChannel();
    const confirmed = new Promise<void>((resolve, reject) => {
      pub.publish(exchange, '', Buffer.from('persistent'), { deliveryMode: 2, headers: { 'x-delay': 200 } }, (error) => {
        if (error === null || error === undefined) resolve();
        else reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
    await confirmed;
    assert.deepEqual(await drain(ch, queue), [], 'confirmed but still held');
    await waitFor(async () => (await ch.checkQueue(queue)).messageCount === 1, 2000, 'the held message');
    assert.deepEqual(await drain(ch, queue), ['persistent']);
  });

  test('deleting the exchange drops what it held, even when one of the same name is declared again', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const { exchange, queue } = await delayedExchangeWithQueue(t, ch);
    ch.publish(exchange, 'k', Buffer.from('dropped'), { headers: { 'x-delay': 100 } });
    await ch.checkExchange(exchange);
    await ch.deleteExchange(exchange);
    await ch.assertExchange(exchange, 'x-delayed-message', { durable: false, arguments: { 'x-delayed-type': 'direct' } });
    await ch.bindQueue(queue, exchange, 'k');
    await delay(250);
    assert.deepEqual(await drain(ch, queue), []);
  });

  test('a queue dead-lettering to a delayed exchange delays a message with an x-delay', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const { exchange, queue: target } = await delayedExchangeWithQueue(t, ch);
    const { queue: source } = await ch.assertQueue('', {
      exclusive: true,
      arguments: { 'x-dead-letter-exchange': exchange, 'x-dead-letter-routing-key': 'k' },
    });
    ch.sendToQueue(source, Buffer.from('retry'), { headers: { 'x-delay': 150 } });
    let message: amqplib.GetMessage | false = false;
    await waitFor(async () => (message = await ch.get(source, { noAck: false })) !== false, 2000, 'the source message');
    const rejectedAt = Date.now();
    ch.reject(message as unknown as amqplib.Message, false);
    await delay(50);
    assert.deepEqual(await drain(ch, target), [], 'held after dead-lettering');
    await waitFor(async () => (await ch.checkQueue(target)).messageCount === 1, 2000, 'the delayed dead-lettered message');
    assert.ok(Date.now() - rejectedAt >= 150 - JITTER_MS);
  });
});

describe('x-delayed-type', { skip: warrenOnly }, () => {
  test('missing or not a string: 406 as the plugin words it', async (t) => {
    const client = await openClient(t, broker.url);
    for (const args of [{}, { 'x-delayed-type': 5 }]) {
      const ch = await client.channel();
      await expectChannelClose(
        ch,
        () => ch.assertExchange(uniqueName('delayed-bad'), 'x-delayed-message', { durable: false, arguments: args }),
        fault(replyCodes.preconditionFailed, methods.exchangeDeclare, "PRECONDITION_FAILED - Invalid argument, 'x-delayed-type' must be an existing exchange type"),
      );
    }
  });

  test('x-delayed-message itself: 406', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.assertExchange(uniqueName('delayed-self'), 'x-delayed-message', { arguments: { 'x-delayed-type': 'x-delayed-message' } }),
      fault(replyCodes.preconditionFailed, methods.exchangeDeclare, "PRECONDITION_FAILED - Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'"),
    );
  });

  test('an unknown exchange type: 503 COMMAND_INVALID closes the connection, as RabbitMQ check_type does', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    await expectConnectionClose(
      client,
      () => ch.assertExchange(uniqueName('delayed-unknown'), 'x-delayed-message', { arguments: { 'x-delayed-type': 'nope' } }),
      fault(replyCodes.commandInvalid, methods.exchangeDeclare, "COMMAND_INVALID - unknown exchange type 'nope'"),
    );
  });

  test('a redeclaration with another x-delayed-type is accepted and changes nothing, as with the plugin', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const exchange = uniqueName('delayed-redeclare');
    const { queue } = await ch.assertQueue('', { exclusive: true });
    deleteAfter(t, broker.url, { exchanges: [exchange] });
    await ch.assertExchange(exchange, 'x-delayed-message', { durable: false, arguments: { 'x-delayed-type': 'direct' } });
    // RabbitMQ compares only alternate-exchange among exchange arguments on redeclaration.
    await ch.assertExchange(exchange, 'x-delayed-message', { durable: false, arguments: { 'x-delayed-type': 'topic' } });
    await ch.bindQueue(queue, exchange, 'a.*');
    ch.publish(exchange, 'a.b', Buffer.from('topic-style key'), { headers: { 'x-delay': 0 } });
    ch.publish(exchange, 'a.*', Buffer.from('exact key'), { headers: { 'x-delay': 0 } });
    const consumer = await collect(ch, queue, { noAck: true });
    await consumer.waitForCount(1);
    await delay(100);
    assert.deepEqual(bodies(consumer.messages), ['exact key'], 'still routes as direct');
  });
});

describe('across a restart', { skip: warrenOnly }, () => {
  async function start(dataDir: string): Promise<WarrenNode> {
    // No task keeper: it only slows the restart, and the test times the restart against the delays.
    return startWarren({ amqpPort: 0, httpPort: 0, bind: '127.0.0.1', dataDir, logLevel: 'silent', tasks: { keeperEnabled: false } });
  }

  test('persistent delayed messages come back and are delivered at their original due time (or at once when past)', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'warren-delayed-'));
    let node: WarrenNode | undefined;
    try {
      node = await start(dataDir);
      const connection = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
      const ch = await connection.createConfirmChannel();
      await ch.assertExchange('delayed-x', 'x-delayed-message', { durable: true, arguments: { 'x-delayed-type': 'direct' } });
      await ch.assertQueue('delayed-q', { durable: true });
      await ch.bindQueue('delayed-q', 'delayed-x', 'k');
      const publishedAt = Date.now();
      ch.publish('delayed-x', 'k', Buffer.from('late'), { deliveryMode: 2, headers: { 'x-delay': 1200 } });
      ch.publish('delayed-x', 'k', Buffer.from('early'), { deliveryMode: 2, headers: { 'x-delay': 150 } });
      ch.publish('delayed-x', 'k', Buffer.from('transient'), { deliveryMode: 1, headers: { 'x-delay': 150 } });
      await ch.waitForConfirms();
      await connection.close();
      await node.close();
      node = undefined;
      // The early message falls due while the broker is down.
      await delay(Math.max(0, publishedAt + 300 - Date.now()));

      node = await start(dataDir);
      const again = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
      const check = await again.createChannel();
      await waitFor(async () => (await check.checkQueue('delayed-q')).messageCount === 1, 1000, 'the overdue message');
      const early = await check.get('delayed-q', { noAck: true });
      assert.ok(early !== false);
      assert.equal(early.content.toString(), 'early');
      assert.equal(early.properties.headers?.['x-delay'], -150);
      assert.equal(early.properties.headers?.['x-warren-delayed'], undefined, 'the private header is stripped');
      assert.ok(Date.now() < publishedAt + 1200, 'test too slow to check the late message is still held');
      assert.equal((await check.checkQueue('delayed-q')).messageCount, 0, 'the late message is still held');
      await waitFor(async () => (await check.checkQueue('delayed-q')).messageCount === 1, 2500, 'the late message');
      assert.ok(Date.now() >= publishedAt + 1200 - JITTER_MS, 'not before its original due time');
      assert.deepEqual(await drain(check, 'delayed-q'), ['late'], 'the transient one did not survive');
      await again.close();
      // Once delivered, a held message is not released again after another restart.
      await node.close();
      node = await start(dataDir);
      const third = await amqplib.connect(`amqp://guest:guest@127.0.0.1:${node.amqpPort}`);
      const last = await third.createChannel();
      await delay(50);
      assert.equal((await last.checkQueue('delayed-q')).messageCount, 0);
      await third.close();
    } finally {
      await node?.close();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
