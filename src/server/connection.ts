/**
 * One AMQP connection: the protocol header, the connection-class handshake (start, tune, open),
 * heartbeats, frame routing to channels, batched socket writes and both directions of close.
 */
import type { Socket } from 'node:net';
import {
  AmqpCodecError, CLASS_ID, FRAME_MIN_SIZE, FrameParser, FrameType, FrameWriter, METHOD_IDS, PROTOCOL_HEADER,
  ReplyCode, decodeMethod, encodeBodyFrames, encodeContentHeaderFrame, encodeMethodFrame,
  type FieldTable, type FrameHandler, type Method,
} from '../codec/index.js';
import { ResourceAccess } from '../broker/access-control.js';
import type { Broker } from '../broker/broker.js';
import { AmqpError, ChannelError, ConnectionError, channelError, frameError, notAllowed, unexpectedFrame } from '../broker/errors.js';
import type { Message } from '../broker/message.js';
import type { BlockablePublisher } from '../broker/resource-alarm.js';
import type { Publisher } from '../broker/publisher-throttle.js';
import type { User } from '../broker/users.js';
import type { Vhost } from '../broker/vhost.js';
import type { Limits } from '../config/config.js';
import type { Logger } from '../util/logger.js';
import { MECHANISMS, parseCredentials } from './auth.js';
import { Channel } from './channel.js';
import { serverProperties } from './server-properties.js';
import type { ConnectionInfo, UnackedMessageInfo } from '../broker/connection-info.js';
import type { Queue } from '../broker/queue.js';

/** Where the connection is in its life. */
type ConnectionState = 'awaitingHeader' | 'awaitingStartOk' | 'awaitingTuneOk' | 'awaitingOpen' | 'open' | 'closing' | 'closed';

/** How long the server waits for connection.close-ok after sending connection.close. */
const CLOSE_OK_TIMEOUT_MS = 3000;
/** The AMQP 0-9 header ("AMQP" 1 1 0 9); RabbitMQ speaks 0-9-1 to clients that send it, and so do we. */
const LEGACY_0_9_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);
const HEARTBEAT_FRAME = Buffer.from([FrameType.Heartbeat, 0, 0, 0, 0, 0, 0, 0xce]);

/**
 * The whole-frame size the parser accepts for a negotiated frame_max. Like RabbitMQ, Warren allows
 * a payload of up to frame_max bytes (many clients forget the 8 bytes of frame overhead).
 */
function parserLimit(frameMax: number): number {
  return Math.max(FRAME_MIN_SIZE, frameMax) + FRAME_OVERHEAD_BYTES;
}
const FRAME_OVERHEAD_BYTES = 8;

/** RabbitMQ's names for the connection states, used in "unexpected method" errors. */
const STATE_NAMES: Record<ConnectionState, string> = {
  awaitingHeader: 'pre_init', awaitingStartOk: 'starting', awaitingTuneOk: 'tuning', awaitingOpen: 'opening',
  open: 'running', closing: 'closing', closed: 'closed',
};

/** What a connection needs from the listener that accepted it. */
export interface ConnectionContext {
  broker: Broker;
  limits: Limits;
  logger: Logger;
  onClosed(connection: Connection): void;
}

/** A client connection. */
export class Connection implements FrameHandler, Publisher, BlockablePublisher {
  readonly id: number;
  private state: ConnectionState = 'awaitingHeader';
  private headerBytes = Buffer.alloc(0);
  private readonly parser: FrameParser;
  private readonly writer = new FrameWriter();
  private readonly channels = new Map<number, Channel>();
  private flushScheduled = false;
  /** How many queues currently hold this connection's input paused (publisher flow control). */
  private publishingPausedBy = 0;
  private writeBlocked = false;
  /** Negotiated frame_max. */
  frameMax: number;
  private channelMax: number;
  private heartbeatSeconds = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private receivedSinceTick = true;
  private missedHeartbeatTicks = 0;
  private sentSinceTick = false;
  private user: User | undefined;
  /** The vhost opened by connection.open. */
  vhost: Vhost | undefined;
  /** The client's capabilities table from connection.start-ok. */
  clientCapabilities: FieldTable = {};
  /** The client's properties from connection.start-ok (shown by the management API). */
  private clientProperties: FieldTable = {};
  private authMechanism = '';
  private readonly connectedAt = Date.now();
  private readonly flushBound = (): void => this.guarded(() => this.flush());
  private readonly drainBound = (): void => this.guarded(() => this.resumeConsumers());

  constructor(
    private readonly socket: Socket,
    private readonly context: ConnectionContext,
  ) {
    this.id = context.broker.allocateConnectionId();
    this.frameMax = context.limits.frameSizeMax;
    this.channelMax = context.limits.channelMax;
    this.parser = new FrameParser(this, parserLimit(context.limits.frameSizeMax));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', this.drainBound);
    socket.on('error', (error) => context.logger.debug({ connection: this.id, error: error.message }, 'socket error'));
    socket.on('close', () => this.guarded(() => this.onSocketClosed()));
    this.handshakeTimer = setTimeout(() => this.onHandshakeTimeout(), context.limits.handshakeTimeoutMs);
  }

  /** The authenticated user's name ('' before authentication). */
  get username(): string {
    return this.user?.username ?? '';
  }

  /** The peer's address, for logs and loopback checks. */
  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  /** True while the socket can take more output without exceeding the configured high-water mark. */
  get writable(): boolean {
    if (this.state === 'closed') return false;
    const buffered = this.socket.writableLength + this.writer.length;
    if (buffered < this.context.limits.socketBufferHighWaterBytes) return true;
    this.writeBlocked = true;
    return false;
  }

  /** True while the memory alarm holds this connection's input paused. */
  private blockedByMemory = false;

  blockPublishing(reason: string): void {
    if (this.state !== 'open') return;
    if (this.clientHas('connection.blocked')) this.sendMethod(0, { name: 'connectionBlocked', reason });
    // A connection that consumes keeps being read: its acknowledgements are what free memory.
    if (this.consumerCount === 0) {
      this.blockedByMemory = true;
      this.pausePublishing();
    }
  }

  unblockPublishing(): void {
    if (this.state !== 'open') return;
    if (this.clientHas('connection.blocked')) this.sendMethod(0, { name: 'connectionUnblocked' });
    if (this.blockedByMemory) {
      this.blockedByMemory = false;
      this.resumePublishing();
    }
  }

  /** Reads input again whatever flow control said (the connection is closing). */
  private resumeInput(): void {
    this.publishingPausedBy = 0;
    this.socket.resume();
  }

  pausePublishing(): void {
    if (this.publishingPausedBy++ === 0) this.socket.pause();
  }

  resumePublishing(): void {
    if (this.publishingPausedBy > 0 && --this.publishingPausedBy === 0) this.socket.resume();
  }

  /**
   * Consumers on all of this connection's channels. Flow control never pauses a connection that
   * consumes: its acknowledgements are what drain the queues, and pausing them would deadlock.
   */
  consumerCount = 0;

  /** Encodes a method frame into the output batch. */
  sendMethod(channel: number, method: Method): void {
    encodeMethodFrame(this.writer, channel, method);
    this.scheduleFlush();
  }

  /** Encodes a method with content (deliver, get-ok, return) into the output batch. */
  sendContent(channel: number, method: Method, message: Message): void {
    encodeMethodFrame(this.writer, channel, method);
    encodeContentHeaderFrame(this.writer, channel, message.body.length, message.rawProperties);
    encodeBodyFrames(this.writer, channel, message.body, this.frameMax);
    this.scheduleFlush();
  }

  /** Called by a channel that wants to write before the current batch ends (confirms). */
  scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(this.flushBound);
  }

  /** Whether the client announced a capability in connection.start-ok. */
  clientHas(capability: string): boolean {
    return this.clientCapabilities[capability] === true;
  }

  /** Closes the connection with a reply code (server-initiated connection.close). */
  close(error: AmqpError): void {
    if (this.state === 'closing' || this.state === 'closed') return;
    const canSendClose = this.state !== 'awaitingHeader';
    this.context.logger.info(
      { connection: this.id, replyCode: error.replyCode, replyText: error.replyText }, 'closing connection',
    );
    this.teardownChannels();
    this.state = 'closing';
    if (!canSendClose) {
      this.destroy();
      return;
    }
    this.writer.reset();
    this.closeTimer = setTimeout(() => this.destroy(), CLOSE_OK_TIMEOUT_MS);
    // Input may be paused by flow control; the close-ok must still be read.
    this.resumeInput();
    this.sendMethod(0, {
      name: 'connectionClose', replyCode: error.replyCode, replyText: error.replyText,
      classId: error.classId, methodId: error.methodId,
    });
    this.flush();
  }

  /** RabbitMQ's name of the connection: "peer_host:peer_port -> host:port". */
  get name(): string {
    return `${this.socket.remoteAddress ?? ''}:${this.socket.remotePort ?? 0} -> ${this.socket.localAddress ?? ''}:${this.socket.localPort ?? 0}`;
  }

  /** What the management API shows of this connection and its channels. */
  info(): ConnectionInfo {
    return {
      name: this.name, user: this.username, vhost: this.vhost?.name ?? '',
      state: this.publishingPausedBy > 0 || this.blockedByMemory ? 'blocked' : STATE_NAMES[this.state],
      peerHost: this.socket.remoteAddress ?? '', peerPort: this.socket.remotePort ?? 0,
      host: this.socket.localAddress ?? '', port: this.socket.localPort ?? 0,
      authMechanism: this.authMechanism, clientProperties: this.clientProperties, connectedAt: this.connectedAt,
      frameMax: this.frameMax, channelMax: this.channelMax, heartbeatSeconds: this.heartbeatSeconds,
      receivedBytes: this.socket.bytesRead, sentBytes: this.socket.bytesWritten,
      channels: [...this.channels.values()].filter((channel) => !channel.closing).map((channel) => channel.info()),
    };
  }

  /** Lowers `oldest` (queue -> delivery time) to this connection's oldest unacknowledged delivery per queue. */
  collectOldestUnacked(oldest: Map<Queue, number>): void {
    for (const channel of this.channels.values()) channel.collectOldestUnacked(oldest);
  }

  /** Management browsing: appends the deliveries from `queue` this connection's channels hold unacknowledged. */
  unackedFrom(queue: Queue, into: UnackedMessageInfo[]): void {
    if (this.vhost?.name !== queue.vhost) return;
    for (const channel of this.channels.values()) channel.unackedFrom(queue, this.name, into);
  }

  /** Management requeue of the delivery of message `sequence` of `queue`; false when no channel here holds it. */
  requeueFor(queue: Queue, sequence: number): boolean {
    if (this.vhost?.name !== queue.vhost) return false;
    for (const channel of this.channels.values()) if (channel.requeueFor(queue, sequence)) return true;
    return false;
  }

  /** Closes with 320 CONNECTION_FORCED, as on broker shutdown. */
  forceClose(reason: string): void {
    this.close(new ConnectionError(ReplyCode.ConnectionForced, `broker forced connection closure with reason '${reason}'`));
  }

  /** Resolves once the socket has closed. */
  closed(): Promise<void> {
    if (this.state === 'closed' || this.socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  /** Immediately destroys the socket. */
  destroy(): void {
    this.socket.destroy();
  }

  onFrame(type: number, channel: number, payload: Buffer): void {
    this.receivedSinceTick = true;
    try {
      if (type === FrameType.Heartbeat) {
        if (channel !== 0) throw unexpectedFrame(`heartbeat frame on channel ${channel}`).causedBy(0, 0);
        if (payload.length > 0) throw frameError('heartbeat frame with a payload').causedBy(0, 0);
        return;
      }
      // Once the server has sent connection.close only close and close-ok on channel 0 matter.
      if (this.state === 'closing' && channel !== 0) return;
      if (channel === 0) this.onConnectionFrame(type, payload);
      else this.onChannelFrame(type, channel, payload);
    } catch (error) {
      this.onError(error, channel);
    }
  }

  /**
   * Runs work started by a socket or timer event. Nothing may escape such a callback (it would end
   * the process), so an unexpected error closes this connection only.
   */
  private guarded(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.context.logger.error({ connection: this.id, error: String((error as Error)?.stack ?? error) }, 'internal error');
      this.destroy();
    }
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    try {
      if (this.state === 'awaitingHeader') {
        const rest = this.readProtocolHeader(chunk);
        if (rest === undefined || rest.length === 0) return;
        chunk = rest;
      }
      this.parser.push(chunk);
    } catch (error) {
      // onFrame handles its own errors, so whatever reaches here broke the framing: nothing after it can be parsed.
      this.parser.stop();
      this.onError(error, 0);
    }
  }

  /** Consumes the 8-byte protocol header; returns the bytes after it, or undefined while incomplete or refused. */
  private readProtocolHeader(chunk: Buffer): Buffer | undefined {
    const needed = PROTOCOL_HEADER.length - this.headerBytes.length;
    this.headerBytes = Buffer.concat([this.headerBytes, chunk.subarray(0, needed)]);
    if (this.headerBytes.length < PROTOCOL_HEADER.length) return undefined;
    if (!this.headerBytes.equals(PROTOCOL_HEADER) && !this.headerBytes.equals(LEGACY_0_9_HEADER)) {
      // The spec asks us to answer with the protocol header we do support and close.
      this.state = 'closed';
      this.socket.end(PROTOCOL_HEADER);
      return undefined;
    }
    this.state = 'awaitingStartOk';
    this.sendMethod(0, {
      name: 'connectionStart', versionMajor: 0, versionMinor: 9, serverProperties: serverProperties(),
      mechanisms: Buffer.from(MECHANISMS.join(' ')), locales: Buffer.from('en_US'),
    });
    return chunk.subarray(needed);
  }

  private onConnectionFrame(type: number, payload: Buffer): void {
    if (type !== FrameType.Method) throw unexpectedFrame(`content frame on channel 0`);
    const method = decodeMethod(payload);
    try {
      this.onConnectionMethod(method);
    } catch (error) {
      if (error instanceof AmqpError) {
        const ids = METHOD_IDS[method.name];
        error.causedBy(ids.classId, ids.methodId);
      }
      throw error;
    }
  }

  private onConnectionMethod(method: Method): void {
    if (this.state === 'closing') {
      if (method.name === 'connectionCloseOk') this.destroy();
      else if (method.name === 'connectionClose') {
        this.sendMethod(0, { name: 'connectionCloseOk' });
        this.flush();
        this.destroy();
      }
      return;
    }
    switch (method.name) {
      case 'connectionStartOk':
        return this.expectState('awaitingStartOk', method, () => this.onStartOk(method.mechanism, method.response, method.clientProperties));
      case 'connectionTuneOk':
        return this.expectState('awaitingTuneOk', method, () => this.onTuneOk(method.channelMax, method.frameMax, method.heartbeat));
      case 'connectionOpen':
        return this.expectState('awaitingOpen', method, () => this.onOpen(method.virtualHost));
      case 'connectionClose':
        this.teardownChannels();
        this.state = 'closing';
        this.parser.stop();
        // The client closes the socket after close-ok; if it does not, we do.
        this.closeTimer = setTimeout(() => this.destroy(), CLOSE_OK_TIMEOUT_MS);
        this.resumeInput();
        this.sendMethod(0, { name: 'connectionCloseOk' });
        this.flush();
        this.socket.end();
        return;
      default:
        throw this.unexpectedMethod(method);
    }
  }

  private unexpectedMethod(method: Method): ConnectionError {
    return channelError(`unexpected method in connection state ${STATE_NAMES[this.state]}`)
      .causedBy(METHOD_IDS[method.name].classId, METHOD_IDS[method.name].methodId);
  }

  private expectState(state: ConnectionState, method: Method, handle: () => void): void {
    if (this.state !== state) throw this.unexpectedMethod(method);
    handle();
  }

  private onStartOk(mechanism: string, response: Buffer, clientProperties: FieldTable): void {
    const capabilities = clientProperties['capabilities'];
    if (isTable(capabilities)) this.clientCapabilities = capabilities;
    this.clientProperties = clientProperties;
    this.authMechanism = mechanism;
    const credentials = parseCredentials(mechanism, response);
    if (credentials === undefined) {
      // RabbitMQ answers an unknown mechanism or a malformed response by closing the socket, without a frame.
      this.context.logger.warn({ connection: this.id, mechanism }, 'unsupported mechanism or malformed start-ok response');
      this.destroy();
      return;
    }
    const result = this.context.broker.users.authenticate(credentials.username, credentials.password, this.remoteAddress);
    if (!result.ok) {
      this.context.logger.warn({ connection: this.id, reason: result.reason }, 'authentication failed');
      if (!this.clientHas('authentication_failure_close')) {
        this.destroy();
        return;
      }
      throw new ConnectionError(ReplyCode.AccessRefused,
        `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`).causedBy(0, 0);
    }
    this.user = result.user;
    this.state = 'awaitingTuneOk';
    this.sendMethod(0, {
      name: 'connectionTune', channelMax: this.context.limits.channelMax, frameMax: this.context.limits.frameSizeMax,
      heartbeat: this.context.limits.heartbeatSeconds,
    });
  }

  private onTuneOk(channelMax: number, frameMax: number, heartbeat: number): void {
    const limits = this.context.limits;
    // Like RabbitMQ, refuse 0 ("no limit") too: the server's own limits always apply.
    const problem = frameMax < FRAME_MIN_SIZE ? `frame_max=${frameMax} < ${FRAME_MIN_SIZE} min size`
      : frameMax > limits.frameSizeMax ? `frame_max=${frameMax} > ${limits.frameSizeMax} max size`
        : channelMax === 0 || channelMax > limits.channelMax ? `channel_max=${channelMax} outside 1..${limits.channelMax}`
          : undefined;
    if (problem !== undefined) throw notAllowed(problem).causedBy(CLASS_ID.connection, METHOD_IDS.connectionTune.methodId);
    this.frameMax = frameMax;
    this.channelMax = channelMax;
    this.parser.frameSizeMax = parserLimit(this.frameMax);
    this.heartbeatSeconds = heartbeat;
    this.state = 'awaitingOpen';
    this.startHeartbeats();
  }

  private onOpen(vhostName: string): void {
    const vhost = this.context.broker.vhosts.get(vhostName);
    if (vhost === undefined) throw notAllowed(`vhost ${vhostName} not found`);
    const user = this.user;
    if (user === undefined || this.context.broker.users.permission(user, vhostName) === undefined) {
      throw notAllowed(`access to vhost '${vhostName}' refused for user '${user?.username ?? ''}'`);
    }
    this.vhost = vhost;
    this.state = 'open';
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.sendMethod(0, { name: 'connectionOpenOk', knownHosts: '' });
  }

  private onChannelFrame(type: number, channelNumber: number, payload: Buffer): void {
    const channel = this.channels.get(channelNumber);
    if (channel !== undefined) {
      channel.onFrame(type, payload);
      return;
    }
    if (type !== FrameType.Method) throw unexpectedFrame('expected method frame, got non method frame instead').causedBy(0, 0);
    const method = decodeMethod(payload);
    const ids = METHOD_IDS[method.name];
    if (method.name !== 'channelOpen' || this.state !== 'open') {
      throw channelError(`expected 'channel.open'`).causedBy(ids.classId, ids.methodId);
    }
    if (this.channels.size >= this.channelMax) {
      throw notAllowed(`number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.channelMax})`)
        .causedBy(0, 0);
    }
    const vhost = this.vhost as Vhost;
    this.channels.set(channelNumber, new Channel(channelNumber, this, vhost, this.context.limits, new ResourceAccess(this.context.broker.users, this.username, vhost.name)));
    this.sendMethod(channelNumber, { name: 'channelOpenOk', channelId: Buffer.alloc(0) });
  }

  /** Forgets a channel once its close handshake is over (either side's close answered with close-ok). */
  channelFinished(channelNumber: number): void {
    this.channels.delete(channelNumber);
  }

  private onError(error: unknown, channelNumber: number): void {
    if (error instanceof ChannelError && channelNumber !== 0) {
      this.closeChannel(channelNumber, error);
      return;
    }
    if (error instanceof AmqpError) {
      this.close(error);
      return;
    }
    if (error instanceof AmqpCodecError) {
      // RabbitMQ reports undecodable method arguments as FRAME_ERROR naming the method.
      const syntax = error.replyCode === ReplyCode.SyntaxError;
      const replyCode = syntax ? ReplyCode.FrameError : error.replyCode;
      const detail = syntax ? `cannot decode: ${error.message}` : error.message;
      this.close(new ConnectionError(replyCode, detail).causedBy(error.classId, error.methodId));
      return;
    }
    this.context.logger.error({ connection: this.id, error: String((error as Error)?.stack ?? error) }, 'internal error');
    this.close(new ConnectionError(ReplyCode.InternalError, 'internal error'));
  }

  /** Closes a channel with a channel error raised outside a frame (a timer found it out). */
  failChannel(channelNumber: number, error: ChannelError): void {
    this.closeChannel(channelNumber, error);
  }

  private closeChannel(channelNumber: number, error: ChannelError): void {
    const channel = this.channels.get(channelNumber);
    if (channel === undefined || channel.closing) return;
    // Confirms already decided go out before the close, or the client would see frames on a closed channel.
    channel.flushConfirms();
    channel.beginServerClose();
    this.sendMethod(channelNumber, {
      name: 'channelClose', replyCode: error.replyCode, replyText: error.replyText,
      classId: error.classId, methodId: error.methodId,
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    for (const channel of this.channels.values()) channel.flushConfirms();
    if (this.writer.length === 0 || this.socket.destroyed) return;
    this.socket.write(this.writer.take());
    this.sentSinceTick = true;
    if (this.writeBlocked && this.writable) this.resumeConsumers();
  }

  private resumeConsumers(): void {
    if (!this.writeBlocked || this.state === 'closed') return;
    this.writeBlocked = false;
    for (const channel of this.channels.values()) channel.resumeDeliveries();
  }

  private startHeartbeats(): void {
    if (this.heartbeatSeconds === 0) return;
    // Ticking at half the interval lets us send on time and detect two missed intervals from the peer.
    const tickMs = (this.heartbeatSeconds * 1000) / 2;
    this.heartbeatTimer = setInterval(() => this.onHeartbeatTick(), tickMs);
    this.heartbeatTimer.unref();
  }

  private onHeartbeatTick(): void {
    if (!this.sentSinceTick && !this.socket.destroyed) this.socket.write(HEARTBEAT_FRAME);
    this.sentSinceTick = false;
    // While flow control holds our reading paused, the peer's heartbeats wait unread in the socket.
    if (this.receivedSinceTick || this.publishingPausedBy > 0) {
      this.receivedSinceTick = false;
      this.missedHeartbeatTicks = 0;
      return;
    }
    this.missedHeartbeatTicks++;
    if (this.missedHeartbeatTicks >= 4) {
      this.context.logger.warn({ connection: this.id, timeoutSeconds: this.heartbeatSeconds * 2 }, 'missed heartbeats from client');
      this.destroy();
    }
  }

  private onHandshakeTimeout(): void {
    this.context.logger.warn({ connection: this.id }, 'handshake timeout');
    this.destroy();
  }

  private teardownChannels(): void {
    for (const channel of this.channels.values()) channel.teardown();
    this.channels.clear();
  }

  private onSocketClosed(): void {
    this.context.broker.alarms.forget(this);
    this.teardownChannels();
    this.vhost?.deleteExclusiveQueues(this.id);
    this.state = 'closed';
    this.parser.stop();
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.closeTimer);
    clearInterval(this.heartbeatTimer);
    this.context.onClosed(this);
  }
}

function isTable(value: unknown): value is FieldTable {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !Buffer.isBuffer(value) && !(value instanceof Date);
}
