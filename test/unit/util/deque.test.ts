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

test('removeAt closes the gap, as Array.prototype.splice, across the ring boundary', () => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.constantFrom('push', 'unshift', 'shift', 'removeAt'), fc.integer({ min: -2, max: 40 }))), (operations) => {
      const deque = new Deque<number>(2);
      const model: number[] = [];
      for (const [operation, value] of operations) {
        if (operation === 'push') { deque.push(value); model.push(value); }
        else if (operation === 'unshift') { deque.unshift(value); model.unshift(value); }
        else if (operation === 'shift') assert.equal(deque.shift(), model.shift());
        else assert.equal(deque.removeAt(value), value >= 0 && value < model.length ? model.splice(value, 1)[0] : undefined);
        assert.equal(deque.length, model.length);
      }
      assert.deepEqual([...deque], model);
    }),
  );
});
