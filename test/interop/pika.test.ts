/**
 * Interop with pika, the Python client, through Debian's /usr/bin/python3 (python3-pika). The seed
 * example from the issue runs verbatim (only the port is passed in), then pika receives its message;
 * further scenarios cover confirms, qos with acks, topic routing, reject with requeue and a
 * channel error. In CI a missing python3 or pika fails the suite; elsewhere it is skipped.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import amqplib from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { assertSucceeded, runPython, skip, unavailable } from '../helpers/python.js';

let broker: TestBroker;

before(async () => {
  if (skip !== false) return;
  broker = await startTestBroker();
});

after(async () => {
  await broker?.close();
});

/** Removes the 'hello' queue so leftovers from earlier runs on an external broker do not interfere. */
async function deleteHelloQueue(): Promise<void> {
  const connection = await amqplib.connect(broker.url);
  try {
    const channel = await connection.createChannel();
    await channel.deleteQueue('hello');
    await channel.close();
  } finally {
    await connection.close();
  }
}

describe('pika', () => {
  test('python3 with pika is available', { skip }, () => {
    assert.equal(unavailable, undefined, unavailable);
  });

  test('the seed example publishes Hello World! and pika consumes it', { skip, timeout: 60_000 }, async () => {
    assert.equal(unavailable, undefined, unavailable);
    await deleteHelloQueue();
    try {
      assertSucceeded(await runPython('hello_send.py', [String(broker.port)]));
      const received = await runPython('hello_receive.py', [String(broker.port)]);
      assertSucceeded(received);
      assert.equal(received.stdout.trim(), 'Hello World!');
    } finally {
      await deleteHelloQueue();
    }
  });

  test('amqplib sees what the seed example published', { skip, timeout: 60_000 }, async () => {
    assert.equal(unavailable, undefined, unavailable);
    await deleteHelloQueue();
    const connection = await amqplib.connect(broker.url);
    try {
      assertSucceeded(await runPython('hello_send.py', [String(broker.port)]));
      const channel = await connection.createChannel();
      const message = await channel.get('hello', { noAck: true });
      assert.ok(message !== false, 'a message on hello');
      assert.equal(message.content.toString(), 'Hello World!');
      await channel.deleteQueue('hello');
    } finally {
      await connection.close();
    }
  });
});

describe('pika scenarios', { concurrency: true }, () => {
  for (const scenario of ['confirms', 'qos_ack', 'topic', 'reject_requeue', 'declare_mismatch']) {
    test(scenario, { skip, timeout: 60_000 }, async () => {
      assert.equal(unavailable, undefined, unavailable);
      const result = await runPython('features.py', [broker.host, String(broker.port), scenario]);
      assertSucceeded(result);
      assert.match(result.stdout, new RegExp(`^OK ${scenario}$`, 'm'));
    });
  }
});
