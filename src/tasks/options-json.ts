/**
 * The JSON text of a task's options, made once for the defaults, which most tasks have: the submitter
 * writes it into each 'queued' event, and the SQLite store into each task's row and the size check of
 * its history. JSON.stringify of an options object (with its nested backoff) took about 0.4 us, some 2%
 * of a client's CPU per task.
 */
import { DEFAULT_TASK_OPTIONS, type TaskOptions } from './protocol.js';

/** The JSON text of the default options, and how many members they have. */
const DEFAULT_OPTIONS_JSON = JSON.stringify(DEFAULT_TASK_OPTIONS);
const DEFAULT_OPTIONS_MEMBERS = memberCount(DEFAULT_TASK_OPTIONS);
const DEFAULT_BACKOFF_MEMBERS = memberCount(DEFAULT_TASK_OPTIONS.backoff);

/**
 * The JSON text of `options`: the defaults' text made once when they are the defaults, member for
 * member. Options with members of their own beyond the defaults' (read from another client's event,
 * say) are encoded as they are.
 */
export function optionsJson(options: TaskOptions): string {
  return isDefaultOptions(options) ? DEFAULT_OPTIONS_JSON : JSON.stringify(options);
}

/** Whether `options` are DEFAULT_TASK_OPTIONS, member for member, with no member of their own. */
export function isDefaultOptions(options: TaskOptions): boolean {
  if (options === DEFAULT_TASK_OPTIONS) return true;
  const { backoff } = options;
  const defaults = DEFAULT_TASK_OPTIONS;
  return (
    options.attempts === defaults.attempts && options.timeoutMs === defaults.timeoutMs && options.priority === defaults.priority &&
    options.delayMs === defaults.delayMs && backoff.kind === defaults.backoff.kind && backoff.delayMs === defaults.backoff.delayMs &&
    backoff.jitter === defaults.backoff.jitter && memberCount(options) === DEFAULT_OPTIONS_MEMBERS && memberCount(backoff) === DEFAULT_BACKOFF_MEMBERS
  );
}

/** How many enumerable members `value` has (without making the array Object.keys would). */
function memberCount(value: object): number {
  let count = 0;
  for (const key in value) if (Object.hasOwn(value, key)) count++;
  return count;
}
