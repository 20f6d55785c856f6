/**
 * A published message as the broker holds it: properties stay in their wire encoding so deliveries
 * copy them verbatim; they are decoded only when routing or a queue feature needs them.
 */
import { decodeBasicProperties, type BasicProperties } from '../codec/index.js';

/** One message, shared by every queue it was routed to. */
export class Message {
  private decodedProperties: BasicProperties | undefined;

  constructor(
    /** Exchange the message was published to. */
    readonly exchange: string,
    /** Routing key it was published with. */
    readonly routingKey: string,
    /** Property flags and list exactly as received. */
    readonly rawProperties: Buffer,
    /** Message body. */
    readonly body: Buffer,
  ) {}

  /** The decoded basic properties (decoded once, on first use). */
  get properties(): BasicProperties {
    this.decodedProperties ??= decodeBasicProperties(this.rawProperties);
    return this.decodedProperties;
  }
}

/** A message's place in one queue. */
export interface QueueEntry {
  readonly message: Message;
  /** Position in the queue, increasing with each enqueue; requeued entries keep theirs. */
  readonly sequence: number;
  /** True once the entry has been delivered and returned to the queue. */
  redelivered: boolean;
}

/** Someone a queue pushes messages to: a basic.consume subscription on a channel. */
export interface Consumer {
  readonly consumerTag: string;
  readonly exclusive: boolean;
  /** Whether a delivery may be pushed now (prefetch limits, channel flow, socket backpressure). */
  canAccept(): boolean;
  /** Takes one entry from the queue; called only when canAccept() returned true. */
  deliver(queue: DeliverySource, entry: QueueEntry): void;
  /** The queue went away; the consumer is already removed from it. */
  cancelledByBroker(): void;
}

/** The side of a queue a consumer or channel sees: where entries come from and go back to. */
export interface DeliverySource {
  readonly name: string;
  /** Returns delivered entries to the queue at their original positions, marked redelivered. */
  requeue(entries: readonly QueueEntry[]): void;
  /** Tells the queue that one of its consumers may accept deliveries again. */
  dispatch(): void;
  /** Records that a delivered entry was acknowledged (or dropped) and will not come back. */
  settle(entry: QueueEntry): void;
}
