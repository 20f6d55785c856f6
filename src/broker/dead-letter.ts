/**
 * Dead-lettering as RabbitMQ does it: the message a queue discards is republished to the queue's
 * dead-letter exchange with an `x-death` header recording why, where and how often, and RabbitMQ's
 * rule against endless cycles.
 */
import { encodeBasicProperties, type FieldTable, type FieldValue } from '../codec/index.js';
import { integerValue, isTable } from './arguments.js';
import { Message, routingKeysOf } from './message.js';

/** Why a queue discarded a message (the x-death `reason`). */
export type DeadLetterReason = 'rejected' | 'expired' | 'maxlen' | 'delivery_limit';

/** Where a dead-lettered message goes. */
export interface DeadLetterTarget {
  /** The dead-letter exchange. */
  exchange: string;
  /** x-dead-letter-routing-key; without it the message keeps its routing key and CC keys. */
  routingKey: string | undefined;
}

/**
 * The message to publish to the dead-letter exchange: x-death updated (a repeated queue and reason
 * counts up and moves to the front; count is a long, as RabbitMQ sends it; a dead-letter routing key
 * drops the CC header; the first death also sets x-first-death-*), expiration removed
 * (kept in x-death as original-expiration), every other property and the body unchanged.
 */
export function deadLetteredMessage(message: Message, queue: string, reason: DeadLetterReason, target: DeadLetterTarget, now: Date): Message {
  const properties = message.properties;
  const headers: FieldTable = { ...properties.headers };
  const deaths = deathsOf(headers);
  const matching = deaths.findIndex((death) => death['queue'] === queue && death['reason'] === reason);
  let death: FieldTable;
  if (matching >= 0) {
    const previous = deaths[matching] as FieldTable;
    death = { ...previous, count: BigInt(countOf(previous) + 1) };
    deaths.splice(matching, 1);
  } else {
    death = {
      count: 1n,
      reason,
      queue,
      time: now,
      exchange: message.exchange,
      'routing-keys': originalRoutingKeys(message, headers),
      ...(properties.expiration === undefined ? {} : { 'original-expiration': properties.expiration }),
    };
  }
  if (headers['x-death'] === undefined) {
    headers['x-first-death-reason'] = reason;
    headers['x-first-death-queue'] = queue;
    headers['x-first-death-exchange'] = message.exchange;
  }
  headers['x-death'] = [death, ...deaths];
  // The delivery count belongs to the queue the message leaves (RabbitMQ adds it on delivery only).
  delete headers['x-delivery-count'];
  // A replaced routing key replaces the CC keys too: RabbitMQ deletes the CC header.
  if (target.routingKey !== undefined) delete headers['CC'];
  const { expiration: _expiration, ...kept } = properties;
  const routingKey = target.routingKey ?? message.routingKey;
  const extraKeys = target.routingKey === undefined ? message.extraRoutingKeys : [];
  return new Message(target.exchange, routingKey, encodeBasicProperties({ ...kept, headers }), message.body, extraKeys);
}

/**
 * RabbitMQ drops a dead-lettered message that would reach a queue it already died in, unless a
 * rejection happened somewhere in that cycle (a consumer is then deciding, not a timer or a limit).
 */
export function isDeadLetterCycle(message: Message, reason: DeadLetterReason, destinationQueue: string): boolean {
  if (reason === 'rejected') return false;
  const deaths = deathsOf(message.properties.headers ?? {});
  const at = deaths.findIndex((death) => death['queue'] === destinationQueue);
  if (at < 0) return false;
  return deaths.slice(0, at + 1).every((death) => death['reason'] !== 'rejected');
}

function deathsOf(headers: FieldTable): FieldTable[] {
  const value = headers['x-death'];
  if (!Array.isArray(value)) return [];
  return value.filter((item): item is FieldTable => isTable(item)).map((death) => normaliseStrings(death));
}

/** Clients may send longstr values as bytes; compare and re-send them as strings. */
function normaliseStrings(table: FieldTable): FieldTable {
  const result: FieldTable = {};
  for (const [key, value] of Object.entries(table)) result[key] = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  return result;
}

function countOf(death: FieldTable): number {
  return integerValue(death['count']) ?? 0;
}

/** The routing key plus the CC header's keys (BCC never reaches a stored message). */
function originalRoutingKeys(message: Message, headers: FieldTable): FieldValue[] {
  return [message.routingKey, ...routingKeysOf(headers['CC'])];
}
