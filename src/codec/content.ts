import type { Buffer } from 'node:buffer';
import { copyBytes } from './bytes.js';
import { type BasicProperties, writeBasicProperties } from './generated/basic-properties.js';
import { CLASS_ID } from './generated/methods.js';
import { FrameType, ReplyCode } from './generated/constants.js';
import { AmqpCodecError } from './errors.js';
import { FrameWriter } from './writer.js';

export { decodeBasicProperties, type BasicProperties } from './generated/basic-properties.js';

/** Frame header (7) + frame end (1): what a frame costs on top of its payload. */
const FRAME_OVERHEAD_BYTES = 8;
/** class-id (2) + weight (2) + body-size (8) + property flags (2). */
const CONTENT_HEADER_MIN_BYTES = 14;

/**
 * A decoded content header frame. rawProperties is a view of the flags + property list bytes inside the
 * frame payload: valid only as long as the payload is, so a caller that keeps it must copy it.
 */
export interface ContentHeader {
  classId: number;
  /** Must be 0 in AMQP 0-9-1; RabbitMQ treats anything else as an unexpected frame. */
  weight: number;
  bodySize: number;
  rawProperties: Buffer;
}

/** Writes a content header frame for class basic (60), weight 0, with property bytes already encoded (flags + list). */
export function encodeContentHeaderFrame(
  w: FrameWriter,
  channel: number,
  bodySize: number,
  rawProperties: Buffer,
): void {
  const start = w.beginFrame(FrameType.Header, channel);
  w.writeUint16(CLASS_ID.basic);
  w.writeUint16(0);
  w.writeUint64(bodySize);
  w.writeBytes(rawProperties);
  w.endFrame(start);
}

/** Writes body frames splitting body so each frame is at most frameMax bytes in total (0 means no limit). */
export function encodeBodyFrames(w: FrameWriter, channel: number, body: Buffer, frameMax: number): void {
  // frame-max 0 means "no limit" in the spec; a payload size still has to fit its 32-bit field.
  const chunk = frameMax === 0 ? 0xffffffff : frameMax - FRAME_OVERHEAD_BYTES;
  if (!(chunk > 0)) throw new RangeError(`frameMax too small: ${frameMax}`);
  const frames = Math.ceil(body.length / chunk);
  w.ensure(body.length + frames * FRAME_OVERHEAD_BYTES);
  if (frames === 1) {
    // The usual small body: one frame, written without a subarray view of it.
    const start = w.beginFrame(FrameType.Body, channel);
    w.writeBytes(body);
    w.endFrame(start);
    return;
  }
  for (let at = 0; at < body.length; at += chunk) {
    const start = w.beginFrame(FrameType.Body, channel);
    w.writeBytes(body.subarray(at, Math.min(at + chunk, body.length)));
    w.endFrame(start);
  }
}

/** Decodes a content header frame payload; rawProperties is a view into it. Throws AmqpCodecError(502) when malformed. */
export function decodeContentHeader(payload: Buffer): ContentHeader {
  if (payload.length < CONTENT_HEADER_MIN_BYTES) {
    throw new AmqpCodecError(ReplyCode.SyntaxError, `content header too short (${payload.length} bytes)`);
  }
  return {
    classId: payload.readUInt16BE(0),
    weight: payload.readUInt16BE(2),
    bodySize: payload.readUInt32BE(4) * 0x100000000 + payload.readUInt32BE(8),
    rawProperties: payload.subarray(12),
  };
}

// Properties are encoded once per published message, so one scratch writer serves every call.
const scratch = new FrameWriter(256);

/** Encodes properties to raw bytes (flags + list). */
export function encodeBasicProperties(props: BasicProperties): Buffer {
  scratch.reset();
  writeBasicProperties(scratch, props);
  const out = copyBytes(scratch.buffer, 0, scratch.offset);
  scratch.reset();
  return out;
}
