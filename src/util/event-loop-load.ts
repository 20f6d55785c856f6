/**
 * Samples how busy the event loop is (node:perf_hooks event-loop utilization) at a fixed interval,
 * so flow control can tell "the node is saturated" from "a consumer is slow".
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks';

/** The latest utilization sample, between 0 (idle) and 1 (never idle). */
export class EventLoopLoad {
  private last: EventLoopUtilization = performance.eventLoopUtilization();
  private timer: NodeJS.Timeout | undefined;
  /** Utilization over the latest sample interval. */
  utilization = 0;

  /** Starts sampling every intervalMs. */
  start(intervalMs: number): this {
    this.timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      this.utilization = performance.eventLoopUtilization(now, this.last).utilization;
      this.last = now;
    }, intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.timer);
  }
}
