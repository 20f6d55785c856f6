/**
 * Publisher confirms and transactions as RabbitMQ implements them: confirm delivery tags from 1,
 * basic.return before basic.ack for unroutable mandatory messages, tx publishes and acks applied
 * on commit and discarded on rollback, and the precondition failures between the two modes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Channel, Message } from 'amqplib';
import { startTestBroker, type TestBroker } from '../helpers/broker.js';
import {
  drain,
  exclusiveQueue,
  expectChannelClose,
  fault,
  methods,
  openChannel,
  publishConfirmed,
  rawRpc,
  replyCodes,
  uniqueName,
  deleteAfter,
} from '../helpers/amqp.js';

let broker: TestBroker;

before(async () => {
  broker = await startTestBroker();
});

after(async () => {
  await broker.close();
});

const txSelectOk = [90, 11] as const;
const txCommitOk = [90, 21] as const;
const txRollbackOk = [90, 31] as const;
const confirmSelectOk = [85, 11] as const;

function txSelect(ch: Channel): Promise<unknown> {
  return rawRpc(ch, methods.txSelect, {}, txSelectOk);
}

function txCommit(ch: Channel): Promise<unknown> {
  return rawRpc(ch, methods.txCommit, {}, txCommitOk);
}

function txRollback(ch: Channel): Promise<unknown> {
  return rawRpc(ch, methods.txRollback, {}, txRollbackOk);
}

/** Ready message count of `queue`. */
async function ready(ch: Channel, queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount;
}

/** Expands basic.ack frames (some with multiple=true) into the set of confirmed delivery tags. */
function confirmedTags(acks: readonly { deliveryTag: number; multiple: boolean }[]): number[] {
  const tags = new Set<number>();
  let highest = 0;
  for (const ack of acks) {
    assert.ok(ack.deliveryTag > highest || !ack.multiple, `acks go forward: ${JSON.stringify(acks)}`);
    if (ack.multiple) for (let tag = highest + 1; tag <= ack.deliveryTag; tag += 1) tags.add(tag);
    else tags.add(ack.deliveryTag);
    highest = Math.max(highest, ack.deliveryTag);
  }
  return [...tags].sort((a, b) => a - b);
}

describe('publisher confirms', () => {
  test('every publish is acked; delivery tags count from 1 and acks may cover several with multiple', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const acks: { deliveryTag: number; multiple: boolean }[] = [];
    pub.on('ack', (fields: { deliveryTag: number; multiple: boolean }) => acks.push(fields));
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(
      pub,
      Array.from({ length: 25 }, (_, i) => ({ exchange: '', routingKey: queue, body: `m${i}` })),
    );
    assert.deepEqual(confirmedTags(acks), Array.from({ length: 25 }, (_, i) => i + 1));
    assert.equal(await ready(ch, queue), 25);
  });

  test('unroutable messages are acked too; a mandatory one gets basic.return first, then basic.ack', async (t) => {
    const { client } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const events: string[] = [];
    const acks: { deliveryTag: number; multiple: boolean }[] = [];
    pub.on('return', (message: Message) => events.push(`return:${message.content.toString()}`));
    pub.on('ack', (fields: { deliveryTag: number; multiple: boolean }) => {
      events.push('ack');
      acks.push(fields);
    });
    const key = uniqueName('nowhere');
    await publishConfirmed(pub, [
      { exchange: 'amq.direct', routingKey: key, body: 'returned', options: { mandatory: true } },
      { exchange: 'amq.direct', routingKey: key, body: 'dropped' },
    ]);
    assert.equal(events[0], 'return:returned', `events: ${events.join(', ')}`);
    assert.equal(events.filter((event) => event.startsWith('return')).length, 1);
    assert.deepEqual(confirmedTags(acks), [1, 2]);
  });

  test('a message routed to several queues is confirmed once', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const acks: { deliveryTag: number; multiple: boolean }[] = [];
    pub.on('ack', (fields: { deliveryTag: number; multiple: boolean }) => acks.push(fields));
    const exchange = uniqueName('fanout');
    await ch.assertExchange(exchange, 'fanout', { durable: false, autoDelete: true });
    for (let i = 0; i < 3; i += 1) await ch.bindQueue(await exclusiveQueue(ch), exchange, '');
    await publishConfirmed(pub, [
      { exchange, routingKey: '', body: 'a' },
      { exchange, routingKey: '', body: 'b' },
    ]);
    assert.deepEqual(confirmedTags(acks), [1, 2]);
  });

  test('persistent messages to a durable queue are confirmed', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = uniqueName('durable');
    deleteAfter(t, broker.url, { queues: [queue] });
    await ch.assertQueue(queue, { durable: true });
    const pub = await client.confirmChannel();
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'p', options: { persistent: true } }]);
    assert.equal(await ready(ch, queue), 1);
  });

  test('confirm.select twice is OK', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await rawRpc(ch, methods.confirmSelect, { nowait: false }, confirmSelectOk);
    await rawRpc(ch, methods.confirmSelect, { nowait: false }, confirmSelectOk);
  });

  test('publishing to a missing exchange in confirm mode closes the channel with 404, no ack', async (t) => {
    const { client } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    let acked = false;
    pub.on('ack', () => {
      acked = true;
    });
    await expectChannelClose(
      pub,
      () => pub.publish(uniqueName('missing'), 'k', Buffer.from('x')),
      fault(replyCodes.notFound, methods.basicPublish, 'NOT_FOUND'),
    );
    assert.equal(acked, false);
  });

  test('tx.select on a confirm channel is 406 (tx.select)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await rawRpc(ch, methods.confirmSelect, { nowait: false }, confirmSelectOk);
    await expectChannelClose(ch, () => txSelect(ch), fault(replyCodes.preconditionFailed, methods.txSelect, 'PRECONDITION_FAILED'));
  });

  test('confirm.select on a transactional channel is 406 (confirm.select)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await txSelect(ch);
    await expectChannelClose(
      ch,
      () => rawRpc(ch, methods.confirmSelect, { nowait: false }, confirmSelectOk),
      fault(replyCodes.preconditionFailed, methods.confirmSelect, 'PRECONDITION_FAILED'),
    );
  });
});

describe('transactions', () => {
  test('publishes are invisible until commit; the channel stays transactional after commit', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const tx = await client.channel();
    await txSelect(tx);
    tx.sendToQueue(queue, Buffer.from('a'));
    tx.sendToQueue(queue, Buffer.from('b'));
    // A synchronous method on the tx channel proves the publishes have been processed.
    await tx.checkQueue(queue);
    assert.equal(await ready(ch, queue), 0);
    await txCommit(tx);
    assert.equal(await ready(ch, queue), 2);
    tx.sendToQueue(queue, Buffer.from('c'));
    await tx.checkQueue(queue);
    assert.equal(await ready(ch, queue), 2);
    await txCommit(tx);
    assert.deepEqual(await drain(ch, queue), ['a', 'b', 'c']);
  });

  test('rollback discards the publishes', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const tx = await client.channel();
    await txSelect(tx);
    tx.sendToQueue(queue, Buffer.from('discarded'));
    await txRollback(tx);
    tx.sendToQueue(queue, Buffer.from('kept'));
    await txCommit(tx);
    assert.deepEqual(await drain(ch, queue), ['kept']);
  });

  test('closing a transactional channel discards uncommitted publishes', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const queue = await exclusiveQueue(ch);
    const tx = await client.channel();
    await txSelect(tx);
    tx.sendToQueue(queue, Buffer.from('lost'));
    await tx.close();
    assert.equal(await ready(ch, queue), 0);
  });

  test('acks are applied on commit; a rolled-back ack leaves the message unacked (not requeued)', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, ['m0', 'm1', 'm2'].map((body) => ({ exchange: '', routingKey: queue, body })));
    await txSelect(ch);
    const m0 = await ch.get(queue);
    const m1 = await ch.get(queue);
    assert.ok(m0 && m1);
    ch.ack(m0);
    await txRollback(ch);
    assert.equal(await ready(ch, queue), 1, 'the rolled-back ack neither removed nor requeued m0');
    ch.ack(m1);
    await txCommit(ch);
    await ch.recover();
    // m0 is still unacked and comes back; m1's ack was committed.
    const rest: string[] = [];
    for (;;) {
      const message = await ch.get(queue, { noAck: true });
      if (message === false) break;
      rest.push(message.content.toString() + (message.fields.redelivered ? '*' : ''));
    }
    assert.deepEqual(rest, ['m0*', 'm2']);
  });

  test('a requeueing reject inside a transaction takes effect only on commit', async (t) => {
    const { client, ch } = await openChannel(t, broker.url);
    const pub = await client.confirmChannel();
    const queue = await exclusiveQueue(ch);
    await publishConfirmed(pub, [{ exchange: '', routingKey: queue, body: 'm0' }]);
    await txSelect(ch);
    const message = await ch.get(queue);
    assert.ok(message);
    ch.reject(message, true);
    assert.equal(await ready(ch, queue), 0);
    await txCommit(ch);
    assert.equal(await ready(ch, queue), 1);
  });

  test('an unroutable mandatory publish in a transaction is returned at commit, before commit-ok', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    const events: string[] = [];
    ch.on('return', () => events.push('return'));
    await txSelect(ch);
    ch.publish('amq.direct', uniqueName('nowhere'), Buffer.from('x'), { mandatory: true });
    await ch.checkExchange('amq.direct');
    events.push('before-commit');
    await txCommit(ch);
    events.push('commit-ok');
    assert.deepEqual(events, ['before-commit', 'return', 'commit-ok']);
  });

  test('tx.select twice is OK; a commit or rollback with nothing pending is OK', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await txSelect(ch);
    await txSelect(ch);
    await txCommit(ch);
    await txRollback(ch);
  });

  test('tx.commit without tx.select is 406 (tx.commit)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(ch, () => txCommit(ch), fault(replyCodes.preconditionFailed, methods.txCommit, 'PRECONDITION_FAILED'));
  });

  test('tx.rollback without tx.select is 406 (tx.rollback)', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await expectChannelClose(
      ch,
      () => txRollback(ch),
      fault(replyCodes.preconditionFailed, methods.txRollback, 'PRECONDITION_FAILED'),
    );
  });

  test('errors inside a transaction are raised at once, not at commit', async (t) => {
    const { ch } = await openChannel(t, broker.url);
    await txSelect(ch);
    await expectChannelClose(
      ch,
      () => ch.publish(uniqueName('missing'), 'k', Buffer.from('x')),
      fault(replyCodes.notFound, methods.basicPublish, 'NOT_FOUND'),
    );
    const { ch: ch2 } = await openChannel(t, broker.url);
    await txSelect(ch2);
    await expectChannelClose(
      ch2,
      () => ch2.ack({ fields: { deliveryTag: 9 } } as unknown as Message),
      fault(replyCodes.preconditionFailed, methods.basicAck, 'PRECONDITION_FAILED'),
    );
  });
});
