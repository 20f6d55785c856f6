/**
 * Errors the task client and the result keeper raise: a task that ended badly, a wait that ran out,
 * input that breaks the protocol's rules, and a keeper request that could not be served.
 */
import type { TaskError, TaskState } from './protocol.js';

/** Terminal states that end a task without a result. */
export type UnsuccessfulState = Extract<TaskState, 'failed' | 'dead' | 'cancelled'>;

/** handle.result() of a task that failed, went to the dead-letter queue or was cancelled. */
export class TaskFailedError extends Error {
  override name = 'TaskFailedError';
  constructor(
    /** The task id. */
    readonly id: string,
    /** How the task ended. */
    readonly state: UnsuccessfulState,
    /** The last attempt's error, as the worker recorded it. */
    readonly error: TaskError,
  ) {
    super(`task ${id} ${state}: ${error.name}: ${error.message}`);
  }
}

/** handle.result({ timeoutMs }) when the task was not terminal within timeoutMs (the task itself goes on). */
export class TaskResultTimeoutError extends Error {
  override name = 'TaskResultTimeoutError';
  constructor(
    readonly id: string,
    readonly timeoutMs: number,
  ) {
    super(`task ${id} had no result within ${timeoutMs} ms`);
  }
}

/** A task name, payload or option that breaks the protocol's rules (submit refuses it). */
export class TaskValidationError extends Error {
  override name = 'TaskValidationError';
}

/** Why a keeper refused a request (the `code` of an `{ ok: false }` keeper reply). */
export type KeeperErrorCode = 'not_found' | 'conflict' | 'bad_request' | 'internal';

/** A keeper request the keeper refused, or one no keeper answered ('unavailable', client side only). */
export class KeeperRequestError extends Error {
  override name = 'KeeperRequestError';
  constructor(
    readonly code: KeeperErrorCode | 'unavailable',
    message: string,
  ) {
    super(message);
  }
}
