/**
 * connection.close and channel.close in both directions, checked against RabbitMQ 3.10.
 *
 * What RabbitMQ does and these tests encode:
 * - client connection.close: the server answers close-ok (no channel.close frames for open channels);
 * - server connection.close (after a connection error): the server ignores everything but
 *   connection.close / connection.close-ok on channel 0 until close-ok arrives, then closes the
 *   socket at once; a client connection.close crossing it is answered with close-ok; a client
 *   that never answers is dropped after the heartbeat interval (or 30 s with heartbeats off);
 * - client channel.close: channel.close-ok, after which the channel number may be opened again
 *   (a method on it before that is a 504 connection error, as for a never-opened channel);
 * - server channel.close: well-formed methods (with their content) on that channel are ignored
 *   until the client's channel.close-ok; a client channel.close crossing it gets channel.close-ok;
 *   channel.open there before close-ok is a 504 connection error (class 20, method 10);
 * - node shutdown: connection.close 320 CONNECTION_FORCED (class 0, method 0) to every client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
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

function openArgs(): Buffer {
  return new Writer().shortstr('').toBuffer();
}

/** Makes the server close the connection with 504 by using a channel that was never opened. */
async function provokeConnectionClose(client: RawAmqpClient): Promise<void> {
  client.sendMethod(9, 50, 10, queueDeclareArgs('warren-never-declared'));
  const close = await client.expectConnectionClose();
  assert.equal(close.replyCode, 504);
}

/** Makes the server close channel `channel` with 404 NOT_FOUND (passive declare of a missing queue). */
async function provokeChannelClose(client: RawAmqpClient, channel: number): Promise<void> {
  client.sendMethod(channel, 50, 10, queueDeclareArgs(`warren-missing-${process.pid}-${Date.now()}`, { passive: true }));
  const close = await client.expectChannelClose(channel);
  assert.equal(close.replyCode, 404);
  assert.match(close.replyText, /^NOT_FOUND/);
  assert.deepEqual([close.classId, close.methodId], [50, 10]);
}

/** Declares an exclusive server-named queue on `channel` to show the channel works. */
async function assertChannelWorks(client: RawAmqpClient, channel: number): Promise<void> {
  client.sendMethod(channel, 50, 10, queueDeclareArgs('', { exclusive: true }));
  const declareOk = await client.expectMethod(50, 11);
  assert.equal(declareOk.channel, channel);
}

describe('connection.close', { concurrency: true }, () => {
  test('client close gets close-ok, with channels open', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      await client.openChannel(2);
      client.sendMethod(0, 10, 50, closeArgs(200, 'Goodbye', 0, 0));
      const closeOk = await client.expectMethod(10, 51);
      assert.equal(closeOk.channel, 0);
    } finally {
      client.destroy();
    }
  });

  test('amqplib connection.close completes', { timeout: 10_000 }, async () => {
    const connection = await amqplib.connect(broker.url);
    await connection.createChannel();
    await connection.close();
  });

  test('after a server close, close-ok makes the server close the socket', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await provokeConnectionClose(client);
      client.sendConnectionCloseOk();
      const waited = await client.expectClosedWithoutFrames(5000);
      assert.ok(waited < 2000, `socket closed ${waited} ms after close-ok`);
    } finally {
      client.destroy();
    }
  });

  test('after a server close, everything but close/close-ok is ignored', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      await provokeConnectionClose(client);
      client.sendMethod(1, 50, 10, queueDeclareArgs('', { exclusive: true }));
      client.sendMethod(2, 20, 10, openArgs());
      client.sendMethod(0, 10, 40, new Writer().shortstr('/').shortstr('').bits(false).toBuffer());
      client.write(methodFrame(1, 60, 40, basicPublishArgs('', 'x')));
      client.write(headerFrame(1, 60, 1));
      client.write(bodyFrame(1, Buffer.from('x')));
      await client.expectNothing(500);
      client.sendConnectionCloseOk();
      await client.expectClosedWithoutFrames(5000);
    } finally {
      client.destroy();
    }
  });

  test('a client close crossing the server close is answered with close-ok', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await provokeConnectionClose(client);
      client.sendMethod(0, 10, 50, closeArgs(200, 'crossing', 0, 0));
      await client.expectMethod(10, 51);
    } finally {
      client.destroy();
    }
  });

  test('a client that never sends close-ok is dropped after the heartbeat interval', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { heartbeat: 1 }, broker.host);
    try {
      await provokeConnectionClose(client);
      await client.expectClosedWithoutFrames(5000);
    } finally {
      client.destroy();
    }
  });
});

describe('channel.close', { concurrency: true }, () => {
  test('client channel.close gets close-ok and the number can be reused', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      client.sendMethod(1, 20, 40, closeArgs(200, 'done', 0, 0));
      const closeOk = await client.expectMethod(20, 41);
      assert.equal(closeOk.channel, 1);
      await client.openChannel(1);
      await assertChannelWorks(client, 1);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('a method on a channel the client closed is a 504 connection error', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      client.sendMethod(1, 20, 40, closeArgs());
      await client.expectMethod(20, 41);
      client.sendMethod(1, 50, 10, queueDeclareArgs('', { exclusive: true }));
      const close = await client.expectConnectionClose();
      assert.equal(close.replyCode, 504);
      assert.match(close.replyText, /^CHANNEL_ERROR/);
      assert.deepEqual([close.classId, close.methodId], [50, 10]);
    } finally {
      client.destroy();
    }
  });

  test('after a server channel.close, methods on that channel are ignored until close-ok', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      await client.openChannel(2);
      await provokeChannelClose(client, 1);
      client.sendMethod(1, 50, 10, queueDeclareArgs('', { exclusive: true }));
      client.write(methodFrame(1, 60, 40, basicPublishArgs('', 'x')));
      client.write(headerFrame(1, 60, 3));
      client.write(bodyFrame(1, Buffer.from('abc')));
      client.sendMethod(1, 60, 10, new Writer().long(0).short(5).bits(false).toBuffer()); // basic.qos
      client.sendMethod(1, 20, 20, new Writer().bits(true).toBuffer()); // channel.flow
      await client.expectNothing(500);
      await assertChannelWorks(client, 2);
      client.sendMethod(1, 20, 41);
      await client.openChannel(1);
      await assertChannelWorks(client, 1);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('a client channel.close crossing the server channel.close gets close-ok', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      await provokeChannelClose(client, 1);
      client.sendMethod(1, 20, 40, closeArgs());
      const closeOk = await client.expectMethod(20, 41);
      assert.equal(closeOk.channel, 1);
      client.sendMethod(1, 20, 41);
      await client.openChannel(1);
      await assertChannelWorks(client, 1);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('channel.open on a server-closed channel before close-ok is a 504 connection error', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      await provokeChannelClose(client, 1);
      client.sendMethod(1, 20, 10, openArgs());
      const close = await client.expectConnectionClose();
      assert.equal(close.replyCode, 504);
      assert.deepEqual([close.classId, close.methodId], [20, 10]);
    } finally {
      client.destroy();
    }
  });

  test('amqplib: a channel error closes only that channel', { timeout: 10_000 }, async () => {
    const connection = await amqplib.connect(broker.url);
    try {
      const healthy = await connection.createChannel();
      const doomed = await connection.createChannel();
      doomed.on('error', () => {});
      await assert.rejects(doomed.checkQueue(`warren-missing-${process.pid}-${Date.now()}`), /404/);
      const { queue } = await healthy.assertQueue('', { exclusive: true });
      healthy.sendToQueue(queue, Buffer.from('still here'));
      const again = await connection.createChannel();
      const deadline = Date.now() + 5000;
      let message: amqplib.GetMessage | false = false;
      while (message === false && Date.now() < deadline) {
        message = await again.get(queue, { noAck: true });
        if (message === false) await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(message !== false);
      assert.equal(message.content.toString(), 'still here');
    } finally {
      await connection.close();
    }
  });
});

describe('node shutdown', () => {
  const external = (process.env['WARREN_TEST_URL'] ?? '') !== '';
  test(
    'closing the node sends connection.close 320 CONNECTION_FORCED',
    { skip: external && 'cannot stop an external broker', timeout: 15_000 },
    async () => {
      const node = await startTestBroker();
      const raw = await RawAmqpClient.open(node.port, {}, node.host);
      await raw.openChannel(1);
      const connection = await amqplib.connect(node.url);
      const closeError = new Promise<unknown>((resolve) => connection.on('close', resolve));
      connection.on('error', () => {});
      const closing = node.close();
      try {
        const close = await raw.expectConnectionClose();
        assert.equal(close.replyCode, 320);
        assert.match(close.replyText, /^CONNECTION_FORCED/);
        assert.deepEqual([close.classId, close.methodId], [0, 0]);
        raw.sendConnectionCloseOk();
        const error = (await closeError) as { code?: number } | undefined;
        assert.equal(error?.code, 320);
        await closing;
      } finally {
        raw.destroy();
      }
    },
  );
});
