/**
 * The JSON shapes of RabbitMQ's management API (field names verbatim), built from the broker's state
 * and the AMQP server's connection information.
 */
import { createHash } from 'node:crypto';
import type { ChannelInfo, ConnectionInfo } from '../../broker/connection-info.js';
import { Exchange, type Binding } from '../../broker/exchange/exchange.js';
import type { Queue } from '../../broker/queue.js';
import type { User } from '../../broker/users.js';
import type { Vhost } from '../../broker/vhost.js';
import type { Permission } from '../../config/config.js';
import { fieldTableToJson } from './json-values.js';

type View = Record<string, unknown>;

/** RabbitMQ's name for the only password hashing Warren stores. */
export const PASSWORD_HASHING = 'rabbit_password_hashing_sha256';

/** A vhost, with its message totals. */
export function vhostView(vhost: Vhost): View {
  let ready = 0;
  let unacked = 0;
  for (const queue of vhost.queues.values()) {
    ready += queue.messageCount;
    unacked += queue.unackedCount;
  }
  return {
    name: vhost.name, description: '', tags: [], default_queue_type: 'classic', metadata: { description: '', tags: [] },
    tracing: false, messages: ready + unacked, messages_ready: ready, messages_unacknowledged: unacked,
  };
}

/** An exchange. */
export function exchangeView(vhost: string, exchange: Exchange): View {
  const { durable, autoDelete, internal, arguments: args } = exchange.options;
  return {
    name: exchange.name, vhost, type: exchange.type, durable, auto_delete: autoDelete, internal, arguments: fieldTableToJson(args),
    ...(exchange.policy === undefined ? {} : { policy: exchange.policy.name }),
  };
}

/** A queue, with its message counts. */
export function queueView(node: string, queue: Queue): View {
  const { durable, autoDelete, exclusiveOwner, arguments: args } = queue.options;
  const ready = queue.messageCount;
  const unacked = queue.unackedCount;
  return {
    name: queue.name, vhost: queue.vhost, durable, auto_delete: autoDelete, exclusive: exclusiveOwner !== null,
    arguments: fieldTableToJson(args), node, state: 'running', type: 'classic',
    messages: ready + unacked, messages_ready: ready, messages_unacknowledged: unacked,
    message_bytes: queue.messageBytes, message_bytes_ready: queue.messageBytes, consumers: queue.consumerCount,
    ...(queue.policy === undefined ? {} : { policy: queue.policy.name }),
    effective_policy_definition: { ...queue.policy?.definition },
  };
}

/** The opaque key RabbitMQ's API uses to name a binding in a URL: its routing key, plus a hash of its arguments. */
export function bindingPropertiesKey(routingKey: string, args: Binding['arguments']): string {
  const key = routingKey === '' ? '~' : routingKey.replaceAll('%', '%25').replaceAll('~', '%7E');
  if (Object.keys(args).length === 0) return key;
  const digest = createHash('sha256').update(JSON.stringify(fieldTableToJson(args))).digest('base64url').slice(0, 12);
  return `${routingKey}~${digest}`;
}

/** A binding. */
export function bindingView(vhost: string, binding: Binding): View {
  return {
    source: binding.source.name, vhost, destination: binding.destination.name,
    destination_type: binding.destination instanceof Exchange ? 'exchange' : 'queue',
    routing_key: binding.routingKey, arguments: fieldTableToJson(binding.arguments),
    properties_key: bindingPropertiesKey(binding.routingKey, binding.arguments),
  };
}

/** The default exchange's implicit binding to a queue (RabbitMQ lists these too). */
export function defaultBindingView(queue: Queue): View {
  return {
    source: '', vhost: queue.vhost, destination: queue.name, destination_type: 'queue', routing_key: queue.name,
    arguments: {}, properties_key: bindingPropertiesKey(queue.name, {}),
  };
}

/** A user (with its password hash, as RabbitMQ shows administrators). */
export function userView(user: User): View {
  return { name: user.username, password_hash: user.passwordHash, hashing_algorithm: PASSWORD_HASHING, tags: [...user.tags], limits: {} };
}

/** One user's permissions on one vhost. */
export function permissionView(username: string, vhost: string, permission: Permission): View {
  return { user: username, vhost, configure: permission.configure, write: permission.write, read: permission.read };
}

/** An AMQP connection. */
export function connectionView(node: string, connection: ConnectionInfo): View {
  return {
    name: connection.name, node, vhost: connection.vhost, user: connection.user, state: connection.state,
    type: 'network', protocol: 'AMQP 0-9-1', ssl: false, auth_mechanism: connection.authMechanism,
    peer_host: connection.peerHost, peer_port: connection.peerPort, host: connection.host, port: connection.port,
    connected_at: connection.connectedAt, timeout: connection.heartbeatSeconds, frame_max: connection.frameMax,
    channel_max: connection.channelMax, channels: connection.channels.length,
    recv_oct: connection.receivedBytes, send_oct: connection.sentBytes,
    client_properties: fieldTableToJson(connection.clientProperties),
  };
}

/** RabbitMQ's name of a channel: its connection's name and its number. */
export function channelName(connection: ConnectionInfo, channel: ChannelInfo): string {
  return `${connection.name} (${channel.number})`;
}

/** An AMQP channel. */
export function channelView(node: string, connection: ConnectionInfo, channel: ChannelInfo): View {
  return {
    name: channelName(connection, channel), number: channel.number, node, vhost: connection.vhost, user: connection.user,
    connection_details: { name: connection.name, peer_host: connection.peerHost, peer_port: connection.peerPort },
    state: 'running', consumer_count: channel.consumers.length, messages_unacknowledged: channel.messagesUnacknowledged,
    messages_unconfirmed: channel.messagesUnconfirmed, messages_uncommitted: 0, acks_uncommitted: 0,
    prefetch_count: channel.prefetchCount, global_prefetch_count: channel.globalPrefetchCount,
    confirm: channel.confirm, transactional: channel.transactional,
  };
}

/** Every consumer of a connection's channels. */
export function consumerViews(node: string, connection: ConnectionInfo): View[] {
  return connection.channels.flatMap((channel) => channel.consumers.map((consumer) => ({
    consumer_tag: consumer.consumerTag, queue: { name: consumer.queue, vhost: connection.vhost },
    channel_details: {
      name: channelName(connection, channel), number: channel.number, connection_name: connection.name,
      peer_host: connection.peerHost, peer_port: connection.peerPort, user: connection.user, node,
    },
    ack_required: consumer.ackRequired, exclusive: consumer.exclusive, prefetch_count: consumer.prefetchCount,
    arguments: consumer.priority === 0 ? {} : { 'x-priority': consumer.priority }, active: true, activity_status: 'up',
  })));
}
