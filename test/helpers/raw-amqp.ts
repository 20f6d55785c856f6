/**
 * A minimal hand-written AMQP 0-9-1 client over a raw socket, for protocol tests. It builds frames
 * byte by byte and decodes only what tests look at (connection.start, connection.tune,
 * connection.close, channel.close and a few more), deliberately independent of src/codec so that
 * tests do not share the codec's bugs. It can send arbitrary bytes, so tests can speak wrong AMQP.
 */
import { Socket, connect } from 'node:net';

/** Frame types from the AMQP 0-9-1 specification. */
export const FRAME_METHOD = 1;
/** Content header frame type. */
export const FRAME_HEADER = 2;
/** Content body frame type. */
export const FRAME_BODY = 3;
/** Heartbeat frame type (8 in the spec; RabbitMQ also uses 8). */
export const FRAME_HEARTBEAT = 8;
/** The octet that ends every frame. */
export const FRAME_END = 0xce;
/** The AMQP 0-9-1 protocol header. */
export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

/** A value in an AMQP field table as this helper decodes it. */
export type FieldValue =
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | null
  | FieldValue[]
  | FieldTable
  | { decimal: { scale: number; value: number } }
  | { timestamp: bigint };
/** A decoded AMQP field table. */
export interface FieldTable {
  [key: string]: FieldValue;
}

/** Serializes AMQP primitives into a growing byte array. */
export class Writer {
  private readonly parts: Buffer[] = [];

  /** Appends one unsigned octet. */
  octet(value: number): this {
    this.parts.push(Buffer.from([value & 0xff]));
    return this;
  }

  /** Appends a big-endian unsigned 16-bit integer. */
  short(value: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value);
    this.parts.push(b);
    return this;
  }

  /** Appends a big-endian unsigned 32-bit integer. */
  long(value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    this.parts.push(b);
    return this;
  }

  /** Appends a big-endian unsigned 64-bit integer. */
  longlong(value: bigint | number): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(value));
    this.parts.push(b);
    return this;
  }

  /** Appends a short string (length octet + bytes). Throws on strings longer than 255 bytes. */
  shortstr(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    if (bytes.length > 255) throw new Error('shortstr longer than 255 bytes');
    this.octet(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  /** Appends a long string (32-bit length + bytes). */
  longstr(value: string | Buffer): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.long(bytes.length);
    this.parts.push(bytes);
    return this;
  }

  /** Appends packed bits, first flag in the lowest bit, as consecutive AMQP bit fields are. */
  bits(...flags: boolean[]): this {
    for (let i = 0; i < flags.length; i += 8) {
      let octet = 0;
      flags.slice(i, i + 8).forEach((flag, j) => {
        if (flag) octet |= 1 << j;
      });
      this.octet(octet);
    }
    return this;
  }

  /** Appends a field table; supports strings (S), booleans (t), integers (I) and nested tables (F). */
  table(value: Record<string, string | boolean | number | Record<string, unknown>> = {}): this {
    const inner = new Writer();
    for (const [key, v] of Object.entries(value)) {
      inner.shortstr(key);
      if (typeof v === 'string') inner.octet(0x53).longstr(v);
      else if (typeof v === 'boolean') inner.octet(0x74).octet(v ? 1 : 0);
      else if (typeof v === 'number') inner.octet(0x49).long(v >>> 0);
      else inner.octet(0x46).table(v as Record<string, string | boolean | number>);
    }
    return this.longstr(inner.toBuffer());
  }

  /** Appends raw bytes. */
  raw(bytes: Buffer): this {
    this.parts.push(bytes);
    return this;
  }

  /** Returns everything written so far. */
  toBuffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Reads AMQP primitives from a buffer, throwing when a read runs past the end. */
export class Reader {
  offset = 0;

  constructor(private readonly buffer: Buffer) {}

  private take(length: number): Buffer {
    if (this.offset + length > this.buffer.length) throw new Error('read past end of buffer');
    const slice = this.buffer.subarray(this.offset, this.offset + length);
    this.offset += length;
    return slice;
  }

  /** Reads one unsigned octet. */
  octet(): number {
    return this.take(1).readUInt8(0);
  }

  /** Reads a big-endian unsigned 16-bit integer. */
  short(): number {
    return this.take(2).readUInt16BE(0);
  }

  /** Reads a big-endian unsigned 32-bit integer. */
  long(): number {
    return this.take(4).readUInt32BE(0);
  }

  /** Reads a big-endian unsigned 64-bit integer. */
  longlong(): bigint {
    return this.take(8).readBigUInt64BE(0);
  }

  /** Reads a short string. */
  shortstr(): string {
    return this.take(this.octet()).toString('utf8');
  }

  /** Reads a long string as bytes. */
  longstr(): Buffer {
    return this.take(this.long());
  }

  /** Reads a field table. */
  table(): FieldTable {
    const inner = new Reader(this.longstr());
    const result: FieldTable = {};
    while (inner.offset < inner.buffer.length) {
      const key = inner.shortstr();
      result[key] = inner.fieldValue();
    }
    return result;
  }

  /** Reads one typed field value (the type octet followed by the value). */
  fieldValue(): FieldValue {
    const type = String.fromCharCode(this.octet());
    switch (type) {
      case 't':
        return this.octet() !== 0;
      case 'b':
        return this.take(1).readInt8(0);
      case 'B':
        return this.octet();
      case 's':
        return this.take(2).readInt16BE(0);
      case 'u':
        return this.short();
      case 'I':
        return this.take(4).readInt32BE(0);
      case 'i':
        return this.long();
      case 'l':
        return this.take(8).readBigInt64BE(0);
      case 'f':
        return this.take(4).readFloatBE(0);
      case 'd':
        return this.take(8).readDoubleBE(0);
      case 'D': {
        const scale = this.octet();
        return { decimal: { scale, value: this.long() } };
      }
      case 'S':
        return this.longstr().toString('utf8');
      case 'x':
        return Buffer.from(this.longstr());
      case 'A': {
        const inner = new Reader(this.longstr());
        const values: FieldValue[] = [];
        while (inner.offset < inner.buffer.length) values.push(inner.fieldValue());
        return values;
      }
      case 'T':
        return { timestamp: this.longlong() };
      case 'F':
        return this.table();
      case 'V':
        return null;
      default:
        throw new Error(`unknown field type ${JSON.stringify(type)}`);
    }
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.offset === this.buffer.length;
  }
}

/** One frame as read from the wire. */
export interface RawFrame {
  type: number;
  channel: number;
  payload: Buffer;
  /** The octet found where the frame-end octet belongs. */
  end: number;
}

/** A decoded method frame: ids plus a reader positioned on the arguments. */
export interface RawMethod {
  channel: number;
  classId: number;
  methodId: number;
  args: Reader;
}

/** The arguments of connection.close or channel.close. */
export interface CloseReason {
  replyCode: number;
  replyText: string;
  classId: number;
  methodId: number;
}

/** connection.start arguments. */
export interface ConnectionStart {
  versionMajor: number;
  versionMinor: number;
  serverProperties: FieldTable;
  mechanisms: string[];
  locales: string[];
}

/** connection.tune arguments. */
export interface ConnectionTune {
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

/** Options for the handshake this helper performs. */
export interface HandshakeOptions {
  username?: string;
  password?: string;
  vhost?: string;
  /** PLAIN (default), AMQPLAIN or any other name (to test unknown mechanisms). */
  mechanism?: string;
  /** Values sent in tune-ok; each defaults to the server's proposal. */
  channelMax?: number;
  frameMax?: number;
  heartbeat?: number;
  /** Client properties; defaults advertise authentication_failure_close like modern clients do. */
  clientProperties?: Record<string, string | boolean | number | Record<string, unknown>>;
}

/** What the handshake learned from the server. */
export interface HandshakeResult {
  start: ConnectionStart;
  tune: ConnectionTune;
}

/** Thrown by read helpers when the socket closes before the awaited data arrives. */
export class SocketClosedError extends Error {
  constructor(message = 'socket closed') {
    super(message);
    this.name = 'SocketClosedError';
  }
}

/** Builds one frame: type, channel, size, payload, frame-end. */
export function frame(type: number, channel: number, payload: Buffer, end = FRAME_END): Buffer {
  const header = Buffer.alloc(7);
  header.writeUInt8(type, 0);
  header.writeUInt16BE(channel, 1);
  header.writeUInt32BE(payload.length, 3);
  return Buffer.concat([header, payload, Buffer.from([end])]);
}

/** Builds a method frame from class id, method id and encoded arguments. */
export function methodFrame(channel: number, classId: number, methodId: number, args: Buffer = Buffer.alloc(0)): Buffer {
  const ids = Buffer.alloc(4);
  ids.writeUInt16BE(classId, 0);
  ids.writeUInt16BE(methodId, 2);
  return frame(FRAME_METHOD, channel, Buffer.concat([ids, args]));
}

/** Builds a content header frame (class id, weight 0, body size, property flags and properties). */
export function headerFrame(channel: number, classId: number, bodySize: number, flags = 0, properties = Buffer.alloc(0)): Buffer {
  const payload = new Writer().short(classId).short(0).longlong(bodySize).short(flags).raw(properties).toBuffer();
  return frame(FRAME_HEADER, channel, payload);
}

/** Builds a content body frame. */
export function bodyFrame(channel: number, body: Buffer): Buffer {
  return frame(FRAME_BODY, channel, body);
}

/** Builds a heartbeat frame (on channel 0 unless told otherwise). */
export function heartbeatFrame(channel = 0): Buffer {
  return frame(FRAME_HEARTBEAT, channel, Buffer.alloc(0));
}

/** Encodes the arguments of connection.close / channel.close. */
export function closeArgs(replyCode = 200, replyText = 'bye', classId = 0, methodId = 0): Buffer {
  return new Writer().short(replyCode).shortstr(replyText).short(classId).short(methodId).toBuffer();
}

/** Encodes queue.declare arguments. */
export function queueDeclareArgs(
  queue: string,
  flags: { passive?: boolean; durable?: boolean; exclusive?: boolean; autoDelete?: boolean; noWait?: boolean } = {},
): Buffer {
  return new Writer()
    .short(0)
    .shortstr(queue)
    .bits(!!flags.passive, !!flags.durable, !!flags.exclusive, !!flags.autoDelete, !!flags.noWait)
    .table({})
    .toBuffer();
}

/** Encodes basic.publish arguments. */
export function basicPublishArgs(exchange: string, routingKey: string, mandatory = false, immediate = false): Buffer {
  return new Writer().short(0).shortstr(exchange).shortstr(routingKey).bits(mandatory, immediate).toBuffer();
}

/** Decodes a method frame's payload. */
export function decodeMethod(f: RawFrame): RawMethod {
  if (f.type !== FRAME_METHOD) throw new Error(`expected a method frame, got frame type ${f.type}`);
  const args = new Reader(f.payload);
  const classId = args.short();
  const methodId = args.short();
  return { channel: f.channel, classId, methodId, args };
}

/** Decodes connection.close / channel.close arguments. */
export function decodeClose(method: RawMethod): CloseReason {
  const { args } = method;
  return { replyCode: args.short(), replyText: args.shortstr(), classId: args.short(), methodId: args.short() };
}

/** A short human-readable description of a method (consumes its argument reader). */
export function describeMethod(method: RawMethod): string {
  let detail = '';
  if ((method.classId === 10 && method.methodId === 50) || (method.classId === 20 && method.methodId === 40)) {
    try {
      detail = ` ${JSON.stringify(decodeClose(method))}`;
    } catch {
      detail = ' (undecodable close arguments)';
    }
  }
  return `method ${method.classId}.${method.methodId} on channel ${method.channel}${detail}`;
}

/** A short human-readable description of a frame, for assertion messages. */
export function describeFrame(f: RawFrame): string {
  if (f.type !== FRAME_METHOD || f.payload.length < 4) {
    return `frame type ${f.type} on channel ${f.channel} (${f.payload.length} bytes)`;
  }
  return describeMethod(decodeMethod(f));
}

/** A raw AMQP client over one TCP socket. */
export class RawAmqpClient {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private closedFlag = false;
  /** Resolves when the socket has fully closed. */
  readonly closed: Promise<void>;
  /** Every heartbeat frame received so far (filtered out of nextNonHeartbeatFrame). */
  heartbeatsReceived = 0;
  /** The socket error, if any (e.g. ECONNRESET). */
  socketError: Error | undefined;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.wake();
    });
    socket.on('error', (error) => {
      this.socketError = error;
    });
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.closedFlag = true;
        this.wake();
        resolve();
      });
    });
  }

  /** Opens a TCP connection. */
  static async connect(port: number, host = '127.0.0.1'): Promise<RawAmqpClient> {
    const socket = connect({ port, host });
    socket.setNoDelay(true);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawAmqpClient(socket);
  }

  /** Connects and performs the whole handshake, leaving the connection open. */
  static async open(port: number, options: HandshakeOptions = {}, host = '127.0.0.1'): Promise<RawAmqpClient> {
    const client = await RawAmqpClient.connect(port, host);
    await client.handshake(options);
    return client;
  }

  /** True once the socket has closed. */
  get isClosed(): boolean {
    return this.closedFlag;
  }

  private wake(): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.();
  }

  private async waitFor<T>(attempt: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = attempt();
      if (value !== undefined) return value;
      if (this.closedFlag) throw new SocketClosedError(`socket closed while waiting for ${what}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, remaining);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Writes bytes as they are. */
  write(bytes: Buffer | string): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Sends a method frame. */
  sendMethod(channel: number, classId: number, methodId: number, args: Buffer = Buffer.alloc(0)): void {
    this.write(methodFrame(channel, classId, methodId, args));
  }

  /** Reads exactly `length` raw bytes (for example the protocol header a server sends back). */
  readBytes(length: number, timeoutMs = 5000): Promise<Buffer> {
    return this.waitFor(
      () => {
        if (this.buffer.length < length) return undefined;
        const bytes = this.buffer.subarray(0, length);
        this.buffer = this.buffer.subarray(length);
        return bytes;
      },
      timeoutMs,
      `${length} bytes`,
    );
  }

  /** Waits for the socket to close, returning every byte received but not yet read. */
  async readUntilClosed(timeoutMs = 5000): Promise<Buffer> {
    await Promise.race([
      this.closed,
      new Promise<never>((_, reject) => {
        const timer = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
        void this.closed.then(() => clearTimeout(timer));
      }),
    ]);
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }

  /** Reads the next frame, heartbeats included. */
  readFrame(timeoutMs = 5000): Promise<RawFrame> {
    return this.waitFor(
      () => {
        if (this.buffer.length < 7) return undefined;
        const size = this.buffer.readUInt32BE(3);
        if (this.buffer.length < 8 + size) return undefined;
        const f: RawFrame = {
          type: this.buffer.readUInt8(0),
          channel: this.buffer.readUInt16BE(1),
          payload: Buffer.from(this.buffer.subarray(7, 7 + size)),
          end: this.buffer.readUInt8(7 + size),
        };
        this.buffer = this.buffer.subarray(8 + size);
        if (f.type === FRAME_HEARTBEAT) this.heartbeatsReceived += 1;
        return f;
      },
      timeoutMs,
      'a frame',
    );
  }

  /** Reads frames, skipping heartbeats, until a non-heartbeat frame arrives. */
  async readNonHeartbeatFrame(timeoutMs = 5000): Promise<RawFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const f = await this.readFrame(Math.max(1, deadline - Date.now()));
      if (f.type !== FRAME_HEARTBEAT) return f;
    }
  }

  /** Reads the next method frame (skipping heartbeats); fails on content frames. */
  async readMethod(timeoutMs = 5000): Promise<RawMethod> {
    return decodeMethod(await this.readNonHeartbeatFrame(timeoutMs));
  }

  /** Reads the next method and checks its ids. */
  async expectMethod(classId: number, methodId: number, timeoutMs = 5000): Promise<RawMethod> {
    const method = await this.readMethod(timeoutMs);
    if (method.classId !== classId || method.methodId !== methodId) {
      throw new Error(`expected method ${classId}.${methodId}, got ${describeMethod(method)}`);
    }
    return method;
  }

  /**
   * Asserts that no frame other than heartbeats arrives for `ms` milliseconds and that the socket
   * stays open meanwhile.
   */
  async expectNothing(ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) return;
      let f: RawFrame;
      try {
        f = await this.readFrame(remaining);
      } catch (error) {
        if (error instanceof SocketClosedError) throw error;
        return;
      }
      if (f.type !== FRAME_HEARTBEAT) throw new Error(`expected nothing, got ${describeFrame(f)}`);
    }
  }

  /**
   * Waits for the server to close the socket and asserts it sent nothing but heartbeats first.
   * Returns the milliseconds waited.
   */
  async expectClosedWithoutFrames(timeoutMs = 5000): Promise<number> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    for (;;) {
      let f: RawFrame;
      try {
        f = await this.readFrame(Math.max(1, deadline - Date.now()));
      } catch (error) {
        if (error instanceof SocketClosedError) return Date.now() - started;
        throw error;
      }
      if (f.type !== FRAME_HEARTBEAT) throw new Error(`expected the socket to close silently, got ${describeFrame(f)}`);
    }
  }

  /** Sends the protocol header, or other bytes in its place. */
  sendProtocolHeader(header: Buffer = PROTOCOL_HEADER): void {
    this.write(header);
  }

  /** Reads connection.start. */
  async readConnectionStart(timeoutMs = 5000): Promise<ConnectionStart> {
    const { args } = await this.expectMethod(10, 10, timeoutMs);
    const versionMajor = args.octet();
    const versionMinor = args.octet();
    const serverProperties = args.table();
    const mechanisms = args.longstr().toString('utf8').split(' ').filter((m) => m !== '');
    const locales = args.longstr().toString('utf8').split(' ').filter((l) => l !== '');
    return { versionMajor, versionMinor, serverProperties, mechanisms, locales };
  }

  /** Sends connection.start-ok with the given mechanism and credentials. */
  sendStartOk(options: HandshakeOptions = {}): void {
    const mechanism = options.mechanism ?? 'PLAIN';
    const username = options.username ?? 'guest';
    const password = options.password ?? 'guest';
    let response: Buffer;
    if (mechanism === 'AMQPLAIN') {
      // AMQPLAIN's response is a field table without its length prefix.
      const table = new Writer().table({ LOGIN: username, PASSWORD: password }).toBuffer();
      response = table.subarray(4);
    } else {
      response = Buffer.from(`\0${username}\0${password}`, 'utf8');
    }
    const clientProperties = options.clientProperties ?? {
      product: 'warren-raw-test',
      capabilities: { authentication_failure_close: true, consumer_cancel_notify: true },
    };
    const args = new Writer()
      .table(clientProperties)
      .shortstr(mechanism)
      .longstr(response)
      .shortstr('en_US')
      .toBuffer();
    this.sendMethod(0, 10, 11, args);
  }

  /** Reads connection.tune. */
  async readTune(timeoutMs = 5000): Promise<ConnectionTune> {
    const { args } = await this.expectMethod(10, 30, timeoutMs);
    return { channelMax: args.short(), frameMax: args.long(), heartbeat: args.short() };
  }

  /** Sends connection.tune-ok. */
  sendTuneOk(tune: ConnectionTune): void {
    this.sendMethod(0, 10, 31, new Writer().short(tune.channelMax).long(tune.frameMax).short(tune.heartbeat).toBuffer());
  }

  /** Sends connection.open for a vhost. */
  sendConnectionOpen(vhost = '/'): void {
    this.sendMethod(0, 10, 40, new Writer().shortstr(vhost).shortstr('').bits(false).toBuffer());
  }

  /** Header, start/start-ok, tune/tune-ok, open/open-ok. */
  async handshake(options: HandshakeOptions = {}): Promise<HandshakeResult> {
    this.sendProtocolHeader();
    const start = await this.readConnectionStart();
    this.sendStartOk(options);
    const proposed = await this.readTune();
    const tune: ConnectionTune = {
      channelMax: options.channelMax ?? proposed.channelMax,
      frameMax: options.frameMax ?? proposed.frameMax,
      heartbeat: options.heartbeat ?? 0,
    };
    this.sendTuneOk(tune);
    this.sendConnectionOpen(options.vhost ?? '/');
    await this.expectMethod(10, 41);
    return { start, tune: proposed };
  }

  /** Opens a channel and waits for open-ok. */
  async openChannel(channel: number): Promise<void> {
    this.sendMethod(channel, 20, 10, new Writer().shortstr('').toBuffer());
    await this.expectMethod(20, 11);
  }

  /** Reads the next method, expects connection.close, and returns its reason. */
  async expectConnectionClose(timeoutMs = 5000): Promise<CloseReason> {
    const method = await this.expectMethod(10, 50, timeoutMs);
    if (method.channel !== 0) throw new Error(`connection.close on channel ${method.channel}`);
    return decodeClose(method);
  }

  /** Reads the next method, expects channel.close on `channel`, and returns its reason. */
  async expectChannelClose(channel: number, timeoutMs = 5000): Promise<CloseReason> {
    const method = await this.expectMethod(20, 40, timeoutMs);
    if (method.channel !== channel) throw new Error(`channel.close on channel ${method.channel}, expected ${channel}`);
    return decodeClose(method);
  }

  /** Sends connection.close-ok. */
  sendConnectionCloseOk(): void {
    this.sendMethod(0, 10, 51);
  }

  /** Client-initiated connection.close; waits for close-ok. */
  async close(): Promise<void> {
    this.sendMethod(0, 10, 50, closeArgs());
    await this.expectMethod(10, 51);
    this.destroy();
  }

  /** Destroys the socket immediately. */
  destroy(): void {
    this.socket.destroy();
  }
}
