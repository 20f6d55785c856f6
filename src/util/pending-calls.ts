/**
 * Calls posted to a worker thread that wait for its answers, by id; when the thread fails or exits,
 * every waiting call and every later one rejects with that failure. Errors cross the thread boundary
 * as plain data (ThreadError).
 */

/** An error as an answer carries it: its name and message, and its code when that is a string. */
export interface ThreadError {
  name: string;
  message: string;
  code?: string;
}

/** The ThreadError of a thrown value. */
export function threadErrorOf(error: unknown): ThreadError {
  const { name, message } = error instanceof Error ? error : new Error(String(error));
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? { name, message, code } : { name, message };
}

interface Waiting {
  resolve(value: unknown): void;
  reject(error: Error): void;
}

/** The calls of one thread that wait for an answer. */
export class PendingCalls {
  /** Why the thread can answer no more (set by failAll). */
  failure: Error | undefined;
  private readonly waiting = new Map<number, Waiting>();
  private nextId = 1;

  /** A new call's id and the promise its answer settles (rejected at once once the thread failed). */
  start(): { id: number; answered: Promise<unknown> } {
    const id = this.nextId++;
    if (this.failure !== undefined) return { id, answered: Promise.reject(this.failure) };
    return { id, answered: new Promise((resolve, reject) => this.waiting.set(id, { resolve, reject })) };
  }

  resolve(id: number, value: unknown): void {
    this.take(id)?.resolve(value);
  }

  reject(id: number, error: Error): void {
    this.take(id)?.reject(error);
  }

  /** Rejects every waiting call, and all later ones, with the first failure; true the first time. */
  failAll(error: Error): boolean {
    const first = this.failure === undefined;
    this.failure ??= error;
    for (const waiting of this.waiting.values()) waiting.reject(this.failure);
    this.waiting.clear();
    return first;
  }

  private take(id: number): Waiting | undefined {
    const waiting = this.waiting.get(id);
    this.waiting.delete(id);
    return waiting;
  }
}
