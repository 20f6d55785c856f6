/** submitTaskOptions: the shared defaults for a submit that sets no option, resolveTaskOptions otherwise. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_TASK_OPTIONS } from '../../../src/tasks/protocol.js';
import { TaskValidationError } from '../../../src/tasks/task-errors.js';
import { resolveTaskOptions, submitTaskOptions } from '../../../src/tasks/task-options.js';

test('a submit that sets no task option gets the defaults; one that sets any gets them resolved and checked', () => {
  const now = 1_700_000_000_000;
  for (const options of [{}, { reply: false }, { traceparent: 't', idempotencyKey: 'k', replyTo: 'q' }]) {
    assert.equal(submitTaskOptions(options, now), DEFAULT_TASK_OPTIONS);
  }
  const set = [{ attempts: 3 }, { backoff: { kind: 'fixed' as const } }, { timeoutMs: 5 }, { priority: 2 }, { delayMs: 10 }, { callbackUrl: 'http://127.0.0.1/h' }];
  for (const options of set) assert.deepEqual(submitTaskOptions(options, now), resolveTaskOptions(options));
  assert.equal(submitTaskOptions({ runAt: now + 2500 }, now).delayMs, 2500);
  assert.throws(() => submitTaskOptions({ attempts: 0 }, now), TaskValidationError);
  assert.throws(() => submitTaskOptions({ runAt: now + 1, delayMs: 1 }, now), TaskValidationError);
});
