/** The worker's progress coalescing (src/tasks/worker-progress.ts), with real timers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROGRESS_INTERVAL_MS, ProgressReporter } from '../../../src/tasks/worker-progress.js';
import type { TaskProgress } from '../../../src/tasks/task-progress.js';

function recordingReporter(): { reporter: ProgressReporter; published: { progress: TaskProgress; at: number }[] } {
  const published: { progress: TaskProgress; at: number }[] = [];
  return { reporter: new ProgressReporter((progress, at) => published.push({ progress, at })), published };
}

test('the first report goes out at once; rapid ones are coalesced into the latest, one interval later', async () => {
  const { reporter, published } = recordingReporter();
  reporter.report(1);
  reporter.report(2);
  reporter.report({ step: 3 });
  assert.deepEqual(published.map((entry) => entry.progress), [1]);
  await new Promise((resolve) => setTimeout(resolve, PROGRESS_INTERVAL_MS * 2));
  assert.deepEqual(published.map((entry) => entry.progress), [1, { step: 3 }]);
  const [first, second] = published;
  assert.ok(first !== undefined && second !== undefined && second.at - first.at >= PROGRESS_INTERVAL_MS - 1);
  reporter.finish();
});

test('finish() sends a report still waiting, and later reports are ignored', () => {
  const { reporter, published } = recordingReporter();
  reporter.report(10);
  reporter.report(90);
  reporter.finish();
  reporter.report(100);
  assert.deepEqual(published.map((entry) => entry.progress), [10, 90]);
});

test('a report is a snapshot: changing the object afterwards changes nothing sent; bad values throw TypeError', () => {
  const { reporter, published } = recordingReporter();
  const value = { rows: 1 };
  reporter.report(value);
  value.rows = 2;
  assert.deepEqual(published[0]?.progress, { rows: 1 });
  for (const bad of [-0.5, 100.5, Number.POSITIVE_INFINITY, 'x', [1], null, undefined, { big: 'x'.repeat(70_000) }, { bigint: 1n }]) {
    assert.throws(() => reporter.report(bad), TypeError, String(bad));
  }
  reporter.finish();
});
