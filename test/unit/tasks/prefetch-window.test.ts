/**
 * The worker's adaptive prefetch window: the base plus the time-weighted average of deliveries whose
 * outcome is being recorded, decided once a period, within its bounds, on a clock the test moves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GROW_CHECK_DELIVERIES, PERIOD_DELIVERIES, PERIOD_MS, PrefetchWindow, SHRINK_AFTER_MS, WINDOW_EXTRA_MAX } from '../../../src/tasks/prefetch-window.js';

function windowOn(base: number, limit = 65_535): { window: PrefetchWindow; advance(ms: number): void } {
  let now = 1000;
  return { window: new PrefetchWindow(base, limit, () => now), advance: (ms) => (now += ms) };
}

/** Counts `count` deliveries; returns what the last one decided. */
function deliver(window: PrefetchWindow, count: number): number | undefined {
  let decided: number | undefined;
  for (let i = 0; i < count; i++) decided = window.delivered();
  return decided;
}

test('grows to the base plus twice the deliveries recording, averaged over the time of the period', () => {
  const { window, advance } = windowOn(4);
  // 6 recording for 30 ms, then 2 for 10 ms: 5 on average.
  for (let i = 0; i < 6; i++) window.recordingStarted();
  advance(30);
  for (let i = 0; i < 4; i++) window.recordingEnded();
  advance(10);
  assert.equal(deliver(window, GROW_CHECK_DELIVERIES - 1), undefined, 'no decision between checks');
  assert.equal(window.delivered(), 4 + 2 * 5);
});

test('keeps its size when the change would be small, and the next period starts afresh', () => {
  const { window, advance } = windowOn(32);
  window.recordingStarted();
  window.recordingStarted();
  advance(50);
  assert.equal(deliver(window, PERIOD_DELIVERIES), undefined, '32 + 2 x 2 is less than 1.25 x 32');
  // Nothing recording in the next period: the base, which is the size already.
  for (let i = 0; i < 2; i++) window.recordingEnded();
  advance(50);
  assert.equal(deliver(window, PERIOD_DELIVERIES), undefined);
});

test('shrinks back to the base once outcomes are rarely in flight (long tasks), only after whole periods of SHRINK_AFTER_MS', () => {
  const { window, advance } = windowOn(4);
  for (let i = 0; i < 20; i++) window.recordingStarted();
  advance(20);
  window.size = deliver(window, GROW_CHECK_DELIVERIES) ?? assert.fail('should grow');
  assert.equal(window.size, 4 + 2 * 20);
  for (let i = 0; i < 20; i++) window.recordingEnded();
  // A dip shorter than a period (nothing recording) is no reason to move the consumers...
  advance(20);
  assert.equal(deliver(window, PERIOD_DELIVERIES - 1), undefined);
  // ...nor is a whole period of 20 ms with nothing recording, at the pace of short tasks.
  assert.equal(window.delivered(), undefined, 'one short low period');
  // Low periods that add up to SHRINK_AFTER_MS: down to the most any of them wanted.
  window.recordingStarted();
  advance(SHRINK_AFTER_MS / 2);
  assert.equal(deliver(window, PERIOD_DELIVERIES), undefined, 'low for half of SHRINK_AFTER_MS');
  advance(SHRINK_AFTER_MS / 2);
  assert.equal(deliver(window, PERIOD_DELIVERIES), 4 + 2 * 1, 'low for SHRINK_AFTER_MS: the largest want of those periods');
  window.recordingEnded();
  window.size = 6;
  for (let i = 0; i < 20; i++) window.recordingStarted();
  advance(20);
  window.size = deliver(window, GROW_CHECK_DELIVERIES) ?? assert.fail('should grow again');
  for (let i = 0; i < 20; i++) window.recordingEnded();
  // A slow period: ends on time, with few deliveries; one recording for 1 ms of it.
  window.recordingStarted();
  advance(1);
  window.recordingEnded();
  advance(PERIOD_MS);
  assert.equal(deliver(window, 7), undefined, 'fewer than 8 deliveries do not end a period');
  assert.equal(window.delivered(), 5, 'a slow period lasts SHRINK_AFTER_MS: it shrinks the window on its own');
});

test('a period that wants the window as it is ends a run of low periods: no shrink from a passing dip', () => {
  const { window, advance } = windowOn(4);
  for (let i = 0; i < 20; i++) window.recordingStarted();
  advance(20);
  window.size = deliver(window, GROW_CHECK_DELIVERIES) ?? assert.fail('should grow');
  for (let i = 0; i < 20; i++) window.recordingEnded();
  advance(SHRINK_AFTER_MS - 10);
  assert.equal(deliver(window, PERIOD_DELIVERIES), undefined, 'low, not for long enough yet');
  for (let i = 0; i < 20; i++) window.recordingStarted();
  advance(20);
  assert.equal(deliver(window, PERIOD_DELIVERIES), undefined, 'busy again: the size holds');
  for (let i = 0; i < 20; i++) window.recordingEnded();
  advance(20);
  assert.equal(deliver(window, PERIOD_DELIVERIES), undefined, 'a new run of low periods starts from nothing');
});

test('never grows past the base plus WINDOW_EXTRA_MAX, nor the protocol limit', () => {
  const { window, advance } = windowOn(8);
  for (let i = 0; i < 1000; i++) window.recordingStarted();
  advance(5);
  assert.equal(deliver(window, GROW_CHECK_DELIVERIES), 8 + WINDOW_EXTRA_MAX);
  const small = windowOn(8, 20);
  for (let i = 0; i < 1000; i++) small.window.recordingStarted();
  small.advance(5);
  assert.equal(deliver(small.window, GROW_CHECK_DELIVERIES), 20);
});
