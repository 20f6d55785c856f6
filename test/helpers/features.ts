/**
 * Helpers shared by the queue feature tests (dead-lettering, TTL, length limits): reading a queue's
 * ready count, waiting for a message that arrives asynchronously (dead-lettered or expired), a
 * dead-letter exchange with a queue behind it, and the wire types of a delivered message's headers.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { Channel, GetMessage, Message } from 'amqplib';
import { delay, deleteAfter, uniqueName, waitFor, type RawFrame } from './amqp.js';

/** Declares an exclusive server-named queue with x-arguments `args` and returns its name. */
export async function exclusiveQueueWith(ch: Channel, args: Record<string, unknown>): Promise<string> {
  return (await ch.assertQueue('', { exclusive: true, arguments: args })).queue;
}

/** The ready message count of `queue` (queue.declare passive). */
export async function readyCount(ch: Channel, queue: string): Promise<number> {
  return (await ch.checkQueue(queue)).messageCount;
}

/** Polls until `queue` holds exactly `count` ready messages; fails after `timeoutMs`. */
export async function waitForReady(ch: Channel, queue: string, count: number, timeoutMs = 3000): Promise<void> {
  let last = -1;
  await waitFor(
    async () => (last = await readyCount(ch, queue)) === count,
    timeoutMs,
    `${count} ready messages on ${queue} (last seen ${last})`,
  );
}

/** Checks for `ms` milliseconds that `queue` keeps exactly `count` ready messages. */
export async function assertStaysReady(ch: Channel, queue: string, count: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    assert.equal(await readyCount(ch, queue), count, `ready messages on ${queue}`);
    await delay(10);
  }
}

/** Polls `queue` with basic.get until a message arrives; fails after `timeoutMs`. */
export async function getWithin(ch: Channel, queue: string, options: { noAck?: boolean; timeoutMs?: number } = {}): Promise<GetMessage> {
  let message: GetMessage | false = false;
  await waitFor(
    async () => (message = await ch.get(queue, { noAck: options.noAck ?? true })) !== false,
    options.timeoutMs ?? 3000,
    `a message on ${queue}`,
  );
  assert.ok(message !== false);
  return message;
}

/** A dead-letter reason RabbitMQ writes into x-death. */
export type DeathReason = 'rejected' | 'expired' | 'maxlen';

/** What a test expects of one x-death entry (its `time` is checked to be a timestamp near now). */
export interface ExpectedDeath {
  count: number;
  reason: DeathReason;
  queue: string;
  exchange: string;
  routingKeys: string[];
  /** Present when the message had a per-message expiration when it died. */
  originalExpiration?: string;
}

/** The x-death array of a delivered message, as amqplib decodes it (fails when there is none). */
export function xDeath(message: Message): Record<string, unknown>[] {
  const deaths: unknown = message.properties.headers?.['x-death'];
  assert.ok(Array.isArray(deaths), `x-death should be an array, got ${JSON.stringify(deaths)}`);
  return deaths as Record<string, unknown>[];
}

/**
 * Checks one x-death entry exactly: the fields RabbitMQ writes and no others, and `time` a timestamp
 * (amqplib decodes the 'T' type as { '!': 'timestamp', value: seconds }) within the last few minutes.
 */
export function assertDeath(entry: Record<string, unknown> | undefined, expected: ExpectedDeath): void {
  assert.ok(entry, 'an x-death entry');
  const { time, ...rest } = entry;
  const stamp = time as { '!'?: string; value?: number } | undefined;
  assert.equal(stamp?.['!'], 'timestamp', `x-death time should be a timestamp, got ${JSON.stringify(time)}`);
  const nowSeconds = Date.now() / 1000;
  assert.ok(
    typeof stamp.value === 'number' && stamp.value > nowSeconds - 300 && stamp.value <= nowSeconds + 5,
    `x-death time ${stamp.value} should be close to now (${Math.round(nowSeconds)})`,
  );
  const want: Record<string, unknown> = {
    count: expected.count,
    reason: expected.reason,
    queue: expected.queue,
    exchange: expected.exchange,
    'routing-keys': expected.routingKeys,
  };
  if (expected.originalExpiration !== undefined) want['original-expiration'] = expected.originalExpiration;
  assert.deepEqual(rest, want);
}

/** Checks the x-first-death-* headers of a dead-lettered message. */
export function assertFirstDeath(
  message: Message,
  expected: { reason: DeathReason; queue: string; exchange: string },
): void {
  const headers = message.properties.headers ?? {};
  assert.deepEqual(
    {
      reason: headers['x-first-death-reason'],
      queue: headers['x-first-death-queue'],
      exchange: headers['x-first-death-exchange'],
    },
    expected,
  );
}

/** A dead-letter exchange and a queue bound to it. */
export interface DeadLetterTarget {
  exchange: string;
  queue: string;
}

/**
 * Declares a dead-letter exchange (fanout unless `type` says otherwise, deleted when test `t` ends)
 * and an exclusive queue bound to it with `bindingKey`.
 */
export async function deadLetterTarget(
  t: TestContext,
  url: string,
  ch: Channel,
  options: { type?: 'fanout' | 'direct'; bindingKey?: string } = {},
): Promise<DeadLetterTarget> {
  const exchange = uniqueName('dlx');
  deleteAfter(t, url, { exchanges: [exchange] });
  await ch.assertExchange(exchange, options.type ?? 'fanout', { durable: false });
  const queue = (await ch.assertQueue('', { exclusive: true })).queue;
  await ch.bindQueue(queue, exchange, options.bindingKey ?? '');
  return { exchange, queue };
}

/**
 * The headers of a content header frame with each value replaced by its AMQP field type tag ('S' long
 * string, 'l' signed 64-bit, 'T' timestamp, ...); arrays and tables keep their shape. Clients decode
 * several tags to the same JavaScript value, so this is how a test sees exactly what went on the wire.
 */
export function headerWireTypes(frame: RawFrame): Record<string, unknown> {
  const payload = frame.payload;
  // class-id, weight, body size (12 bytes), then property flag words (bit 0 says another word follows).
  let offset = 12;
  const flags = payload.readUInt16BE(offset);
  offset += 2;
  for (let more = flags; (more & 1) !== 0; offset += 2) more = payload.readUInt16BE(offset);
  if ((flags & 0x8000) !== 0) offset += 1 + payload.readUInt8(offset); // content-type
  if ((flags & 0x4000) !== 0) offset += 1 + payload.readUInt8(offset); // content-encoding
  assert.ok((flags & 0x2000) !== 0, 'the content header has headers');
  return readTableTypes(payload, offset).value;
}

/** Fixed sizes of the scalar field types. */
const SCALAR_SIZES: Record<string, number> = { t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, l: 8, f: 4, d: 8, D: 5, T: 8, V: 0 };

function readTableTypes(buffer: Buffer, start: number): { value: Record<string, unknown>; end: number } {
  const end = start + 4 + buffer.readUInt32BE(start);
  const value: Record<string, unknown> = {};
  let offset = start + 4;
  while (offset < end) {
    const keyLength = buffer.readUInt8(offset);
    const key = buffer.toString('utf8', offset + 1, offset + 1 + keyLength);
    const field = readValueType(buffer, offset + 1 + keyLength);
    value[key] = field.value;
    offset = field.end;
  }
  return { value, end };
}

function readValueType(buffer: Buffer, start: number): { value: unknown; end: number } {
  const tag = String.fromCharCode(buffer.readUInt8(start));
  const offset = start + 1;
  if (tag === 'F') return readTableTypes(buffer, offset);
  if (tag === 'S' || tag === 'x') return { value: tag, end: offset + 4 + buffer.readUInt32BE(offset) };
  if (tag === 'A') {
    const end = offset + 4 + buffer.readUInt32BE(offset);
    const value: unknown[] = [];
    for (let at = offset + 4; at < end; ) {
      const item = readValueType(buffer, at);
      value.push(item.value);
      at = item.end;
    }
    return { value, end };
  }
  const size = SCALAR_SIZES[tag];
  assert.ok(size !== undefined, `unknown field type tag ${JSON.stringify(tag)}`);
  return { value: tag, end: offset + size };
}
