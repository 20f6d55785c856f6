/**
 * A SQLite result store running in a worker thread. better-sqlite3 is synchronous, and a commit with
 * synchronous=FULL waits for an fsync: on the main thread of `warren server` that would stall the
 * broker's event loop for every batch of task events. Calls are posted to the thread and answered
 * there (structured clone: records and events are plain JSON-like values), the calls of one event-loop
 * turn in one message and the answers the thread has ready in one turn in one message (MessageBatcher).
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../util/module-worker.js';
import { PendingCalls, type ThreadError } from '../../util/pending-calls.js';
import type { TaskEvent } from '../protocol.js';
import type { TaskProgressEvent } from '../task-progress.js';
import { MessageBatcher } from './message-batcher.js';
import type { ApplyOptions, ResultStore, TaskQuery, TaskRecord } from './result-store.js';
import { forwardedSchedulingStore, type SchedulingStore } from './scheduling-store.js';
import type { SqliteResultStoreOptions } from './sqlite-store.js';
import type { WebhookDeliveryStore } from '../webhooks/webhook-delivery.js';

/** A call posted to the store thread (in an array: the calls of one turn). */
export type StoreCall = { id: number } & (
  | { method: 'apply'; argument: TaskEvent; mayWait: boolean }
  | { method: 'get'; argument: string }
  | { method: 'list'; argument: TaskQuery }
  | { method: 'history'; argument: string }
  | { method: 'deleteFinishedBefore'; argument: number }
  | { method: 'close'; argument?: undefined }
  | { method: 'webhooks'; argument: WebhookCall }
  | { method: 'recordProgress'; argument: TaskProgressEvent }
  | { method: 'scheduling'; argument: { method: keyof SchedulingStore; argument: unknown } }
);

/** A call of one WebhookDeliveryStore operation, with its one argument. */
export interface WebhookCall {
  operation: keyof WebhookDeliveryStore;
  input: unknown;
}

/** The thread's answer to one call (in an array: the answers of one turn). */
export type StoreAnswer = { id: number; result: unknown; error?: undefined } | { id: number; error: ThreadError };

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The result store of `warren server`: SQLite in a worker thread. */
export class ThreadedResultStore implements ResultStore {
  private readonly worker: Worker;
  private readonly pending = new PendingCalls();
  private readonly outbox: MessageBatcher<StoreCall>;
  /** Webhook deliveries, kept by the thread's store. */
  readonly webhooks: WebhookDeliveryStore = {
    add: (delivery) => this.webhookCall('add', delivery) as Promise<boolean>,
    claim: (claim) => this.webhookCall('claim', claim) as ReturnType<WebhookDeliveryStore['claim']>,
    recordAttempt: (record) => this.webhookCall('recordAttempt', record) as Promise<boolean>,
    release: (lease) => this.webhookCall('release', lease) as Promise<void>,
    latest: (taskId) => this.webhookCall('latest', taskId) as ReturnType<WebhookDeliveryStore['latest']>,
  };

  /** Opens (creating if needed) the SQLite store at `path` in a new worker thread. */
  constructor(path: string, options: SqliteResultStoreOptions = {}) {
    this.worker = startModuleWorker(import.meta.url, 'store-thread', { path, options });
    this.outbox = new MessageBatcher<StoreCall>(
      (calls) => this.worker.postMessage(calls),
      (call, error) => this.pending.reject(call.id, error instanceof Error ? error : new Error(String(error))),
    );
    this.worker.on('message', (answers: StoreAnswer[]) => {
      for (const answer of answers) this.settle(answer);
    });
    this.worker.on('error', (error) => this.failAll(error));
    this.worker.on('exit', (code) => this.failAll(new Error(`task result store thread exited (code ${code})`)));
  }

  apply(event: TaskEvent, options?: ApplyOptions): Promise<TaskRecord> {
    return this.call({ method: 'apply', argument: event, mayWait: options?.mayWait === true }) as Promise<TaskRecord>;
  }

  get(id: string): Promise<TaskRecord | undefined> {
    return this.call({ method: 'get', argument: id }) as Promise<TaskRecord | undefined>;
  }

  list(query: TaskQuery): Promise<TaskRecord[]> {
    return this.call({ method: 'list', argument: query }) as Promise<TaskRecord[]>;
  }

  history(id: string): Promise<TaskEvent[]> {
    return this.call({ method: 'history', argument: id }) as Promise<TaskEvent[]>;
  }

  deleteFinishedBefore(finishedBefore: number): Promise<number> {
    return this.call({ method: 'deleteFinishedBefore', argument: finishedBefore }) as Promise<number>;
  }

  recordProgress(event: TaskProgressEvent): Promise<TaskRecord | undefined> {
    return this.call({ method: 'recordProgress', argument: event }) as Promise<TaskRecord | undefined>;
  }

  /** Idempotency keys and schedules, answered by the thread's SqliteResultStore. */
  readonly scheduling: SchedulingStore = forwardedSchedulingStore((method, argument) =>
    this.call({ method: 'scheduling', argument: { method, argument } }));

  /** Closes the store, then ends the thread. */
  async close(): Promise<void> {
    if (this.pending.failure === undefined) await this.call({ method: 'close' });
    await this.worker.terminate();
  }

  private webhookCall(operation: keyof WebhookDeliveryStore, input: unknown): Promise<unknown> {
    return this.call({ method: 'webhooks', argument: { operation, input } });
  }

  private call(call: DistributiveOmit<StoreCall, 'id'>): Promise<unknown> {
    const { id, answered } = this.pending.start();
    if (this.pending.failure === undefined) this.outbox.add({ ...call, id });
    return answered;
  }

  private settle(answer: StoreAnswer): void {
    if (answer.error === undefined) this.pending.resolve(answer.id, answer.result);
    else this.pending.reject(answer.id, Object.assign(new Error(answer.error.message), { name: answer.error.name }));
  }

  private failAll(error: Error): void {
    this.pending.failAll(error);
    this.outbox.clear();
  }
}

