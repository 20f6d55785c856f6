/**
 * connection.tune negotiation and the limits it sets, checked against RabbitMQ 3.10.
 *
 * What RabbitMQ does and these tests encode:
 * - it proposes channel_max 2047, frame_max 131072, heartbeat 60;
 * - tune-ok may lower channel_max and frame_max (to >= 4096) and pick any heartbeat;
 * - tune-ok with frame_max < 4096, frame_max 0 or above the proposal, channel_max 0 or above the
 *   proposal fails the handshake: RabbitMQ 3.10 closes the socket without a frame (after 3 s),
 *   RabbitMQ 4.x sends connection.close 530 NOT_ALLOWED for connection.tune (class 10, method 30);
 *   either is accepted here and connection.open-ok never comes;
 * - a frame whose payload is larger than the negotiated frame_max gets connection.close 501
 *   FRAME_ERROR (class 0, method 0) as soon as its 7-byte header arrives. RabbitMQ tolerates
 *   payloads up to frame_max itself (8 bytes over the spec's limit) because many clients are
 *   off by the frame overhead;
 * - channel_max limits how many channels are open at once, not the channel number: opening one
 *   more than channel_max gets connection.close 530 NOT_ALLOWED (class 0, method 0), while channel
 *   numbers above channel_max are accepted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  RawAmqpClient,
  Writer,
  basicPublishArgs,
  bodyFrame,
  SocketClosedError,
  closeArgs,
  decodeClose,
  decodeMethod,
  describeFrame,
  headerFrame,
  methodFrame,
} from '../helpers/raw-amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** Publishes one message whose single body frame has `bodySize` bytes of payload. */
function publishWithBodyFrame(client: RawAmqpClient, channel: number, bodySize: number): void {
  client.write(methodFrame(channel, 60, 40, basicPublishArgs('', 'warren-no-such-queue')));
  client.write(headerFrame(channel, 60, bodySize));
  client.write(bodyFrame(channel, Buffer.alloc(bodySize, 0x61)));
}

describe('connection.tune', { concurrency: true }, () => {
  test('the server proposes channel_max 2047, frame_max 131072, heartbeat 60', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.connect(broker.port, broker.host);
    try {
      const { tune } = await client.handshake();
      assert.deepEqual(tune, { channelMax: 2047, frameMax: 131072, heartbeat: 60 });
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('the client may lower channel_max and frame_max and pick its heartbeat', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { channelMax: 10, frameMax: 4096, heartbeat: 30 }, broker.host);
    try {
      await client.openChannel(1);
      publishWithBodyFrame(client, 1, 4096 - 8);
      await client.openChannel(2);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  for (const [name, values] of [
    ['frame_max 4095 (below the 4096 minimum)', { channelMax: 2047, frameMax: 4095 }],
    ['frame_max 0 (unlimited)', { channelMax: 2047, frameMax: 0 }],
    ['frame_max above the proposal', { channelMax: 2047, frameMax: 131073 }],
    ['channel_max 0 (unlimited)', { channelMax: 0, frameMax: 131072 }],
    ['channel_max above the proposal', { channelMax: 2048, frameMax: 131072 }],
  ] as Array<[string, { channelMax: number; frameMax: number }]>) {
    test(`tune-ok with ${name} fails the handshake`, { timeout: 10_000 }, async () => {
      const client = await RawAmqpClient.connect(broker.port, broker.host);
      try {
        client.sendProtocolHeader();
        await client.readConnectionStart();
        client.sendStartOk();
        await client.readTune();
        client.sendTuneOk({ ...values, heartbeat: 0 });
        client.sendConnectionOpen('/');
        const frame = await client.readNonHeartbeatFrame(5000).catch((error: unknown) => {
          if (error instanceof SocketClosedError) return undefined; // RabbitMQ 3.10: silent close
          throw error;
        });
        if (frame === undefined) return;
        // RabbitMQ 4.x: connection.close 530 NOT_ALLOWED for connection.tune.
        const method = decodeMethod(frame);
        assert.deepEqual([method.channel, method.classId, method.methodId], [0, 10, 50], describeFrame(frame));
        const close = decodeClose(method);
        assert.equal(close.replyCode, 530);
        assert.deepEqual([close.classId, close.methodId], [10, 30]);
        client.sendConnectionCloseOk();
        await client.expectClosedWithoutFrames(5000);
      } finally {
        client.destroy();
      }
    });
  }

  test('a frame larger than the negotiated frame_max gets 501 FRAME_ERROR', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { frameMax: 4096 }, broker.host);
    try {
      await client.openChannel(1);
      publishWithBodyFrame(client, 1, 4097);
      const close = await client.expectConnectionClose();
      assert.equal(close.replyCode, 501);
      assert.match(close.replyText, /^FRAME_ERROR/);
      assert.equal(close.classId, 0);
      assert.equal(close.methodId, 0);
      client.sendConnectionCloseOk();
      await client.expectClosedWithoutFrames(5000);
    } finally {
      client.destroy();
    }
  });

  test('the frame size check happens on the frame header, before the payload arrives', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      const header = Buffer.alloc(7);
      header.writeUInt8(3, 0);
      header.writeUInt16BE(1, 1);
      header.writeUInt32BE(131073, 3);
      client.write(header);
      assert.equal((await client.expectConnectionClose()).replyCode, 501);
    } finally {
      client.destroy();
    }
  });

  test('payloads up to frame_max itself are tolerated (RabbitMQ allows the 8-byte overhead)', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { frameMax: 4096 }, broker.host);
    try {
      await client.openChannel(1);
      publishWithBodyFrame(client, 1, 4096 - 8);
      publishWithBodyFrame(client, 1, 4096);
      await client.openChannel(2);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('the default frame_max allows a 131072-byte payload and refuses 131073', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      publishWithBodyFrame(client, 1, 131072 - 8);
      publishWithBodyFrame(client, 1, 131072);
      await client.openChannel(2);
      publishWithBodyFrame(client, 1, 131073);
      assert.equal((await client.expectConnectionClose()).replyCode, 501);
    } finally {
      client.destroy();
    }
  });
});

describe('channel_max', { concurrency: true }, () => {
  test('opening more channels than the negotiated channel_max gets 530 NOT_ALLOWED', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { channelMax: 2 }, broker.host);
    try {
      await client.openChannel(1);
      await client.openChannel(7);
      client.sendMethod(3, 20, 10, new Writer().shortstr('').toBuffer());
      const close = await client.expectConnectionClose();
      assert.equal(close.replyCode, 530);
      assert.match(close.replyText, /^NOT_ALLOWED/);
      assert.equal(close.classId, 0);
      assert.equal(close.methodId, 0);
      client.sendConnectionCloseOk();
      await client.expectClosedWithoutFrames(5000);
    } finally {
      client.destroy();
    }
  });

  test('a closed channel frees its slot under channel_max', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { channelMax: 2 }, broker.host);
    try {
      await client.openChannel(1);
      await client.openChannel(2);
      client.sendMethod(2, 20, 40, closeArgs());
      await client.expectMethod(20, 41);
      await client.openChannel(3);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('channel numbers above channel_max are accepted (RabbitMQ counts channels, not numbers)', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { channelMax: 10 }, broker.host);
    try {
      await client.openChannel(11);
      await client.openChannel(2048);
      await client.openChannel(65535);
      await client.close();
    } finally {
      client.destroy();
    }
  });
});
