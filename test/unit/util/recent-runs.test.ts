/**
 * RecentRuns remembers at least the last half of its capacity and at most all of it, and knows a
 * task's latest run only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RecentRuns } from '../../../src/util/recent-runs.js';

test('a run added is known until at least capacity / 2 more were added, and forgotten after capacity more', () => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 64 }), fc.integer({ min: 0, max: 200 }), (capacity, before) => {
      const runs = new RecentRuns(capacity);
      for (let index = 0; index < before; index++) runs.add(`other-${index}`, 1);
      runs.add('t1', 1);
      for (let index = 0; index < Math.ceil(capacity / 2) - 1; index++) {
        assert.ok(runs.has('t1', 1));
        runs.add(`later-${index}`, 1);
      }
      assert.ok(runs.has('t1', 1), 'known through capacity / 2 - 1 later adds');
      for (let index = 0; index < capacity; index++) runs.add(`more-${index}`, 1);
      assert.equal(runs.has('t1', 1), false, 'forgotten after capacity more adds');
    }),
  );
});

test('a task\'s later run replaces its earlier one; other runs are unknown', () => {
  const runs = new RecentRuns(100);
  runs.add('t1', 1);
  assert.deepEqual([runs.has('t1', 1), runs.has('t1', 2), runs.has('t2', 1)], [true, false, false]);
  runs.add('t1', 2);
  assert.deepEqual([runs.has('t1', 1), runs.has('t1', 2)], [false, true]);
});
