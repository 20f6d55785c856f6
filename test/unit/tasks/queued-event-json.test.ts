/**
 * queuedEventJson (src/tasks/task-message.ts): the text the SDK sends as a submission's 'queued' event is
 * exactly JSON.stringify of the event queuedEvent builds, for any payload and options.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_TASK_OPTIONS, type TaskOptions } from '../../../src/tasks/protocol.js';
import { queuedEvent, queuedEventJson } from '../../../src/tasks/task-message.js';
import { resolveTaskOptions } from '../../../src/tasks/task-options.js';
import { isDefaultOptions } from '../../../src/tasks/options-json.js';

const options: fc.Arbitrary<TaskOptions> = fc.record(
  {
    attempts: fc.integer({ min: 1, max: 100 }),
    backoff: fc.record({ kind: fc.constantFrom('fixed' as const, 'exponential' as const), delayMs: fc.nat(), jitter: fc.boolean() }),
    timeoutMs: fc.nat(),
    priority: fc.integer({ min: 0, max: 9 }),
    delayMs: fc.nat(),
    callbackUrl: fc.webUrl(),
  },
  { requiredKeys: ['attempts', 'backoff', 'timeoutMs', 'priority', 'delayMs'] },
);

/** JSON.stringify of the event queuedEvent builds, less its options when they are the defaults (docs/task-protocol.md, section 3). */
function expectedText(input: Parameters<typeof queuedEventJson>[0], at: number): string {
  const { options, ...event } = queuedEvent(input, at);
  const { enqueuedAt, ...head } = event;
  return JSON.stringify(isDefaultOptions(input.options) ? event : { ...head, options, enqueuedAt });
}

test('queuedEventJson is JSON.stringify(queuedEvent(input, input.enqueuedAt)), less the options when they are the defaults', () => {
  fc.assert(
    fc.property(fc.jsonValue(), options, fc.string(), fc.integer({ min: 1, max: 5 }), fc.nat(), (payload, taskOptions, name, run, enqueuedAt) => {
      const input = { id: `id-"${name}`, name, payloadJson: JSON.stringify(payload), options: taskOptions, run, enqueuedAt };
      assert.equal(queuedEventJson(input), expectedText(input, enqueuedAt));
    }),
  );
  const plain = { id: 'x', name: 'n', payloadJson: 'null', options: DEFAULT_TASK_OPTIONS, run: 1, enqueuedAt: 5 };
  assert.deepEqual(JSON.parse(queuedEventJson(plain)), { protocol: 1, kind: 'queued', id: 'x', name: 'n', run: 1, attempt: 1, at: 5, payload: null, enqueuedAt: 5 });
});

test('options at the defaults (a fresh copy too) are left out; any member away from them, or of their own, writes them all', () => {
  const event = (taskOptions: unknown): unknown => JSON.parse(queuedEventJson({ id: 'x', name: 'n', payloadJson: '1', options: taskOptions as TaskOptions, run: 1, enqueuedAt: 5 }));
  const fresh = resolveTaskOptions({});
  assert.notEqual(fresh, DEFAULT_TASK_OPTIONS);
  const input = { id: 'x', name: 'n', payloadJson: '1', options: fresh, run: 1, enqueuedAt: 5 };
  assert.equal(queuedEventJson(input), expectedText(input, 5));
  assert.equal('options' in (event(fresh) as object), false);
  const extra = { ...fresh, shard: 'eu' };
  assert.deepEqual((event(extra) as { options: unknown }).options, extra, 'a member beyond the defaults stays');
  const extraBackoff = { ...fresh, backoff: { ...fresh.backoff, cap: 60_000 } };
  assert.deepEqual((event(extraBackoff) as { options: unknown }).options, extraBackoff);
  const oneOff = { ...fresh, attempts: 2 };
  assert.deepEqual((event(oneOff) as { options: unknown }).options, oneOff);
});
