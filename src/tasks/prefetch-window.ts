/**
 * How many deliveries a worker holds (its consumers' prefetch), when the user did not fix it.
 *
 * Celery's default holds 4 deliveries per handler slot, and acks each as its handler starts. A Warren
 * worker acks a delivery only once its outcome is confirmed by the broker (an fsync away), so a
 * delivery whose handler has ended still holds its place in the window for that long. With short
 * handlers most of a fixed window is then outcomes in flight, and the handlers wait for deliveries.
 * So the window is the base (4 per slot) plus twice the deliveries that were recording their outcome,
 * on average, over the last period: once for the outcomes in flight, and once more for the deliveries
 * on their way to replace them (each ack takes another broker round trip to bring the next delivery,
 * about as long as a confirm). 4 per slot then still wait or run, as with Celery, and long tasks (whose
 * outcomes are rarely in flight) keep the base window and are shared with other workers as before.
 * (Measured with no-op tasks at concurrency 1: once the recording deliveries gave 9-10k tasks/s, a
 * window of about 13; twice gave 13-14k, near the cap.)
 *
 * A consumer's prefetch cannot change while it consumes (RabbitMQ applies basic.qos to consumers
 * created after it, and refuses global qos by default since 4.3), so the worker moves to a new
 * consumer with the new prefetch; this class only says when, and to what size.
 */

/**
 * The window may grow every this many deliveries (the average so far says so), so that a new worker of
 * short tasks reaches its window within a few hundred deliveries...
 */
export const GROW_CHECK_DELIVERIES = 64;
/**
 * ...and shrink only at the end of a period of this many deliveries, or of PERIOD_MS with at least
 * PERIOD_DELIVERIES_MIN (slow tasks): over fewer, a pause (a GC, a busy broker) would read as a drop
 * and move the consumers back and forth.
 */
export const PERIOD_DELIVERIES = 512;
export const PERIOD_MS = 1000;
const PERIOD_DELIVERIES_MIN = 8;
/**
 * The window shrinks only once every period for at least this long wanted at most 1/SHRINK_FACTOR of
 * it, and then to the most any of those periods wanted. A period of PERIOD_DELIVERIES is 17 ms at
 * 30,000 tasks/s: a scavenge, or a moment with the queue empty (the worker ahead of its submitters),
 * made a busy worker's window shrink and move its consumers back up several times a second (480, 218,
 * 480, 200, 480 within two seconds at concurrency 8), its handlers short of deliveries meanwhile. Long
 * tasks, whose periods last PERIOD_MS, still shrink at the end of their first low period.
 */
export const SHRINK_AFTER_MS = PERIOD_MS;
/** Deliveries the window holds for each delivery recording its outcome (see above). */
const WINDOW_PER_RECORDING = 2;
/** The window grows only to at least this many times its size (each move costs a new consumer)... */
const GROW_FACTOR = 1.25;
/** ...and shrinks only to at most 1/this of it. */
const SHRINK_FACTOR = 2;
/**
 * The window never grows past the base plus this many: outcomes in flight at about 45 000 tasks/s with
 * the 10 ms a busy broker takes from an outcome's publish to its confirm and the next delivery. 64, the
 * limit first, held a worker at concurrency 8 to about 21k tasks/s; 192 let it reach 22-27k. Once the
 * keeper's store cost less per task, 448 did better than 192 in three alternated pairs of
 * `npm run bench:tasks -- --only warren --tasks 100000 --concurrency 8,32` (concurrency 8: 23.0-25.5k
 * tasks/s against 21.4-23.0k; concurrency 32: 26.4-28.9k against 25.8-26.6k). More would not serve the
 * handlers but follow the latency: once the broker or the worker is the bottleneck, a larger window only
 * makes each outcome wait longer, which would read as more outcomes in flight and grow the window again.
 */
export const WINDOW_EXTRA_MAX = 448;

/** The adaptive prefetch window of one worker. */
export class PrefetchWindow {
  /** The prefetch the worker's consumers have now. */
  size: number;
  readonly #max: number;
  /** Deliveries held whose handler has ended and whose outcome is being recorded. */
  #recording = 0;
  /** Integral of #recording over the period so far (deliveries x ms), up to #changedAt. */
  #area = 0;
  #changedAt: number;
  #periodStart: number;
  #deliveries = 0;
  /** When the run of periods that wanted a smaller window began (undefined while the last one did not). */
  #lowSince: number | undefined;
  /** The largest size those periods wanted. */
  #lowPeak = 0;

  /**
   * `base`: the deliveries to keep waiting or running (concurrency x 4); `limit`: the largest prefetch
   * the protocol allows; `now`: the clock, in milliseconds.
   */
  constructor(
    readonly base: number,
    limit: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#changedAt = this.#periodStart = now();
    this.size = base;
    this.#max = Math.min(base + WINDOW_EXTRA_MAX, limit);
  }

  /** A delivery's handler has ended (or will not run): its outcome is being recorded. */
  recordingStarted(): void {
    this.#advance();
    this.#recording++;
  }

  /** A delivery whose outcome was being recorded is settled (acked, or given back). */
  recordingEnded(): void {
    this.#advance();
    this.#recording--;
  }

  /**
   * Counts a delivery; returns the new size when the window should change, else undefined: larger at
   * once (the base plus twice the time-weighted average of deliveries recording since the period
   * began), smaller only after SHRINK_AFTER_MS of periods that wanted less.
   */
  delivered(): number | undefined {
    const deliveries = ++this.#deliveries;
    // The clock is read every PERIOD_DELIVERIES_MIN deliveries only: this runs for every delivery.
    const periodEnds = deliveries >= PERIOD_DELIVERIES || (deliveries % PERIOD_DELIVERIES_MIN === 0 && this.now() - this.#periodStart >= PERIOD_MS);
    if (!periodEnds && deliveries % GROW_CHECK_DELIVERIES !== 0) return undefined;
    this.#advance();
    const elapsed = this.#changedAt - this.#periodStart;
    const average = elapsed > 0 ? this.#area / elapsed : this.#recording;
    const target = Math.min(this.#max, this.base + Math.ceil(WINDOW_PER_RECORDING * average));
    const grows = target >= this.size * GROW_FACTOR;
    if (!grows && !periodEnds) return undefined;
    const periodStart = this.#periodStart;
    this.#area = 0;
    this.#deliveries = 0;
    this.#periodStart = this.#changedAt;
    if (grows || target * SHRINK_FACTOR > this.size) {
      this.#lowSince = undefined;
      this.#lowPeak = 0;
      return grows ? target : undefined;
    }
    this.#lowSince ??= periodStart;
    this.#lowPeak = Math.max(this.#lowPeak, target);
    if (this.#changedAt - this.#lowSince < SHRINK_AFTER_MS) return undefined;
    const shrunk = this.#lowPeak;
    this.#lowSince = undefined;
    this.#lowPeak = 0;
    return shrunk;
  }

  #advance(): void {
    const now = this.now();
    this.#area += this.#recording * (now - this.#changedAt);
    this.#changedAt = now;
  }
}
