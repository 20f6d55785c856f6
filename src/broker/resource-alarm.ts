/**
 * Resource alarms, as RabbitMQ raises them: memory and disk. The broker counts the bytes of message
 * bodies its queues hold in memory (a message in three queues counts three times: a conservative
 * figure); past the memory watermark, or while the disk is nearly full or failing, every connection
 * that publishes is blocked (connection.blocked, then no more input) until the alarm clears, while
 * consumers keep draining.
 */

/** A connection that publishes and can be blocked. */
export interface BlockablePublisher {
  blockPublishing(reason: string): void;
  unblockPublishing(): void;
}

/** Node-wide accounting of held message bytes, the disk alarm, and the publishers blocked for them. */
export class ResourceAlarm {
  /** Bytes of message bodies held by queues in memory (ready or delivered and unacknowledged). */
  heldBytes = 0;
  /** Why the disk alarm is on ('low on disk', 'disk error'), or undefined. */
  private diskReason: string | undefined;
  private readonly blocked = new Set<BlockablePublisher>();

  constructor(
    private readonly highWatermarkBytes: number,
    /** Ready messages a queue keeps in memory; persistent ones beyond stay on disk until they near the head. */
    readonly queueWindowMessages = Number.POSITIVE_INFINITY,
  ) {}

  /** True while any alarm is on. */
  get active(): boolean {
    return this.diskReason !== undefined || this.heldBytes >= this.highWatermarkBytes;
  }

  /** The alarms on, in RabbitMQ's terms ('memory', 'disk'), for health checks. */
  get activeAlarms(): ('memory' | 'disk')[] {
    const alarms: ('memory' | 'disk')[] = [];
    if (this.heldBytes >= this.highWatermarkBytes) alarms.push('memory');
    if (this.diskReason !== undefined) alarms.push('disk');
    return alarms;
  }

  /** Bytes came in (positive) or went (negative); leaving the alarm unblocks every blocked publisher. */
  held(deltaBytes: number): void {
    this.heldBytes += deltaBytes;
    if (deltaBytes < 0 && this.blocked.size > 0 && !this.active) this.releaseAll();
  }

  /** Sets or clears the disk alarm (reason undefined clears it). */
  setDiskAlarm(reason: string | undefined): void {
    this.diskReason = reason;
    if (reason === undefined && this.blocked.size > 0 && !this.active) this.releaseAll();
  }

  /** Called after a publish: blocks its connection while an alarm is on. */
  checkPublisher(publisher: BlockablePublisher): void {
    if (!this.active || this.blocked.has(publisher)) return;
    this.blocked.add(publisher);
    publisher.blockPublishing(this.diskReason ?? 'low on memory');
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
