/** RecordOffsets answers like a Set for offsets at least its spacing apart, whatever their order. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { RecordOffsets } from '../../../src/storage/record-offsets.js';

test('agrees with a Set for records at least the spacing apart, added in any order', () => {
  const spacing = 15;
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { maxLength: 300 }), fc.integer({ min: 0, max: 300 }), (gaps, pick) => {
      // Record starts: each at least `spacing` after the one before.
      const starts: number[] = [];
      let at = 0;
      for (const gap of gaps) {
        starts.push(at);
        at += spacing + gap;
      }
      const chosen = starts.filter((_, i) => (i * 7 + pick) % 3 === 0).reverse();
      const offsets = new RecordOffsets(spacing);
      for (const offset of chosen) offsets.add(offset);
      const expected = new Set(chosen);
      for (const offset of starts) assert.equal(offsets.has(offset), expected.has(offset), `offset ${offset}`);
    }),
  );
});

test('grows to offsets far past its first allocation', () => {
  const offsets = new RecordOffsets(15);
  assert.equal(offsets.has(0), false);
  offsets.add(8 * 1024 * 1024 - 15);
  assert.equal(offsets.has(8 * 1024 * 1024 - 15), true);
  assert.equal(offsets.has(8 * 1024 * 1024 - 30), false);
  assert.equal(offsets.has(2 ** 31), false);
});

test('hasFrom tells whether an offset at or past a record end was added', () => {
  const spacing = 15;
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 200 }), fc.integer({ min: 0, max: 300 }), (gaps, pick) => {
      const starts: number[] = [];
      let at = 0;
      for (const gap of gaps) {
        starts.push(at);
        at += spacing + gap;
      }
      const chosen = starts.filter((_, i) => (i * 7 + pick) % 3 === 0);
      const offsets = new RecordOffsets(spacing);
      for (const offset of chosen) offsets.add(offset);
      // Every record end (the next start, or the end of the last record) is a place a log could end.
      const ends = [...starts.slice(1), at];
      for (const end of ends) assert.equal(offsets.hasFrom(end), chosen.some((offset) => offset >= end), `end ${end}`);
    }),
  );
});
