/**
 * The 'queued' applies the SQLite store holds back so that a new task's row is written once, with its
 * outcome, instead of inserted as queued and updated a moment later.
 *
 * A busy keeper records a task's 'queued' event and its outcome tens to hundreds of milliseconds apart
 * (the task waits in its work queue meanwhile), in different commit rounds: an INSERT, then an UPDATE
 * that rewrites the row and moves it in the state index, which costs about three quarters of what the
 * INSERT does (docs/benchmarks.md, twelfth round). An apply the caller lets wait (ApplyOptions.mayWait:
 * the keeper's queued events from a submitter's batch) is kept here instead of committed; the round
 * that brings another event of its task commits both in one write, and one that is still alone after
 * HOLD_MS, or beyond HOLD_MAX held, is committed as before. The event's message stays unacknowledged meanwhile, so the broker still has
 * it should the keeper stop: holding loses nothing. Reads and close commit whatever is held first; a
 * keeper that closes waits for its messages' applies, so for at most HOLD_MS. Another connection to the
 * same file (a second keeper on it) sees a held event only once it is committed, at most HOLD_MS late.
 *
 * Holding pays only when the outcomes come within HOLD_MS. In a backlog (tasks submitted faster than
 * workers take them) they do not, and each held apply would only cost its keep and come out late; so
 * when most of the last RELEASES_PER_VERDICT held applies ran out of time, nothing new is held for
 * PAUSE_MS.
 */

/** An apply as the store queues it: the event's task id and kind, and a field this sets while it holds it. */
export interface HoldableApply {
  readonly event: { readonly id: string; readonly kind: string };
  readonly mayWait: boolean;
  /** When its hold ends (performance.now() time); set when it is held. */
  heldUntil: number;
}

/**
 * Longest a held apply waits for its task's next event, in ms: a task that waits longer in its queue (a
 * backlog, long tasks before it) gets its 'queued' row as before, this much later.
 */
export const HOLD_MS = 250;

/**
 * Most applies held at once; the ones past it are committed as they come. Each held apply is work put
 * off to its outcome's round, and its event is kept alive that long (the GC moves it to the old
 * generation): with 8192, a keeper behind a backlog (`npm run bench:tasks` at concurrency 1, where the
 * work queue grows to thousands) took about 4 us more CPU per task than without holding, and ended each
 * burst later; 4096 cost it nothing and kept the gain at concurrency 8 and 32 (2048 did no better).
 */
export const HOLD_MAX = 4096;

/** Held applies released (with their task's next event, or out of time) between two verdicts on holding. */
const RELEASES_PER_VERDICT = 512;

/**
 * How long nothing new is held after most held applies ran out of time, in ms: a hold's length, so that
 * holding resumes soon once a backlog is gone (1 s kept it off through all of a short busy spell after one).
 */
const PAUSE_MS = HOLD_MS;

/** Applies passed at the head of the order before the array is cut down to the rest. */
const COMPACT_AFTER = 1024;

/**
 * Held applies by task id, and in the order they were held. Most leave from the middle (their task's
 * next event came), so the order is an array read from `#head`, where an apply no longer held is
 * skipped when reached, not a walk of the Map from its start: V8 walks a new iterator past every entry
 * deleted since its last rehash, thousands of them in a busy round.
 */
export class HeldApplies<A extends HoldableApply> {
  readonly #held = new Map<string, A>();
  #order: A[] = [];
  #head = 0;
  /** Held applies released with their task's next event, and out of time, since the last verdict. */
  #merged = 0;
  #expired = 0;
  /** Until when nothing new is held (performance.now() time). */
  #pausedUntil = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly holdMs: number = HOLD_MS,
    private readonly max: number = HOLD_MAX,
  ) {}

  get size(): number {
    return this.#held.size;
  }

  /**
   * The applies of `taken` (a round's, in order) to commit now, at `now`: each after the held apply of
   * its task, if any (taken out of hold); without the ones held from `taken` (a 'queued' apply that may
   * wait, of a task `isKnown` does not know and none is held for); and after them, the held applies
   * whose time is up.
   */
  sift(taken: readonly A[], now: number, isKnown: (id: string) => boolean): A[] {
    const held = this.#held;
    const commit: A[] = [];
    const holding = now >= this.#pausedUntil;
    for (const apply of taken) {
      const { id, kind } = apply.event;
      const earlier = held.size === 0 ? undefined : held.get(id);
      if (earlier !== undefined) {
        held.delete(id);
        this.#merged++;
        commit.push(earlier);
      } else if (holding && apply.mayWait && kind === 'queued' && held.size < this.max && !isKnown(id)) {
        apply.heldUntil = now + this.holdMs;
        held.set(id, apply);
        this.#order.push(apply);
        continue;
      }
      commit.push(apply);
    }
    for (let oldest = this.#oldest(); oldest !== undefined && oldest.heldUntil <= now; oldest = this.#oldest()) {
      held.delete(oldest.event.id);
      this.#head++;
      this.#expired++;
      commit.push(oldest);
    }
    if (this.#merged + this.#expired >= RELEASES_PER_VERDICT) {
      if (this.#expired > this.#merged) this.#pausedUntil = now + PAUSE_MS;
      this.#merged = 0;
      this.#expired = 0;
    }
    return commit;
  }

  /** Every held apply, oldest first; none is held afterwards. */
  takeAll(): A[] {
    const all = [...this.#held.values()];
    this.#held.clear();
    this.#order = [];
    this.#head = 0;
    return all;
  }

  /** When the oldest held apply's time is up (undefined when none is held). */
  nextDue(): number | undefined {
    return this.#oldest()?.heldUntil;
  }

  /** The apply held longest, past the ones at the head of the order that are no longer held. */
  #oldest(): A | undefined {
    const order = this.#order;
    while (this.#head < order.length) {
      const apply = order[this.#head] as A;
      if (this.#held.get(apply.event.id) === apply) {
        // The passed part goes once it is most of the array, so that it neither grows nor keeps applies alive.
        if (this.#head >= COMPACT_AFTER && this.#head * 2 >= order.length) {
          this.#order = order.slice(this.#head);
          this.#head = 0;
        }
        return apply;
      }
      this.#head++;
    }
    this.#order = [];
    this.#head = 0;
    return undefined;
  }
}
