/**
 * Client-side helpers for the integration tests: amqplib connections whose channel and connection
 * closes are recorded with their reply code, reply text and class/method ids, a tap on the raw
 * frames a connection sends and receives, wait helpers and unique names.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import {
  connect,
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Options,
} from 'amqplib';

/** The fields of a channel.close or connection.close sent by the server. */
export interface CloseInfo {
  replyCode: number;
  replyText: string;
  classId: number;
  methodId: number;
}

/** What a test expects of a close: reply code, class/method ids and the reply text's prefix. */
export interface ExpectedClose {
  replyCode: number;
  classId?: number;
  methodId?: number;
  /** The reply text must start with this, e.g. 'NOT_FOUND'. */
  textPrefix?: string;
}

/** AMQP class ids. */
export const classIds = { connection: 10, channel: 20, exchange: 40, queue: 50, basic: 60, confirm: 85, tx: 90 } as const;

/** [classId, methodId] of every method a test may see named in a close. */
export const methods = {
  channelFlow: [20, 20],
  exchangeDeclare: [40, 10],
  exchangeDelete: [40, 20],
  exchangeBind: [40, 30],
  exchangeUnbind: [40, 40],
  queueDeclare: [50, 10],
  queueBind: [50, 20],
  queuePurge: [50, 30],
  queueDelete: [50, 40],
  queueUnbind: [50, 50],
  basicQos: [60, 10],
  basicConsume: [60, 20],
  basicCancel: [60, 30],
  basicPublish: [60, 40],
  basicGet: [60, 70],
  basicAck: [60, 80],
  basicReject: [60, 90],
  basicRecoverAsync: [60, 100],
  basicRecover: [60, 110],
  basicNack: [60, 120],
  confirmSelect: [85, 10],
  txSelect: [90, 10],
  txCommit: [90, 20],
  txRollback: [90, 30],
} as const satisfies Record<string, readonly [number, number]>;

/** Reply codes (AMQP 0-9-1 constants). */
export const replyCodes = {
  replySuccess: 200,
  contentTooLarge: 311,
  noRoute: 312,
  noConsumers: 313,
  connectionForced: 320,
  invalidPath: 402,
  accessRefused: 403,
  notFound: 404,
  resourceLocked: 405,
  preconditionFailed: 406,
  frameError: 501,
  syntaxError: 502,
  commandInvalid: 503,
  channelError: 504,
  unexpectedFrame: 505,
  resourceError: 506,
  notAllowed: 530,
  notImplemented: 540,
  internalError: 541,
} as const;

/** The amqplib method id (classId << 16 | methodId) of a method. */
export function methodKey(method: readonly [number, number]): number {
  return method[0] * 65536 + method[1];
}

let nameCounter = 0;

/** A queue or exchange name no other test (or test run) uses. */
export function uniqueName(prefix: string): string {
  nameCounter += 1;
  return `warren-test.${prefix}.${process.pid}.${nameCounter}.${randomBytes(3).toString('hex')}`;
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `promise` settles (resolves or rejects) within `ms` milliseconds. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  void promise.then(() => (settled = true), () => (settled = true));
  await delay(ms);
  return settled;
}

/** Polls `check` every few milliseconds until it returns true; fails after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(5);
  }
}

/** Rejects when `promise` does not settle within `timeoutMs`. */
export async function withTimeout<T>(promise: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One raw frame seen on the wire (body frames keep only their size). */
export interface RawFrame {
  type: number;
  channel: number;
  payload: Buffer;
  size: number;
}

/** Splits a byte stream into frames as they arrive. */
class FrameSplitter {
  private pending: Buffer = Buffer.alloc(0);
  readonly frames: RawFrame[] = [];

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(3);
      if (this.pending.length < size + 8) return;
      const type = this.pending.readUInt8(0);
      const channel = this.pending.readUInt16BE(1);
      // Body frames can be large; tests only need their sizes, so only method and header payloads are kept.
      const payload = type === 3 ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(7, 7 + size));
      this.frames.push({ type, channel, payload, size });
      this.pending = this.pending.subarray(size + 8);
    }
  }
}

/** The parts of amqplib's internal connection object the tap and the close capture reach into. */
interface AmqplibInternals {
  rest?: Buffer;
  stream: { read: (size?: number) => Buffer | null; write: (chunk: Buffer, ...rest: unknown[]) => boolean };
}

/** An amqplib connection whose closes and raw frames are recorded. */
export class AmqpClient {
  /** Frames received from the server since the connection opened. */
  readonly received = new FrameSplitter();
  /** Frames sent to the server since the connection opened. */
  readonly sent = new FrameSplitter();
  /** The server's connection.close, once one arrived. */
  serverClose: CloseInfo | undefined;
  /** Resolves when the connection has closed, for whatever reason. */
  readonly closed: Promise<void>;
  private isClosed = false;
  private scanned = 0;

  private constructor(readonly model: ChannelModel) {
    this.closed = new Promise((resolve) => {
      model.on('close', () => {
        this.isClosed = true;
        resolve();
      });
    });
    model.on('error', () => {
      // Recorded through the frame tap; without a listener amqplib would throw.
    });
    const internals = (model as unknown as { connection: AmqplibInternals }).connection;
    const stream = internals.stream;
    if (internals.rest !== undefined && internals.rest.length > 0) this.received.push(Buffer.from(internals.rest));
    const read = stream.read.bind(stream);
    stream.read = (size?: number) => {
      const chunk = read(size);
      if (chunk !== null) {
        this.received.push(chunk);
        this.noteServerClose();
      }
      return chunk;
    };
    const write = stream.write.bind(stream);
    stream.write = (chunk: Buffer, ...rest: unknown[]) => {
      this.sent.push(Buffer.from(chunk));
      return write(chunk, ...rest);
    };
  }

  /** Opens a connection to `url` (extra query parameters such as frameMax may be appended). */
  static async open(url: string): Promise<AmqpClient> {
    return new AmqpClient(await connect(url));
  }

  /** True once the connection has closed. */
  get isOpen(): boolean {
    return !this.isClosed;
  }

  /** Opens a channel whose server-initiated close is recorded (see channelClosed()). */
  async channel(): Promise<Channel> {
    const ch = await this.model.createChannel();
    watch(ch);
    return ch;
  }

  /** Opens a channel in confirm mode. */
  async confirmChannel(): Promise<ConfirmChannel> {
    const ch = await this.model.createConfirmChannel();
    watch(ch);
    return ch;
  }

  /** Closes the connection unless it is already closed. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    try {
      await this.model.close();
    } catch {
      // Already closing because of a server close or a socket error.
    }
  }

  /** Waits for the server's connection.close and checks it. */
  async expectServerClose(expected: ExpectedClose, timeoutMs = 3000): Promise<CloseInfo> {
    await withTimeout(this.closed, timeoutMs, 'the connection to close');
    assert.ok(this.serverClose, 'expected the server to send connection.close');
    assertClose(this.serverClose, expected);
    return this.serverClose;
  }

  /** The content header frames (type 2) received so far. */
  receivedHeaders(): RawFrame[] {
    return this.received.frames.filter((frame) => frame.type === 2);
  }

  /** The content header frames (type 2) sent so far. */
  sentHeaders(): RawFrame[] {
    return this.sent.frames.filter((frame) => frame.type === 2);
  }

  private noteServerClose(): void {
    const frames = this.received.frames;
    for (; this.scanned < frames.length; this.scanned += 1) {
      const frame = frames[this.scanned];
      if (frame === undefined || this.serverClose !== undefined) continue;
      if (frame.type === 1 && frame.channel === 0 && frame.payload.readUInt32BE(0) === methodKey([10, 50])) {
        this.serverClose = decodeClose(frame.payload);
      }
    }
  }
}

/** Decodes the arguments of a channel.close or connection.close method frame payload. */
function decodeClose(payload: Buffer): CloseInfo {
  const replyCode = payload.readUInt16BE(4);
  const textLength = payload.readUInt8(6);
  const replyText = payload.toString('utf8', 7, 7 + textLength);
  const classId = payload.readUInt16BE(7 + textLength);
  const methodId = payload.readUInt16BE(9 + textLength);
  return { replyCode, replyText, classId, methodId };
}

interface ChannelWatch {
  closed: Promise<CloseInfo | undefined>;
  isClosed: boolean;
}

const watches = new WeakMap<Channel, ChannelWatch>();

function watch(ch: Channel): void {
  let serverClose: CloseInfo | undefined;
  const state: ChannelWatch = { closed: Promise.resolve(undefined), isClosed: false };
  state.closed = new Promise((resolve) => {
    ch.on('close', () => {
      state.isClosed = true;
      resolve(serverClose);
    });
  });
  ch.on('error', (err: Error & { code?: number; classId?: number; methodId?: number }) => {
    serverClose = {
      replyCode: err.code ?? 0,
      replyText: /with message "(.*)"$/s.exec(err.message)?.[1] ?? err.message,
      classId: err.classId ?? 0,
      methodId: err.methodId ?? 0,
    };
  });
  watches.set(ch, state);
}

/** Resolves when `ch` closes, with the server's channel.close if the server closed it. */
export function channelClosed(ch: Channel): Promise<CloseInfo | undefined> {
  const state = watches.get(ch);
  assert.ok(state, 'channel was not opened through AmqpClient');
  return state.closed;
}

/** True while `ch` is open. */
export function isChannelOpen(ch: Channel): boolean {
  const state = watches.get(ch);
  assert.ok(state, 'channel was not opened through AmqpClient');
  return !state.isClosed;
}

/** Checks a close against what a test expects. */
export function assertClose(actual: CloseInfo, expected: ExpectedClose): void {
  const shown = JSON.stringify(actual);
  assert.equal(actual.replyCode, expected.replyCode, `reply code of ${shown}`);
  if (expected.classId !== undefined) assert.equal(actual.classId, expected.classId, `class id of ${shown}`);
  if (expected.methodId !== undefined) assert.equal(actual.methodId, expected.methodId, `method id of ${shown}`);
  if (expected.textPrefix !== undefined) {
    assert.ok(actual.replyText.startsWith(expected.textPrefix), `reply text of ${shown} should start with ${expected.textPrefix}`);
  }
}

/** Builds an ExpectedClose from a reply code, the offending method and a text prefix. */
export function fault(replyCode: number, method: readonly [number, number] | undefined, textPrefix?: string): ExpectedClose {
  const expected: ExpectedClose = { replyCode };
  if (method !== undefined) {
    expected.classId = method[0];
    expected.methodId = method[1];
  }
  if (textPrefix !== undefined) expected.textPrefix = textPrefix;
  return expected;
}

/**
 * Runs `action` on `ch` and expects the server to close the channel with `expected`. When the action
 * returns a promise (an RPC), it must reject with the same reply code.
 */
export async function expectChannelClose(
  ch: Channel,
  action: () => unknown,
  expected: ExpectedClose,
  timeoutMs = 3000,
): Promise<CloseInfo> {
  let result: unknown;
  try {
    result = action();
  } catch (err) {
    assert.fail(`the action threw synchronously: ${String(err)}`);
  }
  if (result instanceof Promise) {
    await assert.rejects(result, (err: Error & { code?: number }) => {
      assert.equal(err.code, expected.replyCode, `RPC rejection: ${err.message}`);
      return true;
    });
  }
  const info = await withTimeout(channelClosed(ch), timeoutMs, 'the channel to close');
  assert.ok(info, 'expected the server to close the channel');
  assertClose(info, expected);
  return info;
}

/**
 * Runs `action` on a channel of `client` and expects the server to close the whole connection
 * with `expected`. A pending RPC of the action is allowed to reject.
 */
export async function expectConnectionClose(
  client: AmqpClient,
  action: () => unknown,
  expected: ExpectedClose,
  timeoutMs = 3000,
): Promise<CloseInfo> {
  const result = action();
  if (result instanceof Promise) result.catch(() => {});
  return client.expectServerClose(expected, timeoutMs);
}

/** A consumer that collects its deliveries. */
export interface Collector {
  consumerTag: string;
  messages: ConsumeMessage[];
  /** True once the server cancelled the consumer (amqplib delivers null). */
  cancelledByServer: boolean;
  /** Waits until at least `count` messages have arrived. */
  waitForCount(count: number, timeoutMs?: number): Promise<ConsumeMessage[]>;
}

/** Starts a consumer on `queue` that collects every delivery. */
export async function collect(
  ch: Channel,
  queue: string,
  options: { noAck?: boolean; exclusive?: boolean; consumerTag?: string; arguments?: Record<string, unknown> } = {},
): Promise<Collector> {
  const messages: ConsumeMessage[] = [];
  const collector: Collector = {
    consumerTag: '',
    messages,
    cancelledByServer: false,
    waitForCount: async (count, timeoutMs = 3000) => {
      await waitFor(() => messages.length >= count, timeoutMs, `${count} deliveries on ${queue}`);
      return messages;
    },
  };
  const ok = await ch.consume(
    queue,
    (message) => {
      if (message === null) collector.cancelledByServer = true;
      else messages.push(message);
    },
    options,
  );
  collector.consumerTag = ok.consumerTag;
  return collector;
}

/** Message bodies as strings. */
export function bodies(messages: readonly { content: Buffer }[]): string[] {
  return messages.map((message) => message.content.toString());
}

/** Drains `queue` with basic.get (no-ack) and returns the bodies in order. */
export async function drain(ch: Channel, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const message = await ch.get(queue, { noAck: true });
    if (message === false) return out;
    out.push(message.content.toString());
  }
}

/** Sends a raw method on an amqplib channel and waits for the reply method (for methods amqplib has no API for). */
export async function rawRpc(
  ch: Channel,
  method: readonly [number, number],
  fields: Record<string, unknown>,
  reply: readonly [number, number],
): Promise<Record<string, unknown>> {
  const internal = ch as unknown as {
    rpc: (method: number, fields: Record<string, unknown>, expect: number) => Promise<Record<string, unknown>>;
  };
  return internal.rpc(methodKey(method), fields, methodKey(reply));
}

/** Sends a raw method on an amqplib channel without waiting for anything. */
export function rawSend(ch: Channel, method: readonly [number, number], fields: Record<string, unknown>): void {
  const internal = ch as unknown as { sendImmediately: (method: number, fields: Record<string, unknown>) => void };
  internal.sendImmediately(methodKey(method), fields);
}

/** Publishes with the method fields given explicitly (e.g. immediate=true), which amqplib's publish() hides. */
export function rawPublish(
  ch: Channel,
  fields: { exchange: string; routingKey: string; mandatory: boolean; immediate: boolean },
  content: Buffer,
): void {
  const internal = ch as unknown as {
    sendMessage: (fields: Record<string, unknown>, properties: Record<string, unknown>, content: Buffer) => boolean;
  };
  internal.sendMessage({ ...fields, ticket: 0 }, { headers: {} }, content);
}

/** Opens a client that is closed when test `t` ends. */
export async function openClient(t: TestContext, url: string): Promise<AmqpClient> {
  const client = await AmqpClient.open(url);
  t.after(() => client.close());
  return client;
}

/** Opens a client (closed when test `t` ends) and one channel on it: the usual start of a test. */
export async function openChannel(t: TestContext, url: string): Promise<{ client: AmqpClient; ch: Channel }> {
  const client = await openClient(t, url);
  const ch = await client.channel();
  return { client, ch };
}

/** Deletes queues and exchanges when test `t` ends (on a fresh connection). */
export function deleteAfter(t: TestContext, url: string, resources: { queues?: string[]; exchanges?: string[] }): void {
  t.after(() => cleanup(url, resources));
}

/** Declares an exclusive server-named queue and returns its name. */
export async function exclusiveQueue(ch: Channel): Promise<string> {
  return (await ch.assertQueue('', { exclusive: true })).queue;
}

/**
 * Publishes each message on a confirm channel and waits for the broker's confirms, so the messages
 * are routed and enqueued before the test looks at the queues (no sleeping).
 */
export async function publishConfirmed(
  ch: ConfirmChannel,
  messages: readonly { exchange: string; routingKey: string; body: string | Buffer; options?: Options.Publish }[],
): Promise<void> {
  for (const message of messages) {
    const body = typeof message.body === 'string' ? Buffer.from(message.body) : message.body;
    ch.publish(message.exchange, message.routingKey, body, message.options ?? {});
  }
  await ch.waitForConfirms();
}

/** Closes clients, ignoring ones already closed. */
export async function closeAll(...clients: (AmqpClient | undefined)[]): Promise<void> {
  await Promise.all(clients.map((client) => client?.close()));
}

/**
 * Runs cleanup RPCs (queue/exchange deletes) on a fresh connection so tests leave a shared external
 * broker as they found it, even when the test's own channels were closed by an error.
 */
export async function cleanup(
  url: string,
  resources: { queues?: readonly string[]; exchanges?: readonly string[] },
): Promise<void> {
  const client = await AmqpClient.open(url);
  try {
    const ch = await client.channel();
    for (const queue of resources.queues ?? []) await ch.deleteQueue(queue);
    for (const exchange of resources.exchanges ?? []) await ch.deleteExchange(exchange);
  } finally {
    await client.close();
  }
}
