/**
 * The handshake timeout, checked against RabbitMQ 3.10 (handshake_timeout, in ms).
 *
 * What RabbitMQ does and these tests encode: the timer starts when the socket is accepted; a
 * connection that has not completed connection.open (open-ok sent) when it fires is dropped by
 * closing the socket WITHOUT a connection.close frame, whatever handshake step it was at (nothing
 * sent, part of the header, header only, after start-ok, after tune-ok). Once open, the timer no
 * longer matters.
 *
 * In-process Warren runs with limits.handshakeTimeoutMs = 1000. An external broker must say its
 * timeout in WARREN_TEST_HANDSHAKE_TIMEOUT_MS (test/interop/rabbitmq-node.sh configures 2000).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { RawAmqpClient } from '../helpers/raw-amqp.js';

const external = (process.env['WARREN_TEST_URL'] ?? '') !== '';
const handshakeTimeoutMs = external ? Number(process.env['WARREN_TEST_HANDSHAKE_TIMEOUT_MS']) : 1000;
const skip =
  external && !(handshakeTimeoutMs > 0) && 'set WARREN_TEST_HANDSHAKE_TIMEOUT_MS to the external broker handshake timeout';

let broker: TestBroker;

before(async () => {
  if (skip !== false) return;
  broker = await startTestBroker({ limits: { handshakeTimeoutMs } });
});

after(async () => {
  await broker?.close();
});

type Step = (client: RawAmqpClient) => Promise<void>;

const STEPS: Array<[string, Step]> = [
  ['a socket that sends nothing', async () => {}],
  ['a socket that sends part of the header', async (client) => client.write(Buffer.from('AMQ', 'latin1'))],
  [
    'a socket that stops after the header',
    async (client) => {
      client.sendProtocolHeader();
      await client.readConnectionStart();
    },
  ],
  [
    'a socket that stops after start-ok',
    async (client) => {
      client.sendProtocolHeader();
      await client.readConnectionStart();
      client.sendStartOk();
      await client.readTune();
    },
  ],
  [
    'a socket that stops after tune-ok',
    async (client) => {
      client.sendProtocolHeader();
      await client.readConnectionStart();
      client.sendStartOk();
      const tune = await client.readTune();
      client.sendTuneOk({ ...tune, heartbeat: 0 });
    },
  ],
  [
    'a socket that stops after tune-ok with heartbeats on',
    async (client) => {
      client.sendProtocolHeader();
      await client.readConnectionStart();
      client.sendStartOk();
      const tune = await client.readTune();
      client.sendTuneOk({ ...tune, heartbeat: 1 });
    },
  ],
];

describe('handshake timeout', { concurrency: true }, () => {
  for (const [name, step] of STEPS) {
    test(`${name} is closed without a frame after the handshake timeout`, { skip, timeout: 20_000 }, async () => {
      const connectedAt = Date.now();
      const client = await RawAmqpClient.connect(broker.port, broker.host);
      try {
        await step(client);
        await client.expectClosedWithoutFrames(handshakeTimeoutMs + 5000);
        const closedAfter = Date.now() - connectedAt;
        assert.ok(closedAfter >= handshakeTimeoutMs - 250, `closed after ${closedAfter} ms`);
        assert.ok(closedAfter <= handshakeTimeoutMs + 2000, `closed after ${closedAfter} ms`);
      } finally {
        client.destroy();
      }
    });
  }

  test('an opened connection outlives the handshake timeout', { skip, timeout: 20_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { heartbeat: 0 }, broker.host);
    try {
      await client.expectNothing(handshakeTimeoutMs + 1000);
      await client.openChannel(1);
      await client.close();
    } finally {
      client.destroy();
    }
  });
});
