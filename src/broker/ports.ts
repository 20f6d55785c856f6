/**
 * The interfaces through which the broker reaches durable storage. The storage layer (src/storage)
 * implements them; the broker never touches files itself. Until a node is wired to a store, every
 * queue keeps its messages in memory only.
 */
import type { FieldTable } from '../codec/index.js';

/** A durable exchange as stored. */
export interface StoredExchange {
  vhost: string;
  name: string;
  type: string;
  durable: true;
  autoDelete: boolean;
  internal: boolean;
  arguments: FieldTable;
}

/** A durable queue as stored. */
export interface StoredQueue {
  vhost: string;
  name: string;
  durable: true;
  autoDelete: boolean;
  arguments: FieldTable;
}

/** A binding between durable entities as stored. */
export interface StoredBinding {
  vhost: string;
  source: string;
  destination: string;
  destinationKind: 'queue' | 'exchange';
  routingKey: string;
  arguments: FieldTable;
}

/** Everything the definitions store holds, as restored at start. */
export interface Definitions {
  exchanges: StoredExchange[];
  queues: StoredQueue[];
  bindings: StoredBinding[];
}

/** Where durable definitions are recorded. Each call is durable (fsynced) when it returns. */
export interface DefinitionStore {
  load(): Definitions;
  putExchange(exchange: StoredExchange): void;
  deleteExchange(vhost: string, name: string): void;
  putQueue(queue: StoredQueue): void;
  deleteQueue(vhost: string, name: string): void;
  putBinding(binding: StoredBinding): void;
  deleteBinding(binding: StoredBinding): void;
  close(): void;
}

/** A persistent message as written to a queue's log. */
export interface StoredMessage {
  exchange: string;
  routingKey: string;
  /** Basic properties exactly as received (flags + property list). */
  rawProperties: Buffer;
  body: Buffer;
}

/** Where a stored message lives in its queue's log: opaque to the broker, given back to ack or read. */
export interface MessageLocation {
  readonly segment: number;
  readonly offset: number;
}

/** A message found at recovery: not acknowledged before the broker stopped. */
export interface RecoveredMessage {
  location: MessageLocation;
  /** The message, or undefined beyond the first `bodiesInMemory` (read it back with read(location)). */
  message: StoredMessage | undefined;
  /** True when the message may have been delivered before the stop (RabbitMQ marks these redelivered). */
  redelivered: boolean;
}

/** What recovery found in one queue's log. */
export interface QueueRecovery {
  /** Unacknowledged messages in their original order. */
  messages: RecoveredMessage[];
  /** Records that failed their checksum or were cut short and were skipped. */
  droppedRecords: number;
  /** Human-readable notes on what was repaired (truncated tail, missing segment, ...). */
  warnings: string[];
}

/** One durable queue's persistent messages. */
export interface QueueMessageStore {
  /** Appends a message (buffered; durable after the next sync) and returns where it lives. */
  append(message: StoredMessage): MessageLocation;
  /** Records that a message was delivered, so recovery marks it redelivered. */
  markDelivered(location: MessageLocation): void;
  /** Records an acknowledgement (or a drop): the message never comes back. */
  ack(location: MessageLocation): void;
  /** Reads a stored message back (for bodies paged out of memory). */
  read(location: MessageLocation): StoredMessage;
  /** Removes every stored message (queue.purge). */
  purge(): void;
  /** Deletes the queue's files (queue.delete). */
  destroy(): void;
}

/** The node's message storage. */
export interface MessageStore {
  /**
   * Opens (creating if needed) the store of one durable queue and recovers what it holds, keeping the
   * bodies of at most `bodiesInMemory` recovered messages in memory.
   */
  openQueue(vhost: string, name: string, bodiesInMemory?: number): { store: QueueMessageStore; recovery: QueueRecovery };
  /**
   * Calls `onDurable` once everything appended and acked so far (in every queue) is fsynced. Calls
   * made in the same event-loop turn share one fsync round (group commit).
   */
  sync(onDurable: (error: Error | undefined) => void): void;
  /** Flushes, fsyncs and closes every file. */
  close(): Promise<void>;
}

/** The stores a node persists through; absent for a node that keeps everything in memory. */
export interface Persistence {
  definitions: DefinitionStore;
  messages: MessageStore;
}
