/**
 * DeadlineTimer: armBy keeps the earliest deadline, restart replaces it, clear disarms.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeadlineTimer } from '../../../src/util/deadline-timer.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('armBy keeps the earliest deadline; it fires once; clear disarms', async () => {
  let fired = 0;
  const timer = new DeadlineTimer(() => fired++);
  const start = Date.now();
  timer.armBy(start + 200);
  timer.armBy(start + 20);
  timer.armBy(start + 500);
  assert.equal(timer.armed, true);
  await sleep(120);
  assert.equal(fired, 1, 'fired at the earliest deadline');
  assert.equal(timer.armed, false);
  timer.armBy(Date.now() + 20);
  timer.clear();
  await sleep(60);
  assert.equal(fired, 1, 'a cleared timer does not fire');
});

test('restart replaces an earlier deadline with a later one', async () => {
  let fired = 0;
  const timer = new DeadlineTimer(() => fired++);
  timer.armBy(Date.now() + 20);
  timer.restart(150);
  await sleep(80);
  assert.equal(fired, 0);
  await sleep(150);
  assert.equal(fired, 1);
});
