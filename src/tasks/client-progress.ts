/**
 * Live progress for a TasksClient's handles: progress messages arriving on the client's reply queue
 * (AMQP `type` = 'progress') go to the listeners of their task; a handle with no reply queue of this
 * client (made from an id, or submitted with a replyTo of its own) polls the keeper's record instead.
 */
import type { Logger } from '../util/logger.js';
import { sleep } from './amqp-connection.js';
import { TERMINAL_STATES } from './protocol.js';
import type { TaskRecord } from './store/result-store.js';
import { progressMessageProblem, type TaskProgress, type TaskProgressMessage } from './task-progress.js';

/** Called with each progress report of a task (the value, and when the handler reported it). */
export type ProgressListener = (progress: TaskProgress, at: number) => void;

/** How often a handle without a reply queue asks the keeper for progress while someone listens. */
export const PROGRESS_POLL_INTERVAL_MS = 500;

/** Progress listeners of one client, by task id (correlation ids of progress messages are task ids unless the submitter chose one). */
export class ProgressListeners {
  private readonly listeners = new Map<string, Set<ProgressListener>>();

  constructor(private readonly logger: Logger) {}

  /** Adds a listener for task `id`; returns a function that removes it. */
  add(id: string, listener: ProgressListener): () => void {
    const forTask = this.listeners.get(id) ?? new Set();
    this.listeners.set(id, forTask);
    forTask.add(listener);
    return () => {
      forTask.delete(listener);
      if (forTask.size === 0) this.listeners.delete(id);
    };
  }

  /** Handles the parsed body of a progress message from the reply queue; malformed ones are dropped. */
  deliver(body: unknown): void {
    const problem = progressMessageProblem(body);
    if (problem !== undefined) {
      this.logger.warn({ problem }, 'dropped a malformed progress message');
      return;
    }
    const message = body as TaskProgressMessage;
    this.notify(message.id, message.progress, message.at);
  }

  /** Calls the listeners of task `id`; a listener that throws does not stop the others. */
  notify(id: string, progress: TaskProgress, at: number): void {
    for (const listener of [...(this.listeners.get(id) ?? [])]) {
      try {
        listener(progress, at);
      } catch (error) {
        this.logger.warn({ id, err: String(error) }, 'a progress listener threw');
      }
    }
  }
}

/**
 * Polls `get` for task `id` until it is terminal or `signal` aborts, calling `listener` with each new
 * progress (by progressAt). Never throws: a failed poll is retried at the next interval.
 */
export async function pollProgress(get: () => Promise<TaskRecord | undefined>, listener: ProgressListener, signal: AbortSignal): Promise<void> {
  let lastAt = Number.NEGATIVE_INFINITY;
  while (!signal.aborted) {
    const record = await get().catch(() => undefined);
    if (record?.progressAt !== undefined && record.progressAt > lastAt) {
      lastAt = record.progressAt;
      listener(record.progress as TaskProgress, record.progressAt);
    }
    if (record !== undefined && TERMINAL_STATES.includes(record.state)) return;
    await sleep(PROGRESS_POLL_INTERVAL_MS, signal).catch(() => undefined);
  }
}
