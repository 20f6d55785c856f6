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

/** Tasks whose latest progress message a client keeps for listeners added later; older ones are dropped. */
export const KEPT_PROGRESS_MAX = 1000;

/**
 * Progress listeners of one client, by task id, and the latest progress message of each task (a
 * listener added after a report was received gets it first: a fast handler may report before the
 * submitter had a chance to listen).
 */
export class ProgressListeners {
  private readonly listeners = new Map<string, Set<ProgressListener>>();
  private readonly latest = new Map<string, { progress: TaskProgress; at: number }>();

  constructor(private readonly logger: Logger) {}

  /** Adds a listener for task `id` (called soon with the latest report, if one came already); returns a function that removes it. */
  add(id: string, listener: ProgressListener): () => void {
    const forTask = this.listeners.get(id) ?? new Set();
    this.listeners.set(id, forTask);
    forTask.add(listener);
    const latest = this.latest.get(id);
    if (latest !== undefined) queueMicrotask(() => forTask.has(listener) && this.call(id, listener, latest.progress, latest.at));
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
    const { id, progress, at } = body as TaskProgressMessage;
    const known = this.latest.get(id);
    if (known !== undefined && known.at > at) return;
    this.latest.delete(id);
    this.latest.set(id, { progress, at });
    if (this.latest.size > KEPT_PROGRESS_MAX) {
      const oldest = this.latest.keys().next();
      if (oldest.done !== true) this.latest.delete(oldest.value);
    }
    for (const listener of [...(this.listeners.get(id) ?? [])]) this.call(id, listener, progress, at);
  }

  /** Calls one listener; one that throws is logged and does not stop the others. */
  private call(id: string, listener: ProgressListener, progress: TaskProgress, at: number): void {
    try {
      listener(progress, at);
    } catch (error) {
      this.logger.warn({ id, err: String(error) }, 'a progress listener threw');
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
