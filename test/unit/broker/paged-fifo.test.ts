/** The packed FIFO of paged-out messages behaves like an array of { location, sequence, redelivered }. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { PagedFifo, type PagedMessage } from '../../../src/broker/paged-fifo.js';
import type { MessageLocation } from '../../../src/broker/ports.js';

test('push, shift, headExpiresAt, forEachLocation and clear agree with a plain array, across chunk boundaries', () => {
  const operation = fc.oneof(
    fc.record({ kind: fc.constant('push' as const), count: fc.integer({ min: 1, max: 5000 }) }),
    fc.record({ kind: fc.constant('shift' as const), count: fc.integer({ min: 1, max: 5000 }) }),
    fc.constant({ kind: 'clear' as const, count: 0 }),
  );
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 30 }), (operations) => {
      const fifo = new PagedFifo();
      const model: PagedMessage[] = [];
      let next = 0;
      for (const { kind, count } of operations) {
        if (kind === 'push') {
          for (let i = 0; i < count; i++, next++) {
            // Locations beyond 2^32 (segment > 0) must survive the packing exactly.
            const message = { location: (next * 2 ** 32 + 7 * next) as MessageLocation, sequence: next, expiresAt: next * 1000, size: next % 300, redelivered: next % 7 === 0 };
            fifo.push(message);
            model.push(message);
          }
        } else if (kind === 'shift') {
          for (let i = 0; i < count; i++) {
            assert.equal(fifo.headExpiresAt(), model[0]?.expiresAt);
            assert.deepEqual(fifo.shift(), model.shift());
          }
        } else {
          fifo.clear();
          model.length = 0;
        }
        assert.equal(fifo.length, model.length);
      }
      const locations: number[] = [];
      fifo.forEachLocation((location) => locations.push(location));
      assert.deepEqual(locations, model.map((m) => m.location));
    }),
    { numRuns: 200 },
  );
});

test('remove (tombstones) and range agree with a plain array: shift and range skip removed messages', () => {
  const operation = fc.oneof(
    fc.record({ kind: fc.constant('push' as const), count: fc.integer({ min: 1, max: 5000 }) }),
    fc.record({ kind: fc.constant('shift' as const), count: fc.integer({ min: 1, max: 3000 }) }),
    fc.record({ kind: fc.constant('remove' as const), count: fc.integer({ min: 0, max: 10_000 }) }),
    fc.record({ kind: fc.constant('range' as const), count: fc.integer({ min: 0, max: 10_000 }) }),
  );
  fc.assert(
    fc.property(fc.array(operation, { maxLength: 40 }), (operations) => {
      const fifo = new PagedFifo();
      const model: PagedMessage[] = [];
      let next = 0;
      for (const { kind, count } of operations) {
        if (kind === 'push') {
          for (let i = 0; i < count; i++, next++) {
            const message = { location: (next * 2 ** 32) as MessageLocation, sequence: next, expiresAt: next, size: next % 300, redelivered: next % 5 === 0 };
            fifo.push(message);
            model.push(message);
          }
        } else if (kind === 'shift') {
          for (let i = 0; i < count; i++) {
            assert.equal(fifo.headExpiresAt(), model[0]?.expiresAt);
            assert.deepEqual(fifo.shift(), model.shift());
          }
        } else if (kind === 'remove') {
          // Remove by an index into the model (when there is one), and a sequence that is not held.
          const index = model.length === 0 ? -1 : count % model.length;
          const sequence = index < 0 ? count : (model[index] as PagedMessage).sequence;
          const expected = index < 0 ? undefined : model.splice(index, 1)[0];
          assert.deepEqual(fifo.remove(sequence), expected);
          assert.equal(fifo.remove(sequence), undefined);
        } else {
          const index = count % (model.length + 1);
          assert.deepEqual(fifo.range(index, 7), model.slice(index, index + 7));
        }
        assert.equal(fifo.length, model.length);
        assert.equal(fifo.headExpiresAt(), model[0]?.expiresAt);
      }
      const locations: number[] = [];
      fifo.forEachLocation((location) => locations.push(location));
      assert.deepEqual(locations, model.map((m) => m.location));
    }),
    { numRuns: 200 },
  );
});
