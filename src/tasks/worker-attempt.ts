/**
 * One attempt at one delivered task: the handler under its timeout and the worker's shutdown ('started'
 * once it has run a while), the outcome recorded (succeeded, retrying, failed or dead), and only then the ack.
 */
import type { AMQPMessage } from '@cloudamqp/amqp-client';
import { retryDelayMs, waitQueueDelayMs, type TaskError } from './protocol.js';
import { NonRetryableError, TaskTimeoutError, toTaskError } from './worker-errors.js';
import { readTaskPayload, type TaskHeaders } from './worker-message.js';
import type { EncodedSuccess, OutcomeRecorder } from './worker-recorder.js';
import type { HandlerSlots } from './handler-slots.js';
import { assert, assertNever } from '../util/assert.js';
import type { BatchedAcks } from './batched-acks.js';
import { snapshotProgress, type TaskProgress } from './task-progress.js';
import { replyCancelled } from './worker-cancellation.js';
import { ProgressReporter, progressPublisher } from './worker-progress.js';
import { AttemptAbort } from './attempt-abort.js';
import { AttemptContext } from './attempt-context.js';
import type { AnnouncedAttempt, StartAnnouncements } from './start-announcements.js';
import type { PrefetchWindow } from './prefetch-window.js';

/** What a handler gets besides the payload. */
export interface TaskContext {
  id: string;
  name: string;
  /** 1-based number of this attempt. */
  attempt: number;
  maxAttempts: number;
  /**
   * Aborts when the attempt times out (reason: TaskTimeoutError), the worker stops (WorkerShutdownError)
   * or the task is cancelled (TaskCancelledError).
   */
  signal: AbortSignal;
  /** When the task was submitted, ms since the epoch. */
  enqueuedAt: number;
  /** Every header of the task message (trace context included). */
  headers: Readonly<Record<string, unknown>>;
  /**
   * Reports progress: a number from 0 to 100 or a JSON object (a TypeError otherwise). Not awaited:
   * rapid reports are coalesced, and the latest reaches the keeper and the task's reply_to.
   */
  progress(value: TaskProgress): void;
}

/** A task handler: gets the JSON payload, returns a JSON-encodable result (or throws). */
export type TaskHandler<P = unknown, R = unknown> = (payload: P, ctx: TaskContext) => Promise<R> | R;

/** How an attempt ended, as the worker reports it. */
export type AttemptOutcome = 'succeeded' | 'retrying' | 'failed' | 'dead' | 'requeued' | 'cancelled';

/**
 * Returns to the queue without an outcome (workers that died, lost their connection or stopped while
 * holding the task) after which the task is dead instead of tried again, so a task that kills every
 * worker it reaches cannot cycle forever. Counted from the x-delivery-count header, which Warren (and
 * RabbitMQ's quorum queues) add to a redelivered message; without it there is no bound.
 */
export const LOST_DELIVERIES_MAX = 20;

/**
 * How long a handler runs before the worker publishes the attempt's 'started' event. A handler that
 * finishes sooner sends none: its outcome event carries the start instead, which spares the broker and
 * the keeper one message per short task. Reporting progress sends 'started' at once (the keeper takes
 * progress only of an attempt it knows started).
 */
export const STARTED_EVENT_DELAY_MS = 50;

type Decision =
  | { kind: 'succeeded'; success: EncodedSuccess }
  | { kind: 'retrying' | 'failed' | 'dead'; error: TaskError }
  | { kind: 'cancelled' };

/** A delivery being worked on; the worker keeps these to requeue what is still running when it stops. */
export class TaskAttempt implements AnnouncedAttempt {
  /** Aborts ctx.signal (made only if the handler reads it). */
  private readonly abort = new AttemptAbort();
  /** The outcome is being recorded: too late to requeue the delivery. */
  recording = false;
  /** The worker gave the delivery back (or lost it); whatever the handler does next is ignored. */
  abandoned = false;
  /** The handler has a slot (false while the delivery waits for one). */
  handlerStarted = false;
  /** The handler has started and the attempt still waits for it. */
  handlerRunning = false;
  /** performance.now() at which the 'started' event is due, once the handler started. */
  announceDueAt = 0;
  /** Set when the task was cancelled: the handler does not run, or its signal aborts with this. */
  cancelReason: Error | undefined;
  private progressReporter: ProgressReporter | undefined;
  /** When the handler started (ms since the epoch); undefined while it has not. */
  private startedAt: number | undefined;
  /** The 'started' event was published. */
  private startAnnounced = false;
  /**
   * The delivery, until its outcome is published: from then on the ack needs its tag only. Dropping it
   * then frees the message (properties, headers, body) while the outcome waits for its confirm, which
   * spares a worker of thousands of tasks a second the copying of each of them at every scavenge.
   */
  #delivery: AMQPMessage | undefined;
  readonly #deliveryTag: number;

  constructor(
    delivery: AMQPMessage,
    readonly task: TaskHeaders,
    private readonly recorder: OutcomeRecorder,
    /** Told when the outcome starts being recorded (the worker's adaptive prefetch window), if any. */
    private readonly window: PrefetchWindow | undefined,
  ) {
    this.#delivery = delivery;
    this.#deliveryTag = delivery.deliveryTag;
  }

  /** The delivery, while the outcome is not published yet. */
  private get message(): AMQPMessage {
    const delivery = this.#delivery;
    assert(delivery !== undefined, 'the delivery is dropped only once its outcome is published');
    return delivery;
  }

  private startRecording(): void {
    this.recording = true;
    this.window?.recordingStarted();
  }

  /**
   * Aborts the handler and marks the delivery as given back; returns the delivery to give back, or
   * undefined when the outcome is already being recorded (or the attempt was abandoned before).
   */
  abandon(reason: Error): AMQPMessage | undefined {
    if (this.recording || this.abandoned) return undefined;
    this.abandoned = true;
    this.abort.abort(reason);
    return this.#delivery;
  }

  /** Cancels the attempt (its handler's signal aborts); false when the outcome is already being recorded. */
  cancel(reason: Error): boolean {
    if (this.recording || this.abandoned || this.cancelReason !== undefined) return false;
    this.cancelReason = reason;
    this.abort.abort(reason);
    return true;
  }

  /** Runs the attempt to its end; rejects only when recording the outcome or acking failed. */
  async run(handler: TaskHandler, slots: HandlerSlots, acks: BatchedAcks, announcements: StartAnnouncements): Promise<AttemptOutcome> {
    let payload: unknown;
    try {
      payload = readTaskPayload(this.message);
    } catch (error) {
      // The payload will never parse: no attempt is made, the message goes to the dead-letter queue.
      this.startRecording();
      return this.finish({ kind: 'dead', error: toTaskError(error) }, acks);
    }
    const lost = lostDeliveries(this.message);
    if (lost >= LOST_DELIVERIES_MAX) {
      this.startRecording();
      const message = `the task came back to its queue ${lost} times without an outcome (its workers died, lost their connection or stopped while holding it)`;
      return this.finish({ kind: 'dead', error: { name: 'WorkerLostError', message, retryable: false } }, acks);
    }
    // A free slot is taken at once; waiting for one costs a promise only when all are busy.
    if (!slots.tryAcquire()) await slots.acquire();
    let decision: Decision;
    try {
      if (this.abandoned) return 'requeued';
      if (this.cancelReason !== undefined) {
        // Cancelled before its handler started: it never runs.
        this.startRecording();
        return await this.finish({ kind: 'cancelled' }, acks);
      }
      this.handlerStarted = true;
      this.handlerRunning = true;
      this.startedAt = Date.now();
      this.announceDueAt = performance.now() + STARTED_EVENT_DELAY_MS;
      announcements.add(this);
      try {
        const called = this.callHandler(handler, payload);
        decision = called instanceof Promise ? await called : called;
      } finally {
        this.handlerRunning = false;
        announcements.dropEnded();
      }
    } finally {
      // The slot is free once the handler is done; recording the outcome overlaps the next handler.
      slots.release();
    }
    if (this.abandoned) return 'requeued';
    this.startRecording();
    return this.finish(decision, acks);
  }

  /**
   * Publishes the 'started' event once. Not awaited: the broker takes it before the outcome published on
   * the same channel anyway, and its confirm would queue behind earlier tasks' fsync-bound outcomes. A
   * failure to publish it (the channel is gone) fails the outcome's publishes too, and that is handled.
   */
  announceStart(): void {
    if (this.startAnnounced || this.startedAt === undefined) return;
    this.startAnnounced = true;
    this.recorder.started(this.task, this.startedAt).catch(() => undefined);
  }

  /**
   * Calls the handler under the attempt's timeout. A handler that returns a value (not a promise) is
   * decided on at once, with no promise in between; one that returns a promise is waited for until it
   * settles or the attempt aborts, whichever comes first.
   */
  private callHandler(handler: TaskHandler, payload: unknown): Decision | Promise<Decision> {
    const { timeoutMs } = this.task;
    const timer = timeoutMs > 0 ? setTimeout(() => this.abort.abort(new TaskTimeoutError(timeoutMs)), timeoutMs) : undefined;
    let returned: unknown;
    let pending: boolean;
    try {
      returned = handler(payload, this.context());
      // Inside the try: reading `then` may throw, which fails the attempt as a rejected promise would.
      pending = isThenable(returned);
    } catch (error) {
      this.handlerEnded(timer);
      return this.threw(error);
    }
    if (!pending) {
      this.handlerEnded(timer);
      return this.succeeded(returned);
    }
    return this.abort.race(returned as PromiseLike<unknown>).then(
      (result) => {
        this.handlerEnded(timer);
        return this.succeeded(result);
      },
      (error: unknown) => {
        this.handlerEnded(timer);
        return this.threw(error);
      },
    );
  }

  private handlerEnded(timer: NodeJS.Timeout | undefined): void {
    clearTimeout(timer);
    this.progressReporter?.finish();
  }

  private succeeded(result: unknown): Decision {
    try {
      return { kind: 'succeeded', success: this.recorder.encodeSuccess(this.message, this.task, result, this.startedAt ?? Date.now()) };
    } catch (error) {
      // A result JSON cannot carry fails the same way on every attempt.
      return this.failure(new NonRetryableError(`result is not JSON-encodable: ${(error as Error).message}`));
    }
  }

  private threw(error: unknown): Decision {
    // Once cancelled, whatever the handler throws (its own AbortError, say) ends the attempt as cancelled.
    return this.cancelReason === undefined ? this.failure(error) : { kind: 'cancelled' };
  }

  private context(): TaskContext {
    return new AttemptContext(this.task, this.message.properties.headers ?? {}, this.abort, (value) => this.reportProgress(value));
  }

  /**
   * ctx.progress(): announces the start at once (the keeper takes progress only of an attempt it knows
   * started), then reports. A report made after the outcome was published is checked and dropped.
   */
  private reportProgress(value: TaskProgress): void {
    if (this.#delivery === undefined) {
      snapshotProgress(value);
      return;
    }
    this.announceStart();
    this.progressReporter ??= new ProgressReporter(progressPublisher(this.recorder.channel, this.message, this.task));
    this.progressReporter.report(value);
  }

  private failure(thrown: unknown): Decision {
    const error = toTaskError(thrown);
    if (!error.retryable) return { kind: 'failed', error };
    return { kind: this.task.attempt >= this.task.maxAttempts ? 'dead' : 'retrying', error };
  }

  /**
   * Records the outcome, then has the delivery acknowledged. Not an async function: a suspended one
   * keeps its whole frame (the decision, with the outcome's JSON text) alive until the broker confirms,
   * where this callback keeps the outcome's kind only.
   */
  private finish(decision: Decision, acks: BatchedAcks): Promise<AttemptOutcome> {
    const { kind } = decision;
    const deliveryTag = this.#deliveryTag;
    const recorded = this.record(decision);
    this.#delivery = undefined;
    return recorded.then(() => {
      // Acknowledged with the channel's next batch (at the end of this event-loop turn).
      acks.done(deliveryTag);
      return kind;
    });
  }


  private record(decision: Decision): Promise<unknown> {
    const { message, task, recorder } = this;
    switch (decision.kind) {
      case 'succeeded': return recorder.succeeded(message, task, decision.success);
      case 'retrying': return recorder.retrying(message, task, decision.error, waitQueueDelayMs(retryDelayMs(task.backoff, task.attempt)), this.startedAt);
      case 'failed': return recorder.failed(message, task, decision.error, this.startedAt);
      case 'dead': return recorder.dead(message, task, decision.error, this.startedAt);
      case 'cancelled': return replyCancelled(recorder.channel, message, task);
      default: return assertNever(decision);
    }
  }
}

/** How often the message went back to its queue undelivered-to-completion (the x-delivery-count header), 0 when unknown. */
function lostDeliveries(message: AMQPMessage): number {
  const count = message.properties.headers?.['x-delivery-count'];
  if (typeof count === 'bigint') return Number(count);
  return typeof count === 'number' && Number.isInteger(count) ? count : 0;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
