/**
 * Peer input that once threatened the broker: names that are not valid UTF-8, error texts longer
 * than a shortstr, pathological topic patterns, and content headers announcing huge bodies.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { AmqpClient, expectChannelClose, fault, methods, replyCodes } from '../helpers/amqp.js';
import { RawAmqpClient, Writer, headerFrame } from '../helpers/raw-amqp.js';
import { assertRoundTrip } from '../helpers/checks.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});


test('a routing key that is not valid UTF-8 is refused and other connections keep working', { skip: process.env['WARREN_TEST_URL'] ? 'RabbitMQ passes routing keys through as bytes' : false }, async () => {
  const consumer = await amqplib.connect(broker.url);
  const consumerChannel = await consumer.createChannel();
  const { queue } = await consumerChannel.assertQueue('', { exclusive: true });
  await consumerChannel.bindQueue(queue, 'amq.fanout', '');
  const received: string[] = [];
  await consumerChannel.consume(queue, (message) => {
    if (message !== null) received.push(message.content.toString());
  }, { noAck: true });

  const raw = await RawAmqpClient.open(broker.port);
  await raw.openChannel(1);
  const args = new Writer().short(0).shortstr('amq.fanout').raw(Buffer.from([200])).raw(Buffer.alloc(200, 0xff)).bits(false, false).toBuffer();
  raw.sendMethod(1, 60, 40, args);
  const close = await raw.expectConnectionClose();
  assert.equal(close.replyCode, 501);
  raw.destroy();

  await assertRoundTrip(broker.url);
  assert.deepEqual(received, [], 'the undecodable publish was not routed');
  await consumer.close();
});

test('an error text longer than 255 bytes is cut at a character boundary and closes only the channel', async () => {
  const client = await AmqpClient.open(broker.url);
  try {
    const ch = await client.channel();
    const name = 'é'.repeat(120);
    await expectChannelClose(ch, () => ch.checkQueue(name), fault(replyCodes.notFound, methods.queueDeclare, 'NOT_FOUND'));
    const other = await client.channel();
    await other.assertQueue('', { exclusive: true });
  } finally {
    await client.close();
  }
});

test('a binding with many # wildcards cannot stall routing', async () => {
  const connection = await amqplib.connect(broker.url);
  try {
    const channel = await connection.createChannel();
    const { queue } = await channel.assertQueue('', { exclusive: true });
    await channel.bindQueue(queue, 'amq.topic', '#.#.#.#.#.#.#.#.#.#.z');
    await channel.bindQueue(queue, 'amq.topic', '#.*.#.*.#.*.#.*.#.y');
    const key = Array.from({ length: 120 }, () => 'a').join('.');
    channel.publish('amq.topic', key, Buffer.from('no match'));
    channel.publish('amq.topic', `${key}.z`, Buffer.from('match'));
    let message: amqplib.GetMessage | false = false;
    for (let i = 0; i < 100 && message === false; i++) {
      message = await channel.get(queue, { noAck: true });
      if (message === false) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(message !== false, 'the matching message was routed');
    assert.equal(message.content.toString(), 'match');
  } finally {
    await connection.close();
  }
});

test('content headers announcing huge bodies on many channels do not reserve memory up front', { skip: process.env['WARREN_TEST_URL'] ? 'measures Warren process memory' : false }, async () => {
  const raw = await RawAmqpClient.open(broker.port);
  const before = process.memoryUsage().arrayBuffers;
  for (let channel = 1; channel <= 50; channel++) {
    await raw.openChannel(channel);
    raw.sendMethod(channel, 60, 40, new Writer().short(0).shortstr('').shortstr('nowhere').bits(false, false).toBuffer());
    raw.write(headerFrame(channel, 60, 100 * 1024 * 1024));
  }
  await raw.openChannel(51);
  const grown = process.memoryUsage().arrayBuffers - before;
  assert.ok(grown < 512 * 1024 * 1024, `50 announced 100 MiB bodies reserved ${Math.round(grown / 1048576)} MiB`);
  raw.destroy();
  await assertRoundTrip(broker.url);
});
