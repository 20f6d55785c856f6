/**
 * The protocol header exchange, checked against RabbitMQ 3.10: a header the server does not speak
 * gets exactly `AMQP 0 0 9 1` back and the socket closed; the old 0-9 header `AMQP 1 1 0 9` is
 * accepted and treated as 0-9-1 (connection.start then says version 0-9).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { PROTOCOL_HEADER, RawAmqpClient } from '../helpers/raw-amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

const WRONG_HEADERS: Array<[string, Buffer]> = [
  ['AMQP 0-9 (revision 0)', Buffer.from('AMQP\x00\x00\x09\x00', 'latin1')],
  ['AMQP 0-9-2', Buffer.from('AMQP\x00\x00\x09\x02', 'latin1')],
  ['AMQP 0-10', Buffer.from('AMQP\x00\x00\x0a\x00', 'latin1')],
  ['AMQP 1.0 without SASL', Buffer.from('AMQP\x00\x01\x00\x00', 'latin1')],
  ['AMQP 1.0 SASL', Buffer.from('AMQP\x03\x01\x00\x00', 'latin1')],
  ['lower-case amqp', Buffer.from('amqp\x00\x00\x09\x01', 'latin1')],
  ['HTTP/1.1', Buffer.from('HTTP/1.1', 'latin1')],
  ['an HTTP GET request', Buffer.from('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1')],
];

describe('protocol header', { concurrency: true }, () => {
  for (const [name, header] of WRONG_HEADERS) {
    test(`${name} gets AMQP 0-9-1 back and the socket closed`, { timeout: 10_000 }, async () => {
      const client = await RawAmqpClient.connect(broker.port, broker.host);
      try {
        client.write(header);
        const reply = await client.readUntilClosed(3000);
        assert.deepEqual(reply, PROTOCOL_HEADER, `got ${JSON.stringify(reply.toString('latin1'))}`);
      } finally {
        client.destroy();
      }
    });
  }

  test('the correct header gets connection.start for 0-9', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.connect(broker.port, broker.host);
    try {
      client.sendProtocolHeader();
      const start = await client.readConnectionStart();
      assert.equal(start.versionMajor, 0);
      assert.equal(start.versionMinor, 9);
    } finally {
      client.destroy();
    }
  });

  test('the legacy 0-9 header AMQP 1 1 0 9 is accepted as 0-9-1', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.connect(broker.port, broker.host);
    try {
      client.write(Buffer.from('AMQP\x01\x01\x00\x09', 'latin1'));
      const start = await client.readConnectionStart();
      assert.equal(start.versionMajor, 0);
      assert.equal(start.versionMinor, 9);
      client.sendStartOk();
      const tune = await client.readTune();
      client.sendTuneOk({ ...tune, heartbeat: 0 });
      client.sendConnectionOpen('/');
      await client.expectMethod(10, 41);
      await client.openChannel(1);
      await client.close();
    } finally {
      client.destroy();
    }
  });

  test('a header split across several writes is still understood', { timeout: 10_000 }, async () => {
    const client = await RawAmqpClient.connect(broker.port, broker.host);
    try {
      for (const byte of PROTOCOL_HEADER) {
        client.write(Buffer.from([byte]));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const start = await client.readConnectionStart();
      assert.equal(start.versionMinor, 9);
    } finally {
      client.destroy();
    }
  });

  test('a partial header followed by a socket close leaves the server healthy', { timeout: 10_000 }, async () => {
    const partial = await RawAmqpClient.connect(broker.port, broker.host);
    partial.write(Buffer.from('AMQ', 'latin1'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    partial.destroy();
    const empty = await RawAmqpClient.connect(broker.port, broker.host);
    empty.destroy();
    const client = await RawAmqpClient.open(broker.port, {}, broker.host);
    try {
      await client.openChannel(1);
      await client.close();
    } finally {
      client.destroy();
    }
  });
});
