/**
 * The `runAt` submit option: an absolute time to run a task at, turned into the `delayMs` the protocol
 * carries (a time in the past runs at once). Setting both is a mistake the submitter hears about.
 */
import { TASK_DELAY_MAX_MS } from './protocol.js';
import { TaskValidationError } from './task-errors.js';

/** When a task should run: ms since the epoch, an ISO 8601 string, or a Date. */
export type RunAt = number | string | Date;

/** Options with `runAt` replaced by the equivalent `delayMs` measured from `now`. */
export function withRunAt<T extends { runAt?: RunAt; delayMs?: number }>(options: T, now: number): Omit<T, 'runAt'> {
  const { runAt, ...rest } = options;
  if (runAt === undefined) return rest;
  if (options.delayMs !== undefined) throw new TaskValidationError('set delayMs or runAt, not both');
  const delayMs = Math.max(0, Math.ceil(runAtMs(runAt) - now));
  if (delayMs > TASK_DELAY_MAX_MS) throw new TaskValidationError(`runAt is more than ${TASK_DELAY_MAX_MS} ms ahead (about 23 days)`);
  return { ...rest, delayMs };
}

/** The instant `runAt` names, ms since the epoch; throws TaskValidationError when it names none. */
function runAtMs(runAt: unknown): number {
  const ms =
    typeof runAt === 'number' ? runAt
    : runAt instanceof Date ? runAt.getTime()
    : typeof runAt === 'string' && runAt.length <= 64 ? Date.parse(runAt)
    : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new TaskValidationError(`runAt must be ms since the epoch or an ISO 8601 time, got ${JSON.stringify(runAt)}`);
  }
  return ms;
}

/** The delay a submit asked for, by delayMs or by runAt (0 for none); the options must be valid. */
export function delayMsOf(options: { runAt?: RunAt; delayMs?: number }, now = Date.now()): number {
  return withRunAt(options, now).delayMs ?? 0;
}
