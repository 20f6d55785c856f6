/** The worker's progress coalescing (src/tasks/worker-progress.ts, real timers) and the client's progress listeners. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PROGRESS_INTERVAL_MS, ProgressReporter } from '../../../src/tasks/worker-progress.js';
import type { TaskProgress } from '../../../src/tasks/task-progress.js';
import { ProgressListeners } from '../../../src/tasks/client-progress.js';
import { silentLogger } from '../../../src/tasks/amqp-connection.js';

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

test('a client\'s progress listener added after a report first gets the latest one; older messages are ignored', async () => {
  const listeners = new ProgressListeners(silentLogger);
  const message = (progress: TaskProgress, at: number): object => ({ protocol: 1, id: 't1', name: 'n', run: 1, attempt: 1, at, progress });
  listeners.deliver(message(10, 1_000));
  listeners.deliver(message(30, 3_000));
  listeners.deliver(message(20, 2_000));
  listeners.deliver({ protocol: 1, id: 't1' });
  const heard: TaskProgress[] = [];
  const stop = listeners.add('t1', (progress) => heard.push(progress));
  await Promise.resolve();
  listeners.deliver(message(40, 4_000));
  stop();
  listeners.deliver(message(50, 5_000));
  assert.deepEqual(heard, [30, 40]);
});
