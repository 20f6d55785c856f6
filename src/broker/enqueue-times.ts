/**
 * When a queue's messages were enqueued, to a resolution of ENQUEUE_TIME_RESOLUTION_MS, without a
 * timestamp per message: a checkpoint (sequence number, time) is kept whenever that much time passed
 * since the last one, and a message's enqueue time is that of the last checkpoint at or before its
 * sequence number. Checkpoints older than the oldest message still in the queue are dropped, so
 * memory follows the time span the queue holds, not its length. After a restart the recovered
 * messages count as enqueued at the restart (as message TTL does).
 */

/** How far an enqueue time may be off (it is never later than the true one). */
export const ENQUEUE_TIME_RESOLUTION_MS = 100;

/** Enqueue-time checkpoints of one queue. */
export class EnqueueTimes {
  private sequences: number[] = [];
  private times: number[] = [];
  private lastAt = Number.NEGATIVE_INFINITY;

  /** Checkpoints kept. */
  get size(): number {
    return this.sequences.length;
  }

  /** Records an enqueue (cheap: a comparison, and a push once per resolution interval); true when it pushed a checkpoint. */
  note(sequence: number, now: number): boolean {
    if (now - this.lastAt < ENQUEUE_TIME_RESOLUTION_MS) return false;
    this.lastAt = now;
    this.sequences.push(sequence);
    this.times.push(now);
    return true;
  }

  /** When the message with `sequence` was enqueued (at most the resolution early), or undefined if unknown. */
  timeOf(sequence: number): number | undefined {
    let low = 0;
    let high = this.sequences.length - 1;
    let found = -1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      if ((this.sequences[middle] as number) <= sequence) {
        found = middle;
        low = middle + 1;
      } else high = middle - 1;
    }
    return found < 0 ? undefined : this.times[found];
  }

  /** Drops the checkpoints no message from `oldestSequence` on needs (all of them when undefined: the queue is empty). */
  forgetBefore(oldestSequence: number | undefined): void {
    if (oldestSequence === undefined) {
      if (this.sequences.length > 1) {
        this.sequences = this.sequences.slice(-1);
        this.times = this.times.slice(-1);
      }
      return;
    }
    let keepFrom = 0;
    while (keepFrom + 1 < this.sequences.length && (this.sequences[keepFrom + 1] as number) <= oldestSequence) keepFrom++;
    if (keepFrom > 0) {
      this.sequences.splice(0, keepFrom);
      this.times.splice(0, keepFrom);
    }
  }
}
