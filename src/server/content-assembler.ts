/**
 * Collects the content header and body frames that follow a basic.publish into one message body.
 */
import { FrameType, ReplyCode, decodeContentHeader, type BasicPublish } from '../codec/index.js';
import { ChannelError, unexpectedFrame } from '../broker/errors.js';

/** Bodies up to this size are allocated when the header announces them; larger ones are collected as they come. */
const PREALLOCATE_MAX_BYTES = 128 * 1024;

/** A publish whose content is complete. */
export interface AssembledPublish {
  method: BasicPublish;
  rawProperties: Buffer;
  body: Buffer;
}

/** Content assembly state for one channel. */
export class ContentAssembler {
  private method: BasicPublish | undefined;
  private rawProperties: Buffer | undefined;
  /** Preallocated body for small messages. */
  private body: Buffer | undefined;
  /** Body frames of a large message, joined once complete, so memory follows what actually arrived. */
  private chunks: Buffer[] = [];
  private received = 0;
  /** Body size declared by the header; body frames are counted against it. */
  private bodySize = 0;
  /** True when the body is to be read and dropped (the message was refused at its header). */
  private discarding = false;
  /** The property bytes of the previous message, shared by the next one when identical (they usually are). */
  private lastRawProperties: Buffer = Buffer.alloc(0);

  constructor(private readonly messageSizeMaxBytes: number) {}

  /** True while a publish waits for its header or body frames. */
  get active(): boolean {
    return this.method !== undefined;
  }

  /** Starts collecting content for a basic.publish. */
  begin(method: BasicPublish): void {
    this.method = method;
    this.rawProperties = undefined;
    this.body = undefined;
    this.chunks = [];
    this.received = 0;
    this.bodySize = 0;
    this.discarding = false;
  }

  /** Drops any partial content (channel closing). */
  reset(): void {
    this.method = undefined;
    this.rawProperties = undefined;
    this.body = undefined;
    this.chunks = [];
    this.discarding = false;
  }

  /** Feeds a header or body frame; returns the publish once its body is complete. */
  onFrame(type: number, payload: Buffer): AssembledPublish | undefined {
    if (type === FrameType.Header) return this.onHeader(payload);
    if (type === FrameType.Body) return this.onBody(payload);
    throw unexpectedFrame('expected content header for class 60, got non content header frame instead');
  }

  private onHeader(payload: Buffer): AssembledPublish | undefined {
    if (this.rawProperties !== undefined) {
      throw unexpectedFrame('expected content body, got content header instead');
    }
    const header = decodeContentHeader(payload);
    if (header.classId !== 60) throw unexpectedFrame(`content header for class ${header.classId}, expected 60`);
    this.rawProperties = this.ownProperties(header.rawProperties);
    this.bodySize = header.bodySize;
    if (header.bodySize > this.messageSizeMaxBytes) {
      // The body frames still to come are read and dropped while the channel closes.
      this.discarding = true;
      throw new ChannelError(ReplyCode.PreconditionFailed,
        `message size ${header.bodySize} is larger than configured max size ${this.messageSizeMaxBytes}`);
    }
    if (header.bodySize <= PREALLOCATE_MAX_BYTES) this.body = Buffer.allocUnsafe(header.bodySize);
    return header.bodySize === 0 ? this.complete() : undefined;
  }

  /** Copies property bytes out of the transient frame, reusing the previous copy when the bytes are equal. */
  private ownProperties(view: Buffer): Buffer {
    if (!view.equals(this.lastRawProperties)) this.lastRawProperties = Buffer.from(view);
    return this.lastRawProperties;
  }

  private onBody(payload: Buffer): AssembledPublish | undefined {
    if (this.discarding) {
      this.received += payload.length;
      if (this.received >= this.bodySize) this.reset();
      return undefined;
    }
    if (this.rawProperties === undefined) throw unexpectedFrame('expected content header for class 60, got content body instead');
    if (this.received + payload.length > this.bodySize) {
      throw unexpectedFrame(`content body exceeds the declared size of ${this.bodySize} bytes`);
    }
    if (this.body !== undefined) payload.copy(this.body, this.received);
    else this.chunks.push(Buffer.from(payload));
    this.received += payload.length;
    if (this.received < this.bodySize) return undefined;
    if (this.body === undefined) this.body = Buffer.concat(this.chunks, this.bodySize);
    return this.complete();
  }

  private complete(): AssembledPublish {
    const result = {
      method: this.method as BasicPublish,
      rawProperties: this.rawProperties as Buffer,
      body: this.body as Buffer,
    };
    this.reset();
    return result;
  }
}
