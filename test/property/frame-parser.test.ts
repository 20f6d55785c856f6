/** Property tests: the frame parser yields the same frames however the byte stream is split. */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { FrameParser } from '../../src/codec/index.js';
import { RUNS } from './codec-arbitraries.js';

interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

const frameArb: fc.Arbitrary<Frame> = fc
  .tuple(
    fc.constantFrom(1, 2, 3, 8),
    fc.integer({ min: 0, max: 0xffff }),
    fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ minLength: 500, maxLength: 3000 })),
  )
  .map(([type, channel, payload]) => ({ type, channel, payload: Buffer.from(payload) }));

function serialize(frames: readonly Frame[]): Buffer {
  return Buffer.concat(
    frames.map((f) => {
      const b = Buffer.alloc(f.payload.length + 8);
      b[0] = f.type;
      b.writeUInt16BE(f.channel, 1);
      b.writeUInt32BE(f.payload.length, 3);
      f.payload.copy(b, 7);
      b[b.length - 1] = 0xce;
      return b;
    }),
  );
}

/** Feeds stream cut at the given points and returns the frames seen (payloads copied: they are transient). */
function parse(stream: Buffer, cuts: readonly number[]): Frame[] {
  const seen: Frame[] = [];
  const parser = new FrameParser({ onFrame: (type, channel, payload) => seen.push({ type, channel, payload: Buffer.from(payload) }) }, 0);
  let prev = 0;
  for (const cut of [...cuts, stream.length]) {
    parser.push(stream.subarray(prev, cut));
    prev = cut;
  }
  return seen;
}

describe('frame parser splits', () => {
  it('random splits and one byte at a time yield the frames, in order', () => {
    const arb = fc.array(frameArb, { maxLength: 12 }).chain((frames) => {
      const stream = serialize(frames);
      const cuts = fc.uniqueArray(fc.integer({ min: 0, max: stream.length }), { maxLength: 30 }).map((c) => c.sort((a, b) => a - b));
      return fc.tuple(fc.constant(frames), fc.constant(stream), cuts);
    });
    fc.assert(
      fc.property(arb, ([frames, stream, cuts]) => {
        assert.deepEqual(parse(stream, cuts), frames);
        const everyByte = Array.from({ length: stream.length }, (_, i) => i);
        assert.deepEqual(parse(stream, everyByte), frames);
      }),
      { numRuns: RUNS },
    );
  });
});
