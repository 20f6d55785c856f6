/**
 * Routing as RabbitMQ implements it for each exchange type: the default exchange, direct, fanout,
 * topic (with every edge case of * and # and empty words) and headers (all, any, all-with-x,
 * any-with-x, value comparison), one copy per queue however many bindings match.
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
  fault,
  methods,
  openChannel,
  publishConfirmed,
  replyCodes,
  uniqueName,
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
