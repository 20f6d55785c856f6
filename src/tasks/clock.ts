/**
 * The keeper's sense of time, injectable so that tests drive schedules and idempotency windows through
 * simulated minutes and days without sleeping: `now()` and one-shot timers.
 */

/** A pending timer; cancel() is idempotent. */
export interface ClockTimer {
  cancel(): void;
}

/** Where the keeper reads the time and sets its timers. */
export interface Clock {
  /** The time, ms since the epoch. */
  now(): number;
  /**
   * Calls `callback` once, `delayMs` from now. The callback may return a promise: a test clock awaits it,
   * so that advancing simulated time runs the work that time triggers to its end.
   */
  setTimer(callback: () => unknown, delayMs: number): ClockTimer;
}

/** Node's timers cap a delay at 2^31 - 1 ms; longer waits are re-armed by their owner. */
const TIMER_DELAY_MAX_MS = 2_147_483_647;

/** The real clock: Date.now() and unref'd setTimeout (a pending timer never keeps the process alive). */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer(callback, delayMs) {
    const timer = setTimeout(() => void callback(), Math.min(Math.max(0, delayMs), TIMER_DELAY_MAX_MS));
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
