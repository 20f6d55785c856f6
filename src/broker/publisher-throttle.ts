/**
 * Publisher flow control for one queue. When the node is saturated and a queue's consumers are
 * behind, reading more publishes only grows the backlog and takes CPU from delivering, so the
 * connections publishing to that queue are paused until the backlog halves. This is Warren's
 * counterpart of RabbitMQ's credit flow: it engages only while the node is busy and the consumers
 * are making progress, so a queue whose consumers are merely slow (a work queue building a backlog
 * on purpose) or stuck never blocks its publishers for long.
 */

/** A publisher whose input the broker can pause. */
export interface Publisher {
  /** Stops taking input from this publisher until resumePublishing is called as many times. */
  pausePublishing(): void;
  /** Undoes one pausePublishing. */
  resumePublishing(): void;
}

/** The node-wide settings and load signal that drive publisher flow control. */
export interface FlowControlPolicy {
  /** Ready messages at which publishers to a queue that has consumers may be paused. */
  backlogHighWaterMessages: number;
  /** Ready messages at or below which paused publishers resume. */
  backlogLowWaterMessages: number;
  /** How often a queue with paused publishers checks that its consumers still make progress. */
  progressCheckMs: number;
  /**
   * Publishers stay paused only while the consumers would bring the backlog down to low water
   * within this time at their observed pace; slower consumers release them.
   */
  catchUpMs: number;
  /** True while the node cannot take input at full speed (its event loop is saturated). */
  isBusy(): boolean;
}

/** A policy that never pauses anyone. */
export const NO_FLOW_CONTROL: FlowControlPolicy = {
  backlogHighWaterMessages: Number.POSITIVE_INFINITY,
  backlogLowWaterMessages: Number.POSITIVE_INFINITY,
  progressCheckMs: 1000,
  catchUpMs: 0,
  isBusy: () => false,
};

/** What the throttle reads from its queue. */
export interface ThrottledQueue {
  readonly messageCount: number;
  readonly consumerCount: number;
}

/** The paused publishers of one queue. */
export class PublisherThrottle {
  private readonly paused = new Set<Publisher>();
  private timer: NodeJS.Timeout | undefined;
  private backlogAtLastCheck = 0;
  /** Set when the backlog stopped shrinking while publishers were paused; cleared once it is down to low water. */
  private stalled = false;

  constructor(
    private readonly policy: FlowControlPolicy,
    private readonly queue: ThrottledQueue,
  ) {}

  /** Number of publishers currently paused by this queue. */
  get pausedCount(): number {
    return this.paused.size;
  }

  /** Pauses the publisher if the node is busy and the queue's consumers are behind. */
  maybePause(publisher: Publisher): void {
    const { queue, policy } = this;
    if (queue.consumerCount === 0 || queue.messageCount < policy.backlogHighWaterMessages) return;
    if (this.stalled || this.paused.has(publisher) || !policy.isBusy()) return;
    this.paused.add(publisher);
    publisher.pausePublishing();
    if (this.timer === undefined) {
      // The rest of the chunk being parsed still lands in the queue, so the first check only takes a reading.
      this.backlogAtLastCheck = Number.POSITIVE_INFINITY;
      this.timer = setInterval(() => this.checkProgress(), policy.progressCheckMs);
      this.timer.unref();
    }
  }

  /** After deliveries: once the backlog is down to the low-water mark, paused publishers resume and a stall is over. */
  onDelivered(): void {
    if (this.queue.messageCount > this.policy.backlogLowWaterMessages) return;
    this.stalled = false;
    if (this.paused.size > 0) this.releaseAll();
  }

  /** Resumes every paused publisher (queue deleted or purged, consumers gone, no progress). */
  releaseAll(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.paused.size === 0) return;
    const publishers = [...this.paused];
    this.paused.clear();
    for (const publisher of publishers) publisher.resumePublishing();
  }

  /**
   * While its publishers are paused a queue's backlog must shrink fast enough to reach low water
   * within catchUpMs. If it does not (consumers slow, stuck, or requeueing what they get), or the
   * node is no longer busy, the publishers go free: flow control may slow them down, never hold them
   * hostage.
   */
  private checkProgress(): void {
    const backlog = this.queue.messageCount;
    const drainedPerCheck = this.backlogAtLastCheck - backlog;
    this.backlogAtLastCheck = backlog;
    const remaining = backlog - this.policy.backlogLowWaterMessages;
    const catchUpMs = drainedPerCheck > 0 ? (remaining / drainedPerCheck) * this.policy.progressCheckMs : Number.POSITIVE_INFINITY;
    if (catchUpMs > this.policy.catchUpMs || this.queue.consumerCount === 0) this.stalled = true;
    if (this.stalled || !this.policy.isBusy()) this.releaseAll();
  }
}
