/**
 * Watches the data directory's file system: free space below the limit, or a message store that
 * failed to write, raises the disk alarm (publishers blocked); it clears when space is back and a
 * write round succeeds again.
 */
import { statfsSync } from 'node:fs';
import type { Logger } from '../util/logger.js';
import type { ResourceAlarm } from '../broker/resource-alarm.js';

/** What the monitor needs: where to look, what to raise, and how to probe the message store. */
export interface DiskMonitorOptions {
  dataDir: string;
  freeLimitBytes: number;
  intervalMs: number;
  alarms: ResourceAlarm;
  logger: Logger;
  /** Asks the message store for a write round; the callback reports whether it failed. */
  probeStore(onDone: (error: Error | undefined) => void): void;
}

/** Periodic disk checks for one node. */
export class DiskMonitor {
  private timer: NodeJS.Timeout | undefined;
  private storeError: Error | undefined;
  private lowOnDisk = false;

  constructor(private readonly options: DiskMonitorOptions) {}

  /** Starts checking every intervalMs (and once now). */
  start(): this {
    this.check();
    this.timer = setInterval(() => this.check(), this.options.intervalMs);
    this.timer.unref();
    return this;
  }

  /** Stops checking. */
  stop(): void {
    clearInterval(this.timer);
  }

  /** Records the outcome of a message store write round (from any caller). */
  storeResult(error: Error | undefined): void {
    if (error !== undefined && this.storeError === undefined) {
      this.options.logger.error({ error: error.message }, 'message store write failed, blocking publishers');
    }
    this.storeError = error;
    this.update();
  }

  private check(): void {
    try {
      const stats = statfsSync(this.options.dataDir);
      const freeBytes = stats.bavail * stats.bsize;
      const low = freeBytes < this.options.freeLimitBytes;
      if (low !== this.lowOnDisk) this.options.logger.warn({ freeBytes, limitBytes: this.options.freeLimitBytes }, low ? 'disk free space below the limit' : 'disk free space back above the limit');
      this.lowOnDisk = low;
    } catch (error) {
      this.options.logger.warn({ error: String(error) }, 'could not read disk free space');
    }
    // A failing store is probed with a fresh write round, which also retries what it could not write.
    if (this.storeError !== undefined) this.options.probeStore((error) => this.storeResult(error));
    this.update();
  }

  private update(): void {
    const reason = this.storeError !== undefined ? 'disk error' : this.lowOnDisk ? 'low on disk' : undefined;
    this.options.alarms.setDiskAlarm(reason);
  }
}
