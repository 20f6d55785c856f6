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

test('queuedEventJson is JSON.stringify(queuedEvent(input, input.enqueuedAt))', () => {
  fc.assert(
    fc.property(fc.jsonValue(), options, fc.string(), fc.integer({ min: 1, max: 5 }), fc.nat(), (payload, taskOptions, name, run, enqueuedAt) => {
      const input = { id: `id-"${name}`, name, payloadJson: JSON.stringify(payload), options: taskOptions, run, enqueuedAt };
      assert.equal(queuedEventJson(input), JSON.stringify(queuedEvent(input, enqueuedAt)));
    }),
  );
  const plain = { id: 'x', name: 'n', payloadJson: 'null', options: DEFAULT_TASK_OPTIONS, run: 1, enqueuedAt: 5 };
  assert.deepEqual(JSON.parse(queuedEventJson(plain)), {
    protocol: 1, kind: 'queued', id: 'x', name: 'n', run: 1, attempt: 1, at: 5, payload: null, options: DEFAULT_TASK_OPTIONS, enqueuedAt: 5,
  });
});

test('options at the defaults give the same text as JSON.stringify, and members of their own are kept', () => {
  const event = (taskOptions: unknown): unknown => JSON.parse(queuedEventJson({ id: 'x', name: 'n', payloadJson: '1', options: taskOptions as TaskOptions, run: 1, enqueuedAt: 5 }));
  const fresh = resolveTaskOptions({});
  assert.notEqual(fresh, DEFAULT_TASK_OPTIONS);
  const input = { id: 'x', name: 'n', payloadJson: '1', options: fresh, run: 1, enqueuedAt: 5 };
  assert.equal(queuedEventJson(input), JSON.stringify(queuedEvent(input, 5)));
  const extra = { ...fresh, shard: 'eu' };
  assert.deepEqual((event(extra) as { options: unknown }).options, extra, 'a member beyond the defaults stays');
  const extraBackoff = { ...fresh, backoff: { ...fresh.backoff, cap: 60_000 } };
  assert.deepEqual((event(extraBackoff) as { options: unknown }).options, extraBackoff);
  const oneOff = { ...fresh, attempts: 2 };
  assert.deepEqual((event(oneOff) as { options: unknown }).options, oneOff);
});
