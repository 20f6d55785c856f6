/**
 * The task protocol (docs/task-protocol.md): queue and exchange names, message headers and the JSON
 * bodies of task messages, state events and replies. Everything that submits, runs or records tasks
 * agrees through these definitions only, so a client in any language can take part by following the
 * document, and the task layer runs unchanged on Warren or on RabbitMQ.
 */

/** Version of the protocol, sent in every task message and event. */
export const TASK_PROTOCOL_VERSION = 1;

/** Prefix of every queue and exchange the task layer declares. */
export const TASK_PREFIX = 'warren.task';

/** The durable work queue of a task name. */
export function taskQueueName(taskName: string): string {
  return `${TASK_PREFIX}.${taskName}`;
}

/** The durable dead-letter queue of a task name: tasks whose attempts are exhausted, with their error. */
export function deadLetterQueueName(taskName: string): string {
  return `${TASK_PREFIX}.${taskName}.dead`;
}

/**
 * The wait queue that holds a task name's messages for `delayMs` before dead-lettering them back to
 * the work queue (retry backoff and delayed submission, with no broker plugin needed).
 */
export function waitQueueName(taskName: string, delayMs: number): string {
  return `${TASK_PREFIX}.${taskName}.wait.${delayMs}`;
}

/** Topic exchange every task state event is published to, with routing key `<state>.<task name>`. */
export const TASK_EVENTS_EXCHANGE = `${TASK_PREFIX}.events`;

/** Durable queue the result keepers consume state events from (bound with `#`). */
export const KEEPER_QUEUE = `${TASK_PREFIX}.keeper`;

/** Queue the result keepers answer requests on (status, list, retry), replying to reply_to. */
export const KEEPER_REQUESTS_QUEUE = `${TASK_PREFIX}.keeper.requests`;

/** x-max-priority of every work queue: task priorities run 0 (default) to 9. */
export const TASK_PRIORITY_MAX = 9;

/** Arguments every work queue is declared with (declarers must agree, or the broker refuses). */
export const TASK_QUEUE_ARGUMENTS = { 'x-max-priority': TASK_PRIORITY_MAX + 1 } as const;

/** Content type of task bodies, events and replies. */
export const TASK_CONTENT_TYPE = 'application/json';

/** The AMQP type property of a task's reply (section 5.2), which tells it apart from progress messages. */
export const TASK_REPLY_TYPE = 'result';

/** Header names of a task message. */
export const TaskHeader = {
  protocol: 'x-task-protocol',
  id: 'x-task-id',
  name: 'x-task-name',
  /** 1-based number of this attempt. */
  attempt: 'x-task-attempt',
  maxAttempts: 'x-task-max-attempts',
  /** Milliseconds a single attempt may run; 0 for no limit. */
  timeoutMs: 'x-task-timeout-ms',
  /** When the task was submitted, ms since the epoch. */
  enqueuedAt: 'x-task-enqueued-at',
  /** 'fixed' or 'exponential'. */
  backoff: 'x-task-backoff',
  backoffDelayMs: 'x-task-backoff-delay-ms',
  /** true: the exponential backoff is randomised ("full jitter"). */
  backoffJitter: 'x-task-backoff-jitter',
  /** Increases with every manual retry of a failed or dead task, so its events order after older ones. */
  run: 'x-task-run',
  /** W3C trace context, passed through untouched. */
  traceparent: 'traceparent',
  tracestate: 'tracestate',
  /**
   * The correlation_id the reply to reply_to carries, when the submitter chose it (a reply queue of its
   * own, another service's queue); without it the reply's correlation_id is the task id.
   */
  replyCorrelationId: 'x-task-reply-correlation-id',
  /** On a message in the dead-letter queue: the last error, as JSON. */
  error: 'x-task-error',
  /** The delay the submitter asked for before the first attempt, ms (options.delayMs). Absent: 0. */
  delayMs: 'x-task-delay-ms',
  /** Where the keeper POSTs the finished task (options.callbackUrl). Absent: no webhook. */
  callbackUrl: 'x-task-callback-url',
} as const;

/** How the delay before retry n grows. */
export type BackoffKind = 'fixed' | 'exponential';

/** Retry policy of a task. */
export interface Backoff {
  kind: BackoffKind;
  /** Delay before the first retry (and every retry, with 'fixed'). */
  delayMs: number;
  /** Randomise exponential delays between 0 and the computed delay. */
  jitter: boolean;
}

/**
 * Longest delay or timeout a task may ask for (about 23 days): delays become x-message-ttl and x-expires
 * of wait queues (32-bit signed on the wire) and timeouts become timers (Node caps them at 2^31 - 1 ms).
 */
export const TASK_DELAY_MAX_MS = 2_000_000_000;

/** Options of a submitted task. */
export interface TaskOptions {
  /** Attempts in all, first one included (default 1: no retry). */
  attempts: number;
  backoff: Backoff;
  /** Milliseconds one attempt may run before it is aborted and counted as failed; 0 for no limit. */
  timeoutMs: number;
  /** 0 (default) to 9. */
  priority: number;
  /** Milliseconds to wait before the first attempt. */
  delayMs: number;
  /** Where the keeper POSTs the task once it finished (a signed webhook, docs/webhooks.md); absent for none. */
  callbackUrl?: string;
}

/**
 * Defaults applied to options a submitter leaves out. Frozen: submits that set no option, records of
 * tasks with the defaults and the keeper's reading of a queued event without options all share this
 * one object, so a change to it would change every one of them.
 */
export const DEFAULT_TASK_OPTIONS: TaskOptions = Object.freeze({
  attempts: 1,
  backoff: Object.freeze({ kind: 'exponential', delayMs: 1000, jitter: true } as const),
  timeoutMs: 0,
  priority: 0,
  delayMs: 0,
});

/** Task states, as the result store records them and the HTTP API reports them. */
export type TaskState = 'queued' | 'running' | 'succeeded' | 'failed' | 'dead' | 'cancelled';

/** Terminal states: no more attempts follow (unless a manual retry starts a new run). */
export const TERMINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'dead', 'cancelled'];

/** An error as recorded for a failed attempt. */
export interface TaskError {
  name: string;
  message: string;
  /** False when the handler said the task must not be retried (NonRetryableError). */
  retryable: boolean;
  stack?: string;
}

/** Kinds of state event: the task states, plus 'retrying' (an attempt failed, another follows). */
export type TaskEventKind = 'queued' | 'started' | 'retrying' | 'succeeded' | 'failed' | 'dead' | 'cancelled';

/** A task state event (JSON body on TASK_EVENTS_EXCHANGE, routing key `<kind>.<task name>`). */
export interface TaskEvent {
  protocol: typeof TASK_PROTOCOL_VERSION;
  kind: TaskEventKind;
  id: string;
  name: string;
  /** Manual-retry generation, starting at 1. */
  run: number;
  /** Attempt the event is about (1-based; the queued event of a run has attempt 1). */
  attempt: number;
  /** When it happened, ms since the epoch. */
  at: number;
  /** queued: what was submitted, so a keeper can show and re-submit it. */
  payload?: unknown;
  options?: TaskOptions;
  /** queued: when the task was submitted (first run), ms since the epoch. */
  enqueuedAt?: number;
  /** started, and the outcome of an attempt: an identifier of the worker process. */
  worker?: string;
  /**
   * The outcome of an attempt (retrying, succeeded, failed, dead): when its handler started, ms since the
   * epoch. A worker sends 'started' only for an attempt that runs a while, so this is the start of short ones.
   */
  startedAt?: number;
  /** succeeded: the handler's return value. */
  result?: unknown;
  /** retrying, failed, dead: the error of the attempt. */
  error?: TaskError;
  /** retrying: when the next attempt is due, ms since the epoch. */
  retryAt?: number;
}

/** The reply a worker publishes to a task's reply_to (correlation_id = task id) once it is terminal. */
export interface TaskReply {
  protocol: typeof TASK_PROTOCOL_VERSION;
  id: string;
  name: string;
  state: Extract<TaskState, 'succeeded' | 'failed' | 'dead' | 'cancelled'>;
  attempt: number;
  result?: unknown;
  error?: TaskError;
}

/**
 * The kind in the routing key (`batch.<task name>`) of a message that carries several events of one task
 * name as a JSON array (a worker's events of one moment, section 3 of docs/task-protocol.md).
 */
export const EVENT_BATCH_KIND = 'batch';

/** The routing key of an event. */
export function eventRoutingKey(event: Pick<TaskEvent, 'kind' | 'name'>): string {
  return `${event.kind}.${event.name}`;
}

/**
 * The delay before retry `retry` (1-based): fixed, or delayMs * 2^(retry-1), with full jitter when
 * asked. `random` is injectable so tests can pin it.
 */
export function retryDelayMs(backoff: Backoff, retry: number, random: () => number = Math.random): number {
  if (backoff.kind === 'fixed') return backoff.delayMs;
  const ceiling = backoff.delayMs * 2 ** Math.max(0, retry - 1);
  return backoff.jitter ? Math.floor(random() * ceiling) : ceiling;
}

/**
 * Rounds a delay to two significant digits (1234 -> 1200 ms) so retries share a bounded number of wait
 * queues; never rounds a positive delay down to 0.
 */
export function waitQueueDelayMs(delayMs: number): number {
  if (delayMs <= 0) return 0;
  const magnitude = 10 ** Math.max(0, Math.floor(Math.log10(delayMs)) - 1);
  return Math.max(1, Math.round(delayMs / magnitude) * magnitude);
}

/** Arguments of a wait queue: expire into the work queue, and go away when unused for a while. */
export function waitQueueArguments(taskName: string, delayMs: number): Record<string, unknown> {
  return {
    'x-message-ttl': delayMs,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': taskQueueName(taskName),
    'x-expires': delayMs + 60_000,
  };
}

/** A task name: what a queue name may carry (1-200 characters of [A-Za-z0-9_.:-]). */
export function isValidTaskName(name: string): boolean {
  return /^[A-Za-z0-9_.:-]{1,200}$/.test(name);
}
