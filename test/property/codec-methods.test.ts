/** Property tests: every method round-trips, matches amqplib's encoder byte for byte, and bad bytes fail cleanly. */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AmqpCodecError,
  FrameWriter,
  METHOD_ARGUMENTS,
  METHOD_IDS,
  decodeMethod,
  encodeMethodFrame,
  type Method,
  type MethodName,
} from '../../src/codec/index.js';
import { amqplib } from './amqplib-codec.js';
import { RUNS, expectedMethod, methodArb } from './codec-arbitraries.js';


const names = Object.keys(METHOD_IDS) as MethodName[];

function encodeFrame(channel: number, m: Method): Buffer {
  const w = new FrameWriter(64);
  encodeMethodFrame(w, channel, m);
  return w.take();
}

function amqplibId(name: MethodName): number {
  const { classId, methodId } = METHOD_IDS[name];
  return classId * 0x10000 + methodId;
}

describe('methods: round trip', () => {
  for (const name of names) {
    it(name, () => {
      fc.assert(
        fc.property(methodArb(name), fc.integer({ min: 0, max: 0xffff }), (m, channel) => {
          const frame = encodeFrame(channel, m);
          assert.equal(frame[0], 1);
          assert.equal(frame.readUInt16BE(1), channel);
          assert.equal(frame.readUInt32BE(3), frame.length - 8);
          assert.equal(frame[frame.length - 1], 0xce);
          assert.deepEqual(decodeMethod(frame.subarray(7, -1)), expectedMethod(m));
        }),
        { numRuns: Math.ceil(RUNS / 4) },
      );
    });
  }
});

describe('methods: amqplib agrees', () => {
  it('argument names and types match amqplib (ticket omitted outside access)', () => {
    for (const name of names) {
      const theirs = amqplib
        .info(amqplibId(name))
        .args.filter((a) => a.name !== 'ticket' || name.startsWith('access'))
        .map((a) => ({ name: a.name, type: a.type }));
      assert.deepEqual(
        METHOD_ARGUMENTS[name].map((a) => ({ name: a.name, type: a.type })),
        theirs,
        name,
      );
    }
  });

  for (const name of names) {
    it(`${name}: same bytes as amqplib, and each decodes the other`, () => {
      fc.assert(
        fc.property(methodArb(name, { amqplibCompatible: true }), fc.integer({ min: 0, max: 0xffff }), (m, channel) => {
          const { name: _name, ...fields } = m;
          const theirs = amqplib.encodeMethod(amqplibId(name), channel, { ticket: 0, ...fields });
          assert.deepEqual(encodeFrame(channel, m), theirs);
          assert.deepEqual(decodeMethod(theirs.subarray(7, -1)), expectedMethod(m));
        }),
        { numRuns: Math.ceil(RUNS / 4) },
      );
    });
  }
});

describe('methods: malformed input', () => {
  it('random payloads decode or throw AmqpCodecError, nothing else', () => {
    const ids = names.map((n) => METHOD_IDS[n]);
    const payload = fc.oneof(
      fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
      // Known ids followed by garbage reach the argument decoders, not just the dispatch.
      fc.tuple(fc.constantFrom(...ids), fc.uint8Array({ maxLength: 200 })).map(([id, rest]) => {
        const b = Buffer.alloc(4 + rest.length);
        b.writeUInt16BE(id.classId, 0);
        b.writeUInt16BE(id.methodId, 2);
        b.set(rest, 4);
        return b;
      }),
    );
    fc.assert(
      fc.property(payload, (p) => {
        try {
          decodeMethod(p);
        } catch (err) {
          assert.ok(err instanceof AmqpCodecError, String(err));
          assert.ok([502, 540].includes(err.replyCode));
        }
      }),
      { numRuns: RUNS * 10 },
    );
  });

  it('every truncation of a valid method is a 502 naming the method', () => {
    fc.assert(
      fc.property(fc.constantFrom(...names).chain((n) => methodArb(n)), (m) => {
        const payload = encodeFrame(0, m).subarray(7, -1);
        const { classId, methodId } = METHOD_IDS[m.name];
        for (let cut = 4; cut < payload.length; cut++) {
          assert.throws(
            () => decodeMethod(payload.subarray(0, cut)),
            (e) => e instanceof AmqpCodecError && e.replyCode === 502 && e.classId === classId && e.methodId === methodId,
          );
        }
      }),
      { numRuns: RUNS },
    );
  });
});
