/**
 * The task SDK: submit tasks, await their results, read their records, retry them
 * (docs/task-protocol.md). A client connects lazily and reconnects on its next call after a lost
 * connection; results come from the reply queue when they can, and from the result keeper otherwise.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from '../util/logger.js';
import { silentLogger, sleep } from './amqp-connection.js';
import { ClientLink } from './client-link.js';
import type { KeeperReply, KeeperRequest } from './keeper-protocol.js';
import {
  KEEPER_REQUESTS_QUEUE,
  TASK_PROTOCOL_VERSION,
  TERMINAL_STATES,
  taskQueueName,
  waitQueueDelayMs,
  type TaskError,
  type TaskReply,
} from './protocol.js';
import { ReplyRouter } from './reply-router.js';
import { newTaskId } from './task-id.js';
import { pollProgress, type ProgressListener } from './client-progress.js';
import { TaskCancelledError, cancelledTaskError } from './task-cancellation.js';
import type { TaskProgress } from './task-progress.js';
import type { TaskQuery, TaskRecord } from './store/result-store.js';
import {
  KeeperRequestError,
  TaskFailedError,
  TaskResultTimeoutError,
  TaskValidationError,
  type UnsuccessfulState,
} from './task-errors.js';
import { jsonMessage, queuedEventJson, taskMessage, type TaskMessageInput } from './task-message.js';
import { assertTaskName, payloadJson, submitTaskOptions, type SubmitOptions } from './task-options.js';
import { parseCallbackUrl } from './webhooks/webhook-endpoint.js';
import { assertIdempotencyKey } from './idempotency.js';
import { assertScheduleId, scheduleDefinition, type Schedule, type ScheduleOptions } from './schedule.js';

/** Options of connectTasks. */
export interface TasksClientOptions {
  /** amqp://user:password@host:port/vhost of the broker. */
  url: string;
  logger?: Logger;
  /** How long get, list and retry wait for a result keeper's answer (default 5000 ms). */
  keeperTimeoutMs?: number;
}

/** Options of handle.result(). */
export interface ResultOptions {
  /** Reject with TaskResultTimeoutError when the task is not terminal within this many ms (default: wait). */
  timeoutMs?: number;
}

/** A submitted task. */
export interface TaskHandle<R = unknown> {
  readonly id: string;
  /** The task name (undefined for a handle made from an id alone). */
  readonly name: string | undefined;
  /** The task's result once it succeeded; rejects with TaskFailedError when it failed, went dead or was cancelled. */
  result(options?: ResultOptions): Promise<R>;
  /** The keeper's record of the task, or undefined when the keeper knows no such task (yet). */
  status(): Promise<TaskRecord | undefined>;
  /** Cancels the task (see TasksClient.cancel); result() then rejects with TaskCancelledError. */
  cancel(): Promise<TaskRecord>;
  /** The latest progress the task's handler reported (ctx.progress), from the keeper; undefined if none yet. */
  progress(): Promise<TaskProgress | undefined>;
  /**
   * Calls `listener` with each progress report as it comes, starting with the latest one already known
   * (through this client's reply queue when it submitted the task, else by asking the keeper every
   * 500 ms until the task is finished); returns a function that stops listening.
   */
  onProgress(listener: ProgressListener): () => void;
  /** True when submit() found its idempotency key already used: this is the earlier task, not a new one. */
  readonly replayed: boolean;
}

/** The task SDK's client. */
export interface TasksClient {
  /** Submits a task; resolves once the broker confirmed its message (and with it the keeper's copy). */
  submit<P = unknown, R = unknown>(name: string, payload: P, options?: SubmitOptions): Promise<TaskHandle<R>>;
  /** A handle for a task submitted elsewhere (its result comes from the keeper). */
  handle<R = unknown>(id: string, name?: string): TaskHandle<R>;
  /** The keeper's record of task `id`, or undefined when it knows no such task. */
  get(id: string): Promise<TaskRecord | undefined>;
  /** The keeper's records matching `query`, newest first. */
  list(query?: TaskQuery): Promise<TaskRecord[]>;
  /** Re-queues a failed or dead task for a new run; resolves with its record. */
  retry(id: string): Promise<TaskRecord>;
  /** The webhook secret (`whsec_...`) a receiver at `callbackUrl` verifies signatures with, from a keeper. */
  webhookSecret(callbackUrl: string): Promise<string>;
  /**
   * Cancels a queued or running task: its record becomes 'cancelled' at once, it will not run, and a
   * running handler's ctx.signal aborts with TaskCancelledError. Resolves with the record; rejects with
   * KeeperRequestError 'not_found' (unknown task) or 'conflict' (already finished).
   */
  cancel(id: string): Promise<TaskRecord>;
  /** Closes the connection; pending result() calls reject. */
  close(): Promise<void>;
  /**
   * Creates or replaces schedule `id`: a keeper submits task `name` with `payload` at every slot of the
   * five-field `cron` expression, read in `options.tz` (default UTC), once per slot (docs/schedules.md).
   */
  schedule<P = unknown>(id: string, name: string, cron: string, payload: P, options?: ScheduleOptions): Promise<Schedule>;
  /** Every schedule, by id. */
  schedules(): Promise<Schedule[]>;
  /** Deletes schedule `id`; false when there was none. */
  unschedule(id: string): Promise<boolean>;
}

/** Creates a task client for the broker at `url`; it connects on first use. */
export function connectTasks(options: TasksClientOptions): TasksClient {
  return new Client(options);
}

const KEEPER_TIMEOUT_DEFAULT_MS = 5000;
/** First and longest pause between two keeper polls of result(). */
const POLL_FIRST_MS = 50;
const POLL_MAX_MS = 2000;

type Outcome = { state: 'succeeded'; result: unknown } | { state: UnsuccessfulState; error: TaskError };

class Client implements TasksClient {
  private readonly url: string;
  private readonly logger: Logger;
  private readonly keeperTimeoutMs: number;
  private readonly router: ReplyRouter;
  private link: ClientLink | undefined;
  private opening: Promise<ClientLink> | undefined;
  private closed = false;
  /** Aborted on close, so pending result() calls end. */
  private readonly closing = new AbortController();

  constructor(options: TasksClientOptions) {
    this.url = new URL(options.url).toString();
    this.logger = options.logger ?? silentLogger;
    this.keeperTimeoutMs = options.keeperTimeoutMs ?? KEEPER_TIMEOUT_DEFAULT_MS;
    this.router = new ReplyRouter(this.logger);
    // Every pending result() and onProgress() listens for close: any number may wait at once.
    setMaxListeners(0, this.closing.signal);
  }

  /**
   * Not an async function, and the common case waits on a callback that holds only the task's id and
   * name: a suspended async function would keep the task message, its headers and its queued event
   * alive until both confirms came (a client of thousands of submits a second pays for every object
   * in flight at each scavenge). Every failure, thrown or not, still comes as a rejection.
   */
  submit<P, R>(name: string, payload: P, options: SubmitOptions = {}): Promise<TaskHandle<R>> {
    try {
      return this.submitNow<P, R>(name, payload, options);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  private submitNow<P, R>(name: string, payload: P, options: SubmitOptions): Promise<TaskHandle<R>> {
    assertTaskName(name);
    const resolved = submitTaskOptions(options, Date.now());
    if (options.idempotencyKey !== undefined) assertIdempotencyKey(options.idempotencyKey);
    if (options.reply !== undefined && typeof options.reply !== 'boolean') throw new TaskValidationError(`reply must be a boolean, got ${JSON.stringify(options.reply)}`);
    const input: TaskMessageInput = {
      id: newTaskId(),
      name,
      payloadJson: payloadJson(payload),
      options: resolved,
      run: 1,
      attempt: 1,
      enqueuedAt: Date.now(),
    };
    if (options.traceparent !== undefined) input.traceparent = options.traceparent;
    if (options.tracestate !== undefined) input.tracestate = options.tracestate;
    // The common case, on a link that has declared all this submit takes (the reply queue too, when it
    // asks for a reply): no declaration or keeper call to wait for.
    const link = this.link;
    const wantsReply = options.reply !== false;
    const plain = options.replyTo === undefined && options.idempotencyKey === undefined && resolved.delayMs === 0;
    const replyTo = wantsReply ? link?.declaredReplyQueue : undefined;
    if (link !== undefined && plain && link.isReadyFor(name) && (replyTo !== undefined || !wantsReply)) {
      if (replyTo !== undefined) input.replyTo = replyTo;
      const { id } = input;
      const replyLink = replyTo === undefined ? undefined : link;
      return link.submit(taskQueueName(name), name, queuedEventJson(input), taskMessage(input)).then(() => new Handle<R>(this, id, name, replyLink));
    }
    return this.submitDeclaring<R>(name, input, options);
  }

  /** What submit() does when something is to be declared or claimed first (see submit). */
  private async submitDeclaring<R>(name: string, input: TaskMessageInput, options: SubmitOptions): Promise<TaskHandle<R>> {
    const resolved = input.options;
    const link = await this.currentLink();
    const ownReplyTo = options.replyTo !== undefined;
    if (ownReplyTo) {
      input.replyTo = assertShortString('replyTo', options.replyTo);
      if (options.correlationId !== undefined) input.replyCorrelationId = assertShortString('correlationId', options.correlationId);
    } else if (options.reply !== false) {
      input.replyTo = await link.replyQueue();
    }
    await link.ensureEventTopology();
    await link.ensureTaskQueues(name);
    const routingKey =
      resolved.delayMs > 0 ? await link.ensureWaitQueue(name, waitQueueDelayMs(resolved.delayMs)) : taskQueueName(name);
    // With an idempotency key, a keeper claims it for this task's id first; if another task holds it, that is the answer.
    const owner = options.idempotencyKey === undefined ? undefined : await this.claimIdempotencyKey(name, options.idempotencyKey, input.id);
    if (owner !== undefined && owner !== input.id) return new Handle<R>(this, owner, name, undefined, true);
    // The 'queued' event, then the task message (ClientLink.submit): it fails only if the broker did not take the task message.
    try {
      await link.submit(routingKey, name, queuedEventJson(input), taskMessage(input));
    } catch (error) {
      // A task message the broker did not take frees the key for a retry of this submit.
      throw await this.releaseIdempotencyKey(name, options.idempotencyKey, input.id, error);
    }
    // A reply that goes elsewhere, or none, never reaches this client: its handle asks the keeper.
    return new Handle<R>(this, input.id, name, input.replyTo === undefined || ownReplyTo ? undefined : link);
  }

  handle<R>(id: string, name?: string): TaskHandle<R> {
    assertTaskId(id);
    return new Handle<R>(this, id, name, undefined);
  }

  async get(id: string): Promise<TaskRecord | undefined> {
    assertTaskId(id);
    return (await this.keeperRequest({ op: 'get', id })).record;
  }

  async list(query: TaskQuery = {}): Promise<TaskRecord[]> {
    return (await this.keeperRequest({ op: 'list', query })).records ?? [];
  }

  async retry(id: string): Promise<TaskRecord> {
    assertTaskId(id);
    const { record } = await this.keeperRequest({ op: 'retry', id });
    this.router.forget(id);
    if (record === undefined) throw new KeeperRequestError('internal', `the keeper retried task ${id} but sent no record`);
    return record;
  }

  async webhookSecret(callbackUrl: string): Promise<string> {
    const { secret } = await this.keeperRequest({ op: 'webhook-secret', url: parseCallbackUrl(callbackUrl) });
    if (secret === undefined) throw new KeeperRequestError('internal', 'the keeper sent no webhook secret');
    return secret;
  }

  cancel(id: string): Promise<TaskRecord> {
    return this.cancelTask(id, false);
  }

  /**
   * What cancel() does; with `justSubmitted` (a handle's cancel), a task the keeper does not know yet is
   * asked about again for a moment, since the keeper records a task shortly after it was submitted.
   */
  async cancelTask(id: string, justSubmitted: boolean): Promise<TaskRecord> {
    assertTaskId(id);
    const { record } = await retryWhileUnrecorded(() => this.keeperRequest({ op: 'cancel', id }), justSubmitted ? UNRECORDED_TRIES : 1);
    if (record === undefined) throw new KeeperRequestError('internal', `the keeper cancelled task ${id} but sent no record`);
    // No worker may ever reply (the task never runs): result() calls waiting here learn it now.
    const error = record.error ?? cancelledTaskError();
    this.router.settle(id, { protocol: TASK_PROTOCOL_VERSION, id, name: record.name, state: 'cancelled', attempt: record.attempts, error });
    return record;
  }

  /** What onProgress() of a handle does: see TaskHandle.onProgress. */
  watchProgress(id: string, link: ClientLink | undefined, listener: ProgressListener): () => void {
    this.assertOpen();
    if (link !== undefined) return this.router.progress.add(id, listener);
    const controller = new AbortController();
    const stopOnClose = (): void => controller.abort();
    this.closing.signal.addEventListener('abort', stopOnClose, { once: true });
    void pollProgress(() => this.get(id), listener, controller.signal).finally(() => this.closing.signal.removeEventListener('abort', stopOnClose));
    return () => controller.abort();
  }

  async schedule<P>(id: string, name: string, cron: string, payload: P, options: ScheduleOptions = {}): Promise<Schedule> {
    const { schedule } = await this.keeperRequest({ op: 'putSchedule', schedule: scheduleDefinition(id, name, cron, payload, options) });
    if (schedule === undefined) throw new KeeperRequestError('internal', `the keeper stored schedule ${id} but did not send it back`);
    return schedule;
  }

  async schedules(): Promise<Schedule[]> {
    return (await this.keeperRequest({ op: 'listSchedules' })).schedules ?? [];
  }

  async unschedule(id: string): Promise<boolean> {
    assertScheduleId(id);
    return (await this.keeperRequest({ op: 'deleteSchedule', id })).removed === true;
  }

  /** Claims an idempotency key for a new task `id` through a keeper; returns the id of the task that holds it. */
  private async claimIdempotencyKey(name: string, key: string, id: string): Promise<string> {
    const { owner } = await this.keeperRequest({ op: 'claimIdempotencyKey', name, key, id });
    if (owner === undefined) throw new KeeperRequestError('internal', 'the keeper answered an idempotency key claim without its owner');
    return owner.id;
  }

  /** Frees the key a failed submit claimed (so a retry of the submit can use it), then gives back the failure. */
  private async releaseIdempotencyKey(name: string, key: string | undefined, id: string, failure: unknown): Promise<unknown> {
    if (key !== undefined) await this.keeperRequest({ op: 'releaseIdempotencyKey', name, key, id }).catch(() => {});
    return failure;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort(new Error('the tasks client was closed'));
    const opening = this.opening;
    await this.link?.close();
    if (opening !== undefined) await opening.then((link) => link.close()).catch(() => {});
  }

  /** What result() of a handle does: see TaskHandle.result. */
  async awaitResult<R>(id: string, link: ClientLink | undefined, options: ResultOptions): Promise<R> {
    this.assertOpen();
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && (!Number.isInteger(timeoutMs) || timeoutMs < 0)) {
      throw new TaskValidationError(`timeoutMs must be a non-negative integer, got ${JSON.stringify(timeoutMs)}`);
    }
    const controller = new AbortController();
    const stopOnClose = (): void => controller.abort(this.closing.signal.reason);
    this.closing.signal.addEventListener('abort', stopOnClose, { once: true });
    const timer =
      timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(new TaskResultTimeoutError(id, timeoutMs)), timeoutMs);
    try {
      const outcome = await this.awaitOutcome(id, link, controller.signal);
      if (outcome.state === 'cancelled') throw new TaskCancelledError(id, outcome.error);
      if (outcome.state !== 'succeeded') throw new TaskFailedError(id, outcome.state, outcome.error);
      return outcome.result as R;
    } finally {
      clearTimeout(timer);
      this.closing.signal.removeEventListener('abort', stopOnClose);
    }
  }

  /**
   * The outcome of the run a handle stands for. A handle from submit() takes the reply of its run when
   * the reply can come (or came); a handle made from an id, or one whose task was retried through this
   * client, asks the keeper, which knows the latest run.
   */
  private async awaitOutcome(id: string, link: ClientLink | undefined, signal: AbortSignal): Promise<Outcome> {
    if (link !== undefined && !this.router.wasRetried(id)) {
      const kept = this.router.reply(id);
      if (kept !== undefined) return replyOutcome(kept);
      if (!link.isLost) {
        const reply = await this.router.waitForReply(id, link, signal);
        if (reply !== undefined) return replyOutcome(reply);
      }
    }
    return this.pollKeeper(id, signal);
  }

  /** Asks the keeper until the task is terminal; used when no reply can come. */
  private async pollKeeper(id: string, signal: AbortSignal): Promise<Outcome> {
    let pauseMs = POLL_FIRST_MS;
    for (;;) {
      try {
        const { record } = await this.keeperRequest({ op: 'get', id }, signal);
        if (record !== undefined && TERMINAL_STATES.includes(record.state)) return recordOutcome(record);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        this.logger.debug({ id, err: (error as Error).message }, 'result keeper poll failed; polling on');
      }
      await sleep(pauseMs, signal);
      pauseMs = Math.min(pauseMs * 2, POLL_MAX_MS);
    }
  }

  private async keeperRequest(request: KeeperRequest, signal?: AbortSignal): Promise<Extract<KeeperReply, { ok: true }>> {
    const link = await this.currentLink();
    const replyTo = await link.replyQueue();
    await link.ensureKeeperRequestsQueue();
    const correlationId = randomUUID();
    const answer = this.router.expectKeeperReply(correlationId, link, this.keeperTimeoutMs, signal);
    answer.catch(() => {}); // awaited below; this keeps a rejection during the publish from counting as unhandled
    const message = jsonMessage(request, { replyTo, correlationId, deliveryMode: 1, expiration: String(this.keeperTimeoutMs) });
    try {
      await link.publish('', KEEPER_REQUESTS_QUEUE, message);
    } catch (error) {
      this.router.cancelRequest(correlationId, error);
      throw error;
    }
    const reply = await answer;
    if (!reply.ok) throw new KeeperRequestError(reply.error.code, reply.error.message);
    return reply;
  }

  /** The open link, connecting (again) when there is none. */
  private currentLink(): Promise<ClientLink> {
    this.assertOpen();
    if (this.link !== undefined && !this.link.isLost) return Promise.resolve(this.link);
    this.opening ??= ClientLink.open(this.url, this.logger, this.router.deliver).then(
      (link) => {
        this.opening = undefined;
        if (this.closed) {
          void link.close();
          throw new Error('the tasks client was closed');
        }
        this.link = link;
        return link;
      },
      (error: unknown) => {
        this.opening = undefined;
        throw error;
      },
    );
    return this.opening;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the tasks client is closed');
  }
}

class Handle<R> implements TaskHandle<R> {
  constructor(
    private readonly client: Client,
    readonly id: string,
    readonly name: string | undefined,
    /** The link whose reply queue the task's reply goes to, when this client submitted it. */
    private readonly link: ClientLink | undefined,
    readonly replayed = false,
  ) {}

  result(options: ResultOptions = {}): Promise<R> {
    return this.client.awaitResult<R>(this.id, this.link, options);
  }

  status(): Promise<TaskRecord | undefined> {
    return this.client.get(this.id);
  }

  cancel(): Promise<TaskRecord> {
    return this.client.cancelTask(this.id, this.name !== undefined);
  }

  async progress(): Promise<TaskProgress | undefined> {
    return (await this.client.get(this.id))?.progress as TaskProgress | undefined;
  }

  onProgress(listener: ProgressListener): () => void {
    return this.client.watchProgress(this.id, this.link, listener);
  }
}

/** How often, 50 ms apart, a handle's cancel asks again about a task the keeper has not recorded yet. */
const UNRECORDED_TRIES = 20;

/** Runs `request` up to `tries` times while it fails with KeeperRequestError 'not_found'. */
async function retryWhileUnrecorded<T>(request: () => Promise<T>, tries: number): Promise<T> {
  for (let tried = 1; ; tried++) {
    try {
      return await request();
    } catch (error) {
      if (!(error instanceof KeeperRequestError && error.code === 'not_found') || tried >= tries) throw error;
      await sleep(POLL_FIRST_MS);
    }
  }
}

function replyOutcome(reply: TaskReply): Outcome {
  if (reply.state === 'succeeded') return { state: 'succeeded', result: reply.result };
  return { state: reply.state, error: reply.error ?? unknownError(reply.state) };
}

function recordOutcome(record: TaskRecord): Outcome {
  if (record.state === 'succeeded') return { state: 'succeeded', result: record.result };
  const state = record.state as UnsuccessfulState;
  return { state, error: record.error ?? unknownError(state) };
}

function unknownError(state: UnsuccessfulState): TaskError {
  return { name: 'Error', message: `the task is ${state} and no error was recorded`, retryable: false };
}

function assertTaskId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id === '' || id.length > 255) {
    throw new TaskValidationError(`a task id must be a string of 1-255 characters, got ${JSON.stringify(id)}`);
  }
}

/** An AMQP short string (reply_to, correlation_id): 1 to 255 bytes of UTF-8. */
function assertShortString(option: string, value: unknown): string {
  if (typeof value !== 'string' || value === '' || Buffer.byteLength(value) > 255) {
    throw new TaskValidationError(`${option} must be 1 to 255 bytes of text`);
  }
  return value;
}
