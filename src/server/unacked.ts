/**
 * The deliveries a channel has sent and not yet had acknowledged, by delivery tag. A Map keeps
 * insertion order, and tags only grow, so "every tag up to N" is a walk from the front.
 */
import { preconditionFailed } from '../broker/errors.js';
import type { QueueEntry } from '../broker/message.js';
import type { Queue } from '../broker/queue.js';
import type { ChannelConsumer } from './consumer.js';

/** One unacknowledged delivery. */
export interface UnackedDelivery {
  queue: Queue;
  entry: QueueEntry;
  /** The consumer it went to; undefined for basic.get. */
  consumer: ChannelConsumer | undefined;
  deliveryTag: number;
  /** When it was sent (ms since the epoch), for the acknowledgement timeout. */
  deliveredAt: number;
}

/** The unacked set of one channel. */
export class Unacked {
  private deliveries = new Map<number, UnackedDelivery>();
  /**
   * Tags of deliveries the broker took back (management requeue): the client's later ack, nack or reject
   * of one is ignored instead of being an unknown tag. Created on first use; a tag leaves once named.
   */
  private revoked: Set<number> | undefined;

  /** Number of unacknowledged deliveries. */
  get size(): number {
    return this.deliveries.size;
  }

  /** The deliveries, oldest first. */
  values(): IterableIterator<UnackedDelivery> {
    return this.deliveries.values();
  }

  /** Records a delivery. */
  add(delivery: UnackedDelivery): void {
    this.deliveries.set(delivery.deliveryTag, delivery);
  }

  /**
   * Removes and returns the deliveries an ack/nack/reject names: one tag, or with multiple every tag
   * up to it (tag 0 with multiple means all). An unknown tag is a 406 channel error.
   */
  take(deliveryTag: number, multiple: boolean): UnackedDelivery[] {
    if (!multiple) {
      const delivery = this.deliveries.get(deliveryTag);
      if (delivery === undefined) {
        if (this.revoked?.delete(deliveryTag) === true) return [];
        throw preconditionFailed(`unknown delivery tag ${deliveryTag}`);
      }
      this.deliveries.delete(deliveryTag);
      return [delivery];
    }
    // RabbitMQ insists that the named tag itself be outstanding, even when lower tags are.
    if (deliveryTag !== 0 && !this.deliveries.has(deliveryTag) && this.revoked?.has(deliveryTag) !== true) {
      throw preconditionFailed(`unknown delivery tag ${deliveryTag}`);
    }
    if (this.revoked !== undefined) for (const tag of this.revoked) if (deliveryTag === 0 || tag <= deliveryTag) this.revoked.delete(tag);
    const taken: UnackedDelivery[] = [];
    for (const delivery of this.deliveries.values()) {
      if (deliveryTag !== 0 && delivery.deliveryTag > deliveryTag) break;
      taken.push(delivery);
      this.deliveries.delete(delivery.deliveryTag);
    }
    return taken;
  }

  /** Takes a delivery back for the broker (management requeue); later settlements of its tag are ignored. */
  revoke(deliveryTag: number): UnackedDelivery | undefined {
    const delivery = this.deliveries.get(deliveryTag);
    if (delivery === undefined) return undefined;
    this.deliveries.delete(deliveryTag);
    (this.revoked ??= new Set()).add(deliveryTag);
    return delivery;
  }

  /** Puts deliveries back (tx.rollback), keeping tag order. */
  restore(deliveries: readonly UnackedDelivery[]): void {
    const all = [...this.deliveries.values(), ...deliveries];
    all.sort((a, b) => a.deliveryTag - b.deliveryTag);
    this.deliveries = new Map(all.map((delivery) => [delivery.deliveryTag, delivery]));
  }
}

/** Returns deliveries to their queues, one requeue call per queue. */
export function requeueDeliveries(deliveries: readonly UnackedDelivery[]): void {
  if (deliveries.length === 0) return;
  const byQueue = new Map<Queue, QueueEntry[]>();
  for (const { queue, entry } of deliveries) {
    const list = byQueue.get(queue);
    if (list === undefined) byQueue.set(queue, [entry]);
    else list.push(entry);
  }
  for (const [queue, entries] of byQueue) queue.requeue(entries);
}
