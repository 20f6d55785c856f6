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

/** A vhost created at runtime, as stored (vhosts from the configuration are never stored). */
export interface StoredVhost {
  name: string;
}

/** A user as stored: the password only as a RabbitMQ rabbit_password_hashing_sha256 hash. */
export interface StoredUser {
  username: string;
  /** base64(4-byte salt ++ SHA-256(salt ++ UTF-8 password)); '' when password login is disabled. */
  passwordHash: string;
  tags: string[];
}

/** One user's configure/write/read permission on one vhost, as stored. */
export interface StoredPermission {
  username: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

/** A policy as stored. */
export interface StoredPolicy {
  vhost: string;
  name: string;
  pattern: string;
  applyTo: string;
  priority: number;
  definition: Record<string, string | number>;
}

/** Everything the definitions store holds, as restored at start. */
export interface Definitions {
  vhosts: StoredVhost[];
  users: StoredUser[];
  permissions: StoredPermission[];
  exchanges: StoredExchange[];
  queues: StoredQueue[];
  bindings: StoredBinding[];
  policies: StoredPolicy[];
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
  /** Records a runtime-created vhost. */
  putVhost(vhost: StoredVhost): void;
  /** Removes a vhost and everything stored in it: exchanges, queues, bindings and permissions. */
  deleteVhost(name: string): void;
  /** Records a user (replacing one of the same name). */
  putUser(user: StoredUser): void;
  /** Removes a user and its permissions. */
  deleteUser(username: string): void;
  /** Records a permission (replacing the user's permission on that vhost). */
  putPermission(permission: StoredPermission): void;
  /** Removes a user's permission on a vhost. */
  deletePermission(username: string, vhost: string): void;
  /** Records a policy (replacing one of the same name in its vhost). */
  putPolicy(policy: StoredPolicy): void;
  /** Removes a policy. */
  deletePolicy(vhost: string, name: string): void;
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

declare const messageLocationBrand: unique symbol;

/**
 * Where a stored message lives in its queue's store: an opaque number (no allocation per message, and
 * it packs into typed arrays), given back to ack or read.
 */
export type MessageLocation = number & { readonly [messageLocationBrand]: true };

/** A message found at recovery, with its body: not acknowledged before the broker stopped. */
export interface RecoveredMessage {
  location: MessageLocation;
  message: StoredMessage;
  /** True when the message may have been delivered before the stop (RabbitMQ marks these redelivered). */
  redelivered: boolean;
}

/** Recovered messages past the in-memory window, by location only: their bodies stay on disk until read. */
export interface RecoveredLocations {
  /** In queue order (a plain number array: 8 bytes a message). */
  locations: MessageLocation[];
  /** Indexes into `locations` of messages that may have been delivered before the stop. */
  redelivered: Set<number>;
  /** Body sizes in bytes, parallel to `locations`. */
  sizes: number[];
}

/** What recovery found in one queue's log. */
export interface QueueRecovery {
  /** Unacknowledged messages at the head of the queue (at most `bodiesInMemory`), in their original order. */
  messages: RecoveredMessage[];
  /** The unacknowledged messages after those, in order. */
  pagedOut: RecoveredLocations;
  /** Records that failed their checksum or were cut short and were skipped. */
  droppedRecords: number;
  /** Human-readable notes on what was repaired (truncated tail, missing segment, ...). */
  warnings: string[];
}

/** One durable queue's persistent messages. */
export interface QueueMessageStore {
  /** Appends a persistent message (buffered; durable after the next sync) and returns where it lives. */
  append(message: StoredMessage): MessageLocation;
  /**
   * Writes a message out of memory only (a transient message in a deep queue): readable and ackable like
   * any other, but never recovered after a restart.
   */
  appendTransient(message: StoredMessage): MessageLocation;
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
  /**
   * Calls `onDurable` once every message appended so far (in every queue) is fsynced: what a publisher
   * confirm waits for. Acknowledgements and delivery marks are written to their files by then too, but
   * may wait a little longer for their fsync.
   */
  syncAppended(onDurable: (error: Error | undefined) => void): void;
  /**
   * Opens a store for paging out the messages of a non-durable queue. It holds only transient records
   * and is gone after a restart.
   */
  openTransientQueue(vhost: string, name: string): QueueMessageStore;
  /** Flushes, fsyncs and closes every file. */
  close(): Promise<void>;
}

/** The stores a node persists through; absent for a node that keeps everything in memory. */
export interface Persistence {
  definitions: DefinitionStore;
  messages: MessageStore;
}
