/** Property tests for field tables: every value type round-trips, amqplib agrees, and bad bytes fail cleanly. */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AmqpCodecError, FrameWriter, Reader, type FieldTable } from '../../src/codec/index.js';
import { amqplib } from './amqplib-codec.js';
import { RUNS, expectedTable, fieldArbs, tableOf } from './codec-arbitraries.js';

function encodeTable(t: FieldTable): Buffer {
  const w = new FrameWriter(16);
  w.writeTable(t);
  return w.take();
}

function decodeTable(b: Buffer): FieldTable {
  return new Reader(b, 0, b.length).readTable();
}

// connection.start-ok's client-properties is the first argument, so the table's bytes sit at a fixed offset.
function amqplibTableBytes(t: FieldTable): Buffer {
  const frame = amqplib.encodeMethod(0x000a000b, 0, { clientProperties: t, mechanism: '', response: Buffer.alloc(0), locale: '' });
  const len = frame.readUInt32BE(11);
  return frame.subarray(11, 15 + len);
}

describe('field tables', () => {
  const { table, value } = fieldArbs();

  it('round-trip every value type (t b B s u I i l f d D S x A V T F as produced by the encoder)', () => {
    fc.assert(
      fc.property(table, (t) => {
        assert.deepEqual(decodeTable(encodeTable(t)), expectedTable(t));
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('a single value of each kind round-trips', () => {
    fc.assert(
      fc.property(value, (v) => {
        const t = tableOf([['k', v]]);
        assert.deepEqual(decodeTable(encodeTable(t)), expectedTable(t));
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('match amqplib byte for byte on the value kinds both encode alike, and decode amqplib tables', () => {
    fc.assert(
      fc.property(fieldArbs({ amqplibCompatible: true }).table, (t) => {
        const theirs = amqplibTableBytes(t);
        assert.deepEqual(encodeTable(t), theirs);
        assert.deepEqual(decodeTable(theirs), expectedTable(t));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('random bytes decode or throw AmqpCodecError(502), nothing else', () => {
    const tagged = fc
      .array(fc.oneof(fc.constantFrom(...'tbBsuIilfdDSxAVTF'.split('').map((c) => c.charCodeAt(0))), fc.integer({ min: 0, max: 255 })), {
        maxLength: 80,
      })
      .map((a) => {
        const b = Buffer.alloc(4 + a.length);
        b.writeUInt32BE(a.length, 0);
        b.set(a, 4);
        return b;
      });
    fc.assert(
      fc.property(fc.oneof(tagged, fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a))), (b) => {
        try {
          decodeTable(b);
        } catch (err) {
          assert.ok(err instanceof AmqpCodecError, String(err));
          assert.equal(err.replyCode, 502);
        }
      }),
      { numRuns: RUNS * 20 },
    );
  });
});
