/**
 * The AMQP listener: accepts sockets, enforces the connection limit, and closes every connection
 * with 320 CONNECTION_FORCED on shutdown.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { Broker } from '../broker/broker.js';
import type { Limits } from '../config/config.js';
import type { Logger } from '../util/logger.js';
import { Connection, type ConnectionContext } from './connection.js';
import type { ConnectionInfo, UnackedMessageInfo } from '../broker/connection-info.js';
import type { Queue } from '../broker/queue.js';

/** How long shutdown waits for clients to answer connection.close before dropping them. */
const SHUTDOWN_GRACE_MS = 2000;

/** A listening AMQP server. */
export class AmqpListener {
  private readonly server: Server;
  private readonly connections = new Set<Connection>();
  private readonly context: ConnectionContext;

  constructor(broker: Broker, limits: Limits, private readonly logger: Logger) {
    this.context = { broker, limits, logger, onClosed: (connection) => this.connections.delete(connection) };
    this.server = createServer((socket) => this.onSocket(socket, limits));
    this.server.on('error', (error) => logger.error({ error: error.message }, 'listener error'));
  }

  /** Starts listening; resolves with the bound port. */
  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  /** Number of open connections. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Every open connection, for the management API. */
  connectionInfos(): ConnectionInfo[] {
    return [...this.connections].map((connection) => connection.info());
  }

  /** The deliveries from `queue` that channels hold unacknowledged, for management browsing. */
  unackedMessages(queue: Queue): UnackedMessageInfo[] {
    const found: UnackedMessageInfo[] = [];
    for (const connection of this.connections) connection.unackedFrom(queue, found);
    return found;
  }

  /** When each queue's oldest unacknowledged delivery was made (ms since the epoch), over every channel (for /metrics). */
  oldestUnackedByQueue(): Map<Queue, number> {
    const oldest = new Map<Queue, number>();
    for (const connection of this.connections) connection.collectOldestUnacked(oldest);
    return oldest;
  }

  /** Management requeue: takes the delivery of message `sequence` of `queue` back from whichever channel holds it. */
  requeueUnacked(queue: Queue, sequence: number): boolean {
    for (const connection of this.connections) if (connection.requeueFor(queue, sequence)) return true;
    return false;
  }

  /** Closes the connection of that name with 320 CONNECTION_FORCED and `reason`; false when there is none. */
  closeConnection(name: string, reason: string): boolean {
    for (const connection of this.connections) {
      if (connection.name !== name) continue;
      connection.forceClose(reason);
      return true;
    }
    return false;
  }

  /** Stops accepting, force-closes every connection and waits (bounded) for their sockets to close. */
  async close(): Promise<void> {
    const serverClosed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const connections = [...this.connections];
    for (const connection of connections) connection.forceClose('shutdown');
    const allClosed = Promise.all(connections.map((connection) => connection.closed()));
    const timer = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
    await Promise.race([allClosed, timer]);
    for (const connection of this.connections) connection.destroy();
    await serverClosed;
  }

  private onSocket(socket: Socket, limits: Limits): void {
    if (this.connections.size >= limits.connectionsMax) {
      this.logger.warn({ remoteAddress: socket.remoteAddress }, 'connection limit reached, refusing socket');
      socket.destroy();
      return;
    }
    this.connections.add(new Connection(socket, this.context));
  }
}
