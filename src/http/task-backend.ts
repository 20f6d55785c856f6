/**
 * What the HTTP task gateway needs from the task layer: submit a task, read records, retry one. The
 * node's TasksClient and result keeper provide it (see task-layer-backend.ts); tests may pass a fake.
 * Methods may throw HttpError to answer with a given status.
 */
import type { Backoff, TaskEvent, TaskOptions } from '../tasks/protocol.js';
import type { TaskQuery, TaskRecord } from '../tasks/store/result-store.js';
import type { TaskNameStats } from '../tasks/task-stats.js';
import type { RunAt } from '../tasks/run-at.js';
import type { ScheduleSource } from './schedule-routes.js';

/** Options a submitter may set (the rest take DEFAULT_TASK_OPTIONS), plus the request's W3C trace context. */
export type TaskSubmitOptions = Partial<Omit<TaskOptions, 'backoff'>> & {
  backoff?: Partial<Backoff>;
  traceparent?: string;
  tracestate?: string;
  /** Run at this time (ms since the epoch or ISO 8601) instead of after delayMs. */
  runAt?: RunAt;
  /** From the Idempotency-Key header. */
  idempotencyKey?: string;
};

/** The outcome of a manual retry. */
export type RetryOutcome =
  | { outcome: 'retried' }
  | { outcome: 'notFound' }
  | { outcome: 'notRetryable'; reason: string };

/** The outcome of a cancel. */
export type CancelOutcome =
  | { outcome: 'cancelled'; record: TaskRecord }
  | { outcome: 'notFound' }
  | { outcome: 'finished'; reason: string };

/** The task layer as the HTTP task gateway uses it. */
export interface TaskGatewayBackend {
  /** Submits a task; resolves with its id once the broker has accepted it (replayed: an idempotency key's earlier task). */
  submit(name: string, payload: unknown, options: TaskSubmitOptions): Promise<{ id: string; replayed?: boolean }>;
  /** The task's record, or undefined when no such task is known. */
  get(id: string): Promise<TaskRecord | undefined>;
  /** Records matching the query, newest first. */
  list(query: TaskQuery): Promise<TaskRecord[]>;
  /** Re-queues a failed or dead task for a new run. */
  retry(id: string): Promise<RetryOutcome>;
  /**
   * Cancels a queued or running task; resolves with its record (now cancelled). Absent on a backend
   * that cannot cancel (the route then answers 503).
   */
  cancel?(id: string): Promise<CancelOutcome>;
  /** The task's recorded state events, oldest first (absent: this backend keeps none, the route answers 503). */
  history?(id: string): Promise<TaskEvent[]>;
  /** Per task name: throughput, response time, wait and processing latency (sliding windows and since start). */
  stats(): Record<string, TaskNameStats> | Promise<Record<string, TaskNameStats>>;
  /** The webhook secret of the endpoint `callbackUrl` belongs to (absent: this backend cannot tell, 503). */
  webhookSecret?(callbackUrl: string): Promise<string>;
  /** Cron schedules (PUT/GET/DELETE /api/tasks/schedules); absent: those routes answer 503. */
  schedules?: ScheduleSource;
}
