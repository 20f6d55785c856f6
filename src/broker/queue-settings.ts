/**
 * The queue features its declare arguments switch on (TTL, expiry, dead-lettering, length limits,
 * priorities, single active consumer, delivery limit, acknowledgement timeout), read once from the
 * validated x-arguments into plain fields the hot paths can test cheaply.
 */
import type { FieldTable } from '../codec/index.js';
import { integerValue, stringValue } from './arguments.js';

/** What a queue does when a publish would take it past x-max-length or x-max-length-bytes. */
export type OverflowMode = 'drop-head' | 'reject-publish' | 'reject-publish-dlx';

/** A queue's feature settings; undefined means the feature is off. */
export interface QueueSettings {
  /** x-message-ttl: milliseconds a message may wait in the queue. */
  readonly messageTtl: number | undefined;
  /** x-expires: milliseconds without consumers, basic.get or redeclare after which the queue is deleted. */
  readonly expires: number | undefined;
  /** x-dead-letter-exchange (the empty string is the default exchange). */
  readonly deadLetterExchange: string | undefined;
  /** x-dead-letter-routing-key; without it a dead-lettered message keeps its routing keys. */
  readonly deadLetterRoutingKey: string | undefined;
  readonly maxLength: number | undefined;
  readonly maxLengthBytes: number | undefined;
  readonly overflow: OverflowMode;
  /** True when x-overflow was given (a policy's overflow applies only otherwise). */
  readonly overflowFromArguments: boolean;
  /** x-max-priority: the highest priority the queue distinguishes. */
  readonly maxPriority: number | undefined;
  readonly singleActiveConsumer: boolean;
  /** x-delivery-limit: returns to the queue after which a message is dead-lettered instead. */
  readonly deliveryLimit: number | undefined;
  /** x-consumer-timeout: milliseconds a delivery may stay unacknowledged. */
  readonly consumerTimeout: number | undefined;
}

/** Reads the settings from arguments already checked by validateQueueArguments. */
export function queueSettings(args: FieldTable): QueueSettings {
  return {
    messageTtl: integerValue(args['x-message-ttl']),
    expires: integerValue(args['x-expires']),
    deadLetterExchange: stringValue(args['x-dead-letter-exchange']),
    deadLetterRoutingKey: stringValue(args['x-dead-letter-routing-key']),
    maxLength: integerValue(args['x-max-length']),
    maxLengthBytes: integerValue(args['x-max-length-bytes']),
    overflow: (stringValue(args['x-overflow']) as OverflowMode | undefined) ?? 'drop-head',
    overflowFromArguments: args['x-overflow'] !== undefined,
    maxPriority: integerValue(args['x-max-priority']),
    singleActiveConsumer: args['x-single-active-consumer'] === true,
    deliveryLimit: integerValue(args['x-delivery-limit']),
    consumerTimeout: integerValue(args['x-consumer-timeout']),
  };
}
