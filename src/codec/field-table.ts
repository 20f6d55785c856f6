import { Buffer } from 'node:buffer';
import { AmqpCodecError } from './errors.js';
import { ReplyCode } from './generated/constants.js';
import type { Reader } from './reader.js';
import type { FrameWriter } from './writer.js';

/** A value in an AMQP field table or field array. */
export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Date
  | Decimal
  | null
  | FieldValue[]
  | FieldTable;

/** An AMQP field table; decoded tables have a null prototype so keys like "__proto__" are plain data. */
export interface FieldTable {
  [key: string]: FieldValue;
}

/** An AMQP decimal ('D'): value / 10^scale, scale an octet and value an unsigned 32-bit integer. */
export class Decimal {
  constructor(
    readonly scale: number,
    readonly value: number,
  ) {}
}

/** An empty, frozen table for arguments the API omits. */
export const EMPTY_TABLE: FieldTable = Object.freeze(Object.create(null) as FieldTable);

/**
 * Nesting limit for tables and arrays. Each level costs the peer only 5 bytes, so without a limit a single
 * frame could recurse deep enough to overflow the stack; real clients nest two or three levels.
 */
export const FIELD_NESTING_MAX = 64;

const INT64_LIMIT = 9223372036854775808; // 2^63

/** Reads a length-prefixed field table. */
export function decodeFieldTable(r: Reader, depth: number): FieldTable {
  if (depth > FIELD_NESTING_MAX) throw r.error('field table nested too deeply');
  const t = r.sub(r.readUint32());
  const out = Object.create(null) as FieldTable;
  while (t.offset < t.end) {
    const key = t.readShortString();
    out[key] = decodeFieldValue(t, depth);
  }
  return out;
}

function decodeFieldArray(r: Reader, depth: number): FieldValue[] {
  if (depth > FIELD_NESTING_MAX) throw r.error('field array nested too deeply');
  const a = r.sub(r.readUint32());
  const out: FieldValue[] = [];
  while (a.offset < a.end) out.push(decodeFieldValue(a, depth));
  return out;
}

/** Reads one field value (type tag and value) of a table or array at nesting `depth`. */
export function decodeFieldValue(r: Reader, depth: number): FieldValue {
  const tag = r.readUint8();
  switch (tag) {
    case 0x74: // t
      return r.readUint8() !== 0;
    case 0x62: // b
      return r.readInt8();
    case 0x42: // B
      return r.readUint8();
    case 0x73: // s
      return r.readInt16();
    case 0x75: // u
      return r.readUint16();
    case 0x49: // I
      return r.readInt32();
    case 0x69: // i
      return r.readUint32();
    case 0x6c: // l
      return r.readInt64();
    case 0x66: // f
      return r.readFloat32();
    case 0x64: // d
      return r.readFloat64();
    case 0x44: // D
      return new Decimal(r.readUint8(), r.readUint32());
    case 0x53: // S
      return r.readLongStringUtf8();
    case 0x78: // x
      return r.readLongString();
    case 0x41: // A
      return decodeFieldArray(r, depth + 1);
    case 0x56: // V
      return null;
    case 0x54: // T
      return new Date(r.readUint64() * 1000);
    case 0x46: // F
      return decodeFieldTable(r, depth + 1);
    default:
      throw r.error(`unknown field value type tag 0x${tag.toString(16)}`);
  }
}

/**
 * Advances past one field value, checking it as decodeFieldValue does (the same errors for the same
 * bytes) but building nothing: for a reader that needs only where values lie.
 */
export function skipFieldValue(r: Reader, depth: number): void {
  const tag = r.readUint8();
  switch (tag) {
    case 0x74: // t
    case 0x62: // b
    case 0x42: // B
      return r.skip(1);
    case 0x73: // s
    case 0x75: // u
      return r.skip(2);
    case 0x49: // I
    case 0x69: // i
    case 0x66: // f
      return r.skip(4);
    case 0x6c: // l
    case 0x64: // d
    case 0x54: // T
      return r.skip(8);
    case 0x44: // D
      r.skip(1);
      return r.skip(4);
    case 0x53: // S
    case 0x78: // x
      return r.skip(r.readUint32());
    case 0x41: // A
      return skipFieldArray(r, depth + 1);
    case 0x56: // V
      return;
    case 0x46: // F
      return skipFieldTable(r, depth + 1);
    default:
      throw r.error(`unknown field value type tag 0x${tag.toString(16)}`);
  }
}

function skipFieldTable(r: Reader, depth: number): void {
  if (depth > FIELD_NESTING_MAX) throw r.error('field table nested too deeply');
  const t = r.sub(r.readUint32());
  while (t.offset < t.end) {
    t.skipShortString();
    skipFieldValue(t, depth);
  }
}

function skipFieldArray(r: Reader, depth: number): void {
  if (depth > FIELD_NESTING_MAX) throw r.error('field array nested too deeply');
  const a = r.sub(r.readUint32());
  while (a.offset < a.end) skipFieldValue(a, depth);
}

/** Writes a length-prefixed field table. */
export function encodeFieldTable(w: FrameWriter, table: FieldTable, depth: number): void {
  // Encoding our own values: a cycle or absurd nesting is a programmer error, but it must not blow the stack.
  if (depth > FIELD_NESTING_MAX) throw new AmqpCodecError(ReplyCode.SyntaxError, 'field table nested too deeply');
  const at = w.offset;
  w.writeUint32(0);
  for (const key of Object.keys(table)) {
    w.writeShortString(key);
    encodeFieldValue(w, table[key], depth);
  }
  w.buffer.writeUInt32BE(w.offset - at - 4, at);
}

function encodeFieldArray(w: FrameWriter, values: readonly FieldValue[], depth: number): void {
  if (depth > FIELD_NESTING_MAX) throw new AmqpCodecError(ReplyCode.SyntaxError, 'field array nested too deeply');
  const at = w.offset;
  w.writeUint32(0);
  for (const v of values) encodeFieldValue(w, v, depth);
  w.buffer.writeUInt32BE(w.offset - at - 4, at);
}

function encodeFieldValue(w: FrameWriter, v: FieldValue | undefined, depth: number): void {
  switch (typeof v) {
    case 'boolean':
      w.writeUint8(0x74);
      w.writeUint8(v ? 1 : 0);
      return;
    case 'number':
      encodeNumber(w, v);
      return;
    case 'bigint':
      w.writeUint8(0x6c);
      w.writeInt64(v);
      return;
    case 'string':
      w.writeUint8(0x53);
      w.writeLongString(v);
      return;
    case 'undefined':
      w.writeUint8(0x56);
      return;
    case 'object':
      encodeObject(w, v, depth);
      return;
    default:
      throw new TypeError(`cannot encode a ${typeof v} in a field table`);
  }
}

function encodeNumber(w: FrameWriter, v: number): void {
  if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff) {
    w.writeUint8(0x49);
    w.writeInt32(v);
  } else if (Number.isInteger(v) && v >= -INT64_LIMIT && v < INT64_LIMIT) {
    w.writeUint8(0x6c);
    w.writeInt64(BigInt(v));
  } else {
    w.writeUint8(0x64);
    w.writeFloat64(v);
  }
}

function encodeObject(w: FrameWriter, v: Exclude<FieldValue, boolean | number | bigint | string>, depth: number): void {
  if (v === null) {
    w.writeUint8(0x56);
  } else if (Array.isArray(v)) {
    w.writeUint8(0x41);
    encodeFieldArray(w, v, depth + 1);
  } else if (Buffer.isBuffer(v)) {
    w.writeUint8(0x78);
    w.writeLongString(v);
  } else if (v instanceof Date) {
    w.writeUint8(0x54);
    w.writeUint64(Math.floor(v.getTime() / 1000));
  } else if (v instanceof Decimal) {
    w.writeUint8(0x44);
    w.writeUint8(v.scale);
    w.writeUint32(v.value);
  } else {
    w.writeUint8(0x46);
    encodeFieldTable(w, v, depth + 1);
  }
}
