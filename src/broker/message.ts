/**
 * A published message as the broker holds it: properties stay in their wire encoding so deliveries
 * copy them verbatim; they are decoded only when routing or a queue feature needs them.
 */
import {
  decodeBasicProperties, encodeBasicProperties, headerValueAt, scanBasicProperties, shortStringAt, withoutHeaderEntries,
  type BasicProperties, type BasicPropertiesScan, type FieldValue, type HeaderEntrySpan,
} from '../codec/index.js';
import { preconditionFailed } from './errors.js';
import type { MessageLocation } from './ports.js';

/** Property flag bits (the first two bytes of the raw properties) the broker looks at. */
const CONTENT_TYPE_FLAG = 0x8000;
const CONTENT_ENCODING_FLAG = 0x4000;
const HEADERS_FLAG = 0x2000;
const PRIORITY_FLAG = 0x0800;
const REPLY_TO_FLAG = 0x0200;
const EXPIRATION_FLAG = 0x0100;
const USER_ID_FLAG = 0x0010;

/** The headers of RabbitMQ's sender-selected distribution, as the property scan looks for them. */
const DISTRIBUTION_KEYS = [Buffer.from('CC'), Buffer.from('BCC')];
const CC_KEY = 0;
const BCC_KEY = 1;

/** One message, shared by every queue it was routed to. */
export class Message {
  private decodedProperties: BasicProperties | undefined;
  /** Where the properties the broker reads lie in rawProperties (scanned once, on first use). */
  private scanned: BasicPropertiesScan | undefined;

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
    /** A scan of rawProperties already made, if any. */
    scan?: BasicPropertiesScan,
  ) {
    this.scanned = scan;
  }

  /** True for delivery-mode 2: the message is written to disk when it reaches a durable queue. */
  get persistent(): boolean {
    return deliveryModeOf(this.rawProperties) === 2;
  }

  /** The decoded basic properties (decoded once, on first use). */
  get properties(): BasicProperties {
    this.decodedProperties ??= decodeBasicProperties(this.rawProperties);
    return this.decodedProperties;
  }

  /** The priority property, 0 when absent. */
  get priority(): number {
    return (flagsOf(this.rawProperties) & PRIORITY_FLAG) === 0 ? 0 : (this.rawProperties[this.scan().priorityAt] ?? 0);
  }

  /** The expiration property in milliseconds (checked at publish), or undefined when absent. */
  get expirationMs(): number | undefined {
    if ((flagsOf(this.rawProperties) & EXPIRATION_FLAG) === 0) return undefined;
    const parsed = parseExpiration(shortStringAt(this.rawProperties, this.scan().expirationAt));
    return typeof parsed === 'number' ? parsed : undefined;
  }

  /** The reply-to property, or undefined when absent. */
  get replyTo(): string | undefined {
    if ((flagsOf(this.rawProperties) & REPLY_TO_FLAG) === 0) return undefined;
    return shortStringAt(this.rawProperties, this.scan().replyToAt);
  }

  /** Where the properties lie; the scan checks the bytes as a decode would (throws AmqpCodecError). */
  private scan(): BasicPropertiesScan {
    this.scanned ??= scanBasicProperties(this.rawProperties);
    return this.scanned;
  }

  /** This message with other properties (dead-lettering and redelivery rewrite headers). */
  withProperties(properties: BasicProperties): Message {
    return new Message(this.exchange, this.routingKey, encodeBasicProperties(properties), this.body, this.extraRoutingKeys);
  }
}

function flagsOf(raw: Buffer): number {
  return raw.length >= 2 ? raw.readUInt16BE(0) : 0;
}

/**
 * Parses an expiration property as RabbitMQ does (an integer number of milliseconds, no sign but an
 * optional '+', nothing after it); returns the error term RabbitMQ reports for a bad one.
 */
export function parseExpiration(value: string): number | string {
  const match = /^([+-]?)(\d+)(.*)$/s.exec(value);
  if (match === null) return 'no_integer';
  const [, sign, digits, rest] = match as unknown as [string, string, string, string];
  if (rest !== '') return `{leftover_string,"${rest}"}`;
  const number = Number(digits) * (sign === '-' ? -1 : 1);
  if (number < 0) return `{value_negative,${number}}`;
  // RabbitMQ's ceiling for every TTL: ten years.
  return number > 315_360_000_000 ? `{value_too_large,${number}}` : number;
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
 * Properties are only scanned (never decoded), and only when their flags say a header, user-id or
 * expiration is present; a malformed property list is refused as a full decode would refuse it.
 */
export function prepareMessage(exchange: string, routingKey: string, rawProperties: Buffer, body: Buffer, username: string): Message {
  const flags = flagsOf(rawProperties);
  const mayHaveCc = (flags & HEADERS_FLAG) !== 0 && !headersTableEmpty(rawProperties, flags);
  if (!mayHaveCc && (flags & (USER_ID_FLAG | EXPIRATION_FLAG)) === 0) return new Message(exchange, routingKey, rawProperties, body);
  const scan = scanBasicProperties(rawProperties, DISTRIBUTION_KEYS);
  if (scan.userIdAt >= 0) {
    const userId = shortStringAt(rawProperties, scan.userIdAt);
    if (userId !== username) throw preconditionFailed(`user_id property set to '${userId}' but authenticated user was '${username}'`);
  }
  if (scan.expirationAt >= 0) {
    const expiration = shortStringAt(rawProperties, scan.expirationAt);
    const parsed = parseExpiration(expiration);
    if (typeof parsed === 'string') throw preconditionFailed(`invalid expiration '${expiration}': ${parsed}`);
  }
  const entries = scan.watched;
  if (entries === undefined) return new Message(exchange, routingKey, rawProperties, body, NO_KEYS, scan);
  // As when the table is decoded, the last of repeated keys is the one that counts.
  const cc = lastEntry(entries, CC_KEY);
  const bcc = lastEntry(entries, BCC_KEY);
  const keys: string[] = [];
  if (cc !== undefined) addRoutingKeys(keys, headerValueAt(rawProperties, cc));
  if (bcc !== undefined) addRoutingKeys(keys, headerValueAt(rawProperties, bcc));
  if (bcc === undefined) return new Message(exchange, routingKey, rawProperties, body, keys, scan);
  // Consumers get the properties as published, less every BCC entry.
  const visible = withoutHeaderEntries(rawProperties, scan, entries.filter((entry) => entry.keyIndex === BCC_KEY));
  return new Message(exchange, routingKey, visible.raw, body, keys, visible.scan);
}

function lastEntry(entries: readonly HeaderEntrySpan[], keyIndex: number): HeaderEntrySpan | undefined {
  for (let i = entries.length - 1; i >= 0; i--) if ((entries[i] as HeaderEntrySpan).keyIndex === keyIndex) return entries[i];
  return undefined;
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

/** The routing keys a CC or BCC header lists (strings or bytes); [] when it is not an array. */
export function routingKeysOf(value: FieldValue | undefined): string[] {
  const keys: string[] = [];
  addRoutingKeys(keys, value);
  return keys;
}

function addRoutingKeys(keys: string[], value: FieldValue | undefined): void {
  if (!Array.isArray(value)) return;
  for (const item of value) {
    if (typeof item === 'string') keys.push(item);
    else if (Buffer.isBuffer(item)) keys.push(item.toString());
  }
}

/** A message's place in one queue. */
export interface QueueEntry {
  message: Message;
  /** Position in the queue, increasing with each enqueue; requeued entries keep theirs. */
  readonly sequence: number;
  /** True once the entry has been delivered and returned to the queue. */
  redelivered: boolean;
  /** When the message expires (ms since the epoch), or 0 for never; requeueing keeps it. */
  expiresAt: number;
  /** How many times it was delivered and returned (the x-delivery-count of its next delivery). */
  deliveryCount: number;
  /** Where the message is stored: a persistent message in a durable queue, or one read back from disk. */
  location?: MessageLocation;
}

/** Someone a queue pushes messages to: a basic.consume subscription on a channel. */
export interface Consumer {
  readonly consumerTag: string;
  readonly exclusive: boolean;
  /** x-priority: higher-priority consumers get messages first while they can take them. */
  readonly priority: number;
  /** Deliveries to it not yet settled (a single-active-consumer queue waits for these before switching). */
  readonly unackedCount: number;
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
