import { Buffer } from 'node:buffer';
import { AmqpCodecError } from './errors.js';
import { FRAME_END, FRAME_HEADER_SIZE, FrameType, ReplyCode } from './generated/constants.js';

/** Receives complete frames. payload is valid only during the call (it may point into the socket's chunk). */
export interface FrameHandler {
  onFrame(type: number, channel: number, payload: Buffer): void;
}

// A partial-frame buffer larger than this is released after use rather than kept for the next frame.
const KEEP_PARTIAL_BYTES = 1024 * 1024;

/**
 * Incremental frame splitter. Frames that lie wholly inside a chunk are handed out as subarrays (no copy);
 * only a frame spanning chunks is copied, into one buffer sized from its header, so a big frame arriving in
 * many small pieces costs one copy rather than a concat per piece.
 */
export class FrameParser {
  /** Largest whole frame accepted (header + payload + end octet); 0 means no limit. Lowered after tune-ok. */
  frameSizeMax: number;
  private readonly handler: FrameHandler;
  private stopped = false;
  private readonly header = Buffer.alloc(FRAME_HEADER_SIZE);
  private headerFilled = 0;
  /** Payload + end octet of the frame being assembled across chunks, or undefined between frames. */
  private partial: Buffer | undefined;
  private scratch: Buffer | undefined;
  private partialFilled = 0;
  private type = 0;
  private channel = 0;
  private size = 0;

  constructor(handler: FrameHandler, frameSizeMax: number) {
    this.handler = handler;
    this.frameSizeMax = frameSizeMax;
  }

  /** Feeds bytes (any split of the stream); calls handler.onFrame per frame, in order. Throws AmqpCodecError(501). */
  push(chunk: Buffer): void {
    let at = 0;
    const len = chunk.length;
    while (at < len && !this.stopped) {
      if (this.headerFilled > 0 || this.partial !== undefined) {
        at = this.continuePartial(chunk, at);
        continue;
      }
      if (len - at < FRAME_HEADER_SIZE) {
        chunk.copy(this.header, 0, at, len);
        this.headerFilled = len - at;
        return;
      }
      const type = chunk[at] as number;
      const channel = ((chunk[at + 1] as number) << 8) | (chunk[at + 2] as number);
      const size =
        (chunk[at + 3] as number) * 0x1000000 +
        (((chunk[at + 4] as number) << 16) | ((chunk[at + 5] as number) << 8) | (chunk[at + 6] as number));
      this.checkHeader(type, size);
      const endAt = at + FRAME_HEADER_SIZE + size;
      if (endAt >= len) {
        this.startPartial(type, channel, size);
        at = this.fillPartial(chunk, at + FRAME_HEADER_SIZE);
        continue;
      }
      if (chunk[endAt] !== FRAME_END) throw this.badEnd(chunk[endAt] as number);
      this.handler.onFrame(type, channel, chunk.subarray(at + FRAME_HEADER_SIZE, endAt));
      at = endAt + 1;
    }
  }

  /** Makes the parser ignore all further input, including the rest of the chunk being parsed. */
  stop(): void {
    this.stopped = true;
  }

  private continuePartial(chunk: Buffer, at: number): number {
    if (this.partial === undefined) {
      const n = Math.min(FRAME_HEADER_SIZE - this.headerFilled, chunk.length - at);
      chunk.copy(this.header, this.headerFilled, at, at + n);
      this.headerFilled += n;
      if (this.headerFilled < FRAME_HEADER_SIZE) return at + n;
      this.headerFilled = 0;
      const type = this.header[0] as number;
      const size = this.header.readUInt32BE(3);
      this.checkHeader(type, size);
      this.startPartial(type, this.header.readUInt16BE(1), size);
      return this.fillPartial(chunk, at + n);
    }
    return this.fillPartial(chunk, at);
  }

  private startPartial(type: number, channel: number, size: number): void {
    this.type = type;
    this.channel = channel;
    this.size = size;
    // The payload is only valid during onFrame, so one scratch buffer is reused across spanning frames.
    if (this.scratch === undefined || this.scratch.length < size + 1) this.scratch = Buffer.allocUnsafe(size + 1);
    this.partial = this.scratch.subarray(0, size + 1);
    this.partialFilled = 0;
  }

  private fillPartial(chunk: Buffer, at: number): number {
    const partial = this.partial as Buffer;
    const n = Math.min(partial.length - this.partialFilled, chunk.length - at);
    chunk.copy(partial, this.partialFilled, at, at + n);
    this.partialFilled += n;
    if (this.partialFilled < partial.length) return at + n;
    this.partial = undefined;
    if (partial[this.size] !== FRAME_END) throw this.badEnd(partial[this.size] as number);
    if (partial.length > KEEP_PARTIAL_BYTES) this.scratch = undefined;
    this.handler.onFrame(this.type, this.channel, partial.subarray(0, this.size));
    return at + n;
  }

  private checkHeader(type: number, size: number): void {
    const known =
      type === FrameType.Method || type === FrameType.Header || type === FrameType.Body || type === FrameType.Heartbeat;
    if (!known) throw this.fail(`unknown frame type ${type}`);
    if (this.frameSizeMax > 0 && size + FRAME_HEADER_SIZE + 1 > this.frameSizeMax) {
      throw this.fail(`frame too large: ${size + FRAME_HEADER_SIZE + 1} bytes, frame-max is ${this.frameSizeMax}`);
    }
  }

  private badEnd(octet: number): AmqpCodecError {
    return this.fail(`invalid frame end octet 0x${octet.toString(16)}`);
  }

  /** The stream cannot be resynchronised after a framing error, so the parser stops for good. */
  private fail(message: string): AmqpCodecError {
    this.stopped = true;
    return new AmqpCodecError(ReplyCode.FrameError, message);
  }
}
