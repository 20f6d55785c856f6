/** Builders of task state events for the result store tests. */
import { TASK_PROTOCOL_VERSION, type TaskEvent, type TaskEventKind, type TaskOptions } from '../../../src/tasks/protocol.js';

/** Options distinct from the defaults, so tests see that a 'queued' event's options are kept. */
export const SAMPLE_OPTIONS: TaskOptions = {
  attempts: 3,
  backoff: { kind: 'fixed', delayMs: 250, jitter: false },
  timeoutMs: 5000,
  priority: 4,
  delayMs: 0,
};

/** An event of `kind` for task `id` (run 1, attempt 1, name 'resize' unless overridden). */
export function taskEvent(kind: TaskEventKind, id: string, fields: Partial<TaskEvent> = {}): TaskEvent {
  return { protocol: TASK_PROTOCOL_VERSION, kind, id, name: 'resize', run: 1, attempt: 1, at: 1_000, ...fields };
}

/** What a run of a task reports when its last attempt ends with `outcome` (or is still retrying). */
export interface RunPlan {
  id: string;
  /** Task name (default 'resize'). */
  name?: string;
  run: number;
  /** Attempts started in the run (at least 1). */
  attempts: number;
  outcome: 'succeeded' | 'failed' | 'dead' | 'cancelled' | 'retrying' | 'running';
  payload?: unknown;
  /** Time of the run's first event; each later event happens 10 ms after the previous one. */
  startAt: number;
  /**
   * Attempts that ended send no 'started' event: their outcome carries `startedAt` and `worker`, as the
   * SDK's worker does for a handler that finishes quickly.
   */
  shortAttempts?: boolean;
}

/** The events of one run, in the order they happen. */
export function runEvents(plan: RunPlan): TaskEvent[] {
  const { id, run } = plan;
  const name = plan.name ?? 'resize';
  let at = plan.startAt;
  const next = (): number => (at += 10);
  const events: TaskEvent[] = [
    taskEvent('queued', id, {
      name, run, at, options: SAMPLE_OPTIONS, enqueuedAt: plan.startAt, ...(plan.payload !== undefined ? { payload: plan.payload } : {}),
    }),
  ];
  for (let attempt = 1; attempt <= plan.attempts; attempt++) {
    const last = attempt === plan.attempts;
    const start = { startedAt: next(), worker: `worker-${attempt}` };
    const announced = plan.shortAttempts !== true || (last && plan.outcome === 'running');
    if (announced) events.push(taskEvent('started', id, { name, run, attempt, at: start.startedAt, worker: start.worker }));
    if (last && plan.outcome === 'running') break;
    const carried = announced ? {} : start;
    const error = { name: 'Error', message: `attempt ${attempt} of run ${run} failed`, retryable: true };
    if (!last || plan.outcome === 'retrying') {
      events.push(taskEvent('retrying', id, { name, run, attempt, at: next(), error, retryAt: at + 1_000, ...carried }));
    } else if (plan.outcome === 'succeeded') {
      events.push(taskEvent('succeeded', id, { name, run, attempt, at: next(), result: { ok: true, attempt, run }, ...carried }));
    } else if (plan.outcome !== 'running') {
      events.push(taskEvent(plan.outcome, id, { name, run, attempt, at: next(), error, ...carried }));
    }
  }
  return events;
}
