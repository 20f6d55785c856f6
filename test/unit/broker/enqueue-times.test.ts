/**
 * EnqueueTimes: a message's enqueue time from checkpoints, never later than the truth and at most the
 * resolution earlier; old checkpoints are dropped once no message needs them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ENQUEUE_TIME_RESOLUTION_MS, EnqueueTimes } from '../../../src/broker/enqueue-times.js';

test('each message maps to a time at most the resolution before its enqueue; idle gaps start a checkpoint', () => {
  const times = new EnqueueTimes();
  const enqueuedAt: number[] = [];
  let now = 1_000_000;
  for (let sequence = 0; sequence < 500; sequence++) {
    now += sequence === 250 ? 60_000 : 7; // a burst, a minute of silence, a burst
    enqueuedAt.push(now);
    times.note(sequence, now);
  }
  for (let sequence = 0; sequence < 500; sequence++) {
    const estimate = times.timeOf(sequence) ?? Number.NaN;
    const truth = enqueuedAt[sequence] as number;
    assert.ok(estimate <= truth && truth - estimate < ENQUEUE_TIME_RESOLUTION_MS, `sequence ${sequence}: ${estimate} vs ${truth}`);
  }
  assert.equal(times.timeOf(-1), undefined);
});

test('forgetBefore keeps what the oldest message needs; an empty queue keeps one checkpoint', () => {
  const times = new EnqueueTimes();
  for (let sequence = 0; sequence < 10; sequence++) times.note(sequence, sequence * 1000);
  assert.equal(times.size, 10);
  times.forgetBefore(4);
  assert.equal(times.size, 6);
  assert.equal(times.timeOf(4), 4000);
  times.forgetBefore(undefined);
  assert.equal(times.size, 1);
});
