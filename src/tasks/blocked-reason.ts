/**
 * Why a queued task is not running, computed from live state when its status is read: it waits for a
 * delay or a retry backoff, no worker consumes its task name, or every worker is busy.
 */
import type { TaskRecord } from './store/result-store.js';

/** Why a queued task is not running (absent for tasks in any other state). */
export type BlockedReason =
  | { kind: 'delayed'; until: number }
  | { kind: 'retry_backoff'; until: number }
  | { kind: 'no_worker' }
  | { kind: 'workers_busy'; consumers: number };

/** The reason a clock alone decides (a delay or a backoff still running), if any. */
export function timedBlockedReason(record: TaskRecord, now: number): BlockedReason | undefined {
  if (record.retryAt !== undefined && record.retryAt > now) return { kind: 'retry_backoff', until: record.retryAt };
  const due = record.createdAt + record.options.delayMs;
  if (record.attempts === 0 && record.options.delayMs > 0 && due > now) return { kind: 'delayed', until: due };
  return undefined;
}

/** The reason given how many consumers the task name's work queue has. */
export function consumerBlockedReason(consumers: number): BlockedReason {
  return consumers === 0 ? { kind: 'no_worker' } : { kind: 'workers_busy', consumers };
}
