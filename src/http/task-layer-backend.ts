/**
 * The task gateway's backend made of the node's task layer: a TasksClient submits, and the in-process
 * result keeper answers reads and retries from its store (or, with no keeper in this process, the
 * client asks whichever keeper serves the broker, over AMQP). Task-layer errors become HTTP errors.
 */
import type { TaskEvent, TaskOptions } from '../tasks/protocol.js';
import type { TaskQuery, TaskRecord } from '../tasks/store/result-store.js';
import type { TaskNameStats } from '../tasks/task-stats.js';
import { KeeperRequestError, TaskValidationError } from '../tasks/task-errors.js';
import { resolveTaskOptions } from '../tasks/task-options.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { withRunAt } from '../tasks/run-at.js';
import type { ScheduleSource } from './schedule-routes.js';
import { HttpError } from './errors.js';
import { RecentSubmissions } from './recent-submissions.js';
import type { CancelOutcome, RetryOutcome, TaskGatewayBackend, TaskSubmitOptions } from './task-backend.js';

/** What the gateway reads and retries through (a Keeper in-process, or a TasksClient asking one). */
export interface TaskRecordSource {
  get(id: string): Promise<TaskRecord | undefined>;
  list(query: TaskQuery): Promise<TaskRecord[]>;
  retry(id: string): Promise<unknown>;
  /** Cancels a queued or running task (KeeperRequestError 'not_found' or 'conflict' otherwise). */
  cancel(id: string): Promise<TaskRecord>;
  /** A task's state events, oldest first; only an in-process keeper has them. */
  history?(id: string): Promise<TaskEvent[]>;
  /** Per task name statistics; only an in-process keeper has them. */
  stats?(): Record<string, TaskNameStats> | Promise<Record<string, TaskNameStats>>;
  /** The webhook secret of an endpoint (a Keeper in-process, or a TasksClient asking one). */
  webhookSecret?(callbackUrl: string): string | Promise<string>;
}

/** What the gateway submits through (a TasksClient). */
export interface TaskSubmitter {
  /** `reply: false` asks for no reply message (the SDK's SubmitOptions.reply): nothing here would read it. */
  submit(name: string, payload: unknown, options: TaskSubmitOptions & { reply?: boolean }): Promise<{ id: string; replayed?: boolean }>;
}

/** How often, and how far apart, a cancel of a task submitted here but not recorded yet is tried. */
const CANCEL_UNRECORDED_TRIES = 20;
const CANCEL_UNRECORDED_PAUSE_MS = 50;

/** Status of each keeper error code. */
const KEEPER_ERROR_STATUS = { not_found: 404, conflict: 409, bad_request: 400, internal: 500, unavailable: 503 } as const;

/** A gateway backend that submits with `submitter` and reads and retries through `records`. */
export function taskLayerBackend(submitter: TaskSubmitter, records: TaskRecordSource, schedules?: ScheduleSource): TaskGatewayBackend {
  const recent = new RecentSubmissions();
  return {
    ...(schedules === undefined ? {} : { schedules }),
    async submit(name, payload, requested) {
      let resolved: TaskOptions;
      let options: TaskSubmitOptions;
      try {
        options = withRunAt(requested, Date.now());
        resolved = resolveTaskOptions(options);
      } catch (error) {
        throw asHttpError(error);
      }
      // The gateway's callers poll (or get a webhook): a reply message to this process would go unread.
      const { id, replayed } = await submitter.submit(name, payload, { ...options, reply: false }).catch((error: unknown) => {
        throw error instanceof TaskValidationError ? asHttpError(error) : new HttpError(503, `the task could not be queued: ${String(error)}`);
      });
      if (replayed === true) return { id, replayed };
      recent.add(id, name, payload, resolved);
      return { id };
    },
    async get(id) {
      const record = await records.get(id).catch(rethrowAsHttpError);
      if (record === undefined) return recent.get(id);
      recent.forget(id);
      return record;
    },
    list: (query) => records.list(query).catch(rethrowAsHttpError),
    async history(id) {
      if (records.history === undefined) throw new HttpError(503, 'task histories are kept by the result keeper, which does not run in this process');
      return records.history(id).catch(rethrowAsHttpError);
    },
    stats() {
      if (records.stats === undefined) throw new HttpError(503, 'task statistics are kept by the result keeper, which does not run in this process');
      return records.stats();
    },
    async webhookSecret(callbackUrl) {
      if (records.webhookSecret === undefined) throw new HttpError(503, 'webhook secrets are kept by the result keeper, which this node cannot reach');
      try {
        return await records.webhookSecret(callbackUrl);
      } catch (error) {
        throw asHttpError(error);
      }
    },
    async cancel(id): Promise<CancelOutcome> {
      // A task this gateway just submitted may not be recorded yet: give the keeper a moment to see it.
      for (let tries = 1; ; tries++) {
        try {
          const record = await records.cancel(id);
          recent.forget(id);
          return { outcome: 'cancelled', record };
        } catch (error) {
          const unrecorded = error instanceof KeeperRequestError && error.code === 'not_found';
          if (unrecorded && recent.get(id) !== undefined && tries < CANCEL_UNRECORDED_TRIES) await sleep(CANCEL_UNRECORDED_PAUSE_MS);
          else if (unrecorded) return { outcome: 'notFound' };
          else if (error instanceof KeeperRequestError && error.code === 'conflict') return { outcome: 'finished', reason: error.message };
          else throw asHttpError(error);
        }
      }
    },
    async retry(id): Promise<RetryOutcome> {
      try {
        await records.retry(id);
        return { outcome: 'retried' };
      } catch (error) {
        if (error instanceof KeeperRequestError && error.code === 'not_found') return { outcome: 'notFound' };
        if (error instanceof KeeperRequestError && error.code === 'conflict') return { outcome: 'notRetryable', reason: error.message };
        throw asHttpError(error);
      }
    },
  };
}

function rethrowAsHttpError(error: unknown): never {
  throw asHttpError(error);
}

/** The HTTP error for a task-layer error; anything unexpected is passed on (500). */
function asHttpError(error: unknown): unknown {
  if (error instanceof TaskValidationError) return new HttpError(400, error.message);
  if (error instanceof KeeperRequestError) return new HttpError(KEEPER_ERROR_STATUS[error.code], error.message);
  return error;
}
