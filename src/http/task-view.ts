/**
 * How the HTTP API shows a task record: the stored record with timestamps as ISO 8601 strings (UTC),
 * `maxAttempts` spelled out, and `result` or `error` present only when there is one.
 */
import type { TaskError, TaskOptions, TaskState } from '../tasks/protocol.js';
import type { TaskRecord } from '../tasks/store/result-store.js';
import type { WebhookStatus } from '../tasks/webhooks/webhook-delivery.js';

/** A task as GET /api/tasks/{id} and GET /api/tasks report it. */
export interface TaskView {
  id: string;
  name: string;
  state: TaskState;
  run: number;
  attempts: number;
  maxAttempts: number;
  options: TaskOptions;
  payload: unknown;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  updatedAt: string;
  retryAt?: string;
  result?: unknown;
  error?: TaskError;
  /** Why a queued task is not running; `until` is an ISO time for a delay or a backoff. */
  blockedReason?: { kind: string; until?: string; consumers?: number };
  /** The webhook to options.callbackUrl, once the task finished; times as ISO strings. */
  webhook?: WebhookView;
  /** The latest progress the handler reported (a number 0-100 or a JSON object), and when. */
  progress?: unknown;
  progressAt?: string;
}

/** A task's webhook as the HTTP API shows it. */
export type WebhookView = Omit<WebhookStatus, 'attempts' | 'nextAttemptAt'> & {
  attempts: { at: string; durationMs: number; status?: number; error?: string }[];
  nextAttemptAt?: string;
};

/** The HTTP view of a stored record. */
export function taskView(record: TaskRecord): TaskView {
  const view: TaskView = {
    id: record.id,
    name: record.name,
    state: record.state,
    run: record.run,
    attempts: record.attempts,
    maxAttempts: record.options.attempts,
    options: record.options,
    payload: record.payload ?? null,
    createdAt: isoTime(record.createdAt),
    updatedAt: isoTime(record.updatedAt),
  };
  if (record.startedAt !== undefined) view.startedAt = isoTime(record.startedAt);
  if (record.finishedAt !== undefined) view.finishedAt = isoTime(record.finishedAt);
  if (record.retryAt !== undefined) view.retryAt = isoTime(record.retryAt);
  // A handler that returns nothing succeeded with null, so a succeeded task always has a result.
  if (record.state === 'succeeded') view.result = record.result ?? null;
  if (record.error !== undefined) view.error = record.error;
  if (record.progressAt !== undefined) {
    view.progress = record.progress ?? null;
    view.progressAt = isoTime(record.progressAt);
  }
  const reason = record.blockedReason;
  if (reason !== undefined) view.blockedReason = 'until' in reason ? { kind: reason.kind, until: isoTime(reason.until) } : reason;
  if (record.webhook !== undefined) view.webhook = webhookView(record.webhook);
  return view;
}

function webhookView(webhook: WebhookStatus): WebhookView {
  const { nextAttemptAt, attempts, ...rest } = webhook;
  const view: WebhookView = { ...rest, attempts: attempts.map((attempt) => ({ ...attempt, at: isoTime(attempt.at) })) };
  if (nextAttemptAt !== undefined) view.nextAttemptAt = isoTime(nextAttemptAt);
  return view;
}

function isoTime(msSinceEpoch: number): string {
  return new Date(msSinceEpoch).toISOString();
}
