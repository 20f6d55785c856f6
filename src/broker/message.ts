/**
 * A published message as the broker holds it: properties stay in their wire encoding so deliveries
 * copy them verbatim; they are decoded only when routing or a queue feature needs them.
 */
import { decodeBasicProperties, encodeBasicProperties, type BasicProperties, type FieldValue } from '../codec/index.js';
import { preconditionFailed } from './errors.js';
import type { MessageLocation } from './ports.js';

/** Property flag bits (the first two bytes of the raw properties) the broker looks at. */
const CONTENT_TYPE_FLAG = 0x8000;
const CONTENT_ENCODING_FLAG = 0x4000;
const HEADERS_FLAG = 0x2000;
const USER_ID_FLAG = 0x0010;

/** One message, shared by every queue it was routed to. */
export class Message {
  private decodedProperties: BasicProperties | undefined;

  constructor(
    /** Exchange the message was published to. */
    readonly exchange: string,
    /** Routing key it was published with. */
    readonly routingKey: string,
    /** Property flags and list exactly as received. */
    readonly rawProperties: Buffer,
    /** Message body. */
    readonly body: Buffer,
    /** Extra routing keys from the CC and BCC headers (RabbitMQ's sender-selected distribution). */
    readonly extraRoutingKeys: readonly string[] = NO_KEYS,
  ) {}

  /** True for delivery-mode 2: the message is written to disk when it reaches a durable queue. */
  get persistent(): boolean {
    return deliveryModeOf(this.rawProperties) === 2;
  }

  /** The decoded basic properties (decoded once, on first use). */
  get properties(): BasicProperties {
    this.decodedProperties ??= decodeBasicProperties(this.rawProperties);
    return this.decodedProperties;
  }
}

const NO_KEYS: readonly string[] = [];

const DELIVERY_MODE_FLAG = 0x1000;

/**
 * Reads delivery-mode straight from the property bytes, skipping only the three properties stored
 * before it, so the per-message persistence check decodes nothing.
 */
function deliveryModeOf(raw: Buffer): number | undefined {
  if (raw.length < 2) return undefined;
  const flags = raw.readUInt16BE(0);
  if ((flags & DELIVERY_MODE_FLAG) === 0) return undefined;
  let offset = 2;
  if ((flags & CONTENT_TYPE_FLAG) !== 0) offset += 1 + (raw[offset] ?? 0);
  if ((flags & CONTENT_ENCODING_FLAG) !== 0) offset += 1 + (raw[offset] ?? 0);
  if ((flags & HEADERS_FLAG) !== 0) offset += 4 + (offset + 4 <= raw.length ? raw.readUInt32BE(offset) : 0);
  return raw[offset];
}

/**
 * Builds the message for a completed basic.publish: checks the user-id property against the
 * authenticated user and applies CC/BCC routing, stripping BCC from what consumers will see.
 * Properties are decoded only when their flags say a header or user-id is present.
 */
export function prepareMessage(exchange: string, routingKey: string, rawProperties: Buffer, body: Buffer, username: string): Message {
  const flags = rawProperties.length >= 2 ? rawProperties.readUInt16BE(0) : 0;
  const mayHaveCc = (flags & HEADERS_FLAG) !== 0 && !headersTableEmpty(rawProperties, flags);
  if (!mayHaveCc && (flags & USER_ID_FLAG) === 0) return new Message(exchange, routingKey, rawProperties, body);
  const properties = decodeBasicProperties(rawProperties);
  if (properties.userId !== undefined && properties.userId !== username) {
    throw preconditionFailed(`user_id property set to '${properties.userId}' but authenticated user was '${username}'`);
  }
  const headers = properties.headers;
  if (headers === undefined || (headers['CC'] === undefined && headers['BCC'] === undefined)) {
    return new Message(exchange, routingKey, rawProperties, body);
  }
  const keys = [...routingKeysOf(headers['CC']), ...routingKeysOf(headers['BCC'])];
  if (headers['BCC'] === undefined) return new Message(exchange, routingKey, rawProperties, body, keys);
  const { BCC: _bcc, ...visibleHeaders } = headers;
  return new Message(exchange, routingKey, encodeBasicProperties({ ...properties, headers: visibleHeaders }), body, keys);
}

/**
 * True when the headers property is an empty table, read straight from the bytes: many clients
 * always send `headers: {}`, and decoding every message's properties to learn that costs.
 */
function headersTableEmpty(raw: Buffer, flags: number): boolean {
  let offset = 2;
  // content-type and content-encoding (short strings) come before headers.
  if ((flags & CONTENT_TYPE_FLAG) !== 0) offset += 1 + (raw[offset] ?? 0);
  if ((flags & CONTENT_ENCODING_FLAG) !== 0) offset += 1 + (raw[offset] ?? 0);
  return offset + 4 <= raw.length && raw.readUInt32BE(offset) === 0;
}

function routingKeysOf(value: FieldValue | undefined): string[] {
  if (!Array.isArray(value)) return [];
  return value.flatMap((item) => (typeof item === 'string' ? [item] : Buffer.isBuffer(item) ? [item.toString()] : []));
}

/** A message's place in one queue. */
export interface QueueEntry {
  readonly message: Message;
  /** Position in the queue, increasing with each enqueue; requeued entries keep theirs. */
  readonly sequence: number;
  /** True once the entry has been delivered and returned to the queue. */
  redelivered: boolean;
  /** Where the message is stored: a persistent message in a durable queue, or one read back from disk. */
  location?: MessageLocation;
}

/** Someone a queue pushes messages to: a basic.consume subscription on a channel. */
export interface Consumer {
  readonly consumerTag: string;
  readonly exclusive: boolean;
  /** Whether a delivery may be pushed now (prefetch limits, channel flow, socket backpressure). */
  canAccept(): boolean;
  /** Takes one entry from the queue; called only when canAccept() returned true. */
  deliver(queue: DeliverySource, entry: QueueEntry): void;
  /** The queue went away; the consumer is already removed from it. */
  cancelledByBroker(): void;
}

/** The side of a queue a consumer or channel sees: where entries come from and go back to. */
export interface DeliverySource {
  readonly name: string;
  /** Returns delivered entries to the queue at their original positions, marked redelivered. */
  requeue(entries: readonly QueueEntry[]): void;
  /** Tells the queue that one of its consumers may accept deliveries again. */
  dispatch(): void;
  /** Records that a delivered entry was acknowledged (or dropped) and will not come back. */
  settle(entry: QueueEntry): void;
}
