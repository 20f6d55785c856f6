/**
 * How the result keeper records the messages of its events queue: each is read as a task state event
 * (a task message routed there by BCC stands for its run's 'queued' event) or a progress report,
 * applied to the store, and acknowledged once the apply committed. Messages are applied as they
 * arrive, without waiting for earlier ones: applying is order-tolerant (the store orders by run,
 * attempt and kind), and concurrent applies let the store commit many in one transaction.
 *
 * This runs for every event the system produces, so it allocates little per message: no async
 * function or promise chain of its own, one counter instead of a set of in-flight promises, and the
 * webhook step only for records that need a delivery.
 */
import type { AMQPMessage } from '@cloudamqp/amqp-client';
import type { Logger } from '../util/logger.js';
import { sleep } from './amqp-connection.js';
import type { BatchedAcks } from './batched-acks.js';
import { startedAfterCancel } from './keeper-cancel.js';
import { taskEventProblem } from './keeper-protocol.js';
import { isTaskMessage, queuedEventOf } from './keeper-task-message.js';
import { TERMINAL_STATES, type TaskEvent } from './protocol.js';
import type { ResultStore, TaskRecord } from './store/result-store.js';
import { parseJsonBody } from './task-message.js';
import { isProgressEventBody, taskProgressEventProblem, type TaskProgressEvent } from './task-progress.js';
import type { TaskStats } from './task-stats.js';
import type { WebhookDispatcher } from './webhooks/webhook-dispatcher.js';

/** Pause before an event the store refused is requeued, so a failing store is not hammered. */
const STORE_ERROR_PAUSE_MS = 1000;

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
}

/** Records the keeper's event messages, and tells when none is in flight. */
export class KeeperEvents {
  /** Messages taken and not yet acknowledged or requeued. */
  #inFlight = 0;
  #whenIdle: (() => void) | undefined;

  constructor(private readonly options: KeeperEventsOptions) {}

  /** Applies the event `message` holds and acknowledges it through `acks` (requeues it if the store refused it); never throws. */
  record(acks: BatchedAcks, message: AMQPMessage): void {
    acks.track(message);
    this.#inFlight++;
    let event: unknown;
    let problem: string | undefined;
    try {
      event = isTaskMessage(message) ? queuedEventOf(message) : parseJsonBody(message.body);
      problem = taskEventProblem(event);
    } catch (error) {
      problem = (error as Error).message;
    }
    if (problem !== undefined && isProgressEventBody(event)) return this.#recordProgress(acks, message, event);
    if (problem !== undefined) {
      this.options.logger.warn({ routingKey: message.routingKey, problem }, 'dropped a malformed task event');
      return this.#settle(acks, message);
    }
    const taskEvent = event as TaskEvent;
    let applying: Promise<TaskRecord>;
    try {
      applying = this.options.store.apply(taskEvent);
    } catch (error) {
      return this.#refused(acks, message, error);
    }
    applying.then(
      (record) => this.#applied(acks, message, taskEvent, record),
      (error: unknown) => this.#refused(acks, message, error),
    );
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

  /** After the store committed `event`: statistics, the webhook delivery if any, a repeated cancel notice, then the ack. */
  #applied(acks: BatchedAcks, message: AMQPMessage, event: TaskEvent, record: TaskRecord): void {
    let delivery: Promise<void> | undefined;
    try {
      if (isFinishingEvent(event) && TERMINAL_STATES.includes(record.state)) this.options.taskStats.record(record);
      delivery = this.options.webhooks.taskChanged(record);
    } catch (error) {
      return this.#refused(acks, message, error);
    }
    if (delivery === undefined) return this.#delivered(acks, message, event, record);
    delivery.then(
      () => this.#delivered(acks, message, event, record),
      (error: unknown) => this.#refused(acks, message, error),
    );
  }

  #delivered(acks: BatchedAcks, message: AMQPMessage, event: TaskEvent, record: TaskRecord): void {
    try {
      if (startedAfterCancel(event, record)) this.options.renotifyCancel(record);
    } catch (error) {
      // The event is recorded whatever became of the notice: it is acknowledged all the same.
      this.options.logger.warn({ err: String(error) }, 'could not send a cancel notice again');
    }
    this.#settle(acks, message);
  }

  /** The store (or the webhook store) refused the event: it goes back to the queue after a pause. */
  #refused(acks: BatchedAcks, message: AMQPMessage, error: unknown): void {
    this.options.logger.error({ routingKey: message.routingKey, err: (error as Error).message }, 'result store refused an event; requeueing it');
    void sleep(STORE_ERROR_PAUSE_MS, this.options.closing)
      .catch(() => {})
      .then(() => acks.requeue(message))
      // A requeue that fails (the channel is gone) leaves the message to the broker, which requeues it itself.
      .catch((requeueError: unknown) => this.options.logger.debug({ err: String(requeueError) }, 'could not requeue a refused event'))
      .finally(() => this.#ended());
  }

  /** Records a progress report and acknowledges it (a report the store refused is dropped: a newer one follows). */
  #recordProgress(acks: BatchedAcks, message: AMQPMessage, event: unknown): void {
    const problem = taskProgressEventProblem(event);
    if (problem !== undefined) {
      this.options.logger.warn({ routingKey: message.routingKey, problem }, 'dropped a malformed progress event');
      return this.#settle(acks, message);
    }
    this.options.store
      .recordProgress(event as TaskProgressEvent)
      .catch((error: unknown) => this.options.logger.warn({ err: String(error) }, 'result store refused a progress event'))
      .then(() => this.#settle(acks, message));
  }

  /** The message is handled: acknowledged with the next batch. */
  #settle(acks: BatchedAcks, message: AMQPMessage): void {
    acks.done(message);
    this.#ended();
  }

  #ended(): void {
    if (--this.#inFlight > 0) return;
    const whenIdle = this.#whenIdle;
    this.#whenIdle = undefined;
    whenIdle?.();
  }
}

/** Events that end a task (a retrying attempt does not). */
function isFinishingEvent(event: TaskEvent): boolean {
  return event.kind === 'succeeded' || event.kind === 'failed' || event.kind === 'dead';
}
