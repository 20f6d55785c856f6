/**
 * Which runs of which tasks were seen lately: at least the last `capacity / 2` added, and at most the
 * last `capacity`. Two generations of a plain Map (task id -> run), the older dropped whole when the
 * newer fills up, so an add is one Map set and a check at most two gets: no key is built per run, no
 * entry is deleted one by one, and no order is kept besides (a Map of 100 000 entries with an order
 * kept beside it took 0.5 us per run counted; this takes 0.17, in a keeper that counts every task).
 * A task's later run replaces its earlier one: the keeper asks about the record a terminal event left,
 * whose run is the task's latest, so a late event of an earlier run asks about the later run.
 */
export class RecentRuns {
  #newer = new Map<string, number>();
  #older = new Map<string, number>();

  constructor(private readonly capacity: number) {}

  /** Whether run `run` of task `id` was added and not forgotten yet. */
  has(id: string, run: number): boolean {
    return this.#newer.get(id) === run || this.#older.get(id) === run;
  }

  /** Adds run `run` of task `id`. */
  add(id: string, run: number): void {
    this.#newer.set(id, run);
    if (this.#newer.size >= this.capacity / 2) {
      this.#older = this.#newer;
      this.#newer = new Map();
    }
  }
}
