/** Unit tests for FrameParser: zero-copy delivery, limits, error codes, stop(). */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { AmqpCodecError, FrameParser } from '../../../src/codec/index.js';

function frame(type: number, channel: number, payload: Buffer, end = 0xce): Buffer {
  const b = Buffer.alloc(payload.length + 8);
  b[0] = type;
  b.writeUInt16BE(channel, 1);
  b.writeUInt32BE(payload.length, 3);
  payload.copy(b, 7);
  b[b.length - 1] = end;
  return b;
}

function collector(frameSizeMax = 4096): { parser: FrameParser; seen: { type: number; channel: number; payload: Buffer }[] } {
  const seen: { type: number; channel: number; payload: Buffer }[] = [];
  const parser = new FrameParser({ onFrame: (type, channel, payload) => seen.push({ type, channel, payload: Buffer.from(payload) }) }, frameSizeMax);
  return { parser, seen };
}

const isFrameError = (e: unknown): boolean => e instanceof AmqpCodecError && e.replyCode === 501;

describe('FrameParser', () => {
  it('hands a frame that lies inside the chunk as a view of the chunk (no copy)', () => {
    const chunk = Buffer.concat([frame(1, 5, Buffer.from('abc')), frame(8, 0, Buffer.alloc(0))]);
    const views: Buffer[] = [];
    new FrameParser({ onFrame: (_t, _c, p) => views.push(p) }, 4096).push(chunk);
    assert.equal(views.length, 2);
    assert.equal(views[0]?.buffer, chunk.buffer);
    assert.equal(views[0]?.toString(), 'abc');
    assert.equal(views[1]?.length, 0);
  });

  it('accepts a frame exactly frameSizeMax bytes long and rejects one byte more with 501', () => {
    const { parser, seen } = collector(100);
    parser.push(frame(3, 1, Buffer.alloc(92)));
    assert.equal(seen.length, 1);
    assert.throws(() => parser.push(frame(3, 1, Buffer.alloc(93))), isFrameError);
  });

  it('rejects an oversize frame from its header alone, before the payload arrives', () => {
    const { parser } = collector(4096);
    assert.throws(() => parser.push(frame(3, 1, Buffer.alloc(5000)).subarray(0, 7)), isFrameError);
  });

  it('treats frameSizeMax as mutable (the server lowers it after tune-ok)', () => {
    const { parser } = collector(1 << 20);
    parser.push(frame(3, 1, Buffer.alloc(5000)));
    parser.frameSizeMax = 4096;
    assert.throws(() => parser.push(frame(3, 1, Buffer.alloc(5000))), isFrameError);
  });

  it('rejects a bad frame-end octet with 501, whole or split', () => {
    assert.throws(() => collector().parser.push(frame(1, 0, Buffer.from('x'), 0x00)), isFrameError);
    const bad = frame(1, 0, Buffer.alloc(50), 0xcd);
    const { parser } = collector();
    parser.push(bad.subarray(0, 20));
    assert.throws(() => parser.push(bad.subarray(20)), isFrameError);
  });

  it('rejects unknown frame types with 501 and accepts 1, 2, 3 and 8', () => {
    for (const type of [0, 4, 7, 9, 65, 255]) {
      assert.throws(() => collector().parser.push(frame(type, 0, Buffer.alloc(0))), isFrameError, `type ${type}`);
    }
    const { parser, seen } = collector();
    for (const type of [1, 2, 3, 8]) parser.push(frame(type, 0, Buffer.alloc(0)));
    assert.deepEqual(seen.map((f) => f.type), [1, 2, 3, 8]);
  });

  it('delivers the frames before an error, then ignores all input', () => {
    const { parser, seen } = collector();
    const stream = Buffer.concat([frame(1, 1, Buffer.from('ok')), frame(1, 1, Buffer.from('bad'), 0), frame(1, 1, Buffer.from('late'))]);
    assert.throws(() => parser.push(stream), isFrameError);
    parser.push(frame(1, 1, Buffer.from('after')));
    assert.deepEqual(seen.map((f) => f.payload.toString()), ['ok']);
  });

  it('stop() inside onFrame drops the rest of the chunk and later chunks', () => {
    const seen: string[] = [];
    const parser = new FrameParser(
      {
        onFrame: (_t, _c, p) => {
          seen.push(p.toString());
          parser.stop();
        },
      },
      4096,
    );
    parser.push(Buffer.concat([frame(1, 1, Buffer.from('a')), frame(1, 1, Buffer.from('b'))]));
    parser.push(frame(1, 1, Buffer.from('c')));
    assert.deepEqual(seen, ['a']);
  });

  it('reassembles a large frame fed in many small pieces', () => {
    const payload = Buffer.alloc(200_000, 7);
    payload.writeUInt32BE(0xdeadbeef, 100_000);
    const stream = Buffer.concat([frame(3, 9, payload), frame(3, 9, Buffer.from('tail'))]);
    const { parser, seen } = collector(1 << 20);
    for (let at = 0; at < stream.length; at += 1000) parser.push(stream.subarray(at, at + 1000));
    assert.equal(seen.length, 2);
    assert.deepEqual(seen[0]?.payload, payload);
    assert.equal(seen[1]?.payload.toString(), 'tail');
  });
});
