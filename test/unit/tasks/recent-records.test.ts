/** RecentRecords: the SQLite store's records of unfinished tasks between rounds, bounded by count and by size. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { applyEvent } from '../../../src/tasks/store/apply-event.js';
import { RecentRecords } from '../../../src/tasks/store/recent-records.js';
import type { TaskRecord } from '../../../src/tasks/store/result-store.js';
import { taskEvent } from './task-events.js';

function record(id: string): TaskRecord {
  const queued = applyEvent(undefined, taskEvent('queued', id, { payload: { id } }));
  assert.ok(queued !== undefined);
  return queued;
}

test('keeps the very record it was given, and tells it from another record of the same task', () => {
  const recent = new RecentRecords({ records: 10, chars: 1_000 });
  const original = record('t1');
  recent.remember(original, '', 100);
  const kept = recent.get('t1');
  assert.equal(kept?.record, original, 'not a copy: the store hands out copies of kept records instead');
  assert.equal(kept?.chars, 100);
  assert.equal(recent.holds(original), true);
  assert.equal(recent.holds({ ...original }), false);
  assert.equal(recent.get('t2'), undefined);
});

test('at the count limit a task not kept is not taken in; one written again is kept, the least recently written going', () => {
  const recent = new RecentRecords({ records: 2, chars: 1_000 });
  recent.remember(record('a'), '', 10);
  recent.remember(record('b'), '', 10);
  recent.remember(record('c'), '', 10); // a backlog's newest task: the kept ones finish first
  assert.deepEqual(['a', 'b', 'c'].map((id) => recent.get(id) !== undefined), [true, true, false]);
  recent.remember(record('a'), '', 10); // written again: now the most recent
  recent.forget('b');
  recent.remember(record('c'), '', 10);
  assert.deepEqual(['a', 'b', 'c'].map((id) => recent.get(id) !== undefined), [true, false, true]);
  assert.equal(recent.size, 2);
});

test('at the size limit a task not kept is not taken in; one grown by a new write pushes the oldest out; one bigger than the budget is not kept', () => {
  const recent = new RecentRecords({ records: 100, chars: 100 });
  recent.remember(record('a'), '', 40);
  recent.remember(record('b'), '', 40);
  recent.remember(record('c'), '', 40);
  assert.deepEqual(['a', 'b', 'c'].map((id) => recent.get(id) !== undefined), [true, true, false]);
  recent.remember(record('b'), '', 70);
  assert.deepEqual(['a', 'b'].map((id) => recent.get(id)?.chars), [undefined, 70], 'the oldest made room for the rewritten one');
  recent.remember(record('b'), '', 101);
  assert.equal(recent.get('b'), undefined, 'too big, and its older version is gone too');
  assert.equal(recent.size, 0);
  recent.remember(record('d'), '', 100);
  assert.equal(recent.size, 1, 'the budget was freed by forgetting');
  recent.clear();
  assert.equal(recent.size, 0);
});

test('any mix of remembering and forgetting keeps what a plain list under the same rules keeps', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 60 })), { maxLength: 200 }),
      (operations) => {
        const limits = { records: 4, chars: 100 };
        const recent = new RecentRecords(limits);
        let model: { id: string; chars: number }[] = []; // oldest first
        for (const [remember, n, chars] of operations) {
          const id = `t${n}`;
          const kept = model.some((entry) => entry.id === id);
          const total = (): number => model.reduce((sum, entry) => sum + entry.chars, 0);
          if (remember) {
            recent.remember(record(id), '', chars);
            if (kept || (model.length < limits.records && total() + chars <= limits.chars)) {
              model = model.filter((entry) => entry.id !== id);
              model.push({ id, chars });
              while (total() > limits.chars) model.shift();
            }
          } else {
            model = model.filter((entry) => entry.id !== id);
            recent.forget(id);
          }
          assert.equal(recent.size, model.length);
        }
        for (let n = 0; n <= 7; n++) assert.equal(recent.get(`t${n}`)?.chars, model.find((entry) => entry.id === `t${n}`)?.chars);
      },
    ),
  );
});
