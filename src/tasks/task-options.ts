/**
 * Checks what a submitter asks for (task name, options, payload) and fills in the defaults, so bad
 * input fails at submit with a clear message instead of in a worker.
 */
import {
  DEFAULT_TASK_OPTIONS,
  TASK_DELAY_MAX_MS,
  TASK_PRIORITY_MAX,
  isValidTaskName,
  type Backoff,
  type TaskOptions,
} from './protocol.js';
import { withRunAt, type RunAt } from './run-at.js';
import { TaskValidationError } from './task-errors.js';
import { parseCallbackUrl } from './webhooks/webhook-endpoint.js';

/** Options of submit(): any TaskOptions field (the rest take DEFAULT_TASK_OPTIONS), plus W3C trace context. */
export type SubmitOptions = Partial<Omit<TaskOptions, 'backoff'>> & {
  backoff?: Partial<Backoff>;
  /** W3C traceparent, sent as the traceparent header. */
  traceparent?: string;
  /** W3C tracestate, sent as the tracestate header. */
  tracestate?: string;
  /**
   * A queue of your own for the result (the AMQP reply channel): the worker publishes the TaskReply there
   * (to the default exchange, this routing key) instead of to this client; handle.result() then asks
   * the keeper.
   */
  replyTo?: string;
  /** The correlation_id of that reply (default: the task id). */
  correlationId?: string;
  /**
   * false: ask for no reply message to this client (the task message gets no reply_to, so the worker
   * publishes none), for a submitter that does not wait for the result through it: fire and forget, or
   * results by webhook, HTTP or the keeper. handle.result() then asks the keeper. A replyTo of your own
   * still gets its reply. Default true.
   */
  reply?: boolean;
  /** Run at this time (ms since the epoch, ISO 8601 string or Date) instead of after delayMs; not both. */
  runAt?: RunAt;
  /**
   * A repeated key (per task name, within the keeper's window, default 24 h) returns the existing task
   * instead of submitting another; costs one keeper round trip (docs/idempotency.md).
   */
  idempotencyKey?: string;
};

/** Throws TaskValidationError unless `name` is a valid task name. */
export function assertTaskName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !isValidTaskName(name)) {
    throw new TaskValidationError(`invalid task name ${JSON.stringify(name)}: use 1-200 characters of A-Z a-z 0-9 _ . : -`);
  }
}

/**
 * The complete options of a submit: DEFAULT_TASK_OPTIONS itself (shared, never to be changed) when
 * `options` sets none of them, as a busy submitter's mostly do, else resolveTaskOptions over them (with
 * runAt turned into a delay from `now`).
 */
export function submitTaskOptions(options: SubmitOptions, now: number): TaskOptions {
  const setsNone =
    options.attempts === undefined && options.backoff === undefined && options.timeoutMs === undefined && options.priority === undefined &&
    options.delayMs === undefined && options.runAt === undefined && options.callbackUrl === undefined;
  return setsNone ? DEFAULT_TASK_OPTIONS : resolveTaskOptions(withRunAt(options, now));
}

/** The complete options of a task: the submitter's, checked, over DEFAULT_TASK_OPTIONS. */
export function resolveTaskOptions(options: SubmitOptions = {}): TaskOptions {
  const defaults = DEFAULT_TASK_OPTIONS;
  const backoff = options.backoff ?? {};
  const kind = backoff.kind ?? defaults.backoff.kind;
  if (kind !== 'fixed' && kind !== 'exponential') {
    throw new TaskValidationError(`backoff.kind must be 'fixed' or 'exponential', got ${JSON.stringify(kind)}`);
  }
  const jitter = backoff.jitter ?? defaults.backoff.jitter;
  if (typeof jitter !== 'boolean') throw new TaskValidationError(`backoff.jitter must be a boolean, got ${JSON.stringify(jitter)}`);
  const callback = options.callbackUrl === undefined ? {} : { callbackUrl: parseCallbackUrl(options.callbackUrl) };
  return {
    attempts: integerOption('attempts', options.attempts ?? defaults.attempts, 1, Number.MAX_SAFE_INTEGER),
    backoff: { kind, delayMs: integerOption('backoff.delayMs', backoff.delayMs ?? defaults.backoff.delayMs, 0, TASK_DELAY_MAX_MS), jitter },
    timeoutMs: integerOption('timeoutMs', options.timeoutMs ?? defaults.timeoutMs, 0, TASK_DELAY_MAX_MS),
    priority: integerOption('priority', options.priority ?? defaults.priority, 0, TASK_PRIORITY_MAX),
    delayMs: integerOption('delayMs', options.delayMs ?? defaults.delayMs, 0, TASK_DELAY_MAX_MS),
    ...callback,
  };
}

/** The JSON text of a payload (undefined becomes null); throws TaskValidationError when it has none. */
export function payloadJson(payload: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(payload === undefined ? null : payload);
  } catch (error) {
    throw new TaskValidationError(`the payload is not JSON-serialisable: ${(error as Error).message}`);
  }
  if (text === undefined) throw new TaskValidationError('the payload is not JSON-serialisable (a function or symbol)');
  return text;
}

function integerOption(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TaskValidationError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}
