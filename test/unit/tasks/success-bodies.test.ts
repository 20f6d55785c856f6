/** The success bodies written by hand (src/tasks/success-bodies.ts) are what JSON.stringify makes of the protocol's objects. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { successBodies } from '../../../src/tasks/success-bodies.js';
import type { TaskEvent, TaskReply } from '../../../src/tasks/protocol.js';

const task = { id: '0198a7b2-1234-7abc-8def-0123456789ab', name: 'emails.send', run: 2, attempt: 3 };

/** The bodies as the recorder built them before: objects with members in protocol order, stringified. */
function viaObjects(taskFields: typeof task, result: unknown, at: number, startedAt: number, worker: string): { event: string; reply: string } {
  const event: TaskEvent = { protocol: 1, kind: 'succeeded', id: taskFields.id, name: taskFields.name, run: taskFields.run, attempt: taskFields.attempt, at, result, startedAt, worker };
  const reply: TaskReply = { protocol: 1, id: taskFields.id, name: taskFields.name, attempt: taskFields.attempt, state: 'succeeded', result };
  return { event: JSON.stringify(event), reply: JSON.stringify(reply) };
}

const results: [string, unknown][] = [
  ['a string with quotes and unicode', 'say "hi" \u2028 ✓ \n'],
  ['a number', 42.5],
  ['null', null],
  ['undefined (no member)', undefined],
  ['a function (no member)', () => 1],
  ['a nested object', { a: [1, { b: 'c' }], d: true }],
  ['a Date', new Date(Date.UTC(2026, 0, 2))],
  ['an object whose toJSON reads its key', { toJSON: (key: string) => `key:${key}` }],
  ['an array with holes and undefined', [1, undefined, () => 2]],
];

for (const [label, result] of results) {
  test(`success bodies equal JSON.stringify of the event and reply objects: ${label}`, () => {
    const at = 1_764_134_400_123;
    const worker = 'host:12 "w":ab';
    assert.deepEqual(successBodies(task, result, at, at - 5, JSON.stringify(worker)), viaObjects(task, result, at, at - 5, worker));
  });
}

test('ids and names that need escaping are escaped', () => {
  const odd = { ...task, id: 'id "quoted" \\ back', name: 'name\twith\ttabs' };
  assert.deepEqual(successBodies(odd, 'ok', 1, 0, '"w"'), viaObjects(odd, 'ok', 1, 0, 'w'));
});

test('a result JSON cannot carry throws a TypeError, as JSON.stringify does', () => {
  assert.throws(() => successBodies(task, { big: 1n }, 1, 0, '"w"'), TypeError);
  const circular: Record<string, unknown> = {};
  circular['self'] = circular;
  assert.throws(() => successBodies(task, circular, 1, 0, '"w"'), TypeError);
});

test('without a reply asked for, the event is the same and no reply body is made', () => {
  const both = successBodies(task, { a: 1 }, 10, 5, '"w"');
  assert.deepEqual(successBodies(task, { a: 1 }, 10, 5, '"w"', false), { event: both.event, reply: '' });
  assert.notEqual(both.reply, '');
});
