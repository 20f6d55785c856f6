/**
 * RabbitMQ's consumer_timeout for one channel: a delivery left unacknowledged longer than its queue's
 * x-consumer-timeout (or the node's limit) closes the channel with 406, which returns its deliveries
 * to their queues. One timer per channel, armed for the earliest deadline only.
 */
import { preconditionFailed, type ChannelError } from '../broker/errors.js';
import { DeadlineTimer } from '../util/deadline-timer.js';
import type { Unacked, UnackedDelivery } from './unacked.js';

/** What the watch needs from its channel. */
export interface AckTimeoutHost {
  /** False once the channel is closing or closed: the watch then stops. */
  readonly active: boolean;
  /** Closes the channel with `error`. */
  fail(error: ChannelError): void;
}

/** Watches a channel's unacknowledged deliveries for their acknowledgement deadline. */
export class AckTimeoutWatch {
  private readonly timer = new DeadlineTimer(() => this.check());

  constructor(
    private readonly channelNumber: number,
    private readonly unacked: Unacked,
    private readonly defaultTimeoutMs: number,
    private readonly host: AckTimeoutHost,
  ) {}

  /** A delivery was added to the unacked set: arms the timer if none runs. */
  delivered(delivery: UnackedDelivery): void {
    // Per delivery: only the first one while no timer runs pays for computing a deadline.
    if (!this.timer.armed) this.timer.armBy(delivery.deliveredAt + this.timeoutOf(delivery));
  }

  /** Stops the timer (the channel is going away). */
  stop(): void {
    this.timer.clear();
  }

  private timeoutOf(delivery: UnackedDelivery): number {
    return delivery.queue.settings.consumerTimeout ?? this.defaultTimeoutMs;
  }

  private check(): void {
    if (!this.host.active) return;
    const now = Date.now();
    let next = Number.POSITIVE_INFINITY;
    for (const delivery of this.unacked.values()) {
      const timeoutMs = this.timeoutOf(delivery);
      const deadline = delivery.deliveredAt + timeoutMs;
      if (deadline <= now) {
        this.host.fail(preconditionFailed(
          `delivery acknowledgement on channel ${this.channelNumber} timed out. Timeout value used: ${timeoutMs} ms. ` +
            'This timeout value can be configured, see consumers doc guide to learn more',
        ));
        return;
      }
      next = Math.min(next, deadline);
    }
    if (next !== Number.POSITIVE_INFINITY) this.timer.armBy(next);
  }
}
