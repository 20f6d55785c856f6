/**
 * BatchedAcks (src/tasks/batched-acks.ts): deliveries finish in any order; one basic.ack(multiple)
 * per event-loop turn covers the longest finished run from the oldest outstanding delivery, and a
 * requeued delivery is nacked on its own and never named by a later ack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AMQPChannel } from '@cloudamqp/amqp-client';
import { BatchedAcks } from '../../../src/tasks/batched-acks.js';

interface Sent {
  method: 'ack' | 'nack';
  tag: number;
  multiple: boolean;
  requeue?: boolean;
}

/** A channel that records what the acks would send. */
function recordingChannel(): { channel: AMQPChannel; sent: Sent[] } {
  const sent: Sent[] = [];
  const channel = {
    basicAck: async (tag: number, multiple = false) => void sent.push({ method: 'ack', tag, multiple }),
    basicNack: async (tag: number, requeue = false, multiple = false) => void sent.push({ method: 'nack', tag, multiple, requeue }),
  } as unknown as AMQPChannel;
  return { channel, sent };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('finished deliveries are acked together with one multiple ack per turn, up to the first unfinished one', async () => {
  const { channel, sent } = recordingChannel();
  const acks = new BatchedAcks(channel);
  for (const tag of [1, 2, 3, 4, 5]) acks.track(tag);
  acks.done(2);
  acks.done(1);
  acks.done(4);
  await nextTurn();
  assert.deepEqual(sent, [{ method: 'ack', tag: 2, multiple: true }], 'tag 3 is still running, so 4 waits');
  acks.done(3);
  acks.done(5);
  await nextTurn();
  assert.deepEqual(sent.at(-1), { method: 'ack', tag: 5, multiple: true });
  assert.equal(sent.length, 2);
});

test('a requeued delivery is nacked alone at once; later acks pass it without naming it', async () => {
  const { channel, sent } = recordingChannel();
  const acks = new BatchedAcks(channel);
  for (const tag of [1, 2, 3]) acks.track(tag);
  await acks.requeue(3);
  assert.deepEqual(sent, [{ method: 'nack', tag: 3, multiple: false, requeue: true }]);
  acks.done(1);
  await nextTurn();
  assert.deepEqual(sent.at(-1), { method: 'ack', tag: 1, multiple: true });
  acks.done(2);
  await acks.flush();
  assert.deepEqual(sent.at(-1), { method: 'ack', tag: 2, multiple: true }, 'tag 3 was nacked: the ack stops before it');
  acks.track(4);
  acks.done(4);
  await acks.flush();
  assert.deepEqual(sent.at(-1), { method: 'ack', tag: 4, multiple: true });
});

test('a delivery already requeued, finished or acknowledged is not nacked (a second nack would be a channel error)', async () => {
  const { channel, sent } = recordingChannel();
  const acks = new BatchedAcks(channel);
  for (const tag of [1, 2, 3, 4]) acks.track(tag);
  await acks.requeue(2);
  await acks.requeue(2);
  acks.done(1);
  acks.done(3);
  await acks.requeue(3);
  await acks.flush();
  assert.deepEqual(sent, [
    { method: 'nack', tag: 2, multiple: false, requeue: true },
    { method: 'ack', tag: 3, multiple: true },
  ]);
  await acks.requeue(1);
  await acks.requeue(2);
  await acks.requeue(3);
  assert.equal(sent.length, 2, 'tags the front has passed are not nacked');
  await acks.requeue(4);
  assert.deepEqual(sent.at(-1), { method: 'nack', tag: 4, multiple: false, requeue: true });
});

test('many deliveries: every one is covered exactly once, in order, whatever the finishing order', async () => {
  const { channel, sent } = recordingChannel();
  const acks = new BatchedAcks(channel);
  const tags = Array.from({ length: 3000 }, (_, index) => index + 1);
  for (const tag of tags) acks.track(tag);
  const order = [...tags].sort((a, b) => ((a * 7919) % 3001) - ((b * 7919) % 3001));
  for (const [index, tag] of order.entries()) {
    acks.done(tag);
    if (index % 100 === 0) await nextTurn();
  }
  await acks.flush();
  const acked = sent.map((each) => each.tag);
  assert.deepEqual(acked, [...acked].sort((a, b) => a - b), 'acks only move forward');
  assert.equal(acked.at(-1), 3000);
  assert.ok(sent.every((each) => each.method === 'ack' && each.multiple));
});
