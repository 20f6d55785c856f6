/** Property tests for content headers and basic properties (any subset of the 14). */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AmqpCodecError,
  FrameWriter,
  decodeBasicProperties,
  decodeContentHeader,
  encodeBasicProperties,
  encodeBodyFrames,
  encodeContentHeaderFrame,
  type BasicProperties,
} from '../../src/codec/index.js';
import { amqplib } from './amqplib-codec.js';
import { RUNS, expectedProperties, propertiesArb } from './codec-arbitraries.js';

describe('basic properties', () => {
  it('any subset round-trips through encode/decode', () => {
    fc.assert(
      fc.property(propertiesArb(), (p) => {
        assert.deepEqual(decodeBasicProperties(encodeBasicProperties(p)), expectedProperties(p));
      }),
      { numRuns: RUNS * 5 },
    );
  });

  it('content header frames match amqplib byte for byte and decode back', () => {
    const bodySize = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
    fc.assert(
      fc.property(propertiesArb({ amqplibCompatible: true }), bodySize, fc.integer({ min: 0, max: 0xffff }), (p, size, channel) => {
        const w = new FrameWriter(32);
        encodeContentHeaderFrame(w, channel, size, encodeBasicProperties(p));
        const mine = w.take();
        assert.deepEqual(mine, amqplib.encodeProperties(60, channel, size, p as Record<string, unknown>));
        const header = decodeContentHeader(mine.subarray(7, -1));
        assert.deepEqual(header.classId, 60);
        assert.deepEqual(header.weight, 0);
        assert.deepEqual(header.bodySize, size);
        assert.deepEqual(decodeBasicProperties(header.rawProperties), expectedProperties(p));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('random bytes decode or throw AmqpCodecError(502), nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (a) => {
        try {
          decodeBasicProperties(Buffer.from(a));
        } catch (err) {
          assert.ok(err instanceof AmqpCodecError, String(err));
          assert.equal(err.replyCode, 502);
        }
        try {
          decodeContentHeader(Buffer.from(a));
        } catch (err) {
          assert.ok(err instanceof AmqpCodecError, String(err));
          assert.equal(err.replyCode, 502);
        }
      }),
      { numRuns: RUNS * 20 },
    );
  });

  it('every truncation of encoded properties is a 502', () => {
    fc.assert(
      fc.property(propertiesArb(), (p: BasicProperties) => {
        const raw = encodeBasicProperties(p);
        for (let cut = 0; cut < raw.length; cut++) {
          if (cut === 2 && raw.readUInt16BE(0) === 0) continue;
          assert.throws(() => decodeBasicProperties(raw.subarray(0, cut)), (e) => e instanceof AmqpCodecError && e.replyCode === 502);
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('body frames', () => {
  it('split into frames of at most frameMax bytes that reassemble to the body', () => {
    const arb = fc.tuple(fc.uint8Array({ maxLength: 3000 }), fc.integer({ min: 9, max: 1200 }), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(arb, ([a, frameMax, channel]) => {
        const body = Buffer.from(a);
        const w = new FrameWriter(16);
        encodeBodyFrames(w, channel, body, frameMax);
        const out = w.take();
        const parts: Buffer[] = [];
        for (let at = 0; at < out.length; ) {
          const size = out.readUInt32BE(at + 3);
          assert.equal(out[at], 3);
          assert.equal(out.readUInt16BE(at + 1), channel);
          assert.ok(size > 0 && size + 8 <= frameMax);
          assert.equal(out[at + 7 + size], 0xce);
          parts.push(out.subarray(at + 7, at + 7 + size));
          at += size + 8;
        }
        assert.equal(parts.length, Math.ceil(body.length / (frameMax - 8)));
        assert.deepEqual(Buffer.concat(parts), body);
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
