/**
 * Progress of a running task (docs/task-protocol.md, "Progress"): what a handler may report with
 * ctx.progress(), the 'progress' event a worker publishes on the events exchange, and the progress
 * message it publishes to a task's reply_to. Progress is not a state: it never changes a task's state.
 */
import { TASK_PROTOCOL_VERSION } from './protocol.js';

/** What a handler reports: a percentage from 0 to 100, or any JSON object. */
export type TaskProgress = number | Record<string, unknown>;

/** The `kind` of a progress event (routing key `progress.<task name>`). */
export const PROGRESS_EVENT_KIND = 'progress';

/** The AMQP `type` property of a progress message on a reply_to queue (the final reply has `result`). */
export const PROGRESS_MESSAGE_TYPE = 'progress';

/** Longest JSON text of one progress report, in UTF-16 code units. */
export const PROGRESS_JSON_LENGTH_MAX = 65_536;

/** A progress event: JSON body on the events exchange, routing key `progress.<task name>`, transient. */
export interface TaskProgressEvent {
  protocol: typeof TASK_PROTOCOL_VERSION;
  kind: typeof PROGRESS_EVENT_KIND;
  id: string;
  name: string;
  /** The run and attempt that reported it: progress of an older one is ignored. */
  run: number;
  attempt: number;
  /** When it was reported, ms since the epoch. */
  at: number;
  progress: TaskProgress;
}

/** A progress message on a task's reply_to queue (AMQP property `type` = 'progress'). */
export type TaskProgressMessage = Omit<TaskProgressEvent, 'kind'>;

/** Why `value` is not valid progress, or undefined when it is. */
export function progressProblem(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 && value <= 100 ? undefined : 'a progress number must be from 0 to 100';
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'progress must be a number from 0 to 100 or a JSON object';
  return undefined;
}

/**
 * A copy of `value` as JSON carries it, so later changes by the handler do not leak into what is
 * sent; throws a TypeError for anything progressProblem refuses, for values JSON cannot carry, and
 * for reports longer than PROGRESS_JSON_LENGTH_MAX.
 */
export function snapshotProgress(value: unknown): TaskProgress {
  const problem = progressProblem(value);
  if (problem !== undefined) throw new TypeError(problem);
  const text = JSON.stringify(value);
  if (text.length > PROGRESS_JSON_LENGTH_MAX) throw new TypeError(`progress is ${text.length} characters of JSON; at most ${PROGRESS_JSON_LENGTH_MAX} are allowed`);
  return JSON.parse(text) as TaskProgress;
}

/** True when a parsed event body says it is a progress event (checked further by taskProgressEventProblem). */
export function isProgressEventBody(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { kind?: unknown }).kind === PROGRESS_EVENT_KIND;
}

/** Why a parsed body is not a well-formed progress event, or undefined when it is one. */
export function taskProgressEventProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const event = value as Record<string, unknown>;
  if (event['protocol'] !== TASK_PROTOCOL_VERSION) return `protocol must be ${TASK_PROTOCOL_VERSION}`;
  if (event['kind'] !== PROGRESS_EVENT_KIND) return `kind must be ${PROGRESS_EVENT_KIND}`;
  return progressMessageProblem(event);
}

/** Why a parsed reply-queue body is not a well-formed progress message, or undefined when it is one. */
export function progressMessageProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return 'not a JSON object';
  const message = value as Record<string, unknown>;
  if (message['protocol'] !== TASK_PROTOCOL_VERSION) return `protocol must be ${TASK_PROTOCOL_VERSION}`;
  if (typeof message['id'] !== 'string' || message['id'] === '') return 'id must be a non-empty string';
  if (typeof message['name'] !== 'string' || message['name'] === '') return 'name must be a non-empty string';
  for (const field of ['run', 'attempt'] as const) {
    const number = message[field];
    if (typeof number !== 'number' || !Number.isInteger(number) || number < 1) return `${field} must be an integer >= 1`;
  }
  if (typeof message['at'] !== 'number' || !Number.isFinite(message['at'])) return 'at must be a number (ms since the epoch)';
  return progressProblem(message['progress']);
}
