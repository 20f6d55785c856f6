/**
 * Exchange semantics as RabbitMQ implements them: the predeclared exchanges, declare equivalence,
 * deletion, internal and auto-delete exchanges, exchange-to-exchange bindings, and every error path
 * with its reply code and class/method ids. Routing by exchange type is in semantics-routing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Channel, ConfirmChannel } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  deleteAfter,
  drain,
  exclusiveQueue,
  expectChannelClose,
  expectConnectionClose,
  fault,
  methods,
  openChannel,
  openClient,
  publishConfirmed,
  rawRpc,
  replyCodes,
  uniqueName,
  waitFor,
} from '../helpers/amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** A client with a plain channel for declarations and a confirm channel for publishing. */
async function setup(t: TestContext): Promise<{ ch: Channel; pub: ConfirmChannel }> {
  const { client, ch } = await openChannel(t, broker.url);
  const pub = await client.confirmChannel();
  return { ch, pub };
}

/** Declares a transient auto-delete exchange of `type` with a unique name. */
async function tempExchange(ch: Channel, type: string, prefix = type): Promise<string> {
  const name = uniqueName(prefix);
  await ch.assertExchange(name, type, { durable: false, autoDelete: true });
  return name;
}

describe('predeclared exchanges', () => {
  const predeclared = [
    ['amq.direct', 'direct'],
    ['amq.fanout', 'fanout'],
    ['amq.topic', 'topic'],
    ['amq.headers', 'headers'],
    ['amq.match', 'headers'],
  ] as const;

  test('amq.direct, amq.fanout, amq.topic, amq.headers and amq.match exist, durable, with their types', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    for (const [name, type] of predeclared) {
      await ch.checkExchange(name);
      // Redeclaring with the same type and durable=true is allowed despite the reserved prefix.
      await ch.assertExchange(name, type, { durable: true, autoDelete: false });
    }
  });

  test('redeclaring a predeclared exchange with another type or durability is 406', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.assertExchange('amq.direct', 'fanout', { durable: true }),
      fault(replyCodes.preconditionFailed, methods.exchangeDeclare, 'PRECONDITION_FAILED'),
    );
    const { ch: ch2 } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch2,
      () => ch2.assertExchange('amq.topic', 'topic', { durable: false }),
      fault(replyCodes.preconditionFailed, methods.exchangeDeclare, 'PRECONDITION_FAILED'),
    );
  });

  test('declaring a new exchange whose name starts with "amq." is 403', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.assertExchange(`amq.${uniqueName('x')}`, 'direct', { durable: false }),
      fault(replyCodes.accessRefused, methods.exchangeDeclare, 'ACCESS_REFUSED'),
    );
  });

  test('a passive declare of a missing "amq." exchange is 404, not 403', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.checkExchange(`amq.${uniqueName('x')}`),
      fault(replyCodes.notFound, methods.exchangeDeclare, 'NOT_FOUND'),
    );
  });

  test('deleting a predeclared exchange is 403', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.deleteExchange('amq.direct'),
      fault(replyCodes.accessRefused, methods.exchangeDelete, 'ACCESS_REFUSED'),
    );
    const { ch: ch2 } = await openChannel(t, broker.url);
    await ch2.checkExchange('amq.direct');
  });

  test('amq.fanout and amq.topic route like their types', async (t) => {
    const { ch, pub } = await setup(t);
    const fanout = await exclusiveQueue(ch);
    const topic = await exclusiveQueue(ch);
    const key = uniqueName('key');
    await ch.bindQueue(fanout, 'amq.fanout', 'ignored');
    await ch.bindQueue(topic, 'amq.topic', `${key}.*`);
    await publishConfirmed(pub, [
      { exchange: 'amq.fanout', routingKey: 'whatever', body: 'f' },
      { exchange: 'amq.topic', routingKey: `${key}.x`, body: 't' },
    ]);
    // amq.fanout is shared with other tests on an external broker, so only this test's message is checked.
    assert.ok((await drain(ch, fanout)).includes('f'));
    assert.deepEqual(await drain(ch, topic), ['t']);
  });
});

describe('exchange.declare', () => {
  test('redeclaring with identical attributes is OK; passive declare ignores the attributes', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const name = uniqueName('x');
    deleteAfter(t, broker.url, { exchanges: [name] });
    await ch.assertExchange(name, 'direct', { durable: false, autoDelete: false });
    await ch.assertExchange(name, 'direct', { durable: false, autoDelete: false });
    // Passive declare with a different type and flags succeeds: only existence is checked.
    await rawRpc(
      ch,
      methods.exchangeDeclare,
      { ticket: 0, exchange: name, type: 'fanout', passive: true, durable: true, autoDelete: true, internal: true, nowait: false, arguments: {} },
      [40, 11],
    );
  });

  for (const [attribute, options, type] of [
    ['type', { durable: false }, 'fanout'],
    ['durable', { durable: true }, 'direct'],
    ['auto_delete', { durable: false, autoDelete: true }, 'direct'],
    ['internal', { durable: false, internal: true }, 'direct'],
    ['alternate-exchange', { durable: false, alternateExchange: 'elsewhere' }, 'direct'],
  ] as const) {
    test(`redeclaring with a different ${attribute} is 406 PRECONDITION_FAILED`, async (t) => {
      const { ch } = await openChannel(t, broker.url);
      const name = uniqueName('x');
      deleteAfter(t, broker.url, { exchanges: [name] });
      await ch.assertExchange(name, 'direct', { durable: false, autoDelete: false });
      const info = await expectChannelClose(
        ch,
        () => ch.assertExchange(name, type, options),
        fault(replyCodes.preconditionFailed, methods.exchangeDeclare, 'PRECONDITION_FAILED'),
      );
      assert.match(info.replyText, new RegExp(`inequivalent arg '${attribute}'`));
    });
  }

  test('an alternate-exchange argument that is not a string is 406', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.assertExchange(uniqueName('x'), 'direct', { durable: false, autoDelete: true, arguments: { 'alternate-exchange': 5 } }),
      fault(replyCodes.preconditionFailed, methods.exchangeDeclare, 'PRECONDITION_FAILED'),
    );
  });

  test('other exchange arguments are not compared on redeclare', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const name = uniqueName('x');
    deleteAfter(t, broker.url, { exchanges: [name] });
    await ch.assertExchange(name, 'direct', { durable: false, arguments: { 'x-custom': 'one' } });
    await ch.assertExchange(name, 'direct', { durable: false, arguments: { 'x-custom': 'two', other: 1 } });
  });

  test('a passive declare of a missing exchange is 404', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.checkExchange(uniqueName('missing')),
      fault(replyCodes.notFound, methods.exchangeDeclare, 'NOT_FOUND'),
    );
  });

  test('an unknown exchange type is a connection error 503 COMMAND_INVALID', async (t) => {
    const client = await openClient(t, broker.url);
    const ch = await client.channel();
    await expectConnectionClose(
      client,
      () => ch.assertExchange(uniqueName('x'), 'no-such-type', { durable: false }),
      fault(replyCodes.commandInvalid, methods.exchangeDeclare, 'COMMAND_INVALID'),
    );
  });
});

describe('exchange.delete', () => {
  test('deleting a missing exchange is OK, with or without if-unused', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await ch.deleteExchange(uniqueName('missing'));
    await ch.deleteExchange(uniqueName('missing'), { ifUnused: true });
  });

  test('if-unused is 406 while a queue or exchange is bound to it as source', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const source = uniqueName('x');
    deleteAfter(t, broker.url, { exchanges: [source] });
    await ch.assertExchange(source, 'fanout', { durable: false });
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, source, '');
    await expectChannelClose(
      ch,
      () => ch.deleteExchange(source, { ifUnused: true }),
      fault(replyCodes.preconditionFailed, methods.exchangeDelete, 'PRECONDITION_FAILED'),
    );

    const { ch: ch2 } = await openChannel(t, broker.url);
    const source2 = uniqueName('x');
    const destination = uniqueName('x');
    deleteAfter(t, broker.url, { exchanges: [source2, destination] });
    await ch2.assertExchange(source2, 'fanout', { durable: false });
    await ch2.assertExchange(destination, 'fanout', { durable: false });
    await ch2.bindExchange(destination, source2, '');
    await expectChannelClose(
      ch2,
      () => ch2.deleteExchange(source2, { ifUnused: true }),
      fault(replyCodes.preconditionFailed, methods.exchangeDelete, 'PRECONDITION_FAILED'),
    );
  });

  test('if-unused only counts bindings where the exchange is the source', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const name = uniqueName('x');
    await ch.assertExchange(name, 'fanout', { durable: false });
    await ch.bindExchange(name, 'amq.fanout', uniqueName('key'));
    await ch.deleteExchange(name, { ifUnused: true });
    await expectChannelClose(ch, () => ch.checkExchange(name), fault(replyCodes.notFound, methods.exchangeDeclare));
  });

  test('deleting an exchange removes its bindings: a redeclared exchange routes nowhere', async (t) => {
    const { ch, pub } = await setup(t);
    const name = uniqueName('x');
    deleteAfter(t, broker.url, { exchanges: [name] });
    await ch.assertExchange(name, 'fanout', { durable: false });
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, name, '');
    await ch.deleteExchange(name);
    await ch.assertExchange(name, 'fanout', { durable: false });
    await publishConfirmed(pub, [{ exchange: name, routingKey: '', body: 'x' }]);
    assert.deepEqual(await drain(ch, queue), []);
  });
});

describe('publishing to special exchanges', () => {
  test('publishing to a missing exchange closes the channel with 404 (basic.publish)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.publish(uniqueName('missing'), 'key', Buffer.from('x')),
      fault(replyCodes.notFound, methods.basicPublish, 'NOT_FOUND'),
    );
  });

  test('publishing to an internal exchange is 403 (basic.publish); it still routes from another exchange', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const internal = uniqueName('internal');
    const front = uniqueName('front');
    deleteAfter(t, broker.url, { exchanges: [internal, front] });
    await ch.assertExchange(internal, 'fanout', { durable: false, internal: true });
    await ch.assertExchange(front, 'fanout', { durable: false });
    await ch.bindExchange(internal, front, '');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, internal, '');
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: front, routingKey: '', body: 'via-front' }]);
    assert.deepEqual(await drain(ch, queue), ['via-front']);
    await expectChannelClose(
      ch,
      () => ch.publish(internal, '', Buffer.from('x')),
      fault(replyCodes.accessRefused, methods.basicPublish, 'ACCESS_REFUSED'),
    );
  });
});

describe('exchange-to-exchange bindings', () => {
  test('messages flow through a chain of exchanges of different types', async (t) => {
    const { ch, pub } = await setup(t);
    const topic = await tempExchange(ch, 'topic');
    const direct = await tempExchange(ch, 'direct');
    const fanout = await tempExchange(ch, 'fanout');
    await ch.bindExchange(direct, topic, 'orders.#');
    await ch.bindExchange(fanout, direct, 'orders.eu.new');
    const atDirect = await exclusiveQueue(ch);
    const atFanout = await exclusiveQueue(ch);
    await ch.bindQueue(atDirect, direct, 'orders.us.new');
    await ch.bindQueue(atFanout, fanout, '');
    await publishConfirmed(pub, [
      { exchange: topic, routingKey: 'orders.eu.new', body: 'eu' },
      { exchange: topic, routingKey: 'orders.us.new', body: 'us' },
      { exchange: topic, routingKey: 'invoices.eu.new', body: 'none' },
    ]);
    assert.deepEqual(await drain(ch, atFanout), ['eu']);
    assert.deepEqual(await drain(ch, atDirect), ['us']);
  });

  test('the routing key is preserved through the chain and the delivery names the exchange published to', async (t) => {
    const { ch, pub } = await setup(t);
    const source = await tempExchange(ch, 'fanout');
    const destination = await tempExchange(ch, 'fanout');
    await ch.bindExchange(destination, source, '');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, destination, '');
    await publishConfirmed(pub, [{ exchange: source, routingKey: 'the.key', body: 'x' }]);
    const message = await ch.get(queue, { noAck: true });
    assert.ok(message);
    assert.equal(message.fields.exchange, source);
    assert.equal(message.fields.routingKey, 'the.key');
  });

  test('a queue reached by several paths gets one copy, and a cycle of exchanges does not loop', async (t) => {
    const { ch, pub } = await setup(t);
    const a = await tempExchange(ch, 'fanout', 'a');
    const b = await tempExchange(ch, 'fanout', 'b');
    const c = await tempExchange(ch, 'fanout', 'c');
    // The cycle keeps each exchange bound as a source, so auto-delete never removes them.
    deleteAfter(t, broker.url, { exchanges: [a, b, c] });
    await ch.bindExchange(b, a, '');
    await ch.bindExchange(c, a, '');
    await ch.bindExchange(c, b, '');
    await ch.bindExchange(a, c, '');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, a, '');
    await ch.bindQueue(queue, b, '');
    await ch.bindQueue(queue, c, '');
    await publishConfirmed(pub, [{ exchange: a, routingKey: '', body: 'once' }]);
    assert.deepEqual(await drain(ch, queue), ['once']);
  });

  test('exchange.unbind stops the flow; unbinding a missing binding (or missing exchanges) is OK', async (t) => {
    const { ch, pub } = await setup(t);
    // Not auto-delete: removing its only binding would delete an auto-delete source.
    const source = uniqueName('source');
    deleteAfter(t, broker.url, { exchanges: [source] });
    await ch.assertExchange(source, 'direct', { durable: false });
    const destination = await tempExchange(ch, 'fanout');
    await ch.bindExchange(destination, source, 'k');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, destination, '');
    await publishConfirmed(pub, [{ exchange: source, routingKey: 'k', body: 'before' }]);
    await ch.unbindExchange(destination, source, 'k');
    await publishConfirmed(pub, [{ exchange: source, routingKey: 'k', body: 'after' }]);
    assert.deepEqual(await drain(ch, queue), ['before']);
    await ch.unbindExchange(destination, source, 'never-bound');
    await ch.unbindExchange(uniqueName('missing'), source, 'k');
    await ch.unbindExchange(destination, uniqueName('missing'), 'k');
  });

  test('exchange.bind with a missing source or destination is 404 (exchange.bind)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.bindExchange(uniqueName('missing'), 'amq.fanout', ''),
      fault(replyCodes.notFound, methods.exchangeBind, 'NOT_FOUND'),
    );
    const { ch: ch2 } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch2,
      () => ch2.bindExchange('amq.fanout', uniqueName('missing'), ''),
      fault(replyCodes.notFound, methods.exchangeBind, 'NOT_FOUND'),
    );
  });
});

describe('auto-delete exchanges', () => {
  test('an auto-delete exchange that never had a binding stays', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const name = await tempExchange(ch, 'direct');
    deleteAfter(t, broker.url, { exchanges: [name] });
    const queue = await exclusiveQueue(ch);
    await ch.checkQueue(queue);
    await ch.checkExchange(name);
  });

  test('is deleted when its last queue binding is removed, not before', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const name = await tempExchange(ch, 'direct');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, name, 'a');
    await ch.bindQueue(queue, name, 'b');
    await ch.unbindQueue(queue, name, 'a');
    await ch.checkExchange(name);
    await ch.unbindQueue(queue, name, 'b');
    await expectChannelClose(ch, () => ch.checkExchange(name), fault(replyCodes.notFound, methods.exchangeDeclare));
  });

  test('is deleted when the bound queue is deleted', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const name = await tempExchange(ch, 'fanout');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, name, '');
    await ch.deleteQueue(queue);
    await expectChannelClose(ch, () => ch.checkExchange(name), fault(replyCodes.notFound, methods.exchangeDeclare));
  });

  test('is deleted when the exclusive queue bound to it goes with its connection', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const name = await tempExchange(ch, 'fanout');
    const other = await openClient(t, broker.url);
    const otherChannel = await other.channel();
    const queue = await exclusiveQueue(otherChannel);
    await otherChannel.bindQueue(queue, name, '');
    await other.close();
    await waitFor(async () => {
      const probe = await openClient(t, broker.url);
      const probeChannel = await probe.channel();
      try {
        await probeChannel.checkExchange(name);
        return false;
      } catch {
        return true;
      } finally {
        await probe.close();
      }
    }, 3000, 'the auto-delete exchange to go');
  });

  test('as an exchange-to-exchange source it is deleted when its last binding goes; as a destination it is not', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const source = await tempExchange(ch, 'fanout', 'source');
    const destination = await tempExchange(ch, 'fanout', 'destination');
    deleteAfter(t, broker.url, { exchanges: [destination] });
    await ch.bindExchange(destination, source, '');
    await ch.unbindExchange(destination, source, '');
    // destination is auto-delete too but only bindings where it is the source count.
    await ch.checkExchange(destination);
    await expectChannelClose(ch, () => ch.checkExchange(source), fault(replyCodes.notFound, methods.exchangeDeclare));
  });

  test('auto-deletion cascades along a chain of auto-delete exchanges', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const first = await tempExchange(ch, 'fanout', 'first');
    const second = await tempExchange(ch, 'fanout', 'second');
    await ch.bindExchange(second, first, '');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, second, '');
    await ch.deleteQueue(queue);
    await expectChannelClose(ch, () => ch.checkExchange(second), fault(replyCodes.notFound, methods.exchangeDeclare));
    const { ch: ch2 } = await openChannel(t, broker.url);
    await expectChannelClose(ch2, () => ch2.checkExchange(first), fault(replyCodes.notFound, methods.exchangeDeclare));
  });
});
