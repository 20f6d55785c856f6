/**
 * Unit tests for the codec: known byte vectors (produced with amqplib's encoder and checked by hand against
 * the spec), error codes for malformed input, field table edge cases, properties and the writer.
 */
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import {
  AmqpCodecError,
  CLASS_ID,
  Decimal,
  FrameWriter,
  METHOD_IDS,
  PROTOCOL_HEADER,
  Reader,
  ReplyCode,
  ReplyText,
  decodeBasicProperties,
  decodeMethod,
  encodeBasicProperties,
  encodeContentHeaderFrame,
  encodeMethodFrame,
  isHardErrorCode,
  methodHasContent,
  type FieldTable,
  type Method,
} from '../../../src/codec/index.js';

function frameOf(channel: number, m: Method): Buffer {
  const w = new FrameWriter();
  encodeMethodFrame(w, channel, m);
  return w.take();
}

const payloadOf = (hex: string): Buffer => Buffer.from(hex, 'hex').subarray(7, -1);
const codeIs = (code: number) => (e: unknown) => e instanceof AmqpCodecError && e.replyCode === code;

function tableBytes(entries: Buffer): Buffer {
  const b = Buffer.alloc(4 + entries.length);
  b.writeUInt32BE(entries.length, 0);
  entries.copy(b, 4);
  return b;
}

const readTable = (b: Buffer): FieldTable => new Reader(b, 0, b.length).readTable();

describe('known byte vectors', () => {
  const publish = '0100010000000d003c0028000002657802726b01ce';
  // queue.declare 'jobs', durable, arguments {x-message-ttl: I 60000, x-queue-type: S 'quorum'}.
  const declare =
    '0100010000003b0032000a0000046a6f6273020000002b0d782d6d6573736167652d74746c490000ea600c782d71756575652d74797065530000000671756f72756dce';
  const deliver = '01000300000018003c003c046374616700000100000000050100046a6f6273ce';
  const ack = '0100030000000d003c0050000000000000002a01ce';

  it('basic.publish (mandatory bit is bit 0 of the octet after the strings)', () => {
    const m: Method = { name: 'basicPublish', exchange: 'ex', routingKey: 'rk', mandatory: true, immediate: false };
    assert.equal(frameOf(1, m).toString('hex'), publish);
    assert.deepEqual(decodeMethod(payloadOf(publish)), m);
  });

  it('queue.declare with a field table', () => {
    const args = Object.assign(Object.create(null) as FieldTable, { 'x-message-ttl': 60000, 'x-queue-type': 'quorum' });
    const m: Method = { name: 'queueDeclare', queue: 'jobs', passive: false, durable: true, exclusive: false, autoDelete: false, nowait: false, arguments: args };
    assert.equal(frameOf(1, m).toString('hex'), declare);
    assert.deepEqual(decodeMethod(payloadOf(declare)), m);
  });

  it('basic.deliver and basic.ack (the hot path), with a 64-bit delivery tag', () => {
    const d: Method = { name: 'basicDeliver', consumerTag: 'ctag', deliveryTag: 2 ** 40 + 5, redelivered: true, exchange: '', routingKey: 'jobs' };
    assert.equal(frameOf(3, d).toString('hex'), deliver);
    assert.equal(frameOf(3, { name: 'basicAck', deliveryTag: 42, multiple: true }).toString('hex'), ack);
    assert.deepEqual(decodeMethod(payloadOf(ack)), { name: 'basicAck', deliveryTag: 42, multiple: true });
  });

  it('content header frame with properties (flags: content-type bit 15 ... cluster-id bit 2)', () => {
    const hex = '02000100000030003c00000000000000000005b0440a746578742f706c61696e00000008016153000000016202000000006553f1000163ce';
    const w = new FrameWriter();
    const headers = Object.assign(Object.create(null) as FieldTable, { a: 'b' });
    const props = { contentType: 'text/plain', deliveryMode: 2, headers, timestamp: 1700000000, clusterId: 'c' };
    encodeContentHeaderFrame(w, 1, 5, encodeBasicProperties(props));
    assert.equal(w.take().toString('hex'), hex);
    assert.deepEqual(decodeBasicProperties(Buffer.from(hex, 'hex').subarray(19, -1)), props);
  });

  it('constants from the spec', () => {
    assert.deepEqual([...PROTOCOL_HEADER], [0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
    assert.equal(ReplyText[404], 'NOT_FOUND');
    assert.equal(ReplyText[406], 'PRECONDITION_FAILED');
    assert.equal(ReplyCode.NotImplemented, 540);
    assert.equal(isHardErrorCode(ReplyCode.FrameError), true);
    assert.equal(isHardErrorCode(ReplyCode.NotFound), false);
    assert.deepEqual(CLASS_ID, { connection: 10, channel: 20, access: 30, exchange: 40, queue: 50, basic: 60, tx: 90, confirm: 85 });
    assert.deepEqual(METHOD_IDS.basicPublish, { classId: 60, methodId: 40 });
    const content = Object.keys(METHOD_IDS).filter((n) => methodHasContent(n as Method['name']));
    assert.deepEqual(content.sort(), ['basicDeliver', 'basicGetOk', 'basicPublish', 'basicReturn']);
  });
});

describe('decodeMethod errors', () => {
  it('unknown class or method id -> 540 NOT_IMPLEMENTED carrying the ids', () => {
    for (const [c, m] of [[61, 40], [60, 41], [0, 0], [65535, 65535]] as const) {
      const p = Buffer.alloc(4);
      p.writeUInt16BE(c, 0);
      p.writeUInt16BE(m, 2);
      assert.throws(() => decodeMethod(p), (e) => codeIs(540)(e) && (e as AmqpCodecError).classId === c && (e as AmqpCodecError).methodId === m);
    }
  });

  it('payload shorter than class+method id -> 502', () => {
    assert.throws(() => decodeMethod(Buffer.from([0, 60, 0])), codeIs(502));
  });

  it('extra trailing bytes are a syntax error, as RabbitMQ refuses them', () => {
    const payload = payloadOf('0100010000000d003c0028000002657802726b01ce');
    assert.deepEqual(decodeMethod(payload), { name: 'basicPublish', exchange: 'ex', routingKey: 'rk', mandatory: true, immediate: false });
    assert.throws(() => decodeMethod(Buffer.concat([payload, Buffer.from([1, 2, 3])])), codeIs(502));
  });

  it('a shortstr length past the end -> 502', () => {
    assert.throws(() => decodeMethod(Buffer.from([0, 60, 0, 40, 0, 0, 200, 0x61])), codeIs(502));
  });
});

describe('field tables', () => {
  it('decode every RabbitMQ type tag', () => {
    const entry = (key: string, tag: string, valueHex: string): Buffer =>
      Buffer.concat([Buffer.from([1]), Buffer.from(key + tag), Buffer.from(valueHex, 'hex')]);
    const entries = Buffer.concat([
      entry('a', 't', '01'),
      entry('b', 'b', 'ff'),
      entry('c', 'B', 'ff'),
      entry('d', 's', 'fffe'),
      entry('e', 'u', 'fffe'),
      entry('f', 'I', 'fffffffd'),
      entry('g', 'i', 'fffffffd'),
      entry('h', 'l', '7fffffffffffffff'), // 2^63-1 is not a safe integer: bigint
      entry('i', 'l', 'fffffffffffffffc'), // -4 is: number
      entry('j', 'f', '3fc00000'),
      entry('k', 'd', '400c000000000000'),
      entry('l', 'D', '02000004d2'),
      entry('m', 'S', '00000002c3a9'),
      entry('n', 'x', '00000002beef'),
      entry('o', 'A', '000000046201' + '7401'),
      entry('p', 'V', ''),
      entry('q', 'T', '0000000065542300'),
      entry('r', 'F', '00000003017856'),
    ]);
    const t = readTable(tableBytes(entries));
    assert.equal(Object.getPrototypeOf(t), null);
    assert.deepEqual({ ...t }, {
      a: true, b: -1, c: 255, d: -2, e: 65534, f: -3, g: 4294967293, h: 2n ** 63n - 1n, i: -4, j: 1.5, k: 3.5,
      l: new Decimal(2, 1234), m: 'é', n: Buffer.from([0xbe, 0xef]), o: [1, true], p: null,
      q: new Date(1700012800 * 1000), r: Object.assign(Object.create(null) as FieldTable, { x: null }),
    });
  });

  it('keys like __proto__ are plain data and do not touch any prototype', () => {
    const entries = Buffer.concat([Buffer.from([9]), Buffer.from('__proto__'), Buffer.from('460000000b08706f6c6c75746564' + '7401', 'hex')]);
    const t = readTable(tableBytes(entries));
    assert.ok(Object.hasOwn(t, '__proto__'));
    assert.equal(Object.getPrototypeOf(t), null);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    const w = new FrameWriter();
    w.writeTable(t);
    assert.deepEqual(w.take(), tableBytes(entries));
  });

  it('decoded byte arrays are copies, independent of the frame buffer', () => {
    const b = tableBytes(Buffer.from('01787800000002beef', 'hex'));
    const t = readTable(b);
    b.fill(0);
    assert.deepEqual(t['x'], Buffer.from([0xbe, 0xef]));
  });

  it('bad type tag, truncation and excessive nesting -> 502, never a RangeError', () => {
    assert.throws(() => readTable(tableBytes(Buffer.from('01615a', 'hex'))), codeIs(502));
    assert.throws(() => readTable(tableBytes(Buffer.from('016149000000', 'hex'))), codeIs(502));
    assert.throws(() => readTable(Buffer.from('000000ff01', 'hex')), codeIs(502));
    // 10,000 nested arrays: each level is 'A' + length, well within one frame.
    const depth = 10_000;
    const nested = Buffer.alloc(depth * 5);
    for (let i = 0; i < depth; i++) {
      nested[i * 5] = 0x41;
      nested.writeUInt32BE((depth - i - 1) * 5, i * 5 + 1);
    }
    assert.throws(() => readTable(tableBytes(Buffer.concat([Buffer.from('0161', 'hex'), nested]))), codeIs(502));
  });

  it('encodes numbers per the contract: int32 -> I, other integers -> l, fractions -> d, bigint -> l', () => {
    const tags = (v: unknown): string => {
      const w = new FrameWriter();
      w.writeTable({ k: v } as FieldTable);
      return String.fromCharCode(w.take()[6] as number);
    };
    assert.equal(tags(5), 'I');
    assert.equal(tags(-0x80000000), 'I');
    assert.equal(tags(0x80000000), 'l');
    assert.equal(tags(2 ** 70), 'd');
    assert.equal(tags(0.5), 'd');
    assert.equal(tags(7n), 'l');
    assert.equal(tags(new Date(0)), 'T');
    assert.equal(tags(undefined), 'V');
  });
});

describe('basic properties', () => {
  it('skips continuation flag words', () => {
    // flags: content-type + continuation bit; one more flag word (no continuation); then the shortstr.
    const raw = Buffer.from('800100000174', 'hex');
    assert.deepEqual(decodeBasicProperties(raw), { contentType: 't' });
  });

  it('empty properties are two zero flag bytes', () => {
    assert.deepEqual(encodeBasicProperties({}), Buffer.from([0, 0]));
    assert.deepEqual(decodeBasicProperties(Buffer.from([0, 0])), {});
  });
});

describe('FrameWriter', () => {
  it('grows by doubling and keeps contents; take() hands out bytes that later writes never touch', () => {
    const w = new FrameWriter(16);
    for (let i = 0; i < 1000; i++) w.writeUint32(i);
    assert.equal(w.length, 4000);
    const out = w.take();
    assert.equal(out.length, 4000);
    assert.equal(out.readUInt32BE(3996), 999);
    assert.equal(w.length, 0);
    const batches = [out];
    for (let batch = 1; batch < 50; batch++) {
      for (let i = 0; i < batch * 7; i++) w.writeUint32(batch);
      w.reset(); // discarded: never handed out
      for (let i = 0; i < batch * 5; i++) w.writeUint32(batch);
      batches.push(w.take());
    }
    for (let i = 0; i < 1000; i++) assert.equal(out.readUInt32BE(i * 4), i);
    batches.slice(1).forEach((bytes, index) => {
      const batch = index + 1;
      assert.equal(bytes.length, batch * 5 * 4);
      for (let at = 0; at < bytes.length; at += 4) assert.equal(bytes.readUInt32BE(at), batch);
    });
  });

  it('a frame that outgrows the buffer after earlier take() calls keeps its positions', () => {
    const w = new FrameWriter(64);
    w.writeBytes(Buffer.alloc(40, 7));
    const first = w.take();
    const args = { big: 'x'.repeat(500), n: 1 };
    encodeMethodFrame(w, 3, { name: 'queueDeclare', queue: 'q', passive: false, durable: true, exclusive: false, autoDelete: false, nowait: false, arguments: args });
    const frame = w.take();
    assert.deepEqual(first, Buffer.alloc(40, 7));
    assert.equal(frame.readUInt16BE(1), 3);
    assert.equal(frame.readUInt32BE(3), frame.length - 8);
    const method = decodeMethod(frame.subarray(7, -1));
    assert.equal(method.name, 'queueDeclare');
    assert.deepEqual({ ...(method as { arguments: object }).arguments }, args);
  });

  it('shrinks after growing past 1 MiB', () => {
    const w = new FrameWriter(1024);
    w.writeBytes(Buffer.alloc(3 * 1024 * 1024));
    w.take();
    assert.ok(w.buffer.length <= 1024);
  });

  it('shortstr: 255 bytes ok, 256 -> 502, multibyte counted in bytes', () => {
    const w = new FrameWriter();
    w.writeShortString('a'.repeat(255));
    assert.throws(() => w.writeShortString('a'.repeat(256)), codeIs(502));
    assert.throws(() => w.writeShortString('é'.repeat(128)), codeIs(502));
    w.reset();
    w.writeShortString('€'.repeat(85));
    assert.equal(w.buffer[0], 255);
  });

  it('uint64 round-trips up to 2^53 and rejects negatives', () => {
    const w = new FrameWriter();
    w.writeUint64(Number.MAX_SAFE_INTEGER);
    const b = w.take();
    assert.equal(new Reader(b, 0, 8).readUint64(), Number.MAX_SAFE_INTEGER);
    assert.throws(() => w.writeUint64(-1), RangeError);
  });

  it('a method that fails to encode leaves no partial frame behind', () => {
    const w = new FrameWriter();
    encodeMethodFrame(w, 1, { name: 'basicAck', deliveryTag: 1, multiple: false });
    const before = w.length;
    assert.throws(() => encodeMethodFrame(w, 1, { name: 'basicConsumeOk', consumerTag: 'x'.repeat(300) }), codeIs(502));
    assert.equal(w.length, before);
  });
});
