/**
 * Many channels on one connection, content interleaved across channels, and channel.flow, checked
 * against RabbitMQ 3.10. RabbitMQ answers channel.flow{active=true} with flow-ok{active=true} and
 * refuses channel.flow{active=false} from a client with connection.close 540 NOT_IMPLEMENTED
 * (class 20, method 20).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  FRAME_BODY,
  FRAME_HEADER,
  RawAmqpClient,
  Writer,
  basicPublishArgs,
  bodyFrame,
  closeArgs,
  headerFrame,
  methodFrame,
  queueDeclareArgs,
} from '../helpers/raw-amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** basic.get with no-ack on `queue`; returns the body, or undefined on get-empty. */
async function basicGet(client: RawAmqpClient, channel: number, queue: string): Promise<string | undefined> {
  client.sendMethod(channel, 60, 70, new Writer().short(0).shortstr(queue).bits(true).toBuffer());
  const reply = await client.readMethod();
  assert.equal(reply.channel, channel);
  if (reply.classId === 60 && reply.methodId === 72) return undefined;
  assert.deepEqual([reply.classId, reply.methodId], [60, 71]);
  const header = await client.readNonHeartbeatFrame();
  assert.equal(header.type, FRAME_HEADER);
  const bodySize = Number(header.payload.readBigUInt64BE(4));
  const parts: Buffer[] = [];
  let received = 0;
  while (received < bodySize) {
    const body = await client.readNonHeartbeatFrame();
    assert.equal(body.type, FRAME_BODY);
    assert.equal(body.channel, channel);
    parts.push(body.payload);
    received += body.payload.length;
  }
  return Buffer.concat(parts).toString();
}

describe('channels', { concurrency: true }, () => {
  test('200 channels opened in one burst each answer in order and work', { timeout: 20_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      const count = 200;
      const burst: Buffer[] = [];
      for (let channel = 1; channel <= count; channel += 1) {
        burst.push(methodFrame(channel, 20, 10, new Writer().shortstr('').toBuffer()));
        burst.push(methodFrame(channel, 50, 10, queueDeclareArgs('', { exclusive: true })));
      }
      client.write(Buffer.concat(burst));
      const declareOks = new Map<number, number>();
      for (let i = 0; i < 2 * count; i += 1) {
        const method = await client.readMethod();
        if (method.classId === 20) {
          assert.equal(method.methodId, 11);
          assert.ok(!declareOks.has(method.channel), `open-ok after declare-ok on ${method.channel}`);
        } else {
          assert.deepEqual([method.classId, method.methodId], [50, 11]);
          declareOks.set(method.channel, (declareOks.get(method.channel) ?? 0) + 1);
        }
      }
      assert.equal(declareOks.size, count);
      const closes: Buffer[] = [];
      for (let channel = 1; channel <= count; channel += 1) closes.push(methodFrame(channel, 20, 40, closeArgs()));
      client.write(Buffer.concat(closes));
      for (let i = 0; i < count; i += 1) await client.expectMethod(20, 41);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('content on different channels may interleave', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      await client.openChannel(2);
      client.sendMethod(1, 50, 10, queueDeclareArgs('', { exclusive: true }));
      const queue = (await client.expectMethod(50, 11)).args.shortstr();
      client.write(methodFrame(1, 60, 40, basicPublishArgs('', queue)));
      client.write(methodFrame(2, 60, 40, basicPublishArgs('', queue)));
      client.write(headerFrame(2, 60, 6));
      client.write(headerFrame(1, 60, 6));
      client.write(bodyFrame(1, Buffer.from('one-')));
      client.write(bodyFrame(2, Buffer.from('two-')));
      client.write(bodyFrame(2, Buffer.from('22')));
      client.write(bodyFrame(1, Buffer.from('11')));
      const bodies = new Set<string | undefined>();
      const deadline = Date.now() + 5000;
      while (bodies.size < 2 && Date.now() < deadline) {
        const body = await basicGet(client, 1, queue);
        if (body === undefined) await new Promise((resolve) => setTimeout(resolve, 20));
        else bodies.add(body);
      }
      assert.deepEqual([...bodies].sort(), ['one-11', 'two-22']);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('amqplib: 100 channels publish and consume concurrently', { timeout: 20_000 }, async () => {
    const connection = await amqplib.connect(broker.url);
    try {
      const channels = await Promise.all(Array.from({ length: 100 }, () => connection.createChannel()));
      await Promise.all(
        channels.map(async (channel, index) => {
          const { queue } = await channel.assertQueue('', { exclusive: true });
          const received = new Promise<string>((resolve) => {
            void channel.consume(
              queue,
              (message) => {
                if (message !== null) resolve(message.content.toString());
              },
              { noAck: true },
            );
          });
          channel.sendToQueue(queue, Buffer.from(`message ${index}`));
          assert.equal(await received, `message ${index}`);
          await channel.close();
        }),
      );
    } finally {
      await connection.close();
    }
  });
});

describe('channel.flow', { concurrency: true }, () => {
  test('channel.flow active=true gets flow-ok active=true', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      client.sendMethod(1, 20, 20, new Writer().bits(true).toBuffer());
      const flowOk = await client.expectMethod(20, 21);
      assert.equal(flowOk.channel, 1);
      assert.equal(flowOk.args.octet() & 1, 1);
      client.sendMethod(1, 50, 10, queueDeclareArgs('', { exclusive: true }));
      await client.expectMethod(50, 11);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('channel.flow active=false from a client gets 540 NOT_IMPLEMENTED', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      client.sendMethod(1, 20, 20, new Writer().bits(false).toBuffer());
      const close = await client.expectConnectionClose();
      assert.equal(close.replyCode, 540);
      assert.match(close.replyText, /^NOT_IMPLEMENTED/);
      assert.deepEqual([close.classId, close.methodId], [20, 20]);
      client.sendConnectionCloseOk();
      await client.expectClosedWithoutFrames(5000);
    } finally {
      client.destroy();
    }
  });
});
