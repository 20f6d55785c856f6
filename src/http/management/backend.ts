/**
 * What the management API needs from the node: the broker's state, and what only the AMQP server
 * knows (connections, channels, consumers), handed over by the composition root (main.ts).
 */
import type { Broker } from '../../broker/broker.js';
import type { ConnectionInfo, UnackedMessageInfo } from '../../broker/connection-info.js';
import type { Queue } from '../../broker/queue.js';

/** One listening port, as /api/overview lists it. */
export interface ListenerInfo {
  protocol: 'amqp' | 'http';
  ipAddress: string;
  port: number;
}

/** The node behind the management API. */
export interface ManagementBackend {
  readonly broker: Broker;
  /** RabbitMQ-style node name, e.g. "warren@myhost". */
  readonly nodeName: string;
  /** Warren's version. */
  readonly version: string;
  /** ms since the epoch. */
  readonly startedAt: number;
  listeners(): ListenerInfo[];
  connections(): ConnectionInfo[];
  /** Closes the connection of that name with 320 CONNECTION_FORCED; false when there is none. */
  closeConnection(name: string, reason: string): boolean;
  /** The deliveries from `queue` that AMQP channels hold unacknowledged (message browsing). */
  unackedMessages(queue: Queue): UnackedMessageInfo[];
  /**
   * Takes the delivery of message `sequence` of `queue` back from the channel holding it and requeues it
   * (as a nack with requeue); false when no channel holds it.
   */
  requeueUnacked(queue: Queue, sequence: number): boolean;
  /** When each queue's oldest unacknowledged delivery was made (ms since the epoch), for /metrics. */
  oldestUnackedByQueue(): Map<Queue, number>;
}
