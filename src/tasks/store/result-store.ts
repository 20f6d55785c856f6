/**
 * What the result keeper records about each task, and the interface every result store implements
 * (embedded SQLite, PostgreSQL). One conformance suite (test/unit/tasks/result-store-conformance.ts)
 * runs against every implementation.
 */
import type { BlockedReason } from '../blocked-reason.js';
import type { TaskError, TaskEvent, TaskOptions, TaskState } from '../protocol.js';
import type { WebhookDeliveryStore, WebhookStatus } from '../webhooks/webhook-delivery.js';
import type { TaskProgressEvent } from '../task-progress.js';
import type { SchedulingStore } from './scheduling-store.js';

/** A task as the result store knows it. */
export interface TaskRecord {
  id: string;
  name: string;
  state: TaskState;
  /** Manual-retry generation (1 for the first run). */
  run: number;
  /** Attempts started in the current run. */
  attempts: number;
  payload: unknown;
  options: TaskOptions;
  /** Set once succeeded. */
  result?: unknown;
  /** The last attempt's error (failed, dead, or a retrying attempt). */
  error?: TaskError;
  /** When the next attempt is due, while waiting for a retry. */
  retryAt?: number;
  /** ms since the epoch. */
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  updatedAt: number;
  /** Why a queued task is not running: computed by the keeper when the status is read, never stored. */
  blockedReason?: BlockedReason;
  /** The callback of a task submitted with a callbackUrl, once it finished: added by the keeper when the status is read. */
  webhook?: WebhookStatus;
  /** The latest progress the handler of the attempt the record reflects reported (ctx.progress). */
  progress?: unknown;
  /** When that progress was reported, ms since the epoch. */
  progressAt?: number;
}

/** Filters and paging of a task listing (newest first). */
export interface TaskQuery {
  name?: string;
  state?: TaskState;
  /** Most records returned (default 100). */
  limit?: number;
  offset?: number;
}

/** How the caller of ResultStore.apply needs its apply. */
export interface ApplyOptions {
  /**
   * The caller can wait for the commit: a store may hold a 'queued' event of a new task back for a
   * moment (a bounded time), to write the task's row once with its next event instead of twice. Reads
   * see a held event all the same. A store may ignore it.
   */
  mayWait?: boolean;
}

/**
 * Told how an apply made with ResultStore.applyThen ended, with the caller's `context` for it. One
 * listener serves every apply of a caller. Its methods must not throw.
 */
export interface ApplyListener<C> {
  /** The event is committed; `record` is the record after it. */
  applied(record: TaskRecord, event: TaskEvent, context: C): void;
  /** The store could not apply the event (nothing of it is committed). */
  refused(error: unknown, event: TaskEvent, context: C): void;
}

/** Durable storage of task records and their event history, plus idempotency keys and schedules. */
export interface ResultStore {
  /**
   * Applies a state event and returns the record after it. Idempotent and order-tolerant: an event
   * older than what the record already reflects (by run, then attempt, then the order of states within
   * an attempt) is recorded in the history but does not change the state. A non-queued event for an
   * unknown task creates a record with what the event carries.
   */
  apply(event: TaskEvent, options?: ApplyOptions): Promise<TaskRecord>;
  /**
   * Optional: apply(), telling `listener` instead of settling a promise. A caller applying thousands of
   * events a second (the keeper) then makes no promise, and no callbacks, per event: each would live
   * until its commit, milliseconds later, and be copied at every scavenge meanwhile.
   */
  applyThen?<C>(event: TaskEvent, options: ApplyOptions | undefined, listener: ApplyListener<C>, context: C): void;
  get(id: string): Promise<TaskRecord | undefined>;
  list(query: TaskQuery): Promise<TaskRecord[]>;
  /** Every event applied for a task, oldest first (by `at`, then by the order of states within an attempt); a redelivered copy of an event is kept once. */
  history(id: string): Promise<TaskEvent[]>;
  /** Deletes terminal tasks that finished before `finishedBefore` (retention); returns how many. */
  deleteFinishedBefore(finishedBefore: number): Promise<number>;
  close(): Promise<void>;
  /** Webhook deliveries of finished tasks (docs/webhooks.md); deleteFinishedBefore deletes them with their tasks. */
  readonly webhooks: WebhookDeliveryStore;
  /** Idempotency keys and cron schedules (scheduling-store.ts), in the same database. */
  readonly scheduling: SchedulingStore;
  /**
   * Records a progress report as applyProgress (apply-progress.ts) says, never changing the state;
   * resolves with the record after it (unchanged when the report was ignored), or undefined when the
   * task is unknown. Reports are not kept in the history.
   */
  recordProgress(event: TaskProgressEvent): Promise<TaskRecord | undefined>;
}
