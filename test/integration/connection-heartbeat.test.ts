/**
 * Heartbeats with a 1 s interval negotiated by the client in tune-ok, checked against RabbitMQ 3.10.
 *
 * What RabbitMQ does and these tests encode:
 * - it sends an empty heartbeat frame on channel 0 every interval/2 while it has nothing else to send;
 * - a peer it hears nothing from is dropped after about 2-3 intervals (3.0 s for 1 s in RabbitMQ:
 *   two whole missed check periods), by closing the socket WITHOUT a connection.close frame;
 * - a peer that sends heartbeats (or anything else) stays connected;
 * - heartbeat 0 in tune-ok disables heartbeats in both directions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { FRAME_HEARTBEAT, RawAmqpClient, SocketClosedError, describeFrame, heartbeatFrame } from '../helpers/raw-amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

describe('heartbeats', { concurrency: true }, () => {
  test('the server sends heartbeats and drops a silent peer without connection.close', { timeout: 15_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { heartbeat: 1 }, broker.host);
    const openedAt = Date.now();
    const heartbeatTimes: number[] = [];
    try {
      for (;;) {
        let frame;
        try {
          frame = await client.readFrame(8000);
        } catch (error) {
          if (error instanceof SocketClosedError) break;
          throw error;
        }
        assert.equal(frame.type, FRAME_HEARTBEAT, `unexpected ${describeFrame(frame)}`);
        assert.equal(frame.channel, 0);
        assert.equal(frame.payload.length, 0);
        heartbeatTimes.push(Date.now() - openedAt);
      }
      const closedAfter = Date.now() - openedAt;
      assert.ok(closedAfter >= 1500, `dropped too early: ${closedAfter} ms`);
      assert.ok(closedAfter <= 5000, `dropped too late: ${closedAfter} ms`);
      assert.ok(heartbeatTimes.length >= 2, `heartbeats at ${heartbeatTimes.join(', ')} ms`);
      const firstHeartbeat = heartbeatTimes[0] ?? Infinity;
      assert.ok(firstHeartbeat <= 1200, `first heartbeat after ${firstHeartbeat} ms`);
    } finally {
      client.destroy();
    }
  });

  test('a peer that sends heartbeats stays connected', { timeout: 15_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { heartbeat: 1 }, broker.host);
    const timer = setInterval(() => client.write(heartbeatFrame()), 400);
    try {
      await client.expectNothing(4500);
      assert.ok(client.heartbeatsReceived >= 4, `received ${client.heartbeatsReceived} heartbeats`);
      await client.openChannel(1);
      await client.close();
    } finally {
      clearInterval(timer);
      client.destroy();
    }
  });

  test('any traffic counts as a sign of life', { timeout: 15_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { heartbeat: 1 }, broker.host);
    try {
      for (let channel = 1; channel <= 9; channel += 1) {
        await new Promise((resolve) => setTimeout(resolve, 450));
        await client.openChannel(channel);
      }
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('heartbeat 0 disables heartbeats', { timeout: 15_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { heartbeat: 0 }, broker.host);
    try {
      await client.expectNothing(3500);
      assert.equal(client.heartbeatsReceived, 0);
      await client.openChannel(1);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('amqplib with a 1 s heartbeat stays connected on an idle connection', { timeout: 15_000 }, async () => {
    const connection = await amqplib.connect(`${broker.url}?heartbeat=1`);
    let closed: unknown = undefined;
    connection.on('close', (error: unknown) => {
      closed = error ?? 'closed';
    });
    connection.on('error', () => {});
    try {
      await new Promise((resolve) => setTimeout(resolve, 4000));
      assert.equal(closed, undefined);
      const channel = await connection.createChannel();
      await channel.checkQueue((await channel.assertQueue('', { exclusive: true })).queue);
      await channel.close();
    } finally {
      await connection.close();
    }
  });
});
