/**
 * BatchedAcks (src/tasks/batched-acks.ts): deliveries finish in any order; one basic.ack(multiple)
 * per event-loop turn covers the longest finished run from the oldest outstanding delivery, and a
 * requeued delivery is nacked on its own and never named by a later ack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AMQPChannel, AMQPMessage } from '@cloudamqp/amqp-client';
import { BatchedAcks } from '../../../src/tasks/batched-acks.js';

interface Sent {
  method: 'ack' | 'nack';
  tag: number;
  multiple: boolean;
}

/** A channel that records what the acks would send, and messages of that channel. */
function recordingChannel(): { channel: AMQPChannel; sent: Sent[]; message(tag: number): AMQPMessage } {
  const sent: Sent[] = [];
  const channel = {
    basicAck: async (tag: number, multiple = false) => void sent.push({ method: 'ack', tag, multiple }),
  } as unknown as AMQPChannel;
  const message = (tag: number): AMQPMessage =>
    ({ deliveryTag: tag, nack: async (_requeue = true, multiple = false) => void sent.push({ method: 'nack', tag, multiple }) }) as unknown as AMQPMessage;
  return { channel, sent, message };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('finished deliveries are acked together with one multiple ack per turn, up to the first unfinished one', async () => {
  const { channel, sent, message } = recordingChannel();
  const acks = new BatchedAcks(channel);
  const messages = [1, 2, 3, 4, 5].map(message);
  for (const each of messages) acks.track(each);
  acks.done(messages[1] as AMQPMessage);
  acks.done(messages[0] as AMQPMessage);
  acks.done(messages[3] as AMQPMessage);
  await nextTurn();
  assert.deepEqual(sent, [{ method: 'ack', tag: 2, multiple: true }], 'tag 3 is still running, so 4 waits');
  acks.done(messages[2] as AMQPMessage);
  acks.done(messages[4] as AMQPMessage);
  await nextTurn();
  assert.deepEqual(sent.at(-1), { method: 'ack', tag: 5, multiple: true });
  assert.equal(sent.length, 2);
});

test('a requeued delivery is nacked alone at once; later acks pass it without naming it', async () => {
  const { channel, sent, message } = recordingChannel();
  const acks = new BatchedAcks(channel);
  const messages = [1, 2, 3].map(message);
  for (const each of messages) acks.track(each);
  await acks.requeue(messages[2] as AMQPMessage);
  assert.deepEqual(sent, [{ method: 'nack', tag: 3, multiple: false }]);
  acks.done(messages[0] as AMQPMessage);
  await nextTurn();
  assert.deepEqual(sent.at(-1), { method: 'ack', tag: 1, multiple: true });
  acks.done(messages[1] as AMQPMessage);
  await acks.flush();
  assert.deepEqual(sent.at(-1), { method: 'ack', tag: 2, multiple: true }, 'tag 3 was nacked: the ack stops before it');
  const tracked = message(4);
  acks.track(tracked);
  acks.done(tracked);
  await acks.flush();
  assert.deepEqual(sent.at(-1), { method: 'ack', tag: 4, multiple: true });
});

test('many deliveries: every one is covered exactly once, in order, whatever the finishing order', async () => {
  const { channel, sent, message } = recordingChannel();
  const acks = new BatchedAcks(channel);
  const messages = Array.from({ length: 3000 }, (_, index) => message(index + 1));
  for (const each of messages) acks.track(each);
  const order = [...messages].sort((a, b) => ((a.deliveryTag * 7919) % 3001) - ((b.deliveryTag * 7919) % 3001));
  for (const [index, each] of order.entries()) {
    acks.done(each);
    if (index % 100 === 0) await nextTurn();
  }
  await acks.flush();
  const tags = sent.map((each) => each.tag);
  assert.deepEqual(tags, [...tags].sort((a, b) => a - b), 'acks only move forward');
  assert.equal(tags.at(-1), 3000);
  assert.ok(sent.every((each) => each.method === 'ack' && each.multiple));
});
