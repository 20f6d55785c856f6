/**
 * How a progress report changes a task record, shared by every result store. Progress is not a state:
 * it never changes `state`, and it is kept only for the attempt the record reflects. A report of an
 * older run or attempt is ignored, and so is one of a newer attempt whose 'started' event has not been
 * applied yet (the next report shows). Once the attempt ended (retrying, or a terminal state), only a
 * report made before that moment counts, so a late one never changes a finished task. Among the reports
 * that count, the latest (by `at`) wins, whatever order they arrive in.
 */
import type { TaskProgressEvent } from '../task-progress.js';
import type { TaskRecord } from './result-store.js';

/** The record after the report, or undefined when it changes nothing (or the task is unknown). */
export function applyProgress(current: TaskRecord | undefined, event: TaskProgressEvent): TaskRecord | undefined {
  if (current === undefined) return undefined;
  if (event.run !== current.run || event.attempt !== current.attempts) return undefined;
  if (current.state !== 'running' && event.at > (current.finishedAt ?? current.updatedAt)) return undefined;
  if (current.progressAt !== undefined && event.at < current.progressAt) return undefined;
  return { ...current, progress: event.progress, progressAt: event.at };
}
