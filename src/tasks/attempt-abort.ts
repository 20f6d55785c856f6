/**
 * The abort of one task attempt (timeout, shutdown, cancel), with ctx.signal made only when a handler
 * asks for it. Most handlers never read their signal, and an AbortController per attempt is one of the
 * costliest allocations a short task makes; a handler that reads ctx.signal after the attempt aborted
 * gets a signal that is already aborted, with the same reason.
 */
export class AttemptAbort {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private isAborted = false;
  /** Called first on abort: ends the wait for the handler before the handler's own listeners run. */
  private onAbort: ((reason: unknown) => void) | undefined;

  /** True once aborted. */
  get aborted(): boolean {
    return this.isAborted;
  }

  /** Why it aborted (undefined while it has not). */
  get reason(): unknown {
    return this.abortReason;
  }

  /** The handler's AbortSignal (ctx.signal), made on first use. */
  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.isAborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts with `reason`; a second abort changes nothing (the first reason stays, as with AbortController). */
  abort(reason: unknown): void {
    if (this.isAborted) return;
    this.isAborted = true;
    this.abortReason = reason;
    this.onAbort?.(reason);
    this.controller?.abort(reason);
  }

  /**
   * Settles with `pending` (a handler's promise), or rejects with the abort reason as soon as the attempt
   * aborts: a handler that ignores its signal is not waited for.
   */
  race<T>(pending: PromiseLike<T>): Promise<T> {
    if (this.isAborted) return Promise.reject(this.abortReason);
    // Rejecting a settled promise does nothing, so onAbort may stay set after the handler settled.
    return new Promise<T>((resolve, reject) => {
      this.onAbort = reject;
      Promise.resolve(pending).then(resolve, reject);
    });
  }
}
