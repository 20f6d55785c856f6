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
