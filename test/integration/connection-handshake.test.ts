/**
 * connection.start contents and authentication, checked against RabbitMQ 3.10.
 *
 * What RabbitMQ does and these tests encode:
 * - a refused login (bad password, unknown user) when the client advertises the
 *   authentication_failure_close capability: connection.close 403 ACCESS_REFUSED, class 0 method 0,
 *   then the socket closes (at once on close-ok, RabbitMQ waits at most 3 s without one);
 * - a refused login without that capability, an unknown or malformed mechanism or a malformed
 *   response: no frame at all, the socket just closes (RabbitMQ after a 3 s anti-DoS delay);
 * - connection.open of an unknown vhost, or of a vhost the user has no permissions on:
 *   connection.close 530 NOT_ALLOWED with class 10 method 40 (connection.open).
 *
 * External brokers need the vhost and user that test/interop/rabbitmq-node.sh creates.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { GUEST_USER, type UserConfig } from '../../src/config/config.js';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { type FieldTable, RawAmqpClient, type HandshakeOptions, Writer } from '../helpers/raw-amqp.js';

const TEST_VHOST = 'warren-test-vhost';
const ALICE: UserConfig = {
  username: 'warren-alice',
  password: 'alice-secret',
  tags: [],
  permissions: { [TEST_VHOST]: { configure: '.*', write: '.*', read: '.*' } },
  loopbackOnly: false,
};
/** Modern clients (amqplib, pika, Java) all advertise this; RabbitMQ then reports refused logins. */
const WITH_FAILURE_CLOSE = { product: 'raw', capabilities: { authentication_failure_close: true } };

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker({ vhosts: ['/', TEST_VHOST], users: [GUEST_USER, ALICE] });
});

after(async () => {
  await broker.close();
});

function urlFor(username: string, password: string, vhost: string): string {
  return `amqp://${encodeURIComponent(username)}:${encodeURIComponent(password)}@${broker.host}:${broker.port}/${encodeURIComponent(vhost)}`;
}

/** Runs header, start and start-ok, and returns the client waiting for the server's answer. */
async function startAndLogin(options: HandshakeOptions): Promise<RawAmqpClient> {
  const client = await RawAmqpClient.connect(broker.port, broker.host);
  client.sendProtocolHeader();
  await client.readConnectionStart();
  client.sendStartOk(options);
  return client;
}

/** Logs in, tunes, sends connection.open for `vhost` and returns the client. */
async function loginAndOpen(options: HandshakeOptions, vhost: string): Promise<RawAmqpClient> {
  const client = await startAndLogin(options);
  const tune = await client.readTune();
  client.sendTuneOk({ ...tune, heartbeat: 0 });
  client.sendConnectionOpen(vhost);
  return client;
}

describe('connection.start', () => {
  test('offers 0-9 with RabbitMQ capabilities, PLAIN and AMQPLAIN, en_US', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.connect(broker.port, broker.host);
    try {
      client.sendProtocolHeader();
      const start = await client.readConnectionStart();
      assert.equal(start.versionMajor, 0);
      assert.equal(start.versionMinor, 9);
      const properties = start.serverProperties;
      for (const key of ['product', 'version', 'platform']) {
        assert.equal(typeof properties[key], 'string', `server property ${key}`);
        assert.notEqual(properties[key], '');
      }
      const capabilities = properties['capabilities'] as FieldTable | undefined;
      assert.ok(capabilities !== undefined && typeof capabilities === 'object', 'capabilities table');
      for (const capability of [
        'publisher_confirms',
        'exchange_exchange_bindings',
        'basic.nack',
        'consumer_cancel_notify',
        'connection.blocked',
        'authentication_failure_close',
        'per_consumer_qos',
      ]) {
        assert.equal(capabilities[capability], true, `capability ${capability}`);
      }
      assert.ok(start.mechanisms.includes('PLAIN'), `mechanisms ${start.mechanisms.join(' ')}`);
      assert.ok(start.mechanisms.includes('AMQPLAIN'), `mechanisms ${start.mechanisms.join(' ')}`);
      assert.deepEqual(start.locales, ['en_US']);
    } finally {
      client.destroy();
    }
  });

  test('amqplib sees the same server properties', { timeout: 10_000 }, async () => {
    const connection = await amqplib.connect(broker.url);
    try {
      const properties = connection.connection.serverProperties;
      assert.equal(typeof properties.product, 'string');
      assert.equal(typeof properties.version, 'string');
    } finally {
      await connection.close();
    }
  });
});

describe('authentication', { concurrency: true }, () => {
  test('PLAIN with guest/guest succeeds', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { mechanism: 'PLAIN' }, broker.host);
    await client.openChannel(1);
    await client.close();
  });

  test('AMQPLAIN with guest/guest succeeds', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.open(broker.port, { mechanism: 'AMQPLAIN' }, broker.host);
    await client.openChannel(1);
    await client.close();
  });

  test('amqplib logs in with AMQPLAIN', { timeout: 10_000 }, async () => {
    const connection = await amqplib.connect(broker.url, { credentials: amqplib.credentials.amqplain('guest', 'guest') });
    const channel = await connection.createChannel();
    await channel.close();
    await connection.close();
  });

  for (const [name, options] of [
    ['a bad password (PLAIN)', { password: 'wrong' }],
    ['a bad password (AMQPLAIN)', { mechanism: 'AMQPLAIN', password: 'wrong' }],
    ['an unknown user', { username: 'nobody-here', password: 'x' }],
  ] as Array<[string, HandshakeOptions]>) {
    test(`${name} gets connection.close 403 ACCESS_REFUSED`, { timeout: 10_000 }, async () => {
      const client = await startAndLogin({ ...options, clientProperties: WITH_FAILURE_CLOSE });
      try {
        const close = await client.expectConnectionClose();
        assert.equal(close.replyCode, 403);
        assert.match(close.replyText, /^ACCESS_REFUSED/);
        assert.equal(close.classId, 0);
        assert.equal(close.methodId, 0);
        client.sendConnectionCloseOk();
        await client.expectClosedWithoutFrames(5000);
      } finally {
        client.destroy();
      }
    });
  }

  test('after a 403 the server closes the socket even without close-ok', { timeout: 10_000 }, async () => {
    const client = await startAndLogin({ password: 'wrong', clientProperties: WITH_FAILURE_CLOSE });
    try {
      assert.equal((await client.expectConnectionClose()).replyCode, 403);
      await client.expectClosedWithoutFrames(5000);
    } finally {
      client.destroy();
    }
  });

  test('a bad password without authentication_failure_close closes the socket silently', { timeout: 10_000 }, async () => {
    const client = await startAndLogin({ password: 'wrong', clientProperties: { product: 'old-client' } });
    try {
      await client.expectClosedWithoutFrames(5000);
    } finally {
      client.destroy();
    }
  });

  test('amqplib reports a bad password as 403 ACCESS_REFUSED', { timeout: 10_000 }, async () => {
    await assert.rejects(amqplib.connect(urlFor('guest', 'wrong', '/')), /403|ACCESS.REFUSED/);
  });

  for (const mechanism of ['NO-SUCH-MECHANISM', 'EXTERNAL', 'plain']) {
    test(`mechanism ${mechanism} is refused by closing the socket without a frame`, { timeout: 10_000 }, async () => {
      const client = await startAndLogin({ mechanism, clientProperties: WITH_FAILURE_CLOSE });
      try {
        await client.expectClosedWithoutFrames(5000);
      } finally {
        client.destroy();
      }
    });
  }

  for (const [name, response] of [
    ['no NUL separators', 'guestguest'],
    ['an empty response', ''],
  ]) {
    test(`a PLAIN response with ${name} closes the socket without a frame`, { timeout: 10_000 }, async () => {
      const client = await RawAmqpClient.connect(broker.port, broker.host);
      try {
        client.sendProtocolHeader();
        await client.readConnectionStart();
        const args = new Writer().table(WITH_FAILURE_CLOSE).shortstr('PLAIN').longstr(response ?? '').shortstr('en_US');
        client.sendMethod(0, 10, 11, args.toBuffer());
        await client.expectClosedWithoutFrames(5000);
      } finally {
        client.destroy();
      }
    });
  }
});

describe('connection.open and vhost access', { concurrency: true }, () => {
  for (const [name, options, vhost, text] of [
    ['an unknown vhost', {}, 'no-such-vhost', /^NOT_ALLOWED/],
    ['a vhost guest has no permissions on', {}, TEST_VHOST, /^NOT_ALLOWED/],
    ['"/" for a user with permissions on another vhost only', { username: ALICE.username, password: ALICE.password }, '/', /^NOT_ALLOWED/],
  ] as Array<[string, HandshakeOptions, string, RegExp]>) {
    test(`${name} gets connection.close 530 NOT_ALLOWED for connection.open`, { timeout: 10_000 }, async () => {
      const client = await loginAndOpen(options, vhost);
      try {
        const close = await client.expectConnectionClose();
        assert.equal(close.replyCode, 530);
        assert.match(close.replyText, text);
        assert.equal(close.classId, 10);
        assert.equal(close.methodId, 40);
        client.sendConnectionCloseOk();
        await client.expectClosedWithoutFrames(5000);
      } finally {
        client.destroy();
      }
    });
  }

  test('amqplib reports an unknown vhost as 530', { timeout: 10_000 }, async () => {
    await assert.rejects(amqplib.connect(urlFor('guest', 'guest', 'no-such-vhost')), /ConnectionClose|530|NOT.ALLOWED/);
  });

  test('a second configured user works on its own vhost', { timeout: 10_000 }, async () => {
    const raw = await loginAndOpen({ username: ALICE.username, password: ALICE.password, mechanism: 'AMQPLAIN' }, TEST_VHOST);
    await raw.expectMethod(10, 41);
    await raw.close();

    const connection = await amqplib.connect(urlFor(ALICE.username, ALICE.password, TEST_VHOST));
    try {
      const channel = await connection.createChannel();
      const { queue } = await channel.assertQueue('', { exclusive: true });
      channel.sendToQueue(queue, Buffer.from('hello alice'));
      const message = await waitForGet(channel, queue);
      assert.equal(message.content.toString(), 'hello alice');
      await channel.close();
    } finally {
      await connection.close();
    }
  });

  test('the second user with a bad password gets 403', { timeout: 10_000 }, async () => {
    const client = await startAndLogin({ username: ALICE.username, password: 'nope', clientProperties: WITH_FAILURE_CLOSE });
    try {
      assert.equal((await client.expectConnectionClose()).replyCode, 403);
    } finally {
      client.destroy();
    }
  });
});

async function waitForGet(channel: amqplib.Channel, queue: string): Promise<amqplib.GetMessage> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const message = await channel.get(queue, { noAck: true });
    if (message !== false) return message;
    if (Date.now() > deadline) throw new Error(`no message on ${queue}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
