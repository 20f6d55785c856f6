/**
 * Exchange semantics as RabbitMQ implements them: routing by each exchange type, the predeclared
 * exchanges, declare equivalence, deletion, internal and auto-delete exchanges, exchange-to-exchange
 * bindings, and every error path with its reply code and class/method ids.
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

/** Binds one exclusive queue per pattern, publishes every key and returns which keys reached which pattern. */
async function routeMatrix(
  t: TestContext,
  type: 'topic' | 'direct',
  patterns: readonly string[],
  keys: readonly string[],
): Promise<Map<string, string[]>> {
  const { ch, pub } = await setup(t);
  const exchange = await tempExchange(ch, type);
  const queues = new Map<string, string>();
  for (const pattern of patterns) {
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, exchange, pattern);
    queues.set(pattern, queue);
  }
  await publishConfirmed(
    pub,
    keys.map((key) => ({ exchange, routingKey: key, body: key === '' ? '<empty>' : key })),
  );
  const result = new Map<string, string[]>();
  for (const [pattern, queue] of queues) result.set(pattern, await drain(ch, queue));
  return result;
}

describe('default exchange', () => {
  test('routes by queue name to every queue, without explicit bindings', async (t) => {
    const { ch, pub } = await setup(t);
    const a = await exclusiveQueue(ch);
    const b = await exclusiveQueue(ch);
    await publishConfirmed(pub, [
      { exchange: '', routingKey: a, body: 'to-a' },
      { exchange: '', routingKey: b, body: 'to-b' },
      { exchange: '', routingKey: 'no-such-queue-' + a, body: 'lost' },
    ]);
    assert.deepEqual(await drain(ch, a), ['to-a']);
    assert.deepEqual(await drain(ch, b), ['to-b']);
  });

  test('a delivery through the default exchange reports exchange "" and the queue name as routing key', async (t) => {
    const { ch, pub } = await setup(t);
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'x' }]);
    const message = await ch.get(queue, { noAck: true });
    assert.ok(message);
    assert.equal(message.fields.exchange, '');
    assert.equal(message.fields.routingKey, queue);
  });

  test('declaring, deleting or binding to the default exchange is refused with 403', async (t) => {
    const ok = fault(replyCodes.accessRefused, methods.exchangeDeclare, 'ACCESS_REFUSED');
    const { ch: declare } = await openChannel(t, broker.url);
    await expectChannelClose(declare, () => declare.assertExchange('', 'direct'), ok);

    const { ch: del } = await openChannel(t, broker.url);
    await expectChannelClose(
      del,
      () => del.deleteExchange(''),
      fault(replyCodes.accessRefused, methods.exchangeDelete, 'ACCESS_REFUSED'),
    );

    const { ch: bind } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(bind);
    await expectChannelClose(
      bind,
      () => bind.bindQueue(queue, '', 'key'),
      fault(replyCodes.accessRefused, methods.queueBind, 'ACCESS_REFUSED'),
    );

    const { ch: unbind } = await openChannel(t, broker.url);
    const queue2 = await exclusiveQueue(unbind);
    await expectChannelClose(
      unbind,
      () => unbind.unbindQueue(queue2, '', queue2),
      fault(replyCodes.accessRefused, methods.queueUnbind, 'ACCESS_REFUSED'),
    );
  });

  test('"amq.default" is not a name of the default exchange: publishing to it is 404', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => ch.publish('amq.default', 'anything', Buffer.from('x')),
      fault(replyCodes.notFound, methods.basicPublish, 'NOT_FOUND'),
    );
  });
});

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

describe('direct exchange', () => {
  test('routes by exact routing key; several queues may share a key', async (t) => {
    const { ch, pub } = await setup(t);
    const exchange = await tempExchange(ch, 'direct');
    const q1 = await exclusiveQueue(ch);
    const q2 = await exclusiveQueue(ch);
    const q3 = await exclusiveQueue(ch);
    await ch.bindQueue(q1, exchange, 'red');
    await ch.bindQueue(q2, exchange, 'red');
    await ch.bindQueue(q3, exchange, 'green');
    await ch.bindQueue(q3, exchange, '');
    await publishConfirmed(pub, [
      { exchange, routingKey: 'red', body: 'r' },
      { exchange, routingKey: 'green', body: 'g' },
      { exchange, routingKey: 'Red', body: 'case-sensitive' },
      { exchange, routingKey: '', body: 'empty-key' },
      { exchange, routingKey: 'blue', body: 'nobody' },
    ]);
    assert.deepEqual(await drain(ch, q1), ['r']);
    assert.deepEqual(await drain(ch, q2), ['r']);
    assert.deepEqual(await drain(ch, q3), ['g', 'empty-key']);
  });

  test('a queue reached through several bindings gets one copy', async (t) => {
    const { ch, pub } = await setup(t);
    const exchange = await tempExchange(ch, 'topic');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, exchange, 'a.b');
    await ch.bindQueue(queue, exchange, 'a.*');
    await ch.bindQueue(queue, exchange, '#');
    // Binding twice with the same key is idempotent.
    await ch.bindQueue(queue, exchange, 'a.b');
    await publishConfirmed(pub, [{ exchange, routingKey: 'a.b', body: 'once' }]);
    assert.deepEqual(await drain(ch, queue), ['once']);
  });

  test('unbinding stops routing; the other bindings stay', async (t) => {
    const { ch, pub } = await setup(t);
    const exchange = await tempExchange(ch, 'direct');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, exchange, 'one');
    await ch.bindQueue(queue, exchange, 'two');
    await ch.unbindQueue(queue, exchange, 'one');
    await publishConfirmed(pub, [
      { exchange, routingKey: 'one', body: '1' },
      { exchange, routingKey: 'two', body: '2' },
    ]);
    assert.deepEqual(await drain(ch, queue), ['2']);
  });
});

describe('fanout exchange', () => {
  test('copies every message to every bound queue, ignoring routing and binding keys', async (t) => {
    const { ch, pub } = await setup(t);
    const exchange = await tempExchange(ch, 'fanout');
    const queues = [await exclusiveQueue(ch), await exclusiveQueue(ch), await exclusiveQueue(ch)];
    await ch.bindQueue(queues[0] ?? '', exchange, '');
    await ch.bindQueue(queues[1] ?? '', exchange, 'some-key');
    await ch.bindQueue(queues[2] ?? '', exchange, '#');
    await publishConfirmed(pub, [
      { exchange, routingKey: '', body: 'a' },
      { exchange, routingKey: 'whatever', body: 'b' },
    ]);
    for (const queue of queues) assert.deepEqual(await drain(ch, queue), ['a', 'b']);
  });

  test('the same queue bound with two keys still gets one copy', async (t) => {
    const { ch, pub } = await setup(t);
    const exchange = await tempExchange(ch, 'fanout');
    const queue = await exclusiveQueue(ch);
    await ch.bindQueue(queue, exchange, 'k1');
    await ch.bindQueue(queue, exchange, 'k2');
    await publishConfirmed(pub, [{ exchange, routingKey: '', body: 'one' }]);
    assert.deepEqual(await drain(ch, queue), ['one']);
  });
});

describe('topic exchange', () => {
  test('* matches exactly one word, # matches zero or more words', async (t) => {
    const keys = ['', 'a', 'b', 'a.b', 'a.x.b', 'a.x.y.b', 'a.b.b', 'x.a.y', 'a.b.c', 'A.B', 'b.a'];
    const result = await routeMatrix(t, 'topic', ['#', '*', 'a.#', 'a.*', '#.b', '*.b', 'a.#.b', 'a.*.b', 'a.b.#', '*.*.*', '#.a.#'], keys);
    assert.deepEqual(Object.fromEntries(result), {
      '#': ['<empty>', 'a', 'b', 'a.b', 'a.x.b', 'a.x.y.b', 'a.b.b', 'x.a.y', 'a.b.c', 'A.B', 'b.a'],
      '*': ['a', 'b'],
      'a.#': ['a', 'a.b', 'a.x.b', 'a.x.y.b', 'a.b.b', 'a.b.c'],
      'a.*': ['a.b'],
      '#.b': ['b', 'a.b', 'a.x.b', 'a.x.y.b', 'a.b.b'],
      '*.b': ['a.b'],
      'a.#.b': ['a.b', 'a.x.b', 'a.x.y.b', 'a.b.b'],
      'a.*.b': ['a.x.b', 'a.b.b'],
      'a.b.#': ['a.b', 'a.b.b', 'a.b.c'],
      '*.*.*': ['a.x.b', 'a.b.b', 'x.a.y', 'a.b.c'],
      '#.a.#': ['a', 'a.b', 'a.x.b', 'a.x.y.b', 'a.b.b', 'x.a.y', 'a.b.c', 'b.a'],
    });
  });

  test('combinations of # and *: #.#, a.#.#.b, *.#, #.*, a.#.*', async (t) => {
    const keys = ['', 'a', 'b', 'a.b', 'a.x.b', 'a.x.y.b', 'x.a.y'];
    const result = await routeMatrix(t, 'topic', ['#.#', 'a.#.#.b', '*.#', '#.*', 'a.#.*', '*.*'], keys);
    assert.deepEqual(Object.fromEntries(result), {
      '#.#': ['<empty>', 'a', 'b', 'a.b', 'a.x.b', 'a.x.y.b', 'x.a.y'],
      'a.#.#.b': ['a.b', 'a.x.b', 'a.x.y.b'],
      '*.#': ['a', 'b', 'a.b', 'a.x.b', 'a.x.y.b', 'x.a.y'],
      '#.*': ['a', 'b', 'a.b', 'a.x.b', 'a.x.y.b', 'x.a.y'],
      'a.#.*': ['a.b', 'a.x.b', 'a.x.y.b'],
      '*.*': ['a.b'],
    });
  });

  test('empty words: the empty key has no words (* does not match it), "a." and ".a" have an empty word', async (t) => {
    const keys = ['', 'a', 'a.', '.a', '.', '..', 'a..b'];
    const result = await routeMatrix(t, 'topic', ['', '*', '*.*', 'a.*', '*.a', 'a.*.b', 'a.#.b', '..', '.', 'a..b'], keys);
    assert.deepEqual(Object.fromEntries(result), {
      '': ['<empty>'],
      '*': ['a'],
      '*.*': ['a.', '.a', '.'],
      'a.*': ['a.'],
      '*.a': ['.a'],
      'a.*.b': ['a..b'],
      'a.#.b': ['a..b'],
      '..': ['..'],
      '.': ['.'],
      'a..b': ['a..b'],
    });
  });

  test('many bindings on one topic exchange route each key to exactly the matching queues', async (t) => {
    const { ch, pub } = await setup(t);
    const exchange = await tempExchange(ch, 'topic');
    const queues: string[] = [];
    for (let i = 0; i < 40; i += 1) {
      const queue = await exclusiveQueue(ch);
      await ch.bindQueue(queue, exchange, `stock.${i}.*`);
      await ch.bindQueue(queue, exchange, `#.q${i}`);
      queues.push(queue);
    }
    await publishConfirmed(pub, [
      { exchange, routingKey: 'stock.7.nyse', body: 's7' },
      { exchange, routingKey: 'stock.7.nyse.extra', body: 'none' },
      { exchange, routingKey: 'x.y.q13', body: 'q13' },
      { exchange, routingKey: 'q7', body: 'q7' },
    ]);
    for (let i = 0; i < queues.length; i += 1) {
      const expected = i === 7 ? ['s7', 'q7'] : i === 13 ? ['q13'] : [];
      assert.deepEqual(await drain(ch, queues[i] ?? ''), expected, `queue ${i}`);
    }
  });
});

describe('headers exchange', () => {
  /** Binds one queue per binding-argument table, publishes every header set, returns what each queue got. */
  async function headersMatrix(
    t: TestContext,
    bindings: Record<string, Record<string, unknown>>,
    messages: Record<string, Record<string, unknown>>,
  ): Promise<Record<string, string[]>> {
    const { ch, pub } = await setup(t);
    const exchange = await tempExchange(ch, 'headers');
    const queues = new Map<string, string>();
    for (const [name, args] of Object.entries(bindings)) {
      const queue = await exclusiveQueue(ch);
      await ch.bindQueue(queue, exchange, 'ignored', args);
      queues.set(name, queue);
    }
    await publishConfirmed(
      pub,
      Object.entries(messages).map(([name, headers]) => ({
        exchange,
        routingKey: 'any-key',
        body: name,
        options: { headers },
      })),
    );
    const result: Record<string, string[]> = {};
    for (const [name, queue] of queues) result[name] = await drain(ch, queue);
    return result;
  }

  const messages = {
    none: {},
    'a=1': { a: 1 },
    'a=1,b=2': { a: 1, b: 2 },
    'a=1,b=3': { a: 1, b: 3 },
    'b=2': { b: 2 },
    'x-k=1': { 'x-k': 1 },
    'a=1,x-k=1': { a: 1, 'x-k': 1 },
    'a=1,b=2,c=3': { a: 1, b: 2, c: 3 },
  };

  test('x-match all (the default) needs every pair, any needs one; x- pairs are ignored by both', async (t) => {
    const result = await headersMatrix(
      t,
      {
        all: { 'x-match': 'all', a: 1, b: 2 },
        any: { 'x-match': 'any', a: 1, b: 2 },
        default: { a: 1, b: 2 },
        'all+x': { 'x-match': 'all', a: 1, 'x-k': 1 },
        'any+x-only': { 'x-match': 'any', 'x-k': 1 },
      },
      messages,
    );
    assert.deepEqual(result, {
      all: ['a=1,b=2', 'a=1,b=2,c=3'],
      any: ['a=1', 'a=1,b=2', 'a=1,b=3', 'b=2', 'a=1,x-k=1', 'a=1,b=2,c=3'],
      default: ['a=1,b=2', 'a=1,b=2,c=3'],
      'all+x': ['a=1', 'a=1,b=2', 'a=1,b=3', 'a=1,x-k=1', 'a=1,b=2,c=3'],
      'any+x-only': [],
    });
  });

  test('all-with-x and any-with-x also compare x- pairs', async (t) => {
    const result = await headersMatrix(
      t,
      {
        'all-with-x': { 'x-match': 'all-with-x', a: 1, 'x-k': 1 },
        'any-with-x': { 'x-match': 'any-with-x', 'x-k': 1 },
      },
      messages,
    );
    assert.deepEqual(result, {
      'all-with-x': ['a=1,x-k=1'],
      'any-with-x': ['x-k=1', 'a=1,x-k=1'],
    });
  });

  test('a binding with no pairs: all matches every message, any matches none', async (t) => {
    const result = await headersMatrix(
      t,
      { 'all-empty': { 'x-match': 'all' }, 'any-empty': { 'x-match': 'any' }, 'no-args': {} },
      messages,
    );
    const everything = Object.keys(messages);
    assert.deepEqual(result, { 'all-empty': everything, 'any-empty': [], 'no-args': everything });
  });

  test('values compare by value: numbers of any width are equal, strings and booleans are not numbers, void matches presence', async (t) => {
    const result = await headersMatrix(
      t,
      {
        'int8 1': { 'x-match': 'all', a: 1 },
        'string "1"': { 'x-match': 'all', a: '1' },
        'bool true': { 'x-match': 'all', a: true },
        void: { 'x-match': 'all', a: null },
      },
      {
        'int8 1': { a: 1 },
        'int32 1': { a: { '!': 'int32', value: 1 } },
        'int64 1': { a: { '!': 'int64', value: 1 } },
        'double 1': { a: { '!': 'double', value: 1 } },
        'string "1"': { a: '1' },
        'bool true': { a: true },
        void: { a: null },
        'int8 2': { a: 2 },
        absent: { b: 1 },
      },
    );
    assert.deepEqual(result, {
      'int8 1': ['int8 1', 'int32 1', 'int64 1', 'double 1'],
      'string "1"': ['string "1"'],
      'bool true': ['bool true'],
      void: ['int8 1', 'int32 1', 'int64 1', 'double 1', 'string "1"', 'bool true', 'void', 'int8 2'],
    });
  });

  test('amq.headers and amq.match are headers exchanges', async (t) => {
    const { ch, pub } = await setup(t);
    const q1 = await exclusiveQueue(ch);
    const q2 = await exclusiveQueue(ch);
    const marker = uniqueName('marker');
    await ch.bindQueue(q1, 'amq.headers', '', { 'x-match': 'all', marker });
    await ch.bindQueue(q2, 'amq.match', '', { 'x-match': 'any', marker, other: 1 });
    await publishConfirmed(pub, [
      { exchange: 'amq.headers', routingKey: '', body: 'h', options: { headers: { marker } } },
      { exchange: 'amq.match', routingKey: '', body: 'm', options: { headers: { marker } } },
    ]);
    assert.deepEqual(await drain(ch, q1), ['h']);
    assert.deepEqual(await drain(ch, q2), ['m']);
  });

  test('an invalid x-match value is 406 on queue.bind', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const exchange = await tempExchange(ch, 'headers');
    deleteAfter(t, broker.url, { exchanges: [exchange] });
    const queue = await exclusiveQueue(ch);
    await expectChannelClose(
      ch,
      () => ch.bindQueue(queue, exchange, '', { 'x-match': 'bogus', a: 1 }),
      fault(replyCodes.preconditionFailed, methods.queueBind, 'PRECONDITION_FAILED'),
    );
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
