import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Deque } from '../../../src/util/deque.js';

test('deque behaves like an array under random push/unshift/shift', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('push', 'unshift', 'shift'), fc.integer())), (operations) => {
      const deque = new Deque<number>(2);
      const model: number[] = [];
      for (const [operation, value] of operations) {
        if (operation === 'push') { deque.push(value); model.push(value); }
        else if (operation === 'unshift') { deque.unshift(value); model.unshift(value); }
        else assert.equal(deque.shift(), model.shift());
        assert.equal(deque.length, model.length);
        assert.equal(deque.peek(), model[0]);
      }
      assert.deepEqual([...deque], model);
    }),
  );
});
