/**
 * Configured limits are enforced with RabbitMQ-style protocol errors (in-process Warren only:
 * these limits are Warren settings).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { AmqpClient, expectChannelClose, expectConnectionClose, fault, methods, replyCodes } from '../helpers/amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker({ limits: { consumersPerChannelMax: 2, messageSizeMaxBytes: 1024 } });
});

after(async () => {
  await broker.close();
});

test('a message larger than the configured maximum closes the channel with 406', { skip: process.env['WARREN_TEST_URL'] ? 'Warren setting' : false }, async () => {
  const client = await AmqpClient.open(broker.url);
  try {
    const ch = await client.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    ch.sendToQueue(queue, Buffer.alloc(1024));
    await expectChannelClose(ch, () => ch.sendToQueue(queue, Buffer.alloc(1025)), fault(replyCodes.preconditionFailed, methods.basicPublish, 'PRECONDITION_FAILED'));
    const check = await client.channel();
    assert.equal((await check.checkQueue(queue)).messageCount, 1, 'the message within the limit was kept');
  } finally {
    await client.close();
  }
});

test('more consumers on a channel than the configured maximum is 530 NOT_ALLOWED', { skip: process.env['WARREN_TEST_URL'] ? 'Warren setting' : false }, async () => {
  const client = await AmqpClient.open(broker.url);
  try {
    const ch = await client.channel();
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.consume(queue, () => {});
    await ch.consume(queue, () => {});
    await expectConnectionClose(client, () => ch.consume(queue, () => {}), fault(replyCodes.notAllowed, methods.basicConsume, 'NOT_ALLOWED'));
  } finally {
    await client.close();
  }
});
