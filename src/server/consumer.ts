/**
 * A basic.consume subscription: the bridge between a queue pushing messages and the channel that
 * encodes them, tracking how many of its deliveries are unacknowledged for per-consumer prefetch.
 */
import type { Consumer, DeliverySource, QueueEntry } from '../broker/message.js';
import type { Queue } from '../broker/queue.js';

/** What a consumer needs from its channel. */
export interface ConsumerHost {
  canDeliver(consumer: ChannelConsumer): boolean;
  deliver(consumer: ChannelConsumer, entry: QueueEntry): void;
  consumerCancelledByBroker(consumer: ChannelConsumer): void;
}

/** A consumer on a channel. */
export class ChannelConsumer implements Consumer {
  /** Deliveries to this consumer not yet acknowledged. */
  unackedCount = 0;

  constructor(
    readonly consumerTag: string,
    readonly queue: Queue,
    readonly noAck: boolean,
    readonly exclusive: boolean,
    /** Per-consumer prefetch limit (0 = unlimited), fixed when the consumer was created. */
    readonly prefetchCount: number,
    private readonly host: ConsumerHost,
    /** x-priority from the basic.consume arguments. */
    readonly priority = 0,
  ) {}

  canAccept(): boolean {
    return this.host.canDeliver(this);
  }

  deliver(_queue: DeliverySource, entry: QueueEntry): void {
    this.host.deliver(this, entry);
  }

  cancelledByBroker(): void {
    this.host.consumerCancelledByBroker(this);
  }
}
