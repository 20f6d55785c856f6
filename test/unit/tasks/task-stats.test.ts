/** Per task name statistics from finished tasks with known timings. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TASK_OPTIONS } from '../../../src/tasks/protocol.js';
import type { TaskRecord } from '../../../src/tasks/store/result-store.js';
import { TaskStats } from '../../../src/tasks/task-stats.js';

const START = 1_000_000;

/** A finished task submitted at `created`, started `wait` ms later, finished `processing` ms after that. */
function finished(id: string, created: number, wait: number, processing: number, state: TaskRecord['state'] = 'succeeded', name = 'resize'): TaskRecord {
  const startedAt = created + wait;
  const finishedAt = startedAt + processing;
  return { id, name, state, run: 1, attempts: 1, payload: null, options: DEFAULT_TASK_OPTIONS, createdAt: created, startedAt, finishedAt, updatedAt: finishedAt };
}

test('since start: counts, throughput, mean response and the wait/processing split with percentiles', () => {
  const stats = new TaskStats(START);
  // 10 tasks: wait 10*i ms, processing 100 ms; the last one fails.
  for (let i = 1; i <= 10; i++) stats.record(finished(`t${i}`, START + i * 1000, 10 * i, 100, i === 10 ? 'dead' : 'succeeded'));
  const figures = stats.snapshot(START + 20_000)['resize'];
  assert.ok(figures !== undefined);
  const { sinceStart } = figures;
  assert.equal(sinceStart.finished, 10);
  assert.equal(sinceStart.succeeded, 9);
  assert.equal(sinceStart.failed, 1);
  assert.equal(sinceStart.throughputPerSecond, 0.5, '10 tasks in 20 s');
  assert.deepEqual(sinceStart.processingMs, { mean: 100, p50: 100, p90: 100, p99: 100 });
  assert.deepEqual(sinceStart.waitMs, { mean: 55, p50: 50, p90: 90, p99: 100 });
  assert.equal(sinceStart.responseMs?.mean, 155);
});

test('sliding windows hold only tasks that finished inside them; a run counts once', () => {
  const stats = new TaskStats(START);
  const now = START + 1_000_000;
  stats.record(finished('old', now - 600_000, 0, 10));
  stats.record(finished('recent', now - 30_000, 0, 20));
  stats.record(finished('recent', now - 30_000, 0, 20));
  stats.record(finished('other', now - 10_000, 5, 5, 'failed', 'email'));
  const snapshot = stats.snapshot(now);
  const resize = snapshot['resize'];
  assert.ok(resize !== undefined);
  assert.equal(resize.sinceStart.finished, 2, 'the repeated run was counted once');
  assert.equal(resize.windows['60s']?.finished, 1);
  assert.equal(resize.windows['60s']?.throughputPerSecond, round(1 / 60));
  assert.equal(resize.windows['300s']?.finished, 1);
  assert.equal(resize.windows['900s']?.finished, 2);
  assert.deepEqual(resize.windows['60s']?.processingMs, { mean: 20, p50: 20, p90: 20, p99: 20 });
  assert.equal(snapshot['email']?.sinceStart.failed, 1);
});

test('tasks of several names, interleaved or in runs, each count for their own name only', () => {
  const stats = new TaskStats(START);
  const names = ['resize', 'resize', 'email', 'resize', 'email', 'email', 'thumb', 'resize'];
  names.forEach((name, index) => stats.record(finished(`n${index}`, START, 1, 1, index === 4 ? 'failed' : 'succeeded', name)));
  const snapshot = stats.snapshot(START + 10_000);
  const count = (name: string): number => names.filter((each) => each === name).length;
  for (const name of ['resize', 'email', 'thumb']) assert.equal(snapshot[name]?.sinceStart.finished, count(name), name);
  assert.equal(snapshot['email']?.sinceStart.failed, 1);
  assert.equal(snapshot['resize']?.sinceStart.failed, 0);
  const cumulative = stats.cumulative.snapshot();
  assert.equal(cumulative.get('resize')?.finishedByState['succeeded'], count('resize'));
  assert.deepEqual([cumulative.get('email')?.finishedByState['succeeded'], cumulative.get('email')?.finishedByState['failed']], [2, 1]);
  assert.equal(cumulative.get('thumb')?.responseSeconds.count, 1);
});

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
