/**
 * A Clock for tests: time stands still until the test advances it. advanceTo() runs the timers that
 * fall due on the way, in time order (timers due at the same instant together, as two keepers woken
 * by one slot are), and awaits what each returns, so the work a moment triggers is done when it resolves.
 */
import type { Clock, ClockTimer } from '../../src/tasks/clock.js';

interface PendingTimer {
  dueAt: number;
  callback: () => unknown;
  cancelled: boolean;
}

/** Simulated time for keepers under test. */
export class ManualClock implements Clock {
  private timers: PendingTimer[] = [];

  constructor(private time: number) {}

  now(): number {
    return this.time;
  }

  setTimer(callback: () => unknown, delayMs: number): ClockTimer {
    const timer: PendingTimer = { dueAt: this.time + Math.max(0, delayMs), callback, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => (timer.cancelled = true) };
  }

  /** Moves time forward to `at`, running every timer due by then. */
  async advanceTo(at: number): Promise<void> {
    for (;;) {
      this.timers = this.timers.filter((timer) => !timer.cancelled);
      const next = Math.min(...this.timers.map((timer) => timer.dueAt));
      if (!(next <= at)) break;
      this.time = Math.max(this.time, next);
      const due = this.timers.filter((timer) => timer.dueAt <= this.time);
      this.timers = this.timers.filter((timer) => timer.dueAt > this.time);
      await Promise.all(due.map((timer) => (timer.cancelled ? undefined : timer.callback())));
    }
    this.time = Math.max(this.time, at);
  }

  /** Moves time forward by `ms`. */
  advance(ms: number): Promise<void> {
    return this.advanceTo(this.time + ms);
  }
}
