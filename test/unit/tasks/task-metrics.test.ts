/**
 * Cumulative task metrics: every terminal state counted, latencies in the right buckets (seconds), a
 * redelivered terminal event counted once (TaskStats dedupes runs), negative durations clamped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TASK_OPTIONS } from '../../../src/tasks/protocol.js';
import type { TaskRecord } from '../../../src/tasks/store/result-store.js';
import { TASK_LATENCY_BUCKETS_SECONDS, TaskMetrics } from '../../../src/tasks/task-metrics.js';
import { TaskStats } from '../../../src/tasks/task-stats.js';

function finished(id: string, fields: Partial<TaskRecord> & Pick<TaskRecord, 'state'>): TaskRecord {
  return { id, name: 'resize', run: 1, attempts: 1, payload: null, options: DEFAULT_TASK_OPTIONS, createdAt: 10_000, startedAt: 10_030, finishedAt: 10_230, updatedAt: 10_230, ...fields };
}

test('counts by final state and observes wait, processing and response in seconds', () => {
  const metrics = new TaskMetrics();
  metrics.record(finished('a', { state: 'succeeded' }));
  metrics.record(finished('b', { state: 'dead', startedAt: 12_000, finishedAt: 15_000 }));
  const neverStarted = finished('c', { state: 'cancelled', finishedAt: 10_500 });
  delete neverStarted.startedAt;
  metrics.record(neverStarted);
  const resize = metrics.snapshot().get('resize');
  assert.ok(resize !== undefined);
  assert.deepEqual(resize.finishedByState, { succeeded: 1, failed: 0, dead: 1, cancelled: 1 });
  assert.equal(resize.responseSeconds.count, 3);
  assert.equal(resize.waitSeconds.count, 2, 'a task that never started has no wait or processing time');
  assert.ok(Math.abs(resize.responseSeconds.sum - (0.23 + 5 + 0.5)) < 1e-9);
  assert.ok(Math.abs(resize.processingSeconds.sum - (0.2 + 3)) < 1e-9);
  const bucketOf = (seconds: number): number => TASK_LATENCY_BUCKETS_SECONDS.findIndex((bound) => seconds <= bound);
  assert.equal(resize.processingSeconds.bucketCounts[bucketOf(0.2)], 1);
  assert.equal(resize.processingSeconds.bucketCounts[bucketOf(3)], 1);
  assert.equal(resize.waitSeconds.bucketCounts[bucketOf(0.03)], 1);
  assert.equal(resize.waitSeconds.bucketCounts[bucketOf(2)], 1);
});

test('a duration beyond the last bucket is an overflow; a negative one (clock skew) counts as 0', () => {
  const metrics = new TaskMetrics();
  metrics.record(finished('a', { state: 'succeeded', createdAt: 0, startedAt: 5_000_000, finishedAt: 5_000_001 }));
  metrics.record(finished('b', { state: 'succeeded', createdAt: 10_000, startedAt: 9_000, finishedAt: 10_100 }));
  const resize = metrics.snapshot().get('resize');
  assert.equal(resize?.waitSeconds.overflowCount, 1);
  assert.equal(resize?.waitSeconds.bucketCounts[0], 1, 'the negative wait counts in the first bucket');
  assert.ok(Math.abs((resize?.waitSeconds.sum ?? 0) - 5000) < 1e-9);
});

test('TaskStats feeds the cumulative metrics once per run, and the snapshot is a copy', () => {
  const stats = new TaskStats();
  const record = finished('a', { state: 'succeeded' });
  stats.record(record);
  stats.record(record);
  stats.record({ ...record, run: 2 });
  const snapshot = stats.cumulative.snapshot();
  assert.equal(snapshot.get('resize')?.finishedByState['succeeded'], 2);
  snapshot.get('resize')?.responseSeconds.bucketCounts.fill(99);
  assert.notEqual(stats.cumulative.snapshot().get('resize')?.responseSeconds.bucketCounts[0], 99);
});
