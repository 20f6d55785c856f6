/**
 * The main flows once more with @cloudamqp/amqp-client, a client with its own codec and frame
 * handling: declare, bind, publish with properties, consume and ack, get, nack/reject/recover, qos,
 * confirms, transactions, channel.flow, returns, server cancels, large bodies and error closes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test, type TestContext } from 'node:test';
import { AMQPClient, type AMQPBaseClient, type AMQPChannel, type AMQPMessage } from '@cloudamqp/amqp-client';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import { uniqueName, waitFor, withTimeout } from '../helpers/amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

/** A connection whose server-sent errors are recorded, closed when the test ends. */
interface Session {
  connection: AMQPBaseClient;
  ch: AMQPChannel;
  /** Messages of connection-level closes and channel errors, as the client reports them. */
  errors: string[];
}

async function open(t: TestContext): Promise<Session> {
  const client = new AMQPClient(broker.url);
  const connection = await client.connect();
  const errors: string[] = [];
  connection.onerror = (error) => {
    errors.push(error.message);
  };
  t.after(async () => {
    if (!connection.closed) await connection.close().catch(() => {});
  });
  const ch = await connection.channel();
  return { connection, ch, errors };
}

/** The reply code cloudamqp puts at the end of a close error message: "... (404)". */
function replyCodeOf(error: unknown): number {
  const match = /\((\d{3})\)$/.exec(error instanceof Error ? error.message : String(error));
  return match ? Number(match[1]) : 0;
}

/** Expects `promise` to reject with a close carrying `code` and reply text starting with `prefix`. */
async function rejectsWith(promise: Promise<unknown>, code: number, prefix: string): Promise<void> {
  await assert.rejects(promise, (error: Error) => {
    assert.equal(replyCodeOf(error), code, error.message);
    assert.match(error.message, new RegExp(`closed: ${prefix}`));
    return true;
  });
}

/** Body of a cloudamqp message as a string. */
function text(message: AMQPMessage | null): string | null {
  return message === null ? null : message.bodyToString();
}

describe('@cloudamqp/amqp-client', () => {
  test('declare, bind, publish with properties, get', async (t) => {
    const { ch } = await open(t);
    const exchange = uniqueName('topic');
    await ch.exchangeDeclare(exchange, 'topic', { durable: false, autoDelete: true });
    const { name: queue, messageCount, consumerCount } = await ch.queueDeclare('', { exclusive: true });
    assert.match(queue, /^amq\.gen-/);
    assert.deepEqual([messageCount, consumerCount], [0, 0]);
    await ch.queueBind(queue, exchange, 'orders.*');
    await ch.confirmSelect();
    const timestamp = new Date(1700000000000);
    await ch.basicPublish(exchange, 'orders.new', 'hello', {
      contentType: 'text/plain',
      deliveryMode: 2,
      priority: 3,
      correlationId: 'c-1',
      messageId: 'm-1',
      timestamp,
      headers: { int: 42, str: 'x', bool: true, nested: { a: 1 }, list: [1, 'b'] },
    });
    await ch.basicPublish(exchange, 'invoices.new', 'not routed');
    const message = await ch.basicGet(queue, { noAck: true });
    assert.ok(message);
    assert.equal(text(message), 'hello');
    assert.equal(message.exchange, exchange);
    assert.equal(message.routingKey, 'orders.new');
    assert.equal(message.messageCount, 0);
    assert.equal(message.properties.contentType, 'text/plain');
    assert.equal(message.properties.deliveryMode, 2);
    assert.equal(message.properties.priority, 3);
    assert.equal(message.properties.correlationId, 'c-1');
    assert.equal(message.properties.messageId, 'm-1');
    assert.equal(message.properties.timestamp?.getTime(), timestamp.getTime());
    assert.deepEqual(message.properties.headers, { int: 42, str: 'x', bool: true, nested: { a: 1 }, list: [1, 'b'] });
    assert.equal(await ch.basicGet(queue), null);
  });

  test('consume with manual ack, prefetch, nack with requeue and redelivery', async (t) => {
    const { connection, ch } = await open(t);
    const { name: queue } = await ch.queueDeclare('', { exclusive: true });
    await ch.basicQos(1);
    const received: AMQPMessage[] = [];
    const consumer = await ch.basicConsume(queue, { noAck: false }, (message) => {
      received.push(message);
    });
    assert.match(consumer.tag, /^amq\.ctag-/);
    const publisher = await connection.channel();
    for (const body of ['a', 'b']) await publisher.basicPublish('', queue, body);
    await waitFor(() => received.length === 1);
    const first = received[0];
    assert.ok(first);
    assert.equal(first.redelivered, false);
    await first.nack(true);
    await waitFor(() => received.length === 2);
    const again = received[1];
    assert.ok(again);
    assert.equal(text(again), 'a');
    assert.equal(again.redelivered, true);
    await again.ack();
    await waitFor(() => received.length === 3);
    assert.equal(text(received[2] ?? null), 'b');
    await received[2]?.ack();
    await consumer.cancel();
  });

  test('reject without requeue drops; recover requeues unacked messages', async (t) => {
    const { ch } = await open(t);
    const { name: queue } = await ch.queueDeclare('', { exclusive: true });
    for (const body of ['a', 'b', 'c']) await ch.basicPublish('', queue, body);
    await waitFor(async () => (await ch.queueDeclare(queue, { passive: true })).messageCount === 3);
    const a = await ch.basicGet(queue, { noAck: false });
    const b = await ch.basicGet(queue, { noAck: false });
    assert.ok(a && b);
    await a.reject(false);
    await ch.basicRecover(true);
    const rest: string[] = [];
    for (;;) {
      const message = await ch.basicGet(queue, { noAck: true });
      if (message === null) break;
      rest.push(`${text(message)}${message.redelivered ? '*' : ''}`);
    }
    assert.deepEqual(rest, ['b*', 'c']);
  });

  test('publisher confirms resolve each publish with its delivery tag, counting from 1', async (t) => {
    const { ch } = await open(t);
    const { name: queue } = await ch.queueDeclare('', { exclusive: true });
    await ch.confirmSelect();
    const tags = await Promise.all([1, 2, 3, 4, 5].map((n) => ch.basicPublish('', queue, `m${n}`)));
    assert.deepEqual(tags, [1, 2, 3, 4, 5]);
    const { messageCount } = await ch.queueDeclare(queue, { passive: true });
    assert.equal(messageCount, 5);
  });

  test('a mandatory unroutable publish is returned with 312 NO_ROUTE', async (t) => {
    const { ch } = await open(t);
    const returned: AMQPMessage[] = [];
    ch.onReturn = (message) => returned.push(message);
    await ch.confirmSelect();
    const key = uniqueName('nowhere');
    await ch.basicPublish('amq.direct', key, 'bounce', {}, true);
    await waitFor(() => returned.length === 1);
    assert.equal(returned[0]?.replyCode, 312);
    assert.equal(returned[0]?.replyText, 'NO_ROUTE');
    assert.equal(returned[0]?.routingKey, key);
    assert.equal(text(returned[0] ?? null), 'bounce');
  });

  test('transactions: commit publishes, rollback discards them', async (t) => {
    const { connection, ch } = await open(t);
    const { name: queue } = await ch.queueDeclare('', { exclusive: true });
    const tx = await connection.channel();
    await tx.txSelect();
    await tx.basicPublish('', queue, 'rolled-back');
    await tx.txRollback();
    await tx.basicPublish('', queue, 'committed');
    await tx.txCommit();
    assert.equal(text(await ch.basicGet(queue)), 'committed');
    assert.equal(await ch.basicGet(queue), null);
  });

  test('channel.flow active=true answers flow-ok true', async (t) => {
    const { ch } = await open(t);
    assert.equal(await ch.basicFlow(true), true);
  });

  test('channel.flow active=false closes the connection with 540', async (t) => {
    const { connection, ch, errors } = await open(t);
    await rejectsWith(ch.basicFlow(false), 540, 'NOT_IMPLEMENTED');
    await waitFor(() => errors.some((error) => /^connection closed: NOT_IMPLEMENTED.*\(540\)$/.test(error)));
    assert.ok(connection.closed);
  });

  test('a passive declare of a missing queue closes the channel with 404; the connection stays', async (t) => {
    const { connection, ch } = await open(t);
    await rejectsWith(ch.queueDeclare(uniqueName('missing'), { passive: true }), 404, 'NOT_FOUND');
    assert.equal(ch.closed, true);
    const next = await connection.channel();
    await next.queueDeclare('', { exclusive: true });
  });

  test('an exchange redeclared with another type closes the channel with 406', async (t) => {
    const { ch } = await open(t);
    const exchange = uniqueName('direct');
    await ch.exchangeDeclare(exchange, 'direct', { durable: false, autoDelete: true });
    const { name: queue } = await ch.queueDeclare('', { exclusive: true });
    await ch.queueBind(queue, exchange, 'k');
    await rejectsWith(ch.exchangeDeclare(exchange, 'fanout', { durable: false, autoDelete: true }), 406, 'PRECONDITION_FAILED');
  });

  test('an exclusive queue is locked (405) to another connection', async (t) => {
    const { ch } = await open(t);
    const queue = uniqueName('exclusive');
    await ch.queueDeclare(queue, { exclusive: true, durable: false, autoDelete: false });
    const other = await open(t);
    await rejectsWith(other.ch.basicGet(queue), 405, 'RESOURCE_LOCKED');
  });

  test('acking an unknown delivery tag closes the channel with 406', async (t) => {
    const { ch } = await open(t);
    await ch.basicAck(99);
    await rejectsWith(ch.queueDeclare('', { exclusive: true }), 406, 'PRECONDITION_FAILED');
  });

  test('a reused consumer tag closes the connection with 530', async (t) => {
    const { connection, ch, errors } = await open(t);
    const { name: queue } = await ch.queueDeclare('', { exclusive: true });
    await ch.basicConsume(queue, { tag: 'dup' }, () => {});
    await rejectsWith(ch.basicConsume(queue, { tag: 'dup' }, () => {}), 530, 'NOT_ALLOWED');
    await waitFor(() => errors.some((error) => /^connection closed: NOT_ALLOWED.*\(530\)$/.test(error)));
    assert.ok(connection.closed);
  });

  test('deleting a consumed queue cancels the consumer from the server side', async (t) => {
    const { connection, ch } = await open(t);
    const queue = uniqueName('q');
    await ch.queueDeclare(queue, { durable: false, autoDelete: false, exclusive: false });
    const consumer = await ch.basicConsume(queue, { noAck: true }, () => {});
    const other = await connection.channel();
    await other.queueDelete(queue);
    await assert.rejects(withTimeout(consumer.wait(), 3000, 'the server cancel'), /cancelled by the server/);
    // The channel survives the server's basic.cancel.
    await ch.queueDeclare('', { exclusive: true });
  });

  test('a 2 MiB body round-trips through a consumer', async (t) => {
    const { ch } = await open(t);
    const { name: queue } = await ch.queueDeclare('', { exclusive: true });
    const body = randomBytes(2 * 1024 * 1024);
    await ch.confirmSelect();
    await ch.basicPublish('', queue, body);
    const received: AMQPMessage[] = [];
    await ch.basicConsume(queue, { noAck: true }, (message) => {
      received.push(message);
    });
    await waitFor(() => received.length === 1, 10000);
    const got = received[0]?.body;
    assert.ok(got instanceof Uint8Array);
    assert.ok(Buffer.from(got).equals(body));
  });

  test('queue purge and delete report message counts; delete if-empty fails with 406', async (t) => {
    const { connection, ch } = await open(t);
    const queue = uniqueName('q');
    await ch.queueDeclare(queue, { durable: false, autoDelete: false, exclusive: false });
    await ch.confirmSelect();
    for (const body of ['a', 'b', 'c']) await ch.basicPublish('', queue, body);
    assert.deepEqual(await ch.queuePurge(queue), { messageCount: 3 });
    await ch.basicPublish('', queue, 'd');
    await rejectsWith(ch.queueDelete(queue, { ifEmpty: true }), 406, 'PRECONDITION_FAILED');
    const next = await connection.channel();
    assert.deepEqual(await next.queueDelete(queue), { messageCount: 1 });
  });
});
