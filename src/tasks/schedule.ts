/**
 * Cron schedules: a task name, a five-field cron expression in a time zone, a payload and task options.
 * The result store keeps them and the keepers fire them, each slot once (see docs/schedules.md).
 */
import { assertCronExpression, assertTimeZone, nextSlotAfter } from './cron.js';
import { isValidTaskName, type TaskOptions } from './protocol.js';
import { TaskValidationError } from './task-errors.js';
import { assertTaskName, payloadJson, resolveTaskOptions, type SubmitOptions } from './task-options.js';

/** A stored schedule. */
export interface Schedule {
  /** Chosen by whoever defines it: 1 to 200 characters of A-Z a-z 0-9 _ . : - */
  id: string;
  /** The task name each slot submits. */
  name: string;
  /** Five fields: minute hour day-of-month month day-of-week. */
  cron: string;
  /** IANA time zone the expression is read in. */
  tz: string;
  payload: unknown;
  /** Options of every task it submits (delayMs is always 0). */
  options: TaskOptions;
  /** ms since the epoch. */
  createdAt: number;
  /** When the definition last changed: slots before it never fire. */
  updatedAt: number;
}

/** Task options a schedule may set: everything but delays, reply routing and idempotency. */
export type ScheduleTaskOptions = Omit<SubmitOptions, 'delayMs' | 'runAt' | 'replyTo' | 'correlationId' | 'idempotencyKey'>;

/** The fourth argument of client.schedule(). */
export interface ScheduleOptions {
  /** IANA time zone of the expression (default 'UTC'). */
  tz?: string;
  /** Options of each task the schedule submits. */
  options?: ScheduleTaskOptions;
}

/** What defines a schedule, as a client sends it to a keeper. */
export interface ScheduleDefinition {
  id: string;
  name: string;
  cron: string;
  tz: string;
  payload: unknown;
  options: TaskOptions;
}

/** Most schedules a store holds: a keeper refuses to define more. */
export const SCHEDULES_MAX = 10_000;

/** Throws TaskValidationError unless `id` is a valid schedule id. */
export function assertScheduleId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !isValidTaskName(id)) {
    throw new TaskValidationError(`invalid schedule id ${JSON.stringify(id)}: use 1-200 characters of A-Z a-z 0-9 _ . : -`);
  }
}

/** A checked definition, defaults filled in; throws TaskValidationError on anything wrong. */
export function scheduleDefinition(id: unknown, name: unknown, cron: unknown, payload: unknown, options: ScheduleOptions = {}): ScheduleDefinition {
  assertScheduleId(id);
  assertTaskName(name);
  const tz = options.tz ?? 'UTC';
  assertTimeZone(tz);
  assertCronExpression(cron, tz);
  const taskOptions: unknown = options.options ?? {};
  if (typeof taskOptions !== 'object' || taskOptions === null || Array.isArray(taskOptions)) throw new TaskValidationError('options must be an object');
  for (const field of ['delayMs', 'runAt', 'replyTo', 'correlationId', 'idempotencyKey']) {
    if (field in taskOptions) throw new TaskValidationError(`a schedule's tasks cannot set ${field}`);
  }
  const resolved = resolveTaskOptions(taskOptions as ScheduleTaskOptions);
  return { id, name, cron: cron.trim(), tz, payload: JSON.parse(payloadJson(payload)) as unknown, options: { ...resolved, delayMs: 0 } };
}

/** The next slot of a schedule after `at`, or undefined. */
export function nextRunAt(schedule: Pick<Schedule, 'cron' | 'tz'>, at: number): number | undefined {
  return nextSlotAfter(schedule.cron, schedule.tz, at);
}
