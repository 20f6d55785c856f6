/** UniqueList keeps each value once, in first-added order, below and above its scan limit, and after clear(). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { UniqueList } from '../../../src/broker/unique-list.js';

test('agrees with a Set on any sequence of adds and clears', () => {
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constant('clear' as const)), { maxLength: 200 }), (operations) => {
      const list = new UniqueList<number>();
      const reference = new Set<number>();
      for (const operation of operations) {
        if (operation === 'clear') {
          list.clear();
          reference.clear();
        } else {
          list.add(operation);
          reference.add(operation);
        }
        assert.deepEqual(Array.from({ length: list.size }, (_, i) => list.at(i)), [...reference]);
        assert.equal(list.size, reference.size);
        for (let value = 0; value <= 60; value += 7) assert.equal(list.has(value), reference.has(value));
      }
    }),
  );
});
