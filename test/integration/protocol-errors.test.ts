/**
 * Bad input after the handshake, checked against RabbitMQ 3.10. Every case closes only the
 * offending connection, with the reply code, class id and method id RabbitMQ uses, while a second,
 * healthy amqplib connection keeps publishing and consuming.
 *
 * Notable RabbitMQ choices these tests encode (see the table in each case):
 * - malformed method arguments are 501 FRAME_ERROR carrying the method's class/method ids (not 502);
 * - frame-level faults (frame too large, bad frame-end, unknown frame type, method payload < 4
 *   bytes, non-empty heartbeat) are 501 with class 0 method 0; after "frame too large" and "bad
 *   frame-end" RabbitMQ stops reading (lost sync) and closes the socket 3 s later, close-ok or not;
 * - content frames where none is expected and heartbeats on a non-zero channel are 505 with
 *   class 0 method 0; a method where content was expected is 505 with the ids of the method
 *   (basic.publish) that started the content;
 * - a method on a channel that is not open is 504 CHANNEL_ERROR with that method's ids;
 * - an unknown class or method id makes RabbitMQ drop the TCP connection without a frame; Warren
 *   may instead send connection.close 540 NOT_IMPLEMENTED (or 503) first, both are accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  RawAmqpClient,
  SocketClosedError,
  Writer,
  basicPublishArgs,
  bodyFrame,
  closeArgs,
  decodeClose,
  decodeMethod,
  describeFrame,
  frame,
  headerFrame,
  heartbeatFrame,
  methodFrame,
  queueDeclareArgs,
} from '../helpers/raw-amqp.js';

const REPLY_NAMES: Record<number, string> = {
  501: 'FRAME_ERROR',
  502: 'SYNTAX_ERROR',
  503: 'COMMAND_INVALID',
  504: 'CHANNEL_ERROR',
  505: 'UNEXPECTED_FRAME',
  530: 'NOT_ALLOWED',
  540: 'NOT_IMPLEMENTED',
};

let broker: TestBroker;
let healthyConnection: amqplib.ChannelModel;
let healthyChannel: amqplib.Channel;
let healthyChecks = 0;

before(async () => {
  broker = await startTestBroker();
  healthyConnection = await amqplib.connect(broker.url);
  healthyChannel = await healthyConnection.createChannel();
});

after(async () => {
  await assertHealthy();
  await healthyConnection.close();
  await broker.close();
});

/** Publishes a message on the healthy connection and consumes it back. */
async function assertHealthy(): Promise<void> {
  healthyChecks += 1;
  const token = `healthy-${process.pid}-${healthyChecks}`;
  const { queue } = await healthyChannel.assertQueue('', { exclusive: true });
  let consumerTag = '';
  const received = new Promise<string>((resolve) => {
    void healthyChannel
      .consume(
        queue,
        (message) => {
          if (message !== null) resolve(message.content.toString());
        },
        { noAck: true },
      )
      .then((reply) => {
        consumerTag = reply.consumerTag;
      });
  });
  healthyChannel.sendToQueue(queue, Buffer.from(token));
  assert.equal(await received, token);
  await healthyChannel.cancel(consumerTag);
  await healthyChannel.deleteQueue(queue);
}

const w = (): Writer => new Writer();
const declare = (channel: number): Buffer => methodFrame(channel, 50, 10, queueDeclareArgs('warren-x', { autoDelete: true }));

interface ConnectionErrorCase {
  name: string;
  /** Bytes sent on a connection that has channel 1 open. */
  bytes: Buffer[];
  replyCode: number;
  classId: number;
  methodId: number;
}

const CASES: ConnectionErrorCase[] = [
  { name: 'garbage bytes', bytes: [Buffer.from('hello world, this is not AMQP at all!!', 'latin1')], replyCode: 501, classId: 0, methodId: 0 },
  {
    name: 'a frame larger than frame_max',
    bytes: [frame(3, 1, Buffer.alloc(131073))],
    replyCode: 501,
    classId: 0,
    methodId: 0,
  },
  { name: 'a bad frame-end octet', bytes: [frame(1, 1, declare(1).subarray(7, -1), 0x00)], replyCode: 501, classId: 0, methodId: 0 },
  { name: 'a bad frame-end octet on a heartbeat', bytes: [frame(8, 0, Buffer.alloc(0), 0xcd)], replyCode: 501, classId: 0, methodId: 0 },
  { name: 'an unknown frame type', bytes: [frame(9, 1, Buffer.alloc(0))], replyCode: 501, classId: 0, methodId: 0 },
  { name: 'an unknown frame type on channel 0', bytes: [frame(4, 0, Buffer.alloc(4))], replyCode: 501, classId: 0, methodId: 0 },
  { name: 'a method frame shorter than its ids', bytes: [frame(1, 1, Buffer.from([0, 50]))], replyCode: 501, classId: 0, methodId: 0 },
  { name: 'a heartbeat frame with a payload', bytes: [frame(8, 0, Buffer.from('x'))], replyCode: 501, classId: 0, methodId: 0 },
  {
    name: 'a shortstr length past the end of the arguments',
    bytes: [methodFrame(1, 50, 10, w().short(0).octet(200).raw(Buffer.from('abc')).toBuffer())],
    replyCode: 501,
    classId: 50,
    methodId: 10,
  },
  { name: 'truncated method arguments', bytes: [methodFrame(1, 50, 10, w().short(0).toBuffer())], replyCode: 501, classId: 50, methodId: 10 },
  {
    name: 'bytes after the last method argument',
    bytes: [methodFrame(1, 50, 10, w().raw(queueDeclareArgs('warren-x', { autoDelete: true })).raw(Buffer.from('xyz')).toBuffer())],
    replyCode: 501,
    classId: 50,
    methodId: 10,
  },
  {
    name: 'an unknown field-table value type',
    bytes: [methodFrame(1, 50, 10, w().short(0).shortstr('q').octet(0).long(6).shortstr('a').octet(0x7a).raw(Buffer.from('zz')).toBuffer())],
    replyCode: 501,
    classId: 50,
    methodId: 10,
  },
  { name: 'a method on a never-opened channel', bytes: [declare(5)], replyCode: 504, classId: 50, methodId: 10 },
  { name: 'channel.close on a never-opened channel', bytes: [methodFrame(5, 20, 40, closeArgs())], replyCode: 504, classId: 20, methodId: 40 },
  { name: 'channel.close-ok on a never-opened channel', bytes: [methodFrame(5, 20, 41)], replyCode: 504, classId: 20, methodId: 41 },
  { name: 'a content header on a never-opened channel', bytes: [headerFrame(5, 60, 3)], replyCode: 505, classId: 0, methodId: 0 },
  { name: 'a content body on a never-opened channel', bytes: [bodyFrame(5, Buffer.from('abc'))], replyCode: 505, classId: 0, methodId: 0 },
  { name: 'a content header when no content is expected', bytes: [headerFrame(1, 60, 3)], replyCode: 505, classId: 0, methodId: 0 },
  { name: 'a content body when no content is expected', bytes: [bodyFrame(1, Buffer.from('abc'))], replyCode: 505, classId: 0, methodId: 0 },
  {
    name: 'a method where a content header is expected',
    bytes: [methodFrame(1, 60, 40, basicPublishArgs('', 'q')), declare(1)],
    replyCode: 505,
    classId: 60,
    methodId: 40,
  },
  {
    name: 'a method where a content body is expected',
    bytes: [methodFrame(1, 60, 40, basicPublishArgs('', 'q')), headerFrame(1, 60, 10), declare(1)],
    replyCode: 505,
    classId: 60,
    methodId: 40,
  },
  {
    name: 'a content header of the wrong class',
    bytes: [methodFrame(1, 60, 40, basicPublishArgs('', 'q')), headerFrame(1, 50, 3)],
    replyCode: 505,
    classId: 60,
    methodId: 40,
  },
  { name: 'a heartbeat on an open non-zero channel', bytes: [heartbeatFrame(1)], replyCode: 505, classId: 0, methodId: 0 },
  { name: 'a heartbeat on a never-opened non-zero channel', bytes: [heartbeatFrame(5)], replyCode: 505, classId: 0, methodId: 0 },
  { name: 'channel.open on an open channel', bytes: [methodFrame(1, 20, 10, w().shortstr('').toBuffer())], replyCode: 504, classId: 20, methodId: 10 },
  { name: 'channel.open on channel 0', bytes: [methodFrame(0, 20, 10, w().shortstr('').toBuffer())], replyCode: 504, classId: 20, methodId: 10 },
  {
    name: 'connection.open on an open connection',
    bytes: [methodFrame(0, 10, 40, w().shortstr('/').shortstr('').bits(false).toBuffer())],
    replyCode: 504,
    classId: 10,
    methodId: 40,
  },
  {
    name: 'connection.tune-ok on an open connection',
    bytes: [methodFrame(0, 10, 31, w().short(2047).long(131072).short(0).toBuffer())],
    replyCode: 504,
    classId: 10,
    methodId: 31,
  },
  { name: 'queue.declare on channel 0', bytes: [declare(0)], replyCode: 504, classId: 50, methodId: 10 },
  { name: 'basic.publish on channel 0', bytes: [methodFrame(0, 60, 40, basicPublishArgs('', 'q'))], replyCode: 504, classId: 60, methodId: 40 },
  { name: 'an unsolicited connection.close-ok', bytes: [methodFrame(0, 10, 51)], replyCode: 504, classId: 10, methodId: 51 },
  { name: 'connection.close on a non-zero channel', bytes: [methodFrame(1, 10, 50, closeArgs())], replyCode: 503, classId: 10, methodId: 50 },
  { name: 'an unsolicited channel.close-ok', bytes: [methodFrame(1, 20, 41)], replyCode: 503, classId: 20, methodId: 41 },
  { name: 'an unsolicited channel.flow-ok', bytes: [methodFrame(1, 20, 21, w().bits(true).toBuffer())], replyCode: 503, classId: 20, methodId: 21 },
];

describe('connection errors leave other connections working', { concurrency: true }, () => {
  for (const c of CASES) {
    const expectedName = REPLY_NAMES[c.replyCode] ?? '';
    test(`${c.name}: connection.close ${c.replyCode} ${expectedName} (${c.classId}, ${c.methodId})`, { timeout: 15_000 }, async () => {
      const client = await RawAmqpClient.open(broker.port, {}, broker.host);
      try {
        await client.openChannel(1);
        for (const bytes of c.bytes) client.write(bytes);
        const close = await client.expectConnectionClose();
        assert.deepEqual(
          { replyCode: close.replyCode, classId: close.classId, methodId: close.methodId },
          { replyCode: c.replyCode, classId: c.classId, methodId: c.methodId },
          close.replyText,
        );
        assert.ok(close.replyText.startsWith(expectedName), close.replyText);
        client.sendConnectionCloseOk();
        await client.expectClosedWithoutFrames(6000);
      } finally {
        client.destroy();
      }
      await assertHealthy();
    });
  }

  for (const [name, bytes] of [
    ['an unknown class id', methodFrame(1, 99, 10)],
    ['an unknown method id', methodFrame(1, 50, 99)],
    ['an unknown method id on channel 0', methodFrame(0, 10, 99)],
  ] as Array<[string, Buffer]>) {
    test(`${name} closes the connection (RabbitMQ: no frame; else 540 or 503)`, { timeout: 15_000 }, async () => {
      const client = await RawAmqpClient.open(broker.port, {}, broker.host);
      try {
        await client.openChannel(1);
        client.write(bytes);
        const reply = await client.readNonHeartbeatFrame(6000).catch((error: unknown) => {
          if (error instanceof SocketClosedError) return undefined;
          throw error;
        });
        if (reply !== undefined) {
          const method = decodeMethod(reply);
          assert.deepEqual([method.channel, method.classId, method.methodId], [0, 10, 50], describeFrame(reply));
          const close = decodeClose(method);
          assert.ok([503, 540].includes(close.replyCode), close.replyText);
          client.sendConnectionCloseOk();
          await client.expectClosedWithoutFrames(6000);
        }
      } finally {
        client.destroy();
      }
      await assertHealthy();
    });
  }

  test('a truncated frame followed by a socket close does not hurt the broker', { timeout: 15_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    await client.openChannel(1);
    client.write(declare(1).subarray(0, 12));
    await new Promise((resolve) => setTimeout(resolve, 50));
    client.destroy();
    const halfHeader = await RawAmqpClient.open(broker.port, {}, broker.host);
    halfHeader.write(Buffer.from([1, 0]));
    halfHeader.socket.end();
    await new Promise((resolve) => setTimeout(resolve, 50));
    halfHeader.destroy();
    const midHandshake = await RawAmqpClient.connect(broker.port, broker.host);
    midHandshake.sendProtocolHeader();
    await midHandshake.readConnectionStart();
    midHandshake.write(methodFrame(0, 10, 11, Buffer.alloc(20)).subarray(0, 15));
    midHandshake.destroy();
    await assertHealthy();
  });

  test('frames fed one byte at a time are understood', { timeout: 15_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      const bytes = Buffer.concat([methodFrame(1, 20, 10, w().shortstr('').toBuffer()), methodFrame(1, 50, 10, queueDeclareArgs('', { exclusive: true }))]);
      for (const byte of bytes) {
        client.write(Buffer.from([byte]));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await client.expectMethod(20, 11);
      await client.expectMethod(50, 11);
      await client.close();
    } finally {
      client.destroy();
    }
  });
});
