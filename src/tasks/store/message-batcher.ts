/**
 * One postMessage per event-loop turn between the main thread and the result store thread. A busy
 * keeper applies hundreds of events per turn; posting each call (and each answer) on its own costs a
 * message, a wake-up of the other thread and a structured clone each, where one array of them costs
 * one of each and a clone of the array.
 */

/** Collects messages added in one event-loop turn and posts them together, as one array. */
export class MessageBatcher<Message> {
  #batch: Message[] = [];
  #scheduled = false;
  readonly #flush = (): void => this.flush();

  /**
   * `post` sends a batch (it throws when a message cannot be cloned); `unsendable` hears of each message
   * that could not be sent even on its own, so that only its own call fails.
   */
  constructor(
    private readonly post: (batch: Message[]) => void,
    private readonly unsendable: (message: Message, error: unknown) => void,
  ) {}

  /** Queues `message`; it is posted once the current turn's I/O callbacks and microtasks have run. */
  add(message: Message): void {
    this.#batch.push(message);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  /** Posts what was queued now. */
  flush(): void {
    this.#scheduled = false;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    try {
      this.post(batch);
    } catch {
      // One message that cannot be cloned (a function in a payload, say) must fail alone: post one by one.
      for (const message of batch) {
        try {
          this.post([message]);
        } catch (error) {
          this.unsendable(message, error);
        }
      }
    }
  }

  /** Drops what was queued and not yet posted. */
  clear(): void {
    this.#batch = [];
  }
}
