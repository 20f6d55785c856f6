/**
 * The ctx a handler gets. Its members are own enumerable properties in the order they always had, so
 * spreading, listing or logging ctx sees what it did when ctx was an object literal; `signal` is an own
 * accessor that makes the AbortSignal on first read (see AttemptAbort). A class with one shared
 * accessor costs a fraction of an object literal with a getter, which V8 builds property by property.
 */
import type { AttemptAbort } from './attempt-abort.js';
import type { TaskProgress } from './task-progress.js';
import type { TaskContext } from './worker-attempt.js';
import type { TaskHeaders } from './worker-message.js';

export class AttemptContext implements TaskContext {
  // Declared only: the constructor defines them, in this order (field definitions would come first, signal last).
  declare readonly id: string;
  declare readonly name: string;
  declare readonly attempt: number;
  declare readonly maxAttempts: number;
  declare readonly signal: AbortSignal;
  declare readonly enqueuedAt: number;
  declare readonly headers: Readonly<Record<string, unknown>>;
  declare readonly progress: (value: TaskProgress) => void;
  readonly #abort: AttemptAbort;

  static readonly #signalProperty: PropertyDescriptor = {
    get(this: AttemptContext): AbortSignal {
      return this.#abort.signal;
    },
    enumerable: true,
    configurable: true,
  };

  constructor(task: TaskHeaders, headers: Readonly<Record<string, unknown>>, abort: AttemptAbort, progress: (value: TaskProgress) => void) {
    this.id = task.id;
    this.name = task.name;
    this.attempt = task.attempt;
    this.maxAttempts = task.maxAttempts;
    Object.defineProperty(this, 'signal', AttemptContext.#signalProperty);
    this.enqueuedAt = task.enqueuedAt;
    this.headers = headers;
    this.progress = progress;
    this.#abort = abort;
  }
}
