/**
 * Publishing and getting messages on behalf of the HTTP management API (RabbitMQ's
 * /api/exchanges/{vhost}/{name}/publish and /api/queues/{vhost}/{name}/get), through the same paths an
 * AMQP channel uses: exchange checks, delayed exchanges, routing, queue limits, dead-lettering.
 */
import { encodeBasicProperties, type BasicProperties } from '../codec/index.js';
import { prepareMessage, type Message, type QueueEntry } from './message.js';
import { Enqueued, type Queue } from './queue.js';
import type { Vhost } from './vhost.js';

export { Decimal, type BasicProperties, type FieldTable, type FieldValue } from '../codec/index.js';

/** What a publish did. */
export interface ApiPublishOutcome {
  /** True when at least one queue (or a delayed exchange) took the message. */
  routed: boolean;
  /** True when it was written to a message store: the caller waits for vhost.syncMessages before answering. */
  persisted: boolean;
}

/** Publishes one message as `username`; throws the AmqpError a channel would close with. */
export function publishFromApi(
  vhost: Vhost,
  target: { exchange: string; routingKey: string },
  properties: BasicProperties,
  body: Buffer,
  username: string,
): ApiPublishOutcome {
  const exchange = vhost.exchangeForPublish(target.exchange);
  vhost.stats.publish++;
  const message = prepareMessage(target.exchange, target.routingKey, encodeBasicProperties(properties), body, username);
  const held = vhost.delayedMessages.hold(exchange, message);
  if (held !== undefined) return { routed: true, persisted: held.persisted };
  let routed = false;
  let persisted = false;
  for (const queue of vhost.route(exchange, message, [])) {
    if (queue.deleted) continue;
    const outcome = queue.enqueue(message);
    routed ||= outcome !== Enqueued.rejected;
    persisted ||= outcome === Enqueued.persisted;
  }
  if (!routed) vhost.stats.dropUnroutable++;
  return { routed, persisted };
}

/** How /get settles what it took: RabbitMQ's ackmode values. */
export type ApiGetAckMode = 'ack_requeue_true' | 'ack_requeue_false' | 'reject_requeue_true' | 'reject_requeue_false';

/** One message taken by /get, with the count of ready messages left after it. */
export interface ApiGotMessage {
  message: Message;
  redelivered: boolean;
  deliveryCount: number;
  messageCount: number;
}

/**
 * Takes up to `count` messages and settles them as `ackMode` says: requeued (marked redelivered, as
 * RabbitMQ does), acknowledged, or rejected (dead-lettered when the queue has a dead-letter exchange).
 */
export function getFromApi(vhost: Vhost, queue: Queue, count: number, ackMode: ApiGetAckMode): ApiGotMessage[] {
  const taken: QueueEntry[] = [];
  const got: ApiGotMessage[] = [];
  for (let i = 0; i < count; i++) {
    const entry = queue.get();
    if (entry === undefined) break;
    taken.push(entry);
    vhost.stats.get++;
    if (entry.redelivered) vhost.stats.redeliver++;
    got.push({ message: entry.message, redelivered: entry.redelivered, deliveryCount: entry.deliveryCount, messageCount: queue.messageCount });
  }
  if (ackMode === 'ack_requeue_true' || ackMode === 'reject_requeue_true') queue.requeue(taken);
  else if (ackMode === 'ack_requeue_false') {
    vhost.stats.ack += taken.length;
    for (const entry of taken) queue.settle(entry);
  }
  else for (const entry of taken) queue.reject(entry);
  return got;
}

/** What one round of a move did. */
export interface ApiMoveRound {
  /** Entries taken from the source and enqueued on the destination: settle them on the source once durable. */
  taken: QueueEntry[];
  /** True when the destination refused a message (x-overflow reject-publish): the move stops there. */
  refused: boolean;
}

/**
 * Moves up to `count` ready messages from the head of `source` to `destination`, unchanged (properties,
 * exchange and routing key kept), as enqueued by a publish: written to the destination's store when
 * persistent and durable, subject to its limits. The source's entries stay outstanding (unacked) until
 * the caller settles them, which it does once the destination's writes are durable, so a crash in
 * between duplicates a message rather than losing it. A message the destination would refuse stays
 * at the head of the source.
 */
export function moveFromApi(source: Queue, destination: Queue, count: number): ApiMoveRound {
  const taken: QueueEntry[] = [];
  while (taken.length < count && !source.deleted && !destination.deleted) {
    const entry = source.shift();
    if (entry === undefined) break;
    if (destination.refuses(entry.message)) {
      source.putBack([entry]);
      return { taken, refused: true };
    }
    destination.enqueue(entry.message);
    taken.push(entry);
  }
  return { taken, refused: false };
}
