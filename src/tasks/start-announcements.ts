/**
 * When the 'started' events of a worker's attempts are due: one timer for all attempts instead of a
 * timer set and cleared per attempt (most handlers finish long before their announcement is due, and
 * then it is never made). Every attempt waits the same delay, so attempts queue in the order their
 * handlers started and the head is always the next one due; an attempt whose handler has finished is
 * dropped when it reaches the head. Times are on the monotonic clock, so a wall-clock step cannot hold
 * announcements back or bring them forward.
 */
import { Deque } from '../util/deque.js';

/** An attempt waiting for its 'started' event. */
export interface AnnouncedAttempt {
  /** performance.now() at which its 'started' event is due. */
  readonly announceDueAt: number;
  /** False once its handler finished (or was given up on): no announcement is made any more. */
  readonly handlerRunning: boolean;
  /** Publishes its 'started' event (at most once). */
  announceStart(): void;
}

/** The attempts of one worker whose 'started' event is not due yet. */
export class StartAnnouncements {
  private readonly waiting = new Deque<AnnouncedAttempt>();
  private timer: NodeJS.Timeout | undefined;

  /** Queues `attempt`, whose handler has just started (its due time is after every queued one). */
  add(attempt: AnnouncedAttempt): void {
    this.waiting.push(attempt);
    if (this.timer === undefined) this.arm(attempt.announceDueAt);
  }

  /**
   * Drops the attempts at the tail whose handler has ended. Handlers that return at once end last-in,
   * first-out, so a worker of quick handlers keeps no attempt (with its message) alive here for the
   * delay; the timer, if armed, is left to fire into an empty queue rather than set and cleared per attempt.
   */
  dropEnded(): void {
    for (let last = this.waiting.at(this.waiting.length - 1); last !== undefined && !last.handlerRunning; last = this.waiting.at(this.waiting.length - 1)) {
      this.waiting.removeAt(this.waiting.length - 1);
    }
  }

  private arm(dueAt: number): void {
    // Not kept alive by this timer: a running handler's worker has its connection open anyway.
    this.timer = setTimeout(this.announceDue, Math.max(1, Math.ceil(dueAt - performance.now())));
    this.timer.unref();
  }

  private readonly announceDue = (): void => {
    this.timer = undefined;
    const now = performance.now();
    for (let head = this.waiting.peek(); head !== undefined; head = this.waiting.peek()) {
      if (head.handlerRunning) {
        // A timer may fire a little early (it counts from the event loop's cached time): wait out the rest.
        if (head.announceDueAt > now) return this.arm(head.announceDueAt);
        head.announceStart();
      }
      this.waiting.shift();
    }
  };
}
