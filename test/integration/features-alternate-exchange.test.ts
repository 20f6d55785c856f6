/**
 * Alternate exchanges (the `alternate-exchange` exchange argument) and internal exchanges as
 * RabbitMQ 3.10 implements them: a message the exchange cannot route goes to its alternate exchange
 * with its original exchange and routing key; a mandatory publish the alternate exchange routes is not
 * returned; a missing or non-routing alternate exchange leaves it unroutable; alternate exchanges chain
 * and cycles end; internal exchanges refuse publishes (403) but route what reaches them by bindings or
 * as an alternate exchange. Checked against RabbitMQ 3.10.8 with WARREN_TEST_URL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test, type TestContext } from 'node:test';
import type { Channel, ConfirmChannel, Message } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  deleteAfter,
  drain,
  exclusiveQueue,
  expectChannelClose,
  fault,
  isChannelOpen,
  methods,
  openChannel,
  replyCodes,
  uniqueName,
} from '../helpers/amqp.js';
import { assertExactClose } from '../helpers/consumers.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** A test's channels: `ch` for topology, `pub` a confirm channel whose basic.returns are recorded. */
interface Setup {
  ch: Channel;
  pub: ConfirmChannel;
  returned: Message[];
}

async function setup(t: TestContext): Promise<Setup> {
  const { client, ch } = await openChannel(t, broker.url);
  const pub = await client.confirmChannel();
  const returned: Message[] = [];
  pub.on('return', (message: Message) => returned.push(message));
  return { ch, pub, returned };
}

/** Declares a non-durable exchange deleted when the test ends. */
async function exchange(
  t: TestContext,
  ch: Channel,
  type: 'direct' | 'fanout' | 'topic',
  options: { alternateExchange?: string; internal?: boolean; name?: string } = {},
): Promise<string> {
  const name = options.name ?? uniqueName(`ae-${type}`);
  deleteAfter(t, broker.url, { exchanges: [name] });
  const declared: { durable: boolean; alternateExchange?: string; internal?: boolean } = { durable: false };
  if (options.alternateExchange !== undefined) declared.alternateExchange = options.alternateExchange;
  if (options.internal !== undefined) declared.internal = options.internal;
  await ch.assertExchange(name, type, declared);
  return name;
}

/** An exclusive queue bound to `source` with `bindingKey`. */
async function boundQueue(ch: Channel, source: string, bindingKey = ''): Promise<string> {
  const queue = await exclusiveQueue(ch);
  await ch.bindQueue(queue, source, bindingKey);
  return queue;
}

/**
 * Publishes mandatory messages and waits for the confirms. RabbitMQ sends a basic.return before the
 * basic.ack of the same message, so once the confirms are in every return has been seen.
 */
async function publishMandatory(pub: ConfirmChannel, messages: readonly { exchange: string; routingKey: string; body: string }[]): Promise<void> {
  for (const message of messages) pub.publish(message.exchange, message.routingKey, Buffer.from(message.body), { mandatory: true });
  await pub.waitForConfirms();
}

/** What a test checks of a basic.return. */
function returnedView(messages: readonly Message[]): { body: string; replyCode: unknown; replyText: unknown; exchange: string; routingKey: string }[] {
  return messages.map((message) => {
    const fields = message.fields as unknown as { replyCode: unknown; replyText: unknown; exchange: string; routingKey: string };
    return {
      body: message.content.toString(),
      replyCode: fields.replyCode,
      replyText: fields.replyText,
      exchange: fields.exchange,
      routingKey: fields.routingKey,
    };
  });
}

describe('alternate-exchange', () => {
  test('an unroutable message goes to the alternate exchange with its original exchange and routing key', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const alternate = await exchange(t, ch, 'fanout');
    const main = await exchange(t, ch, 'direct', { alternateExchange: alternate });
    const routed = await boundQueue(ch, main, 'known');
    const caught = await boundQueue(ch, alternate);
    await publishMandatory(pub, [
      { exchange: main, routingKey: 'known', body: 'routed' },
      { exchange: main, routingKey: 'other', body: 'unroutable' },
    ]);
    assert.deepEqual(returned, []);
    assert.deepEqual(await drain(ch, routed), ['routed']);
    const message = await ch.get(caught, { noAck: true });
    assert.ok(message !== false, 'the alternate exchange routed the unroutable message');
    assert.equal(message.content.toString(), 'unroutable');
    assert.equal(message.fields.exchange, main);
    assert.equal(message.fields.routingKey, 'other');
    assert.deepEqual(await drain(ch, caught), []);
  });

  test('the alternate exchange routes by the original routing key; what it cannot route is returned', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const alternate = await exchange(t, ch, 'direct');
    const main = await exchange(t, ch, 'topic', { alternateExchange: alternate });
    const caught = await boundQueue(ch, alternate, 'orders');
    await publishMandatory(pub, [
      { exchange: main, routingKey: 'orders', body: 'to-alternate' },
      { exchange: main, routingKey: 'nowhere', body: 'lost' },
    ]);
    assert.deepEqual(await drain(ch, caught), ['to-alternate']);
    assert.deepEqual(returnedView(returned), [
      { body: 'lost', replyCode: 312, replyText: 'NO_ROUTE', exchange: main, routingKey: 'nowhere' },
    ]);
  });

  test('a mandatory publish that the alternate exchange routes is confirmed and not returned', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const alternate = await exchange(t, ch, 'fanout');
    const main = await exchange(t, ch, 'direct', { alternateExchange: alternate });
    const caught = await boundQueue(ch, alternate);
    await publishMandatory(pub, [
      { exchange: main, routingKey: 'a', body: 'one' },
      { exchange: main, routingKey: 'b', body: 'two' },
    ]);
    assert.deepEqual(returned, []);
    assert.deepEqual(await drain(ch, caught), ['one', 'two']);
  });

  test('a missing alternate exchange leaves the message unroutable: returned 312 NO_ROUTE when mandatory', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const main = await exchange(t, ch, 'direct', { alternateExchange: uniqueName('missing') });
    await publishMandatory(pub, [
      { exchange: main, routingKey: 'x', body: 'mandatory' },
      { exchange: main, routingKey: 'y', body: 'dropped' },
    ]);
    pub.publish(main, 'z', Buffer.from('not mandatory'));
    await pub.waitForConfirms();
    assert.deepEqual(returnedView(returned), [
      { body: 'mandatory', replyCode: 312, replyText: 'NO_ROUTE', exchange: main, routingKey: 'x' },
      { body: 'dropped', replyCode: 312, replyText: 'NO_ROUTE', exchange: main, routingKey: 'y' },
    ]);
    assert.ok(isChannelOpen(pub), 'a missing alternate exchange is not an error');
  });

  test('an alternate exchange with no bindings leaves the message unroutable', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const alternate = await exchange(t, ch, 'fanout');
    const main = await exchange(t, ch, 'direct', { alternateExchange: alternate });
    await publishMandatory(pub, [{ exchange: main, routingKey: 'x', body: 'nowhere' }]);
    assert.deepEqual(returnedView(returned), [
      { body: 'nowhere', replyCode: 312, replyText: 'NO_ROUTE', exchange: main, routingKey: 'x' },
    ]);
  });

  test('the alternate exchange is found by name at publish time: declared late, deleted early', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const alternateName = uniqueName('late');
    const main = await exchange(t, ch, 'direct', { alternateExchange: alternateName });
    await publishMandatory(pub, [{ exchange: main, routingKey: 'k', body: 'before' }]);
    const alternate = await exchange(t, ch, 'fanout', { name: alternateName });
    const caught = await boundQueue(ch, alternate);
    await publishMandatory(pub, [{ exchange: main, routingKey: 'k', body: 'while' }]);
    await ch.deleteExchange(alternate);
    await publishMandatory(pub, [{ exchange: main, routingKey: 'k', body: 'after' }]);
    assert.deepEqual(await drain(ch, caught), ['while']);
    assert.deepEqual(
      returned.map((message) => message.content.toString()),
      ['before', 'after'],
    );
  });

  test('alternate exchanges chain: the message goes on until an exchange routes it', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const third = await exchange(t, ch, 'fanout');
    const second = await exchange(t, ch, 'direct', { alternateExchange: third });
    const first = await exchange(t, ch, 'topic', { alternateExchange: second });
    const atSecond = await boundQueue(ch, second, 'stop-here');
    const atThird = await boundQueue(ch, third);
    await publishMandatory(pub, [
      { exchange: first, routingKey: 'go-on', body: 'to-third' },
      { exchange: first, routingKey: 'stop-here', body: 'to-second' },
    ]);
    assert.deepEqual(returned, []);
    assert.deepEqual(await drain(ch, atSecond), ['to-second']);
    const message = await ch.get(atThird, { noAck: true });
    assert.ok(message !== false);
    assert.deepEqual(
      { body: message.content.toString(), exchange: message.fields.exchange, routingKey: message.fields.routingKey },
      { body: 'to-third', exchange: first, routingKey: 'go-on' },
    );
    assert.deepEqual(await drain(ch, atThird), []);
  });

  test('an alternate-exchange cycle ends: the message is returned once, or routed once where a binding matches', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const nameOne = uniqueName('cycle-1');
    const nameTwo = uniqueName('cycle-2');
    const one = await exchange(t, ch, 'direct', { name: nameOne, alternateExchange: nameTwo });
    const two = await exchange(t, ch, 'direct', { name: nameTwo, alternateExchange: nameOne });
    // An exchange that names itself as its alternate exchange.
    const selfName = uniqueName('self');
    await exchange(t, ch, 'direct', { name: selfName, alternateExchange: selfName });
    await publishMandatory(pub, [
      { exchange: one, routingKey: 'k', body: 'cycle' },
      { exchange: selfName, routingKey: 'k', body: 'self' },
    ]);
    const atTwo = await boundQueue(ch, two, 'k');
    await publishMandatory(pub, [{ exchange: one, routingKey: 'k', body: 'cycle-routed' }]);
    assert.deepEqual(await drain(ch, atTwo), ['cycle-routed']);
    assert.deepEqual(returnedView(returned), [
      { body: 'cycle', replyCode: 312, replyText: 'NO_ROUTE', exchange: one, routingKey: 'k' },
      { body: 'self', replyCode: 312, replyText: 'NO_ROUTE', exchange: selfName, routingKey: 'k' },
    ]);
  });
});

describe('alternate-exchange declarations', () => {
  test('redeclaring with another or without the alternate-exchange is 406 inequivalent arg', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const alternate = uniqueName('alt');
    const main = await exchange(t, ch, 'direct', { alternateExchange: alternate });
    await ch.assertExchange(main, 'direct', { durable: false, alternateExchange: alternate });
    const other = uniqueName('other');
    const changed = await expectChannelClose(
      ch,
      () => ch.assertExchange(main, 'direct', { durable: false, alternateExchange: other }),
      fault(replyCodes.preconditionFailed, methods.exchangeDeclare),
    );
    assertExactClose(changed, {
      replyCode: 406,
      replyText: `PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '${main}' in vhost '/': received '${other}' but current is '${alternate}'`,
      classId: 40,
      methodId: 10,
    });
    const again = await client.channel();
    const dropped = await expectChannelClose(
      again,
      () => again.assertExchange(main, 'direct', { durable: false }),
      fault(replyCodes.preconditionFailed, methods.exchangeDeclare),
    );
    assertExactClose(dropped, {
      replyCode: 406,
      replyText: `PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '${main}' in vhost '/': received none but current is the value '${alternate}' of type 'longstr'`,
      classId: 40,
      methodId: 10,
    });
  });

  test('an alternate-exchange that is not a string is 406 invalid type', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const name = uniqueName('bad-ae');
    deleteAfter(t, broker.url, { exchanges: [name] });
    const info = await expectChannelClose(
      ch,
      () => ch.assertExchange(name, 'direct', { durable: false, arguments: { 'alternate-exchange': 5 } }),
      fault(replyCodes.preconditionFailed, methods.exchangeDeclare),
    );
    // amqplib sends 5 as a signed byte.
    assertExactClose(info, {
      replyCode: 406,
      replyText: `PRECONDITION_FAILED - invalid type 'byte' for arg 'alternate-exchange' in exchange '${name}' in vhost '/'`,
      classId: 40,
      methodId: 10,
    });
  });
});

describe('internal exchanges', () => {
  test('publishing to an internal exchange is 403 ACCESS_REFUSED (basic.publish)', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const internal = await exchange(t, ch, 'fanout', { internal: true });
    const pub = await client.channel();
    const info = await expectChannelClose(
      pub,
      () => pub.publish(internal, '', Buffer.from('refused')),
      fault(replyCodes.accessRefused, methods.basicPublish),
    );
    assertExactClose(info, {
      replyCode: 403,
      replyText: `ACCESS_REFUSED - cannot publish to internal exchange '${internal}' in vhost '/'`,
      classId: 60,
      methodId: 40,
    });
    assert.ok(client.isOpen, 'only the channel is closed');
    assert.ok(isChannelOpen(ch));
  });

  test('an internal exchange routes what reaches it as an alternate exchange or through an exchange binding', async (t) => {
    const { ch, pub, returned } = await setup(t);
    const internal = await exchange(t, ch, 'fanout', { internal: true });
    const front = await exchange(t, ch, 'direct', { alternateExchange: internal });
    const source = await exchange(t, ch, 'topic');
    await ch.bindExchange(internal, source, 'orders.#');
    const queue = await boundQueue(ch, internal);
    await publishMandatory(pub, [
      { exchange: front, routingKey: 'unroutable', body: 'via-alternate' },
      { exchange: source, routingKey: 'orders.new', body: 'via-binding' },
    ]);
    assert.deepEqual(returned, []);
    const got: { body: string; exchange: string }[] = [];
    for (;;) {
      const message = await ch.get(queue, { noAck: true });
      if (message === false) break;
      got.push({ body: message.content.toString(), exchange: message.fields.exchange });
    }
    assert.deepEqual(got, [
      { body: 'via-alternate', exchange: front },
      { body: 'via-binding', exchange: source },
    ]);
  });

  test('redeclaring an internal exchange as not internal is 406 inequivalent arg', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const internal = await exchange(t, ch, 'fanout', { internal: true });
    const info = await expectChannelClose(
      ch,
      () => ch.assertExchange(internal, 'fanout', { durable: false, internal: false }),
      fault(replyCodes.preconditionFailed, methods.exchangeDeclare),
    );
    assertExactClose(info, {
      replyCode: 406,
      replyText: `PRECONDITION_FAILED - inequivalent arg 'internal' for exchange '${internal}' in vhost '/': received 'false' but current is 'true'`,
      classId: 40,
      methodId: 10,
    });
  });
});
