/**
 * How the result keeper records the messages of its events queue: each is read as a task state event
 * (a task message routed there by BCC stands for its run's 'queued' event), a progress report, or a
 * batch of them (a JSON array, as a busy worker sends its outcomes), applied to the store, and
 * acknowledged once every apply committed. Messages are applied as they
 * arrive, without waiting for earlier ones: applying is order-tolerant (the store orders by run,
 * attempt and kind), and concurrent applies let the store commit many in one transaction.
 *
 * This runs for every event the system produces, so it allocates little per event: no async
 * function or promise chain of its own, one counter per message instead of a set of in-flight
 * promises, and the webhook step only for records that need a delivery.
 */
import type { AMQPMessage } from '@cloudamqp/amqp-client';
import type { Logger } from '../util/logger.js';
import { sleep } from './amqp-connection.js';
import type { BatchedAcks } from './batched-acks.js';
import { startedAfterCancel } from './keeper-cancel.js';
import { taskEventProblem } from './keeper-protocol.js';
import { isTaskMessage, queuedEventOf } from './keeper-task-message.js';
import { DEFAULT_TASK_OPTIONS, TERMINAL_STATES, type TaskEvent } from './protocol.js';
import type { ApplyListener, ApplyOptions, ResultStore, TaskRecord } from './store/result-store.js';
import { parseJsonBody } from './task-message.js';
import { isProgressEventBody, taskProgressEventProblem, type TaskProgressEvent } from './task-progress.js';
import type { TaskStats } from './task-stats.js';
import type { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';

/** Pause before an event the store refused is requeued, so a failing store is not hammered. */
const STORE_ERROR_PAUSE_MS = 1000;

/**
 * A batch of at least this many events that starts with a 'queued' one is a busy submitter's: its
 * events may wait in the store for their tasks' next events (ApplyOptions.mayWait; the store holds only
 * 'queued' ones), to be written once with them. A lone event (a quiet submitter, a BCC copy) is
 * committed at once, as is any while waitingMessagesMax messages wait.
 */
const WAITING_BATCH_EVENTS_MIN = 16;

/** What recording events needs of the keeper. */
export interface KeeperEventsOptions {
  store: ResultStore;
  taskStats: TaskStats;
  webhooks: WebhookDispatcher;
  logger: Logger;
  /** Aborted when the keeper closes: cuts the pause before a requeue short. */
  closing: AbortSignal;
  /** Sends a cancelled task's notice again (a worker started it after the first); never throws. */
  renotifyCancel(record: TaskRecord): void;
  /**
   * Most messages at once whose 'queued' events the store may hold back (they stay unacknowledged
   * meanwhile): below the channel's prefetch, so that the outcomes that release them still come.
   */
  waitingMessagesMax: number;
}

/**
 * One message's events while they are recorded: it is acknowledged once all are, and requeued if the
 * store refused any. It keeps the message's delivery tag and routing key, not the message: its body and
 * properties are parsed by then, and it may wait (unacknowledged) for as long as the store holds events.
 */
class MessageEvents {
  /** Events of the message not yet recorded or dropped. */
  remaining = 0;
  /** Set when the store (or the webhook store) refused one of them. */
  refused = false;
  /** Its 'queued' events may wait in the store (counted in KeeperEvents' #waitingMessages until it is done). */
  mayWait = false;
  readonly deliveryTag: number;
  readonly routingKey: string;

  constructor(
    readonly acks: BatchedAcks,
    message: AMQPMessage,
  ) {
    this.deliveryTag = message.deliveryTag;
    this.routingKey = message.routingKey;
  }
}

/** Records the keeper's event messages, and tells when none is in flight. */
export class KeeperEvents {
  /** Messages taken and not yet acknowledged or requeued. */
  #inFlight = 0;
  /** Of those, the ones whose 'queued' events may wait in the store. */
  #waitingMessages = 0;
  #whenIdle: (() => void) | undefined;
  /** Told by stores that offer applyThen how each event's apply ended; its context is the event's message. */
  readonly #applyListener: ApplyListener<MessageEvents> = {
    applied: (record, event, entry) => this.#applied(entry, event, record),
    refused: (error, _event, entry) => this.#refused(entry, error),
  };

  constructor(private readonly options: KeeperEventsOptions) {}

  /**
   * Applies the events `message` holds (one event, or a batch: a JSON array of them) and acknowledges it
   * through `acks` once all are applied, or requeues it if the store refused one; never throws. A
   * malformed event is dropped and the others of its batch recorded.
   */
  record(acks: BatchedAcks, message: AMQPMessage): void {
    acks.track(message.deliveryTag);
    this.#inFlight++;
    let events: unknown;
    try {
      events = isTaskMessage(message) ? queuedEventOf(message) : parseJsonBody(message.body);
    } catch (error) {
      this.options.logger.warn({ routingKey: message.routingKey, problem: (error as Error).message }, 'dropped a malformed task event');
      return this.#settle(acks, message.deliveryTag);
    }
    const entry = new MessageEvents(acks, message);
    if (!Array.isArray(events)) {
      entry.remaining = 1;
      return this.#recordOne(entry, events);
    }
    if (events.length === 0) return this.#settle(acks, message.deliveryTag);
    entry.remaining = events.length;
    if (events.length >= WAITING_BATCH_EVENTS_MIN && this.#waitingMessages < this.options.waitingMessagesMax && isQueuedEvent(events[0])) {
      entry.mayWait = true;
      this.#waitingMessages++;
    }
    for (const event of events as unknown[]) this.#recordOne(entry, event);
  }

  /** Resolves once every message taken so far has been acknowledged or requeued. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#whenIdle;
      this.#whenIdle = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Applies one event of `entry`'s message (or drops it, malformed); never throws. */
  #recordOne(entry: MessageEvents, event: unknown): void {
    const problem = taskEventProblem(event);
    if (problem !== undefined && isProgressEventBody(event)) return this.#recordProgress(entry, event);
    if (problem !== undefined) {
      this.options.logger.warn({ routingKey: entry.routingKey, problem }, 'dropped a malformed task event');
      return this.#eventDone(entry);
    }
    const taskEvent = event as TaskEvent;
    // A 'queued' event may leave its options out when they are the defaults (docs/task-protocol.md,
    // section 3): the store then sees them as the row's, as if the event had carried them.
    if (taskEvent.kind === 'queued' && taskEvent.options === undefined) taskEvent.options = DEFAULT_TASK_OPTIONS;
    const { store } = this.options;
    const options = entry.mayWait ? MAY_WAIT : undefined;
    let applying: Promise<TaskRecord>;
    try {
      if (store.applyThen !== undefined) return store.applyThen(taskEvent, options, this.#applyListener, entry);
      applying = store.apply(taskEvent, options);
    } catch (error) {
      return this.#refused(entry, error);
    }
    applying.then(
      (record) => this.#applied(entry, taskEvent, record),
      (error: unknown) => this.#refused(entry, error),
    );
  }

  /** After the store committed `event`: statistics, the webhook delivery if any, a repeated cancel notice. */
  #applied(entry: MessageEvents, event: TaskEvent, record: TaskRecord): void {
    let delivery: Promise<void> | undefined;
    try {
      if (isFinishingEvent(event) && TERMINAL_STATES.includes(record.state)) this.options.taskStats.record(record);
      delivery = this.options.webhooks.taskChanged(record);
    } catch (error) {
      return this.#refused(entry, error);
    }
    if (delivery === undefined) return this.#delivered(entry, event, record);
    delivery.then(
      () => this.#delivered(entry, event, record),
      (error: unknown) => this.#refused(entry, error),
    );
  }

  #delivered(entry: MessageEvents, event: TaskEvent, record: TaskRecord): void {
    try {
      if (startedAfterCancel(event, record)) this.options.renotifyCancel(record);
    } catch (error) {
      // The event is recorded whatever became of the notice: it is acknowledged all the same.
      this.options.logger.warn({ err: String(error) }, 'could not send a cancel notice again');
    }
    this.#eventDone(entry);
  }

  /** The store (or the webhook store) refused an event: its message goes back to the queue once its other events are done. */
  #refused(entry: MessageEvents, error: unknown): void {
    this.options.logger.error({ routingKey: entry.routingKey, err: (error as Error).message }, 'result store refused an event; requeueing it');
    entry.refused = true;
    this.#eventDone(entry);
  }

  /** Records a progress report (a report the store refused is dropped: a newer one follows). */
  #recordProgress(entry: MessageEvents, event: unknown): void {
    const problem = taskProgressEventProblem(event);
    if (problem !== undefined) {
      this.options.logger.warn({ routingKey: entry.routingKey, problem }, 'dropped a malformed progress event');
      return this.#eventDone(entry);
    }
    this.options.store
      .recordProgress(event as TaskProgressEvent)
      .catch((error: unknown) => this.options.logger.warn({ err: String(error) }, 'result store refused a progress event'))
      .then(() => this.#eventDone(entry));
  }

  /** One event of the message is done: the last one acknowledges it, or requeues it after a pause if one was refused. */
  #eventDone(entry: MessageEvents): void {
    if (--entry.remaining > 0) return;
    if (entry.mayWait) this.#waitingMessages--;
    if (!entry.refused) return this.#settle(entry.acks, entry.deliveryTag);
    // Applying again what was applied is harmless: the store keeps an event once, and orders by run, attempt and kind.
    const { acks, deliveryTag } = entry;
    void sleep(STORE_ERROR_PAUSE_MS, this.options.closing)
      .catch(() => {})
      .then(() => acks.requeue(deliveryTag))
      // A requeue that fails (the channel is gone) leaves the message to the broker, which requeues it itself.
      .catch((requeueError: unknown) => this.options.logger.debug({ err: String(requeueError) }, 'could not requeue a refused event'))
      .finally(() => this.#ended());
  }

  /** The message is handled: acknowledged with the next batch. */
  #settle(acks: BatchedAcks, deliveryTag: number): void {
    acks.done(deliveryTag);
    this.#ended();
  }

  #ended(): void {
    if (--this.#inFlight > 0) return;
    const whenIdle = this.#whenIdle;
    this.#whenIdle = undefined;
    whenIdle?.();
  }
}

const MAY_WAIT: ApplyOptions = { mayWait: true };

/** Whether `event` (parsed, unchecked) says it is a 'queued' event: a batch that starts with one is a submitter's (the SDK's worker batches outcomes). */
function isQueuedEvent(event: unknown): boolean {
  return typeof event === 'object' && event !== null && (event as { kind?: unknown }).kind === 'queued';
}

/** Events that end a task (a retrying attempt does not). */
function isFinishingEvent(event: TaskEvent): boolean {
  return event.kind === 'succeeded' || event.kind === 'failed' || event.kind === 'dead';
}
