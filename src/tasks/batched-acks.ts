/**
 * Acknowledges one consumer channel's deliveries in batches: deliveries finish in any order, and once
 * per event-loop turn one `basic.ack` with `multiple` set covers every delivery up to the newest one
 * whose predecessors have all finished. A busy consumer then sends one ack frame (and one socket
 * write) per batch instead of one per delivery. A delivery that must go back to the queue is nacked
 * on its own at once.
 */
import type { AMQPChannel } from '@cloudamqp/amqp-client';

/** Pending delivery tags past this many settled at the front are compacted away. */
const COMPACT_AFTER = 1024;

/** The deliveries of one channel awaiting their ack. */
export class BatchedAcks {
  /** Delivery tags in the order they arrived (increasing), from `head` on still unacknowledged. */
  private tags: number[] = [];
  private head = 0;
  /** The newest tag the front has passed (acknowledged, or nacked on its own): 0 before any. */
  private passed = 0;
  /** Tags finished (to ack), not yet passed by the acknowledged front. */
  private readonly finished = new Set<number>();
  /** Tags nacked on their own, not yet passed by the front (never named in an ack: they are no longer outstanding). */
  private readonly requeued = new Set<number>();
  private flushScheduled = false;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly channel: AMQPChannel) {}

  /** Registers the delivery `deliveryTag` as it arrives (before any of its own work starts). */
  track(deliveryTag: number): void {
    this.tags.push(deliveryTag);
  }

  /** The delivery was handled: it is acknowledged with the next batch. */
  done(deliveryTag: number): void {
    this.finished.add(deliveryTag);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.flush();
    });
  }

  /**
   * The delivery goes back to its queue now (requeue), unless it was handled or given back already (a
   * second nack, or a nack of an acknowledged tag, would be a channel error); a failure to send is
   * ignored (the channel is gone).
   */
  async requeue(deliveryTag: number): Promise<void> {
    if (deliveryTag <= this.passed || this.finished.has(deliveryTag) || this.requeued.has(deliveryTag)) return;
    this.requeued.add(deliveryTag);
    await this.channel.basicNack(deliveryTag, true).catch(() => undefined);
  }

  /** Sends the ack the finished deliveries allow now; resolves once it was written (errors ignored: the channel is gone). */
  flush(): Promise<void> {
    let newest: number | undefined;
    while (this.head < this.tags.length) {
      const tag = this.tags[this.head] as number;
      if (this.finished.delete(tag)) newest = tag;
      else if (!this.requeued.delete(tag)) break;
      this.passed = tag;
      this.head++;
    }
    if (this.head >= COMPACT_AFTER) {
      this.tags = this.tags.slice(this.head);
      this.head = 0;
    }
    if (newest !== undefined) {
      // Not held back with coalesceWrites: flush runs from setImmediate, where a held write would wait a
      // whole event-loop turn. The ack joins the writes still held in this turn, if any, or goes out now.
      const sent = this.channel.basicAck(newest, true).catch(() => undefined);
      this.flushing = sent;
    }
    return this.flushing;
  }
}
