/**
 * One timer that does not keep the process alive, armed for a deadline: either the earliest of the
 * deadlines asked for (armBy), or restarted from now (restart). Replaces a field pair of timer and
 * time that callers would otherwise keep in step by hand.
 */

/** A single unref'd timeout with its deadline. */
export class DeadlineTimer {
  private timer: NodeJS.Timeout | undefined;
  private at = 0;

  constructor(private readonly onDue: () => void) {}

  /** True while a deadline is pending. */
  get armed(): boolean {
    return this.timer !== undefined;
  }

  /** Arms for `at` (ms since the epoch) unless already armed for that time or earlier. */
  armBy(at: number): void {
    if (this.timer !== undefined && this.at <= at) return;
    this.start(at);
  }

  /** Arms for `delayMs` from now, replacing whatever was armed. */
  restart(delayMs: number): void {
    this.start(Date.now() + delayMs);
  }

  /** Disarms it. */
  clear(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private start(at: number): void {
    this.clear();
    this.at = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.onDue();
    }, Math.max(0, at - Date.now()));
    this.timer.unref();
  }
}
