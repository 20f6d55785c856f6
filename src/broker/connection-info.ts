/**
 * What the AMQP server (src/server) tells the management API (src/http) about its connections,
 * channels and consumers (RabbitMQ's /api/connections, /api/channels, /api/consumers). Plain data,
 * taken when asked.
 */
import type { FieldTable } from '../codec/index.js';
import type { QueueEntry } from './message.js';

/** One open AMQP connection. */
export interface ConnectionInfo {
  /** RabbitMQ's connection name: "peer_host:peer_port -> host:port". */
  name: string;
  user: string;
  /** '' before connection.open. */
  vhost: string;
  /** RabbitMQ's state names: starting, tuning, opening, running, blocked, closing. */
  state: string;
  peerHost: string;
  peerPort: number;
  host: string;
  port: number;
  authMechanism: string;
  clientProperties: FieldTable;
  /** ms since the epoch. */
  connectedAt: number;
  frameMax: number;
  channelMax: number;
  /** Negotiated heartbeat, in seconds. */
  heartbeatSeconds: number;
  receivedBytes: number;
  sentBytes: number;
  channels: ChannelInfo[];
}

/** One open channel. */
export interface ChannelInfo {
  number: number;
  /** basic.qos global=false: the limit of consumers created afterwards. */
  prefetchCount: number;
  /** basic.qos global=true. */
  globalPrefetchCount: number;
  confirm: boolean;
  transactional: boolean;
  messagesUnacknowledged: number;
  messagesUnconfirmed: number;
  consumers: ConsumerInfo[];
}

/** One consumer of a channel. */
export interface ConsumerInfo {
  consumerTag: string;
  queue: string;
  ackRequired: boolean;
  exclusive: boolean;
  prefetchCount: number;
  priority: number;
  unacknowledged: number;
}

/** One delivery a channel holds unacknowledged, for browsing a queue's unacked messages. */
export interface UnackedMessageInfo {
  /** The holding connection's name. */
  connection: string;
  channel: number;
  /** Undefined for a basic.get delivery. */
  consumerTag: string | undefined;
  deliveryTag: number;
  /** When it was delivered (ms since the epoch). */
  deliveredAt: number;
  /** The queue's entry (read only: its id is entry.sequence). */
  entry: QueueEntry;
}
