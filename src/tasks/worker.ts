/**
 * The task worker: consumes the work queues of the task names it has handlers for and runs each
 * delivery as a TaskAttempt. Register every handler with `handle()`, then call `start()`.
 *
 * Concurrency is the handler slots (at most `concurrency` handlers run at once, over all task names);
 * each work queue's consumer has a per-consumer prefetch, so the next deliveries are at hand while
 * outcomes wait for the broker's confirms (a delivery is acked only once its outcome is recorded): by
 * default `concurrency` x 4 plus twice the deliveries recording their outcome on average (prefetch-window.ts),
 * or `concurrency` x `prefetchMultiplier` when that is given. Per-consumer qos only: RabbitMQ 4.3
 * refuses global qos by default.
 * (An attempt that timed out while its handler ignores the signal is let go, so such a handler may run on.)
 * Outcomes are published on a second channel in confirm mode.
 */
import { HandlerSlots } from './handler-slots.js';
import { BatchedAcks } from './batched-acks.js';
import { StartAnnouncements } from './start-announcements.js';
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { AMQPClient, type AMQPChannel, type AMQPConsumer, type AMQPMessage } from '@cloudamqp/amqp-client';
import { assert } from '../util/assert.js';
import { sendWithoutDelay } from './amqp-connection.js';
import type { Logger } from '../util/logger.js';
import { isValidTaskName, taskQueueName } from './protocol.js';
import { declareEventTopology, declareTaskTopology } from './topology.js';
import { TaskAttempt, type AttemptOutcome, type TaskHandler } from './worker-attempt.js';
import { WorkerShutdownError, toTaskError } from './worker-errors.js';
import { readTaskHeaders } from './worker-message.js';
import { OutcomeRecorder } from './worker-recorder.js';
import { TaskCancelledError } from './task-cancellation.js';
import { WorkerCancellations } from './worker-cancellation.js';
import { PrefetchWindow } from './prefetch-window.js';

export { NonRetryableError, TaskTimeoutError, WorkerShutdownError } from './worker-errors.js';
export { TaskCancelledError } from './task-cancellation.js';
export type { AttemptOutcome, TaskContext, TaskHandler } from './worker-attempt.js';

/** Largest concurrency: basic.qos prefetch-count is a 16-bit number. */
const CONCURRENCY_MAX = 65_535;
/** Deliveries held per handler slot unless the options say otherwise. */
const PREFETCH_MULTIPLIER_DEFAULT = 4;
/** Default time close() gives running handlers before it aborts and requeues them. */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** Settings of a worker. */
export interface WorkerOptions {
  /** amqp:// or amqps:// URL of the broker. */
  url: string;
  /** Handlers that may run at once, over all task names (1..65535). */
  concurrency: number;
  /**
   * Deliveries the worker holds per handler slot, fixed: 1 leaves the most tasks to other workers. By
   * default the worker holds 4 per slot (Celery's worker_prefetch_multiplier) plus twice as many as
   * were recording their outcome on average (up to 192 more), since a delivery is acked only once its
   * outcome is confirmed: short tasks then keep their handlers busy, and long ones hold 4 per slot.
   */
  prefetchMultiplier?: number;
  /** How long close() waits for running handlers before it aborts and requeues them (default 10 s). */
  shutdownTimeoutMs?: number;
  /** Sent in 'started' events (default host:pid:random). */
  workerId?: string;
  logger?: Logger;
}

/** What the worker reports after each delivery it settled. */
export interface SettledDelivery {
  /** Undefined for a poison message that has no readable task id. */
  id: string | undefined;
  name: string;
  attempt: number | undefined;
  /** 'poison': not a readable task message; it went to the dead-letter queue. */
  outcome: AttemptOutcome | 'poison';
}

/** Events of a Worker: 'error' when the connection or a channel is lost (the worker then closes). */
export interface WorkerEvents {
  settled: [SettledDelivery];
  error: [Error];
  close: [];
}

type WorkerState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/** Creates a worker; nothing connects until start(). */
export function createWorker(options: WorkerOptions): Worker {
  return new Worker(options);
}

/** Runs task handlers for the task names it was given (see the file comment). */
export class Worker extends EventEmitter<WorkerEvents> {
  /** Identifier sent in 'started' events. */
  readonly workerId: string;
  private readonly handlers = new Map<string, TaskHandler>();
  private readonly running = new Set<TaskAttempt>();
  private readonly slots: HandlerSlots;
  /** When running handlers' 'started' events are due. */
  private readonly announcements = new StartAnnouncements();
  /** The consumer of each handled task name's work queue. */
  private readonly consumers = new Map<string, AMQPConsumer>();
  /** The prefetch given by the options: the fixed one (prefetchMultiplier), or the base of the window. */
  private readonly basePrefetch: number;
  /** The prefetch window, unless the options fix it (prefetchMultiplier). */
  private readonly window: PrefetchWindow | undefined;
  /** The channel the consumers are on. */
  private consuming: AMQPChannel | undefined;
  /** Set while the consumers move to a new prefetch window. */
  private resizing: Promise<void> | undefined;
  /** The size asked for during a move, to move to next. */
  private nextSize: number | undefined;
  private readonly shutdownTimeoutMs: number;
  private readonly logger: Logger | undefined;
  private state: WorkerState = 'idle';
  private connection: AMQPClient | undefined;
  private recorder: OutcomeRecorder | undefined;
  /** The consuming channel's acknowledgements, sent in batches. */
  private acks: BatchedAcks | undefined;
  private readonly cancellations: WorkerCancellations;
  private starting: Promise<void> | undefined;
  private closing: Promise<void> | undefined;
  private readonly idleWaiters: (() => void)[] = [];
  private closeEmitted = false;

  constructor(private readonly options: WorkerOptions) {
    super();
    if (!Number.isInteger(options.concurrency) || options.concurrency < 1 || options.concurrency > CONCURRENCY_MAX) {
      throw new RangeError(`concurrency must be an integer 1..${CONCURRENCY_MAX}, got ${options.concurrency}`);
    }
    const multiplier = options.prefetchMultiplier;
    if (multiplier !== undefined && (!Number.isInteger(multiplier) || multiplier < 1)) {
      throw new RangeError(`prefetchMultiplier must be a positive integer, got ${multiplier}`);
    }
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
    this.slots = new HandlerSlots(options.concurrency);
    this.basePrefetch = Math.min(options.concurrency * (multiplier ?? PREFETCH_MULTIPLIER_DEFAULT), CONCURRENCY_MAX);
    if (multiplier === undefined) this.window = new PrefetchWindow(this.basePrefetch, CONCURRENCY_MAX);
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.logger = options.logger?.child({ worker: this.workerId });
    this.cancellations = new WorkerCancellations(() => this.running, this.logger);
  }

  /** Handlers running now. */
  get runningCount(): number {
    return this.running.size;
  }

  /** The prefetch count of the work queues' consumers now. */
  get prefetchCount(): number {
    return this.window?.size ?? this.basePrefetch;
  }

  /** Registers the handler of a task name; only before start(). */
  handle<P = unknown, R = unknown>(name: string, handler: TaskHandler<P, R>): this {
    if (this.state !== 'idle') throw new Error('handle() must be called before start()');
    if (!isValidTaskName(name)) throw new TypeError(`invalid task name ${JSON.stringify(name)}`);
    if (this.handlers.has(name)) throw new Error(`task ${name} already has a handler`);
    // The payload is whatever JSON the submitter sent; P is the handler's own view of it.
    this.handlers.set(name, handler as TaskHandler);
    return this;
  }

  /** Connects, declares the topology of the handled names and starts consuming their work queues. */
  start(): Promise<void> {
    if (this.state !== 'idle') return Promise.reject(new Error(`worker cannot start: it is ${this.state}`));
    if (this.handlers.size === 0) return Promise.reject(new Error('worker has no handlers: call handle() before start()'));
    this.state = 'starting';
    this.starting = this.connectAndConsume();
    return this.starting;
  }

  /**
   * Stops gracefully: cancels the consumers, waits up to shutdownTimeoutMs for running handlers, then
   * aborts the rest (ctx.signal) and requeues their deliveries, and closes the connection.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  /** Calls close() on SIGTERM and SIGINT; returns a function that removes the handlers. */
  installSignalHandlers(): () => void {
    const onSignal = (signal: NodeJS.Signals): void => {
      this.logger?.info({ signal }, 'worker shutting down');
      this.close().catch((error: unknown) => this.logger?.error({ error: String(error) }, 'worker shutdown failed'));
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    return () => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
    };
  }

  private async connectAndConsume(): Promise<void> {
    const connection = new AMQPClient(this.options.url);
    connection.name = `warren worker ${this.workerId}`;
    connection.onerror = (error) => this.logger?.debug({ error: error.message }, 'connection error');
    this.connection = connection;
    try {
      await connection.connect();
      sendWithoutDelay(connection);
      connection.ondisconnect = (error) => this.fail(error ?? new Error('connection to the broker lost'));
      const publishing = await this.openChannel(connection, 'publishing');
      await publishing.confirmSelect();
      await declareEventTopology(publishing);
      for (const name of this.handlers.keys()) await declareTaskTopology(publishing, name);
      this.recorder = new OutcomeRecorder(publishing, this.workerId);
      await this.cancellations.listen(await this.openChannel(connection, 'control'), this.handlers.keys());
      await this.consume(await this.openChannel(connection, 'consuming'));
    } catch (error) {
      this.state = 'closed';
      connection.close().catch(() => undefined);
      throw error;
    }
    if (this.state !== 'starting') throw new Error('worker closed while starting');
    this.state = 'running';
    this.logger?.info({ tasks: [...this.handlers.keys()], concurrency: this.options.concurrency }, 'worker started');
  }

  private async openChannel(connection: AMQPClient, role: string): Promise<AMQPChannel> {
    const channel = await connection.channel();
    channel.onerror = (reason) => this.fail(new Error(`${role} channel closed by the broker: ${reason}`));
    return channel;
  }

  private async consume(channel: AMQPChannel): Promise<void> {
    // Per consumer (global qos is deprecated, and refused by default since RabbitMQ 4.3): each task name
    // may prefetch this many; the handler slots keep the handlers running at once to `concurrency`.
    // More deliveries than handlers: while outcomes wait for the broker's confirms, the next ones are here.
    await channel.basicQos(this.prefetchCount, 0, false);
    this.consuming = channel;
    this.acks = new BatchedAcks(channel);
    for (const [name, handler] of this.handlers) await this.startConsumer(channel, name, handler);
  }

  /** Starts consuming the work queue of `name` (with the channel's current qos), replacing the consumer kept for it. */
  private async startConsumer(channel: AMQPChannel, name: string, handler: TaskHandler): Promise<void> {
    const consumer = await channel.basicConsume(taskQueueName(name), { noAck: false }, (message) => this.onDelivery(name, handler, message));
    // wait() rejects when the broker cancels the consumer (its queue was deleted) or closes the channel.
    consumer.wait().catch((error: unknown) => this.fail(error instanceof Error ? error : new Error(String(error))));
    this.consumers.set(name, consumer);
  }

  /**
   * Moves the consumers to a prefetch window of `size` (a new consumer each, then the old one
   * cancelled); during a move, the latest size asked for is kept and moved to once the move is done
   * (dropped, it cost a growing window one more period and a move, tens of ms, for each of them).
   */
  private resize(size: number): void {
    if (this.resizing !== undefined) {
      this.nextSize = size;
      return;
    }
    const channel = this.consuming;
    if (this.state !== 'running' || channel === undefined) return;
    this.resizing = this.moveConsumers(channel, size)
      .catch((error: unknown) => this.logger?.warn({ error: String(error) }, 'could not change the prefetch window'))
      .finally(() => {
        this.resizing = undefined;
        const next = this.nextSize;
        this.nextSize = undefined;
        if (next !== undefined && next !== this.window?.size) this.resize(next);
      });
  }

  /**
   * The old consumer's deliveries stay with the channel (a cancelled consumer's unacked deliveries are
   * not requeued) and are acked as before; those the broker sent before the cancel still reach their
   * handler, since the client drops a consumer only at cancel-ok, which comes after them.
   */
  private async moveConsumers(channel: AMQPChannel, size: number): Promise<void> {
    await channel.basicQos(size, 0, false);
    if (this.window !== undefined) this.window.size = size;
    for (const [name, handler] of this.handlers) {
      if (this.state !== 'running') return;
      const old = this.consumers.get(name);
      await this.startConsumer(channel, name, handler);
      await old?.cancel();
    }
  }

  /**
   * Takes one delivery. Not an async function: a delivery stays in flight until its outcome is
   * confirmed, and a suspended async function (with the promise amqp-client chains a catch onto) keeps
   * more objects alive for that long than these two callbacks do.
   */
  private onDelivery(name: string, handler: TaskHandler, message: AMQPMessage): void {
    const { recorder, acks } = this;
    assert(recorder !== undefined && acks !== undefined, 'deliveries start after the recorder and the acks exist');
    const { deliveryTag } = message;
    acks.track(deliveryTag);
    const size = this.window?.delivered();
    if (size !== undefined) this.resize(size);
    if (this.state !== 'running' && this.state !== 'starting') {
      // Delivered after close() began, before the broker processed basic.cancel: give it back untouched.
      void acks.requeue(deliveryTag);
      return;
    }
    let attempt: TaskAttempt;
    try {
      attempt = new TaskAttempt(message, readTaskHeaders(message, name), recorder, this.window);
    } catch (error) {
      void this.deadLetterPoison(recorder, acks, name, message, error);
      return;
    }
    this.running.add(attempt);
    if (this.cancellations.isCancelled(attempt.task)) attempt.cancel(new TaskCancelledError(attempt.task.id));
    const ended = (): void => {
      if (attempt.recording) this.window?.recordingEnded();
      this.running.delete(attempt);
      if (this.running.size === 0) this.notifyIdle();
    };
    // The tag, not the message: the attempt drops the message once its outcome is published (TaskAttempt).
    const failed = (error: unknown): Promise<void> => this.onRecordingFailed(acks, deliveryTag, error).then(ended, ended);
    attempt.run(handler, this.slots, acks, this.announcements).then((outcome) => {
      try {
        this.emit('settled', { id: attempt.task.id, name, attempt: attempt.task.attempt, outcome });
      } catch (error) {
        return failed(error);
      }
      ended();
      return undefined;
    }, failed);
  }

  private async deadLetterPoison(recorder: OutcomeRecorder, acks: BatchedAcks, name: string, message: AMQPMessage, error: unknown): Promise<void> {
    this.logger?.warn({ task: name, error: String(error) }, 'poison message sent to the dead-letter queue');
    try {
      await recorder.poison(message, name, toTaskError(error));
      acks.done(message.deliveryTag);
      this.emit('settled', { id: undefined, name, attempt: undefined, outcome: 'poison' });
    } catch (recordError) {
      await this.onRecordingFailed(acks, message.deliveryTag, recordError);
    }
  }

  /**
   * The outcome could not be recorded (a publish was refused or the channel is gone): the delivery goes
   * back to the queue, so the task is run again rather than lost.
   */
  private async onRecordingFailed(acks: BatchedAcks, deliveryTag: number, error: unknown): Promise<void> {
    this.logger?.error({ error: String(error) }, 'recording a task outcome failed; requeueing the delivery');
    await acks.requeue(deliveryTag);
  }

  private async shutdown(): Promise<void> {
    await this.starting?.catch(() => undefined);
    if (this.state !== 'running') {
      this.state = 'closed';
      return;
    }
    this.state = 'closing';
    await this.resizing;
    await Promise.allSettled([...this.consumers.values()].map((consumer) => consumer.cancel()));
    // Prefetched deliveries whose handler never started go straight back to the queue for other workers.
    const waiting: Promise<void>[] = [];
    for (const attempt of this.running) {
      if (attempt.handlerStarted) continue;
      const delivery = attempt.abandon(new WorkerShutdownError('the worker stopped before the attempt started'));
      if (delivery !== undefined) waiting.push(this.requeue(delivery));
    }
    await Promise.all(waiting);
    await this.waitForIdle(this.shutdownTimeoutMs);
    const requeued: Promise<void>[] = [];
    for (const attempt of this.running) {
      const delivery = attempt.abandon(new WorkerShutdownError('the worker stopped before the attempt finished'));
      if (delivery !== undefined) requeued.push(this.requeue(delivery));
    }
    await Promise.all(requeued);
    // Abandoned attempts end at once; those already recording their outcome need one confirm round trip.
    await this.waitForIdle(this.shutdownTimeoutMs);
    await this.acks?.flush();
    await this.connection?.close().catch(() => undefined);
    this.setClosed();
  }

  /** Gives a delivery back to its queue (a failure to send is ignored: the channel is gone, and the broker requeues it). */
  private requeue(message: AMQPMessage): Promise<void> {
    return this.acks?.requeue(message.deliveryTag) ?? message.nack(true).catch(() => undefined);
  }

  /** Resolves once no delivery is running, or after `timeoutMs`. */
  private async waitForIdle(timeoutMs: number): Promise<void> {
    if (this.running.size === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.idleWaiters.push(resolve);
      timer = setTimeout(resolve, timeoutMs);
    });
    clearTimeout(timer);
  }

  private notifyIdle(): void {
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** The connection or a channel was lost: every running delivery is lost with it, and the worker closes. */
  private fail(error: Error): void {
    // While starting, start() rejects with the failure instead.
    if (this.state === 'closed' || this.state === 'idle' || this.state === 'starting') return;
    this.logger?.error({ error: error.message }, 'worker lost its broker connection');
    this.state = 'closed';
    for (const attempt of this.running) attempt.abandon(error);
    this.connection?.close().catch(() => undefined);
    try {
      this.emit('error', error);
    } finally {
      this.setClosed();
    }
  }

  private setClosed(): void {
    this.state = 'closed';
    this.notifyIdle();
    if (this.closeEmitted) return;
    this.closeEmitted = true;
    this.emit('close');
  }
}
