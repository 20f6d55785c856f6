/**
 * Cancellation (docs/task-protocol.md, "Cancellation"): the control exchange keepers publish cancel
 * notices on, the notice itself, the 'cancelled' event a keeper records, and TaskCancelledError, the
 * reason a cancelled handler's ctx.signal aborts with and what handle.result() of a cancelled task
 * rejects with.
 */
import type { AMQPChannel } from '@cloudamqp/amqp-client';
import { TASK_PREFIX, TASK_PROTOCOL_VERSION, type TaskError, type TaskEvent } from './protocol.js';
import { TaskFailedError } from './task-errors.js';

/** Topic exchange of cancel notices, routing key `cancel.<task name>`; every worker binds a queue of its own. */
export const TASK_CONTROL_EXCHANGE = `${TASK_PREFIX}.control`;

/** Routing key of a cancel notice for a task name (workers bind one per name they handle). */
export function cancelRoutingKey(taskName: string): string {
  return `cancel.${taskName}`;
}

/** Declares the control exchange (durable topic; a notice with no worker listening is simply dropped). */
export async function declareControlExchange(channel: AMQPChannel): Promise<void> {
  await channel.exchangeDeclare(TASK_CONTROL_EXCHANGE, 'topic', { durable: true });
}

/** A cancel notice: run `run` (and older runs) of task `id` must not run, and must stop if running. */
export interface CancelNotice {
  protocol: typeof TASK_PROTOCOL_VERSION;
  op: 'cancel';
  id: string;
  name: string;
  run: number;
  /** When the task was cancelled, ms since the epoch. */
  at: number;
}

/** The notice in a parsed body, or undefined when it is not a well-formed one (peer input). */
export function parseCancelNotice(value: unknown): CancelNotice | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const notice = value as Record<string, unknown>;
  const { id, name, run, at } = notice;
  if (notice['protocol'] !== TASK_PROTOCOL_VERSION || notice['op'] !== 'cancel') return undefined;
  if (typeof id !== 'string' || id === '' || typeof name !== 'string' || name === '') return undefined;
  if (typeof run !== 'number' || !Number.isInteger(run) || run < 1) return undefined;
  if (typeof at !== 'number' || !Number.isFinite(at)) return undefined;
  return { protocol: TASK_PROTOCOL_VERSION, op: 'cancel', id, name, run, at };
}

/** A cancelled run of a task, as the keeper's 'cancelled' request lists them for a worker that starts. */
export interface CancelledRun {
  id: string;
  run: number;
}

/** How long workers remember a cancelled task, and how far back a keeper lists them for a worker that starts. */
export const CANCELLED_REMEMBER_MS = 60 * 60 * 1000;

/** Most cancelled runs a keeper lists per task name for a worker that starts. */
export const CANCELLED_LIST_MAX = 1000;

/** The error a cancelled task records, and the error of its TaskCancelledError. */
export function cancelledTaskError(): TaskError {
  return { name: 'TaskCancelledError', message: 'the task was cancelled', retryable: false };
}

/** The 'cancelled' event that ends run `run` of a task (its last attempt `attempt`, at least 1). */
export function cancelledEvent(task: { id: string; name: string; run: number; attempts: number }, at: number): TaskEvent {
  const { id, name, run } = task;
  return { protocol: TASK_PROTOCOL_VERSION, kind: 'cancelled', id, name, run, attempt: Math.max(1, task.attempts), at, error: cancelledTaskError() };
}

/**
 * A task was cancelled: handle.result() of a cancelled task rejects with it (it is a TaskFailedError
 * with state 'cancelled'), and a running handler's ctx.signal aborts with it.
 */
export class TaskCancelledError extends TaskFailedError {
  override name = 'TaskCancelledError';
  /** A cancelled task is never retried. */
  readonly retryable = false;
  constructor(id: string, error: TaskError = cancelledTaskError()) {
    super(id, 'cancelled', error);
  }
}
