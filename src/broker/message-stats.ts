/**
 * Message counters of one vhost, by RabbitMQ's message_stats names: what came in, went out, was
 * acknowledged, confirmed, redelivered or could not be routed. Plain integers bumped on the hot paths
 * (no allocation); the management API and /metrics read and sum them, and derive rates by sampling.
 */

/** The counters, since the node started. */
export class MessageStats {
  /** Messages published (basic.publish, and the HTTP API's publish). */
  publish = 0;
  /** Deliveries to consumers that must acknowledge. */
  deliver = 0;
  /** Deliveries to no-ack consumers. */
  deliverNoAck = 0;
  /** basic.get answers that must be acknowledged. */
  get = 0;
  /** basic.get answers with no-ack. */
  getNoAck = 0;
  /** Deliveries acknowledged. */
  ack = 0;
  /** Deliveries (and gets) of messages delivered before. */
  redeliver = 0;
  /** Publishes confirmed to their publisher (basic.ack of confirm mode). */
  confirm = 0;
  /** Mandatory publishes returned because no queue took them. */
  returnUnroutable = 0;
  /** Publishes dropped because no queue took them. */
  dropUnroutable = 0;
}

/** The counters' names, for code that walks them (sums, rates, exposition). */
export const MESSAGE_STAT_NAMES = [
  'publish', 'deliver', 'deliverNoAck', 'get', 'getNoAck', 'ack', 'redeliver', 'confirm', 'returnUnroutable', 'dropUnroutable',
] as const satisfies readonly (keyof MessageStats)[];

/** One counter's name. */
export type MessageStatName = (typeof MESSAGE_STAT_NAMES)[number];

/** The sum of several vhosts' counters. */
export function sumMessageStats(all: Iterable<MessageStats>): MessageStats {
  const sum = new MessageStats();
  for (const stats of all) for (const name of MESSAGE_STAT_NAMES) sum[name] += stats[name];
  return sum;
}
