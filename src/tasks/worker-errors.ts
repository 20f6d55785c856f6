/**
 * Errors a worker raises or recognises, and how an error thrown by a handler becomes the TaskError that
 * events, replies and the dead-letter queue carry.
 */
import type { TaskError } from './protocol.js';

/** Longest stack trace recorded with a task error (characters); the rest is cut. */
const STACK_LENGTH_MAX = 4096;

/**
 * Thrown by a handler: the task fails at once ('failed'), without retries and without going to the
 * dead-letter queue. Any error whose `retryable` property is false is treated the same way, so an error
 * class from another copy of this package still counts.
 */
export class NonRetryableError extends Error {
  /** Read by the worker: false means the task is not retried. */
  readonly retryable = false;
  override name = 'NonRetryableError';
}

/** The reason ctx.signal aborts when an attempt runs past x-task-timeout-ms; the attempt counts as failed. */
export class TaskTimeoutError extends Error {
  override name = 'TimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`task attempt timed out after ${timeoutMs} ms`);
  }
}

/** The reason ctx.signal aborts when the worker stops before the attempt finished; the task is requeued. */
export class WorkerShutdownError extends Error {
  override name = 'WorkerShutdownError';
}

/** A task message that cannot be run: bad JSON, missing or invalid headers. It goes to the dead-letter queue. */
export class MalformedTaskError extends Error {
  /** A malformed message fails the same way every time. */
  readonly retryable = false;
  override name = 'MalformedTaskError';
}

/** False when `error` says it must not be retried (`retryable === false`). */
export function isRetryable(error: unknown): boolean {
  return !(typeof error === 'object' && error !== null && (error as { retryable?: unknown }).retryable === false);
}

/** The TaskError recorded for `error`, whatever was thrown. */
export function toTaskError(error: unknown): TaskError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), retryable: isRetryable(error) };
  const taskError: TaskError = { name: error.name, message: error.message, retryable: isRetryable(error) };
  if (error.stack !== undefined) taskError.stack = error.stack.slice(0, STACK_LENGTH_MAX);
  return taskError;
}
