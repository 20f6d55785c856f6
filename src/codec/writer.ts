import { Buffer } from 'node:buffer';
import { AmqpCodecError } from './errors.js';
import { encodeFieldTable, type FieldTable } from './field-table.js';
import { FRAME_END, FRAME_HEADER_SIZE, ReplyCode } from './generated/constants.js';

const DEFAULT_CAPACITY_BYTES = 64 * 1024;
// A burst of large messages may grow the buffer a lot; past this size it is dropped on take()/reset() so one
// spike does not pin memory for the life of the connection.
const SHRINK_ABOVE_BYTES = 1024 * 1024;
const UINT64_LIMIT = 18446744073709551616; // 2^64

/**
 * A growable output buffer the server encodes frames into, then flushes with one socket write. take()
 * hands out a view of the batch, not a copy: later batches are written after it, never over it, and a
 * fresh buffer is started once the current one is nearly used up.
 */
export class FrameWriter {
  /** Backing storage; bytes [start, offset) are the current batch. Replaced when the writer grows. */
  buffer: Buffer;
  /** The next write position in `buffer`. */
  offset = 0;
  /** Where the current batch starts in `buffer` (what take() handed out lies before it). */
  private start = 0;
  private readonly initialCapacityBytes: number;

  constructor(initialCapacityBytes = DEFAULT_CAPACITY_BYTES) {
    this.initialCapacityBytes = Math.max(16, initialCapacityBytes);
    this.buffer = Buffer.allocUnsafe(this.initialCapacityBytes);
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.offset - this.start;
  }

  /**
   * Makes room for `bytes` more bytes, growing by doubling. Positions stay valid (callers patch lengths
   * in later), so the batch is copied to the same offsets of the new buffer; bytes handed out stay behind.
   */
  ensure(bytes: number): void {
    if (this.offset + bytes <= this.buffer.length) return;
    let capacity = this.buffer.length * 2;
    while (capacity < this.offset + bytes) capacity *= 2;
    const next = Buffer.allocUnsafe(capacity);
    this.buffer.copy(next, this.start, this.start, this.offset);
    this.buffer = next;
  }

  // The unsigned writes store bytes directly after one range check: about twice as fast as
  // Buffer#writeUInt*BE, and these run for every frame the server sends.

  /** Writes an unsigned octet; throws RangeError when v is not one. */
  writeUint8(v: number): void {
    if (v >>> 0 !== v || v > 0xff) throw new RangeError(`not a uint8: ${v}`);
    this.ensure(1);
    this.buffer[this.offset++] = v;
  }

  /** Writes a big-endian unsigned 16-bit integer; throws RangeError when v is not one. */
  writeUint16(v: number): void {
    if (v >>> 0 !== v || v > 0xffff) throw new RangeError(`not a uint16: ${v}`);
    this.ensure(2);
    const b = this.buffer;
    const at = this.offset;
    b[at] = v >>> 8;
    b[at + 1] = v;
    this.offset = at + 2;
  }

  /** Writes a big-endian unsigned 32-bit integer; throws RangeError when v is not one. */
  writeUint32(v: number): void {
    if (v >>> 0 !== v) throw new RangeError(`not a uint32: ${v}`);
    this.ensure(4);
    putUint32(this.buffer, this.offset, v);
    this.offset += 4;
  }

  /** Writes a big-endian unsigned 64-bit integer from a non-negative integer number (exact up to 2^53). */
  writeUint64(v: number): void {
    // Two 32-bit halves avoid a BigInt allocation on the hot path (delivery tags).
    if (!(Number.isInteger(v) && v >= 0 && v < UINT64_LIMIT)) throw new RangeError(`not a uint64: ${v}`);
    const hi = Math.floor(v / 0x100000000);
    this.ensure(8);
    putUint32(this.buffer, this.offset, hi);
    putUint32(this.buffer, this.offset + 4, v - hi * 0x100000000);
    this.offset += 8;
  }

  /** Writes a signed octet. */
  writeInt8(v: number): void {
    this.ensure(1);
    this.offset = this.buffer.writeInt8(v, this.offset);
  }

  /** Writes a big-endian signed 16-bit integer. */
  writeInt16(v: number): void {
    this.ensure(2);
    this.offset = this.buffer.writeInt16BE(v, this.offset);
  }

  /** Writes a big-endian signed 32-bit integer. */
  writeInt32(v: number): void {
    this.ensure(4);
    this.offset = this.buffer.writeInt32BE(v, this.offset);
  }

  /** Writes a big-endian signed 64-bit integer. */
  writeInt64(v: bigint): void {
    this.ensure(8);
    this.offset = this.buffer.writeBigInt64BE(v, this.offset);
  }

  /** Writes a big-endian IEEE 754 double. */
  writeFloat64(v: number): void {
    this.ensure(8);
    this.offset = this.buffer.writeDoubleBE(v, this.offset);
  }

  /** Writes a shortstr; throws AmqpCodecError(502) if it is longer than 255 bytes of UTF-8. */
  writeShortString(s: string): void {
    // A UTF-16 code unit is at most 3 UTF-8 bytes, so short strings are written without measuring them first.
    if (s.length <= 85) {
      this.ensure(1 + s.length * 3);
      const n = this.writeUtf8(s, this.offset + 1);
      this.buffer[this.offset] = n;
      this.offset += 1 + n;
      return;
    }
    const len = Buffer.byteLength(s, 'utf8');
    if (len > 255) throw new AmqpCodecError(ReplyCode.SyntaxError, `shortstr too long (${len} bytes)`);
    this.ensure(1 + len);
    this.buffer[this.offset] = len;
    this.buffer.write(s, this.offset + 1, len, 'utf8');
    this.offset += 1 + len;
  }

  /** Writes s as UTF-8 at `at` (capacity already ensured) and returns the byte count. */
  private writeUtf8(s: string, at: number): number {
    const b = this.buffer;
    const n = s.length;
    // Names and tags are short and nearly always ASCII; copying char codes beats the native write's call
    // overhead. The first non-ASCII character hands the whole string to the UTF-8 encoder instead.
    if (n <= 32) {
      for (let i = 0; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) return b.write(s, at, 'utf8');
        b[at + i] = c;
      }
      return n;
    }
    return b.write(s, at, 'utf8');
  }

  /** Writes a longstr (32-bit length + bytes); strings are written as UTF-8. */
  writeLongString(b: Buffer | string): void {
    if (typeof b === 'string') {
      const len = Buffer.byteLength(b, 'utf8');
      this.writeUint32(len);
      this.ensure(len);
      this.offset += this.buffer.write(b, this.offset, len, 'utf8');
      return;
    }
    this.writeUint32(b.length);
    this.writeBytes(b);
  }

  /** Writes a length-prefixed field table. */
  writeTable(t: FieldTable): void {
    encodeFieldTable(this, t, 0);
  }

  /** Writes raw bytes. */
  writeBytes(b: Buffer): void {
    this.ensure(b.length);
    this.offset += b.copy(this.buffer, this.offset);
  }

  /** Starts a frame: writes type, channel and a size placeholder; returns the frame's start for endFrame. */
  beginFrame(type: number, channel: number): number {
    if (type >>> 0 !== type || type > 0xff || channel >>> 0 !== channel || channel > 0xffff) {
      throw new RangeError(`bad frame type ${type} or channel ${channel}`);
    }
    this.ensure(FRAME_HEADER_SIZE);
    const start = this.offset;
    const b = this.buffer;
    b[start] = type;
    b[start + 1] = channel >>> 8;
    b[start + 2] = channel;
    this.offset = start + FRAME_HEADER_SIZE;
    return start;
  }

  /** Finishes the frame begun at start: patches the payload size and writes the frame-end octet. */
  endFrame(start: number): void {
    putUint32(this.buffer, start + 3, this.offset - start - FRAME_HEADER_SIZE);
    this.writeUint8(FRAME_END);
  }

  /**
   * Returns the bytes written since the last take() and starts a new batch. The returned bytes stay as
   * they are (nothing is ever written over them), so they can go to a socket without being copied.
   */
  take(): Buffer {
    const out = this.buffer.subarray(this.start, this.offset);
    // Nearly full, or grown past ~1 MiB by a burst: the next batch starts a buffer of its own.
    if (this.buffer.length - this.offset < this.initialCapacityBytes / 4 || this.buffer.length > SHRINK_ABOVE_BYTES) {
      this.buffer = Buffer.allocUnsafe(this.initialCapacityBytes);
      this.offset = 0;
    }
    this.start = this.offset;
    return out;
  }

  /** Discards the bytes written since the last take(); drops the buffer if it grew past ~1 MiB. */
  reset(): void {
    this.offset = this.start;
    if (this.buffer.length > SHRINK_ABOVE_BYTES) {
      this.buffer = Buffer.allocUnsafe(this.initialCapacityBytes);
      this.offset = 0;
      this.start = 0;
    }
  }
}

function putUint32(b: Buffer, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = v >>> 16;
  b[at + 2] = v >>> 8;
  b[at + 3] = v;
}
