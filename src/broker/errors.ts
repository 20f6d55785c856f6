/**
 * Protocol errors as data. A ChannelError maps 1:1 to channel.close, a ConnectionError to
 * connection.close; the server fills in the class and method id of the method being handled.
 */
import { ReplyCode, ReplyText } from '../codec/index.js';

/** reply-text is a shortstr: at most 255 bytes of UTF-8. */
const REPLY_TEXT_MAX_BYTES = 255;

/** Cuts a string to at most maxBytes of UTF-8 without splitting a character. */
function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let end = maxBytes;
  const bytes = Buffer.from(text);
  // Step back over continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && ((bytes[end] as number) & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

/** An error that the broker reports to the peer with an AMQP reply code. */
export abstract class AmqpError extends Error {
  /** Class id of the method that caused the error (0 when not caused by a method). */
  classId = 0;
  /** Method id of the method that caused the error. */
  methodId = 0;

  constructor(
    readonly replyCode: number,
    detail: string,
  ) {
    super(`${ReplyText[replyCode] ?? 'ERROR'} - ${detail}`);
  }

  /** The reply-text sent on the wire, RabbitMQ style ("NOT_FOUND - no queue 'q' in vhost '/'"), at most 255 bytes. */
  get replyText(): string {
    return truncateUtf8(this.message, REPLY_TEXT_MAX_BYTES);
  }

  private methodRecorded = false;

  /** Records which method caused the error, unless already recorded; (0, 0) records "no method". */
  causedBy(classId: number, methodId: number): this {
    if (!this.methodRecorded) {
      this.methodRecorded = true;
      this.classId = classId;
      this.methodId = methodId;
    }
    return this;
  }
}

/** A soft error: closes only the channel. */
export class ChannelError extends AmqpError {}

/** A hard error: closes the whole connection. */
export class ConnectionError extends AmqpError {}

/** 404 NOT_FOUND channel error. */
export const notFound = (detail: string): ChannelError => new ChannelError(ReplyCode.NotFound, detail);
/** 403 ACCESS_REFUSED channel error. */
export const accessRefused = (detail: string): ChannelError => new ChannelError(ReplyCode.AccessRefused, detail);
/** 405 RESOURCE_LOCKED channel error. */
export const resourceLocked = (detail: string): ChannelError => new ChannelError(ReplyCode.ResourceLocked, detail);
/** 406 PRECONDITION_FAILED channel error. */
export const preconditionFailed = (detail: string): ChannelError =>
  new ChannelError(ReplyCode.PreconditionFailed, detail);
/** 503 COMMAND_INVALID connection error. */
export const commandInvalid = (detail: string): ConnectionError => new ConnectionError(ReplyCode.CommandInvalid, detail);
/** 530 NOT_ALLOWED connection error. */
export const notAllowed = (detail: string): ConnectionError => new ConnectionError(ReplyCode.NotAllowed, detail);
/** 540 NOT_IMPLEMENTED connection error. */
export const notImplemented = (detail: string): ConnectionError => new ConnectionError(ReplyCode.NotImplemented, detail);
/** 504 CHANNEL_ERROR connection error. */
export const channelError = (detail: string): ConnectionError => new ConnectionError(ReplyCode.ChannelError, detail);
/** 505 UNEXPECTED_FRAME connection error. */
export const unexpectedFrame = (detail: string): ConnectionError => new ConnectionError(ReplyCode.UnexpectedFrame, detail);
/** 501 FRAME_ERROR connection error. */
export const frameError = (detail: string): ConnectionError => new ConnectionError(ReplyCode.FrameError, detail);
/** 541 INTERNAL_ERROR connection error. */
export const internalError = (detail: string): ConnectionError => new ConnectionError(ReplyCode.InternalError, detail);

/** Why a change to vhosts, users or permissions was refused (the management API maps it to an HTTP status). */
export type DefinitionErrorReason = 'notFound' | 'invalid' | 'configured';

/** A refused change to vhosts, users or permissions, with its reason as data. */
export class DefinitionError extends Error {
  constructor(
    readonly reason: DefinitionErrorReason,
    message: string,
  ) {
    super(message);
  }
}
