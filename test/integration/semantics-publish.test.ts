/**
 * basic.publish and message content as RabbitMQ implements them: mandatory returns, immediate,
 * user-id validation, CC/BCC, every basic property and field-table type round-tripping
 * byte-for-byte, empty and large bodies split over many frames, many channels on one connection,
 * channel errors that leave sibling channels alone, and channel.flow.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Message } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  AmqpClient,
  collect,
  drain,
  exclusiveQueue,
  expectChannelClose,
  expectConnectionClose,
  fault,
  isChannelOpen,
  methods,
  openChannel,
  openClient,
  publishConfirmed,
  rawPublish,
  rawRpc,
  replyCodes,
  uniqueName,
  waitFor,
  withTimeout,
} from '../helpers/amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** Every field-table value type, written with amqplib's explicit type notation. */
const everyHeaderType = {
  longstr: 'text ✓',
  int8: { '!': 'int8', value: -5 },
  uint8: { '!': 'uint8', value: 200 },
  int16: { '!': 'int16', value: -300 },
  uint16: { '!': 'uint16', value: 60000 },
  int32: { '!': 'int32', value: -70000 },
  uint32: { '!': 'uint32', value: 4000000000 },
  int64: { '!': 'int64', value: -5000000000 },
  float: { '!': 'float', value: 1.5 },
  double: 3.25,
  decimal: { '!': 'decimal', value: { places: 2, digits: 12345 } },
  timestamp: { '!': 'timestamp', value: 1700000000 },
  true: true,
  false: false,
  void: null,
  bytes: Buffer.from([0, 1, 2, 255]),
  array: [1, 'two', [3], { four: 4 }],
  table: { nested: { deeper: 'yes' } },
};

/** The values amqplib decodes `everyHeaderType` back into. */
const everyHeaderTypeDecoded = {
  longstr: 'text ✓',
  int8: -5,
  uint8: 200,
  int16: -300,
  uint16: 60000,
  int32: -70000,
  uint32: 4000000000,
  int64: -5000000000,
  float: 1.5,
  double: 3.25,
  decimal: { '!': 'decimal', value: { places: 2, digits: 12345 } },
  timestamp: { '!': 'timestamp', value: 1700000000 },
  true: true,
  false: false,
  void: null,
  bytes: Buffer.from([0, 1, 2, 255]),
  array: [1, 'two', [3], { four: 4 }],
  table: { nested: { deeper: 'yes' } },
};

const everyProperty = {
  contentType: 'application/json',
  contentEncoding: 'gzip',
  headers: everyHeaderType,
  deliveryMode: 2,
  priority: 5,
  correlationId: 'correlation-1',
  replyTo: 'reply-queue',
  expiration: '600000',
  messageId: 'message-1',
  timestamp: 1700000001,
  type: 'order.created',
  userId: 'guest',
  appId: 'warren-tests',
};

describe('mandatory and immediate', () => {
  test('an unroutable mandatory message comes back as basic.return 312 NO_ROUTE with its content', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const returned: Message[] = [];
    ch.on('return', (message: Message) => returned.push(message));
    const key = uniqueName('nowhere');
    ch.publish('amq.direct', key, Buffer.from('bounce'), { mandatory: true, messageId: 'm-1', headers: { h: 1 } });
    await waitFor(() => returned.length === 1, 3000, 'basic.return');
    const message = returned[0];
    assert.ok(message);
    const fields = message.fields as unknown as { replyCode: number; replyText: string; exchange: string; routingKey: string };
    assert.equal(fields.replyCode, 312);
    assert.equal(fields.replyText, 'NO_ROUTE');
    assert.equal(fields.exchange, 'amq.direct');
    assert.equal(fields.routingKey, key);
    assert.equal(message.content.toString(), 'bounce');
    assert.equal(message.properties.messageId, 'm-1');
    assert.deepEqual(message.properties.headers, { h: 1 });
  });

  test('an unroutable message without mandatory is dropped silently; a routable mandatory one is not returned', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const returned: Message[] = [];
    pub.on('return', (message: Message) => returned.push(message));
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, [
      { exchange: '', routingKey: uniqueName('nowhere'), body: 'dropped' },
      { exchange: '', routingKey: queue, body: 'kept', options: { mandatory: true } },
    ]);
    assert.deepEqual(await drain(ch, queue), ['kept']);
    assert.equal(returned.length, 0);
    assert.ok(isChannelOpen(ch));
  });

  test('immediate=true is a connection error 540 NOT_IMPLEMENTED (basic.publish)', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    const queue = await exclusiveQueue(ch);
    await expectConnectionClose(
      client,
      () => rawPublish(ch, { exchange: '', routingKey: queue, mandatory: false, immediate: true }, Buffer.from('x')),
      fault(replyCodes.notImplemented, methods.basicPublish, 'NOT_IMPLEMENTED'),
    );
  });
});

describe('user-id and CC/BCC', () => {
  test('a user-id property other than the authenticated user is 406 (basic.publish); the right one passes', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'ok', options: { userId: 'guest' } }]);
    const message = await ch.get(queue, { noAck: true });
    assert.ok(message);
    assert.equal(message.properties.userId, 'guest');
    await expectChannelClose(
      ch,
      () => ch.sendToQueue(queue, Buffer.from('x'), { userId: 'somebody-else' }),
      fault(replyCodes.preconditionFailed, methods.basicPublish, 'PRECONDITION_FAILED'),
    );
  });

  test('CC and BCC headers add routing keys; BCC is stripped from the delivered headers', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const to = await exclusiveQueue(ch);
    const cc = await exclusiveQueue(ch);
    const bcc = await exclusiveQueue(ch);
    await publishConfirmed(pub, [
      { exchange: '', routingKey: to, body: 'memo', options: { CC: cc, BCC: [bcc], headers: { keep: 1 } } },
    ]);
    for (const queue of [to, cc, bcc]) {
      const message = await ch.get(queue, { noAck: true });
      assert.ok(message, queue);
      assert.equal(message.content.toString(), 'memo');
      assert.deepEqual(message.properties.headers, { CC: [cc], keep: 1 });
    }
  });
});

describe('BCC removal keeps every other byte', () => {
  test('a message with BCC arrives with its other properties and headers byte for byte as sent (field types kept)', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const copy = await exclusiveQueue(ch);
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'plain', options: everyProperty }]);
    assert.ok(await ch.get(queue, { noAck: true }));
    const plain = client.receivedHeaders().at(-1);
    const withBcc = { ...everyProperty, headers: { ...everyProperty.headers, BCC: [copy] } };
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'plain', options: withBcc }]);
    for (const target of [queue, copy]) {
      assert.ok(await ch.get(target, { noAck: true }), target);
      const received = client.receivedHeaders().at(-1);
      assert.ok(plain && received);
      assert.ok(received.payload.equals(plain.payload), `${target}: the content header is the one sent, less the BCC entry`);
    }
  });
});

describe('content round trip', () => {
  test('every basic property and every field-table type arrives unchanged, byte for byte', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'props', options: everyProperty }]);
    const sentHeader = client.sentHeaders().at(-1);
    const message = await ch.get(queue, { noAck: true });
    assert.ok(message);
    const receivedHeader = client.receivedHeaders().at(-1);
    assert.ok(sentHeader && receivedHeader);
    assert.ok(receivedHeader.payload.equals(sentHeader.payload), 'the content header frame payload is unchanged');
    const { headers, ...rest } = message.properties;
    const { headers: _sentHeaders, ...expectedRest } = everyProperty;
    for (const [key, value] of Object.entries(expectedRest)) {
      assert.deepEqual((rest as Record<string, unknown>)[key], value, key);
    }
    assert.deepEqual(headers, everyHeaderTypeDecoded);
  });

  test('properties survive routing through a headers exchange and a consumer delivery unchanged', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const exchange = uniqueName('headers');
    await ch.assertExchange(exchange, 'headers', { durable: false, autoDelete: true });
    await ch.bindQueue(queue, exchange, '', { 'x-match': 'all', int32: -70000, longstr: 'text ✓' });
    const consumer = await collect(ch, queue, { noAck: true });
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange, routingKey: 'k', body: 'routed', options: everyProperty }]);
    await consumer.waitForCount(1);
    const sentHeader = client.sentHeaders().at(-1);
    const receivedHeader = client.receivedHeaders().at(-1);
    assert.ok(sentHeader && receivedHeader);
    assert.ok(receivedHeader.payload.equals(sentHeader.payload), 'the content header frame payload is unchanged');
    assert.deepEqual(consumer.messages[0]?.properties.headers, everyHeaderTypeDecoded);
  });

  test('a message with no properties at all arrives with none', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'bare' }]);
    const message = await ch.get(queue, { noAck: true });
    assert.ok(message);
    assert.equal(message.properties.contentType, undefined);
    assert.equal(message.properties.deliveryMode, undefined);
    assert.equal(message.properties.messageId, undefined);
  });

  test('an empty body is delivered as a content header with body size 0 and no body frame', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: Buffer.alloc(0), options: { messageId: 'empty' } }]);
    const before = client.received.frames.length;
    const message = await ch.get(queue, { noAck: true });
    assert.ok(message);
    assert.equal(message.content.length, 0);
    assert.equal(message.properties.messageId, 'empty');
    const frames = client.received.frames.slice(before);
    assert.deepEqual(
      frames.map((frame) => frame.type),
      [1, 2],
      'get-ok then a content header, no body frame',
    );
    assert.equal(frames[1]?.payload.readBigUInt64BE(4), 0n);
  });

  for (const [label, size, frameMax] of [
    ['1 MiB with the default frame size', 1024 * 1024, undefined],
    ['5 MiB with the default frame size', 5 * 1024 * 1024, undefined],
    ['1 MiB with frame_max 4096 (257 frames)', 1024 * 1024, 4096],
    ['exactly one full frame (frame_max - 8 bytes)', 4096 - 8, 4096],
    ['one byte more than a full frame', 4096 - 7, 4096],
  ] as const) {
    test(`a large body arrives intact: ${label}`, async (t) => {
      const url = frameMax === undefined ? broker.url : `${broker.url}?frameMax=${frameMax}`;
      const client = await AmqpClient.open(url);
      t.after(() => client.close());
      const ch = await client.channel();
      const pub = await client.confirmChannel();
      const queue = await exclusiveQueue(ch);
      const body = randomBytes(size);
      await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body }]);
      const consumer = await collect(ch, queue, { noAck: true });
      const [message] = await consumer.waitForCount(1, 10000);
      assert.ok(message);
      assert.equal(message.content.length, size);
      assert.equal(
        createHash('sha256').update(message.content).digest('hex'),
        createHash('sha256').update(body).digest('hex'),
      );
      if (frameMax !== undefined) {
        const bodyFrames = client.received.frames.filter((frame) => frame.type === 3);
        assert.ok(bodyFrames.length >= Math.ceil(size / (frameMax - 8)));
        for (const frame of bodyFrames) assert.ok(frame.size <= frameMax - 8, `body frame of ${frame.size} bytes`);
      }
    });
  }
});

describe('channels', () => {
  test('many channels on one connection work independently', async (t) => {
    const client = await openClient(t, broker.url);
    const channels = await Promise.all(Array.from({ length: 50 }, () => client.channel()));
    const queues = await Promise.all(channels.map((ch) => exclusiveQueue(ch)));
    const pub = await client.confirmChannel();
    await publishConfirmed(
      pub,
      queues.map((queue, i) => ({ exchange: '', routingKey: queue, body: `for-${i}` })),
    );
    const got = await Promise.all(channels.map((ch, i) => ch.get(queues[i] ?? '', { noAck: true })));
    assert.deepEqual(
      got.map((message) => (message === false ? null : message.content.toString())),
      queues.map((_, i) => `for-${i}`),
    );
  });

  test('a channel error closes only that channel; siblings keep publishing and consuming', async (t) => {
    const client = await openClient(t, broker.url);
    const healthy = await client.channel();
    const doomed = await client.channel();
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(healthy);
    const consumer = await collect(healthy, queue, { noAck: true });
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'before' }]);
    await expectChannelClose(
      doomed,
      () => doomed.checkQueue(uniqueName('missing')),
      fault(replyCodes.notFound, methods.queueDeclare, 'NOT_FOUND'),
    );
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'after' }]);
    await consumer.waitForCount(2);
    assert.ok(isChannelOpen(healthy));
    assert.ok(client.isOpen);
    // A fresh channel (amqplib reuses the freed channel number) works too.
    const fresh = await client.channel();
    await fresh.checkQueue(queue);
  });

  test('closing a channel with a consumer stops deliveries to it but not to consumers on other channels', async (t) => {
    const client = await openClient(t, broker.url);
    const keep = await client.channel();
    const close = await client.channel();
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(keep);
    const kept = await collect(keep, queue, { noAck: true });
    await collect(close, queue, { noAck: true });
    await close.close();
    await publishConfirmed(pub, [1, 2, 3].map((n) => ({ exchange: '', routingKey: queue, body: `m${n}` })));
    await kept.waitForCount(3);
  });
});

describe('channel.flow', () => {
  test('flow active=true is answered with flow-ok active=true', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const ok = await rawRpc(ch, methods.channelFlow, { active: true }, [20, 21]);
    assert.equal(ok['active'], true);
  });

  test('flow active=false is a connection error 540 NOT_IMPLEMENTED (channel.flow)', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    await expectConnectionClose(
      client,
      () => rawRpc(ch, methods.channelFlow, { active: false }, [20, 21]),
      fault(replyCodes.notImplemented, methods.channelFlow, 'NOT_IMPLEMENTED'),
    );
    await withTimeout(client.closed, 1000, 'the socket to close');
  });
});
