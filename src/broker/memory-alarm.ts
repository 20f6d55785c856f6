/**
 * The memory high watermark. The broker counts the bytes of message bodies its queues hold (a
 * message in three queues counts three times: a conservative figure). Past the watermark, every
 * connection that publishes is blocked, as RabbitMQ does (connection.blocked, then no more input),
 * until consumers bring the figure back under it; consumers keep draining meanwhile.
 */

/** A connection that publishes and can be blocked. */
export interface BlockablePublisher {
  blockPublishing(reason: string): void;
  unblockPublishing(): void;
}

/** Node-wide accounting of held message bytes and the publishers blocked for it. */
export class MemoryAlarm {
  /** Bytes of message bodies held by queues (ready or delivered and unacknowledged). */
  heldBytes = 0;
  private readonly blocked = new Set<BlockablePublisher>();

  constructor(
    private readonly highWatermarkBytes: number,
    /** Ready messages a queue keeps in memory; persistent ones beyond stay on disk until they near the head. */
    readonly queueWindowMessages = Number.POSITIVE_INFINITY,
  ) {}

  /** True while held bytes are at or above the watermark. */
  get active(): boolean {
    return this.heldBytes >= this.highWatermarkBytes;
  }

  /** Bytes came in (positive) or went (negative); leaving the alarm unblocks every blocked publisher. */
  held(deltaBytes: number): void {
    this.heldBytes += deltaBytes;
    if (deltaBytes < 0 && this.blocked.size > 0 && !this.active) this.releaseAll();
  }

  /** Called after a publish: blocks its connection while the alarm is on. */
  checkPublisher(publisher: BlockablePublisher): void {
    if (!this.active || this.blocked.has(publisher)) return;
    this.blocked.add(publisher);
    publisher.blockPublishing('low on memory');
  }

  /** Forgets a publisher whose connection closed. */
  forget(publisher: BlockablePublisher): void {
    this.blocked.delete(publisher);
  }

  private releaseAll(): void {
    const publishers = [...this.blocked];
    this.blocked.clear();
    for (const publisher of publishers) publisher.unblockPublishing();
  }
}
