/**
 * Queue semantics as RabbitMQ implements them: server-named, passive, durable, exclusive and
 * auto-delete queues, declare equivalence and declare-ok counts, bindings, purge and delete with
 * their conditions, the "amq." prefix, the "last declared queue" shortcut, and every error path.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Channel } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  collect,
  deleteAfter,
  drain,
  exclusiveQueue,
  expectChannelClose,
  fault,
  methods,
  openChannel,
  openClient,
  publishConfirmed,
  rawRpc,
  replyCodes,
  uniqueName,
  waitFor,
  type AmqpClient,
} from '../helpers/amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** True when a passive declare of `queue` on a fresh connection succeeds. */
async function queueExists(client: AmqpClient, queue: string): Promise<boolean> {
  const ch = await client.channel();
  try {
    await ch.checkQueue(queue);
    await ch.close();
    return true;
  } catch {
    return false;
  }
}

describe('queue.declare', () => {
  test('an empty name makes the server name the queue "amq.gen-..."', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const first = await ch.assertQueue('', { exclusive: true });
    const second = await ch.assertQueue('', { exclusive: true });
    assert.match(first.queue, /^amq\.gen-/);
    assert.notEqual(first.queue, second.queue);
    assert.equal(first.messageCount, 0);
    assert.equal(first.consumerCount, 0);
  });

  test('declare-ok carries the ready message count (unacked excluded) and the consumer count', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, [1, 2, 3, 4].map((n) => ({ exchange: '', routingKey: queue, body: `m${n}` })));
    const declared = await ch.checkQueue(queue);
    assert.equal(declared.messageCount, 4);
    assert.equal(declared.consumerCount, 0);
    const taken = await ch.get(queue);
    assert.ok(taken);
    const consumerChannel = await client.channel();
    await consumerChannel.prefetch(1);
    await collect(consumerChannel, queue);
    await collect(consumerChannel, queue);
    await waitFor(async () => (await ch.checkQueue(queue)).messageCount === 1, 3000, 'two deliveries');
    const passive = await ch.checkQueue(queue);
    assert.equal(passive.messageCount, 1);
    assert.equal(passive.consumerCount, 2);
  });

  test('a passive declare of a missing queue is 404 (queue.declare)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.checkQueue(uniqueName('missing')),
      fault(replyCodes.notFound, methods.queueDeclare, 'NOT_FOUND'),
    );
  });

  test('a passive declare ignores flags and arguments', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = uniqueName('q');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: false });
    const ok = await rawRpc(
      ch,
      methods.queueDeclare,
      {
        ticket: 0,
        queue,
        passive: true,
        durable: true,
        exclusive: false,
        autoDelete: true,
        nowait: false,
        arguments: { 'x-message-ttl': 5 },
      },
      [50, 11],
    );
    assert.equal(ok['queue'], queue);
  });

  test('a name starting with "amq." is 403; a passive declare of one is 404', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.assertQueue(`amq.${uniqueName('q')}`),
      fault(replyCodes.accessRefused, methods.queueDeclare, 'ACCESS_REFUSED'),
    );
    const { ch: ch2 } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch2,
      () => ch2.checkQueue(`amq.${uniqueName('q')}`),
      fault(replyCodes.notFound, methods.queueDeclare, 'NOT_FOUND'),
    );
  });

  test('a server-named queue can be redeclared passively, but a non-passive redeclare of it is 403 (amq. prefix)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    assert.equal((await ch.checkQueue(queue)).queue, queue);
    await expectChannelClose(
      ch,
      () => ch.assertQueue(queue, { exclusive: true }),
      fault(replyCodes.accessRefused, methods.queueDeclare, 'ACCESS_REFUSED'),
    );
  });

  test('redeclaring with the same attributes is OK and returns the counts', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = uniqueName('q');
    deleteAfter(t, broker.url, { queues: [queue] });
    const args = { 'x-message-ttl': 60000, 'x-max-length': 100 };
    await ch.assertQueue(queue, { durable: true, arguments: args });
    ch.sendToQueue(queue, Buffer.from('x'));
    await waitFor(async () => (await ch.assertQueue(queue, { durable: true, arguments: args })).messageCount === 1);
  });

  for (const [attribute, options] of [
    ['durable', { durable: true }],
    ['auto_delete', { durable: false, autoDelete: true }],
    ['x-message-ttl', { durable: false, arguments: { 'x-message-ttl': 1000 } }],
    ['x-max-length', { durable: false, arguments: { 'x-max-length': 10 } }],
    ['x-expires', { durable: false, arguments: { 'x-expires': 100000 } }],
    ['x-dead-letter-exchange', { durable: false, arguments: { 'x-dead-letter-exchange': 'dlx' } }],
  ] as const) {
    test(`redeclaring with a different ${attribute} is 406 PRECONDITION_FAILED`, async (t) => {
      const { ch } = await openChannel(t, broker.url);
      const queue = uniqueName('q');
      deleteAfter(t, broker.url, { queues: [queue] });
      await ch.assertQueue(queue, { durable: false, autoDelete: false });
      const info = await expectChannelClose(
        ch,
        () => ch.assertQueue(queue, options),
        fault(replyCodes.preconditionFailed, methods.queueDeclare, 'PRECONDITION_FAILED'),
      );
      assert.match(info.replyText, new RegExp(`inequivalent arg '${attribute}'`));
    });
  }

  for (const [label, args] of [
    ['x-message-ttl of the wrong type', { 'x-message-ttl': 'soon' }],
    ['a negative x-message-ttl', { 'x-message-ttl': -1 }],
    ['x-expires of 0', { 'x-expires': 0 }],
    ['a negative x-max-length', { 'x-max-length': -1 }],
    ['x-max-priority above 255', { 'x-max-priority': 300 }],
    ['an unknown x-overflow', { 'x-overflow': 'bogus' }],
    ['x-dead-letter-exchange of the wrong type', { 'x-dead-letter-exchange': 5 }],
  ] as const) {
    test(`declaring with ${label} is 406 PRECONDITION_FAILED`, async (t) => {
      const { ch } = await openChannel(t, broker.url);
      await expectChannelClose(
        ch,
        () => ch.assertQueue(uniqueName('q'), { exclusive: true, arguments: args }),
        fault(replyCodes.preconditionFailed, methods.queueDeclare, 'PRECONDITION_FAILED'),
      );
    });
  }

  test('unknown arguments are not compared on redeclare', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = uniqueName('q');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: false, arguments: { 'x-custom': 'one' } });
    await ch.assertQueue(queue, { durable: false, arguments: { 'x-custom': 'two', other: 1 } });
  });

  test('redeclaring a non-exclusive queue as exclusive is 405 RESOURCE_LOCKED, not 406', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = uniqueName('q');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: false });
    await expectChannelClose(
      ch,
      () => ch.assertQueue(queue, { durable: false, exclusive: true }),
      fault(replyCodes.resourceLocked, methods.queueDeclare, 'RESOURCE_LOCKED'),
    );
  });

  test('a durable queue declared on one connection is visible on another', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = uniqueName('durable');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: true });
    const { ch: other } = await openChannel(t, broker.url);
    const ok = await other.assertQueue(queue, { durable: true });
    assert.equal(ok.queue, queue);
  });
});

describe('exclusive queues', () => {
  test('another connection gets 405 RESOURCE_LOCKED for declare, passive declare, consume, get, bind, purge and delete', async (t) => {
    const { ch: owner } = await openChannel(t, broker.url);
    const queue = (await owner.assertQueue(uniqueName('exclusive'), { exclusive: true })).queue;
    const other = await openClient(t, broker.url);
    const attempts: [string, readonly [number, number], (ch: Channel) => Promise<unknown>][] = [
      ['declare', methods.queueDeclare, (ch) => ch.assertQueue(queue, { exclusive: true })],
      ['declare non-exclusive', methods.queueDeclare, (ch) => ch.assertQueue(queue)],
      ['passive declare', methods.queueDeclare, (ch) => ch.checkQueue(queue)],
      ['consume', methods.basicConsume, (ch) => ch.consume(queue, () => {})],
      ['get', methods.basicGet, (ch) => ch.get(queue)],
      ['bind', methods.queueBind, (ch) => ch.bindQueue(queue, 'amq.fanout', '')],
      ['purge', methods.queuePurge, (ch) => ch.purgeQueue(queue)],
      ['delete', methods.queueDelete, (ch) => ch.deleteQueue(queue)],
    ];
    for (const [what, method, attempt] of attempts) {
      const ch = await other.channel();
      await t.test(what, async () => {
        await expectChannelClose(ch, () => attempt(ch), fault(replyCodes.resourceLocked, method, 'RESOURCE_LOCKED'));
      });
    }
    // The owner still has it, and others may publish to it.
    const publisher = await other.confirmChannel();
    await publishConfirmed(publisher, [{ exchange: '', routingKey: queue, body: 'from-other' }]);
    assert.deepEqual(await drain(owner, queue), ['from-other']);
  });

  test('the owner redeclaring it as non-exclusive is 405', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = (await ch.assertQueue(uniqueName('exclusive'), { exclusive: true })).queue;
    await expectChannelClose(
      ch,
      () => ch.assertQueue(queue, { exclusive: false }),
      fault(replyCodes.resourceLocked, methods.queueDeclare, 'RESOURCE_LOCKED'),
    );
  });

  test('is usable from every channel of the owning connection and survives channel close', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = (await ch.assertQueue(uniqueName('exclusive'), { exclusive: true })).queue;
    const second = await client.channel();
    second.sendToQueue(queue, Buffer.from('x'));
    await ch.close();
    const third = await client.channel();
    await waitFor(async () => (await third.checkQueue(queue)).messageCount === 1);
  });

  test('is deleted when the owning connection closes', async (t) => {
    const owner = await openClient(t, broker.url);
    const ownerChannel = await owner.channel();
    const queue = (await ownerChannel.assertQueue(uniqueName('exclusive'), { exclusive: true })).queue;
    await owner.close();
    const observer = await openClient(t, broker.url);
    await waitFor(async () => !(await queueExists(observer, queue)), 3000, 'the exclusive queue to go');
  });
});

describe('auto-delete queues', () => {
  test('are not deleted before they ever had a consumer, even after basic.get', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = uniqueName('autodelete');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { autoDelete: true, durable: false });
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'x' }]);
    assert.ok(await ch.get(queue, { noAck: true }));
    assert.equal((await ch.checkQueue(queue)).consumerCount, 0);
  });

  test('are deleted when the last consumer cancels, not when an earlier one does', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = uniqueName('autodelete');
    await ch.assertQueue(queue, { autoDelete: true, durable: false });
    const first = await collect(ch, queue);
    const second = await collect(ch, queue);
    await ch.cancel(first.consumerTag);
    assert.equal((await ch.checkQueue(queue)).consumerCount, 1);
    await ch.cancel(second.consumerTag);
    await waitFor(async () => !(await queueExists(client, queue)), 3000, 'the auto-delete queue to go');
  });

  test('are deleted when the channel holding the last consumer closes', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = uniqueName('autodelete');
    await ch.assertQueue(queue, { autoDelete: true, durable: false });
    const consumerChannel = await client.channel();
    await collect(consumerChannel, queue);
    await consumerChannel.close();
    await waitFor(async () => !(await queueExists(client, queue)), 3000, 'the auto-delete queue to go');
  });

  test('are deleted when the connection holding the last consumer closes', async (t) => {
    const { client } = await openChannel(t, broker.url);
    const queue = uniqueName('autodelete');
    const consumer = await openClient(t, broker.url);
    const consumerChannel = await consumer.channel();
    await consumerChannel.assertQueue(queue, { autoDelete: true, durable: false });
    await collect(consumerChannel, queue);
    await consumer.close();
    await waitFor(async () => !(await queueExists(client, queue)), 3000, 'the auto-delete queue to go');
  });
});

describe('queue.bind and queue.unbind', () => {
  test('binding a missing queue or to a missing exchange is 404 (queue.bind)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.bindQueue(uniqueName('missing'), 'amq.direct', 'k'),
      fault(replyCodes.notFound, methods.queueBind, 'NOT_FOUND'),
    );
    const { ch: ch2 } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch2);
    await expectChannelClose(
      ch2,
      () => ch2.bindQueue(queue, uniqueName('missing'), 'k'),
      fault(replyCodes.notFound, methods.queueBind, 'NOT_FOUND'),
    );
  });

  test('unbinding a binding that does not exist is OK, even with a missing queue or exchange', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    await ch.unbindQueue(queue, 'amq.direct', 'never-bound');
    await ch.unbindQueue(uniqueName('missing'), 'amq.direct', 'k');
    await ch.unbindQueue(queue, uniqueName('missing'), 'k');
    await ch.checkQueue(queue);
  });

  test('bindings with arguments are distinct from the same key without them', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const exchange = uniqueName('direct');
    await ch.assertExchange(exchange, 'direct', { durable: false, autoDelete: true });
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, exchange, 'k', { tag: 'one' });
    await ch.bindQueue(queue, exchange, 'k');
    // Removing the binding without arguments leaves the one with arguments in place.
    await ch.unbindQueue(queue, exchange, 'k');
    await publishConfirmed(pub, [{ exchange, routingKey: 'k', body: 'still-bound' }]);
    assert.deepEqual(await drain(ch, queue), ['still-bound']);
    await ch.unbindQueue(queue, exchange, 'k', { tag: 'one' });
    await expectChannelClose(ch, () => ch.checkExchange(exchange), fault(replyCodes.notFound, methods.exchangeDeclare));
  });

  test('deleting a queue removes its bindings', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const exchange = uniqueName('fanout');
    deleteAfter(t, broker.url, { exchanges: [exchange] });
    await ch.assertExchange(exchange, 'fanout', { durable: false });
    const queue = uniqueName('q');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: false });
    await ch.bindQueue(queue, exchange, '');
    await ch.deleteQueue(queue);
    await ch.assertQueue(queue, { durable: false });
    await publishConfirmed(pub, [{ exchange, routingKey: '', body: 'x' }]);
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
  });
});

describe('the empty queue name means the channel\'s last declared queue', () => {
  test('basic.get "" reads the last declared queue; bind "" with key "" uses its name as routing key', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue('', 'amq.direct', '');
    await publishConfirmed(pub, [{ exchange: 'amq.direct', routingKey: queue, body: 'via-shortcut' }]);
    const message = await ch.get('', { noAck: true });
    assert.ok(message);
    assert.equal(message.content.toString(), 'via-shortcut');
    await ch.unbindQueue(queue, 'amq.direct', queue);
  });

  test('purge "", consume "" and delete "" act on the last declared queue', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'x' }]);
    assert.equal((await ch.purgeQueue('')).messageCount, 1);
    const consumer = await collect(ch, '', { noAck: true });
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'y' }]);
    await consumer.waitForCount(1);
    await ch.cancel(consumer.consumerTag);
    await ch.deleteQueue('');
    await expectChannelClose(ch, () => ch.checkQueue(queue), fault(replyCodes.notFound, methods.queueDeclare));
  });

  test('with no queue declared on the channel, "" is 404 for get, consume, purge, delete and bind', async (t) => {
    const client = await openClient(t, broker.url);
    const attempts: [string, readonly [number, number], (ch: Channel) => Promise<unknown>][] = [
      ['get', methods.basicGet, (ch) => ch.get('')],
      ['consume', methods.basicConsume, (ch) => ch.consume('', () => {})],
      ['purge', methods.queuePurge, (ch) => ch.purgeQueue('')],
      ['delete', methods.queueDelete, (ch) => ch.deleteQueue('')],
      ['bind', methods.queueBind, (ch) => ch.bindQueue('', 'amq.direct', 'k')],
    ];
    for (const [what, method, attempt] of attempts) {
      const ch = await client.channel();
      await t.test(what, async () => {
        await expectChannelClose(ch, () => attempt(ch), fault(replyCodes.notFound, method, 'NOT_FOUND'));
      });
    }
  });

  test('a passive declare of "" is 404 even after a declare: the shortcut does not apply to queue.declare', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await exclusiveQueue(ch);
    await expectChannelClose(ch, () => ch.checkQueue(''), fault(replyCodes.notFound, methods.queueDeclare, 'NOT_FOUND'));
  });
});

describe('queue.purge', () => {
  test('removes ready messages, returns their count, and leaves unacked ones alone', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, [1, 2, 3, 4].map((n) => ({ exchange: '', routingKey: queue, body: `m${n}` })));
    const held = await ch.get(queue);
    assert.ok(held);
    assert.equal((await ch.purgeQueue(queue)).messageCount, 3);
    assert.equal((await ch.purgeQueue(queue)).messageCount, 0);
    ch.nack(held, false, true);
    await waitFor(async () => (await ch.checkQueue(queue)).messageCount === 1);
    assert.deepEqual(await drain(ch, queue), ['m1']);
  });

  test('purging a missing queue is 404 (queue.purge)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.purgeQueue(uniqueName('missing')),
      fault(replyCodes.notFound, methods.queuePurge, 'NOT_FOUND'),
    );
  });
});

describe('queue.delete', () => {
  test('returns the number of ready messages deleted (unacked ones not counted)', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = uniqueName('q');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: false });
    await publishConfirmed(pub, [1, 2, 3, 4].map((n) => ({ exchange: '', routingKey: queue, body: `m${n}` })));
    const held = await ch.get(queue);
    assert.ok(held);
    assert.equal((await ch.deleteQueue(queue)).messageCount, 3);
    // Acking or requeueing a message of a deleted queue is not an error.
    ch.nack(held, false, true);
    await ch.assertQueue(queue, { durable: false });
    assert.equal((await ch.checkQueue(queue)).messageCount, 0);
  });

  test('deleting a missing queue is OK with message count 0, whatever the conditions', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    assert.equal((await ch.deleteQueue(uniqueName('missing'))).messageCount, 0);
    assert.equal((await ch.deleteQueue(uniqueName('missing'), { ifUnused: true, ifEmpty: true })).messageCount, 0);
  });

  test('if-unused is 406 while the queue has a consumer', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    await collect(ch, queue);
    await expectChannelClose(
      ch,
      () => ch.deleteQueue(queue, { ifUnused: true }),
      fault(replyCodes.preconditionFailed, methods.queueDelete, 'PRECONDITION_FAILED'),
    );
  });

  test('if-empty is 406 while the queue has ready messages, but unacked ones do not count', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'a' }]);
    await expectChannelClose(
      ch,
      () => ch.deleteQueue(queue, { ifEmpty: true }),
      fault(replyCodes.preconditionFailed, methods.queueDelete, 'PRECONDITION_FAILED'),
    );
    const ch2 = await client.channel();
    assert.ok(await ch2.get(queue));
    assert.equal((await ch2.deleteQueue(queue, { ifEmpty: true })).messageCount, 0);
  });

  test('deleting a queue cancels its consumers with basic.cancel', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const consumer = await collect(ch, queue);
    await ch.deleteQueue(queue);
    await waitFor(() => consumer.cancelledByServer, 3000, 'basic.cancel from the server');
  });
});
